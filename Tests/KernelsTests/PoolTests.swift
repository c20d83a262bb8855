import Foundation
import Testing
@testable import Kernels

/// The worker pool and the GEMMs it splits. Tests pass `threads:` explicitly or use `Kernels.withThreads`, which
/// binds a budget to the calling thread only.
@Suite struct PoolTests {
    init() { ck_pool_grow(2) }

    @Test func everyIndexRunsExactlyOnceAcrossManyRegions() {
        // Thousands of back-to-back regions: a worker that claimed a finished region's task would show up as a
        // count of 2 (or a missed index as 0).
        for round in 0..<3000 {
            let count = 1 + round % 7
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                let p = SendablePtr(h.baseAddress!)
                Kernels.parallelFor(count) { i in p.p[i] += 1 }
            }
            #expect(hits == [Int](repeating: 1, count: count), "round \(round)")
        }
    }

    /// A budget binds the calling thread for the body only: another thread still sees 1, and it is restored after.
    @Test func threadBudgetIsConfinedToTheCallingThreadAndBody() {
        final class Seen: @unchecked Sendable { var value = 0 }
        let seen = Seen(), done = DispatchSemaphore(value: 0)
        Kernels.withThreads(4) {
            #expect(Kernels.threads == 4)
            Kernels.withThreads(2) { #expect(Kernels.threads == 2) }
            #expect(Kernels.threads == 4)
            let other = Thread {
                seen.value = Kernels.threads
                done.signal()
            }
            other.start()
            done.wait()
        }
        #expect(seen.value == 1)
        #expect(Kernels.threads == 1)
    }

    @Test func nestedRegionsRunInline() {
        var hits = [Int](repeating: 0, count: 12)
        hits.withUnsafeMutableBufferPointer { h in
            let p = SendablePtr(h.baseAddress!)
            Kernels.parallelFor(3) { i in Kernels.parallelFor(4) { j in p.p[i * 4 + j] += 1 } }
        }
        #expect(hits == [Int](repeating: 1, count: 12))
    }

    @Test func rangesCoverTheCountDisjointly() {
        for count in [2, 3, 40_000, 123_457] {
            var seen = [UInt8](repeating: 0, count: count)
            seen.withUnsafeMutableBufferPointer { s in
                let p = SendablePtr(s.baseAddress!)
                Kernels.parallelRanges(count, costPerItem: 100, threads: 2) { lo, hi in
                    for i in lo..<hi { p.p[i] += 1 }
                }
            }
            #expect(seen.allSatisfy { $0 == 1 }, "count \(count)")
        }
    }

    /// Split GEMMs (by rows when m ≥ n, by columns otherwise, ragged last slab; by the reduction when K is long
    /// and the output small) against the one-call product.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func splitGemmMatchesSingleCall(transA: Bool, transB: Bool) {
        var rng = Rng(seed: 3)
        for (m, n, k) in [(203, 37, 71), (29, 517, 64), (64, 64, 300), (24, 40, 701)] {
            let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
            let c0 = (0..<(m * n)).map { _ in rng.normal() }
            var one = c0, two = c0
            BLAS.gemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, b: b, beta: 2, c: &one,
                threads: 1)
            BLAS.gemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, b: b, beta: 2, c: &two,
                threads: 2)
            #expect(2 * m * n * k >= BLAS.parallelFlops, "shape too small to be split")
            var worst: Float = 0
            for i in 0..<(m * n) { worst = max(worst, abs(one[i] - two[i])) }
            #expect(worst < 1e-3, "\(m)×\(n)×\(k): max difference \(worst)")
        }
    }
}
