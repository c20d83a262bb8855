import Foundation
import Testing
@testable import Kernels

@Suite struct BLASTests {
    /// Naive twin of BLAS.gemm for every transpose combination.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesNaiveLoop(transA: Bool, transB: Bool) {
        let m = 5, n = 7, k = 3
        var rng = Rng(seed: 1)
        let a = (0..<(m * k)).map { _ in rng.normal() }
        let b = (0..<(k * n)).map { _ in rng.normal() }
        var c = (0..<(m * n)).map { _ in rng.normal() }
        var expected = c
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    s += av * bv
                }
                expected[i * n + j] = 2 * s + 0.5 * expected[i * n + j]
            }
        }
        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: a, b: b, beta: 0.5, c: &c)
        for i in 0..<(m * n) { #expect(abs(c[i] - expected[i]) < 1e-4) }
    }

    /// A profile records the products of the thread that profiles into it, and nothing another thread computes
    /// meanwhile (concurrent stages or tests). A plain thread, not a Task: a Task could run on this very thread.
    @Test func profilingRecordsOnlyTheProfilingThread() {
        let a = [Float](repeating: 1, count: 64 * 64)
        var c = [Float](repeating: 0, count: 64 * 64)
        func product() { BLAS.gemm(m: 64, n: 64, k: 64, a: a, b: a, c: &c, threads: 1) }
        let mine = GemmProfile(), done = DispatchSemaphore(value: 0)
        BLAS.profiling(into: mine) {
            product()
            let other = Thread {
                var d = [Float](repeating: 0, count: 64 * 64)
                BLAS.gemm(m: 64, n: 64, k: 64, a: a, b: a, c: &d, threads: 1)
                done.signal()
            }
            other.start()
            done.wait()
        }
        product()
        #expect(mine.flops == 2 * 64 * 64 * 64)
        #expect(mine.shapes.keys.sorted() == ["NN 64×64×64"])
    }

    @Test func rngIsDeterministicPerSeed() {
        var a = Rng(seed: 42), b = Rng(seed: 42), c = Rng(seed: 43)
        let xa = (0..<10).map { _ in a.next() }
        let xb = (0..<10).map { _ in b.next() }
        let xc = (0..<10).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
    }

    @Test func truncatedNormalStaysWithinTwoStd() {
        var r = Rng(seed: 7)
        let xs = (0..<10_000).map { _ in r.truncatedNormal(std: 0.02) }
        #expect(xs.allSatisfy { abs($0) <= 0.04 })
        let mean = xs.reduce(0, +) / Float(xs.count)
        #expect(abs(mean) < 0.001)
    }
}
