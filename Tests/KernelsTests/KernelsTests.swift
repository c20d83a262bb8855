import Foundation
import Testing
@testable import Kernels

/// Every optimised kernel against a naive loop twin (odd lengths exercise the SIMD tails).
@Suite struct KernelsTests {
    func randomArray(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var r = Rng(seed: seed)
        return (0..<n).map { _ in r.normal() * scale }
    }

    @Test func elementwiseMatchNaive() {
        BLAS.setThreads(1)
        let n = 1037
        let a = randomArray(n, seed: 1), b = randomArray(n, seed: 2)
        var y = a
        Kernels.addInPlace(&y, b, n)
        for i in 0..<n { #expect(y[i] == a[i] + b[i]) }
        var o = [Float](repeating: 0, count: n)
        Kernels.add(&o, a, b, n)
        #expect(o == y)
        y = a
        Kernels.axpy(&y, 0.5, b, n)
        for i in 0..<n { #expect(abs(y[i] - (a[i] + 0.5 * b[i])) < 1e-6) }
        y = a
        Kernels.scale(&y, -3, n)
        for i in 0..<n { #expect(y[i] == a[i] * -3) }
        Kernels.relu(&o, a, n)
        for i in 0..<n { #expect(o[i] == max(a[i], 0)) }
        var dx = b
        Kernels.reluBackward(&dx, a, o, n)
        for i in 0..<n { #expect(dx[i] == b[i] + (o[i] > 0 ? a[i] : 0)) }
    }

    @Test func reductionsMatchNaive() {
        let n = 1001
        let a = randomArray(n, seed: 3), b = randomArray(n, seed: 4)
        #expect(abs(Kernels.sum(a, n) - a.reduce(0.0) { $0 + Double($1) }) < 1e-9)
        #expect(abs(Kernels.sumOfSquares(a, n) - a.reduce(0.0) { $0 + Double($1) * Double($1) }) < 1e-9)
        #expect(abs(Kernels.dot(a, b, n) - zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }) < 1e-9)
        #expect(Kernels.maxValue(a, n) == a.max()!)
        // 5,000 rows cross the 4,096-row slab boundary of the gemv path.
        let rows = 5000, cols = 3
        let x = randomArray(rows * cols, seed: 8)
        var db = [Float](repeating: 1, count: cols), want = db
        Kernels.addColumnSums(&db, x, rows: rows, cols: cols)
        Kernels.addColumnSumsNaive(&want, x, rows: rows, cols: cols)
        for j in 0..<cols { #expect(abs(db[j] - want[j]) < 1e-3) }
    }

    @Test func exp8MatchesFoundationExp() {
        var worst: Float = 0
        var x: Float = -80
        while x < 80 {
            let got = Kernels.exp1(x)
            let want = Foundation.exp(x)
            worst = max(worst, abs(got - want) / want)
            x += 0.0137
        }
        #expect(worst < 5e-7)
        #expect(Kernels.exp1(-200) < 2e-38)
        #expect(Kernels.exp1(0) == 1)
    }

    @Test func softmaxAndLogSoftmaxMatchNaive() {
        BLAS.setThreads(1)
        let rows = 5, cols = 37
        let x = randomArray(rows * cols, seed: 5, scale: 4)
        var p = [Float](repeating: 0, count: rows * cols)
        var lp = p
        Kernels.softmaxRows(&p, x, rows: rows, cols: cols)
        Kernels.logSoftmaxRows(&lp, x, rows: rows, cols: cols)
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let m = row.max()!
            let z = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            for j in 0..<cols {
                let want = Foundation.exp(row[j] - m) / z
                #expect(abs(Double(p[r * cols + j]) - want) < 1e-6)
                #expect(abs(Double(lp[r * cols + j]) - Foundation.log(want)) < 1e-5)
            }
        }
    }

    @Test func topKMatchesSort() {
        let n = 500
        var a = randomArray(n, seed: 6)
        a[10] = a[20]  // a tie: the lower index must come first
        let want = (0..<n).sorted { a[$0] != a[$1] ? a[$0] > a[$1] : $0 < $1 }
        #expect(Kernels.topK(a, n, k: 20).map(Int.init) == Array(want.prefix(20)))
        let ex = want[0]
        let got = Kernels.topK(a, n, k: 5, excluding: ex).map(Int.init)
        #expect(got == Array(want.filter { $0 != ex }.prefix(5)))
        #expect(Kernels.topK(a, 3, k: 10).count == 3)
    }

    @Test func parallelRangesCoverExactlyOnce() {
        let n = 1_000_003
        var hits = [UInt8](repeating: 0, count: n)
        hits.withUnsafeMutableBufferPointer { buf in
            let p = SendablePtr(buf.baseAddress!)
            Kernels.parallelRanges(n, threads: 2) { lo, hi in for i in lo..<hi { p.p[i] &+= 1 } }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    @Test func intBelowIsUniformOverItsRange() {
        var r = Rng(seed: 5)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[r.int(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 }, "\(counts)")
        var a = Array(0..<50)
        r.shuffle(&a)
        #expect(a != Array(0..<50) && a.sorted() == Array(0..<50))
    }
}
