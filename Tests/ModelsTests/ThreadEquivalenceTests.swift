import Foundation
import Kernels
import Testing
@testable import Models

/// Gradients at 4 engine threads against 1 thread, on a batch large enough for every split (GEMM rows, columns and
/// K; layer-norm slabs), with the default layer-norm epsilon and padded sequences.
///
/// The thread budget belongs to the calling thread (`Kernels.withThreads`), so these run in-process next to
/// other suites.
@Suite struct ThreadEquivalenceTests {
    /// One model's gradients after one training step at `threads` engine threads.
    static func gradients(_ name: String, threads: Int) -> [Float] {
        Kernels.withThreads(threads) {
            var c = NextItNetTests.config(name, dim: 64, dilations: [1, 4, 1, 4])
            c.blocks = [300, 900, 2000]
            c.maskPadding = true
            #expect(c.layerNormEps == ModelConfig(kind: .nextitnet).layerNormEps)
            let m = NextItNet(config: c, itemCount: 2000, seed: 21)
            var r = Rng(seed: 22)
            var ids = [Int32]()
            for _ in 0..<192 {
                let pad = r.int(below: 12)
                for t in 0..<20 { ids.append(t < pad ? 0 : Int32(1 + r.int(below: 1999))) }
            }
            m.parameters.zeroGrads()
            _ = m.trainStep(SequenceBatch(ids: ids, batchSize: 192, length: 20))
            return Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
        }
    }

    @Test(arguments: ["NextItNet", "CpRec-Cb"])
    func fourThreadsGiveTheOneThreadGradients(_ name: String) {
        let one = Self.gradients(name, threads: 1), four = Self.gradients(name, threads: 4)
        let scale = one.map { abs($0) }.max() ?? 0
        #expect(one.count == four.count && scale > 0)
        // Summation order differs between 1 and 4 threads (split reductions), so rounding may; nothing else.
        #expect(zip(one, four).allSatisfy { abs($0 - $1) <= 1e-4 * scale + 1e-3 * abs($0) })
    }

    /// Two stages with different budgets at once (as the runner schedules them): each gets exactly the numbers it
    /// gets alone. With one process-wide setting the 4-thread stage changed the other's GEMM K-split.
    @Test func concurrentBudgetsDoNotLeakIntoEachOther() {
        let alone = Self.gradients("NextItNet", threads: 1)
        final class Box: @unchecked Sendable { var value: [Float] = [] }
        let busy = Box(), done = DispatchSemaphore(value: 0)
        let other = Thread {
            for _ in 0..<3 { busy.value = Self.gradients("NextItNet", threads: 4) }
            done.signal()
        }
        other.stackSize = 8 << 20
        other.start()
        var together: [[Float]] = []
        for _ in 0..<3 { together.append(Self.gradients("NextItNet", threads: 1)) }
        done.wait()
        #expect(together.allSatisfy { $0 == alone })
        #expect(Kernels.threads == 1)
    }
}
