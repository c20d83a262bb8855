import Testing
import Kernels

/// OpenBLAS loads a generic SSE kernel on CPUs whose model it does not recognise; `pipeline` then restarts with
/// the kernel the CPU's instruction set supports, but never overrides a kernel the user named.
@Suite struct BLASKernelChoiceTests {
    @Test func aGenericFallbackGetsTheKernelOfTheCPUsInstructionSet() {
        #expect(BLAS.matchingKernel(loaded: "Prescott", isaLevel: 2, coretypeVariable: nil) == "SkylakeX")
        #expect(BLAS.matchingKernel(loaded: "Nehalem", isaLevel: 1, coretypeVariable: nil) == "Haswell")
        #expect(BLAS.matchingKernel(loaded: "Prescott", isaLevel: 0, coretypeVariable: nil) == nil)
    }

    @Test func aKernelOpenBLASRecognisedOrTheUserNamedStands() {
        #expect(BLAS.matchingKernel(loaded: "Cooperlake", isaLevel: 2, coretypeVariable: nil) == nil)
        #expect(BLAS.matchingKernel(loaded: "Zen", isaLevel: 1, coretypeVariable: nil) == nil)
        #expect(BLAS.matchingKernel(loaded: "Prescott", isaLevel: 2, coretypeVariable: "Prescott") == nil)
        #expect(BLAS.matchingKernel(loaded: "Prescott", isaLevel: 2, coretypeVariable: "") == nil)
    }

    @Test func theNumericsIdentityNamesBothKernels() {
        #expect(BLAS.numericsIdentity.contains(BLAS.coreName))
        #expect(BLAS.numericsIdentity.contains(Kernels.rowKernelISA))
    }
}
