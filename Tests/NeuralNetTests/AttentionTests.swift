import Foundation
import Kernels
import Testing
@testable import NeuralNet

/// SASRec's layers: causal multi-head attention (with its stride-based head split and merge), the positional
/// embedding and dropout, against naive twins and central finite differences.
@Suite struct AttentionTests {

    // (heads, head width, row stride): one head; two heads (split/merge by columns); Q/K/V inside a wider buffer.
    @Test(arguments: [(1, 4, 4), (2, 3, 6), (3, 2, 9)])
    func attentionMatchesNaiveAndFiniteDifferences(h: Int, e: Int, ld: Int) {
        let B = 2, T = 5, d = h * e
        let q = Buf(randn(B * T * ld, seed: 1)), k = Buf(randn(B * T * ld, seed: 2)),
            v = Buf(randn(B * T * ld, seed: 3))
        let out = Buf(zeros: B * T * d), naive = Buf(zeros: B * T * d), probs = Buf(zeros: B * h * T * T)
        CausalSelfAttention.forward(
            out: out.p, probs: probs.p, q: q.p, k: k.p, v: v.p, B: B, T: T, heads: h, headWidth: e, ld: ld)
        CausalSelfAttention.forwardNaive(
            out: naive.p, q: q.p, k: k.p, v: v.p, B: B, T: T, heads: h, headWidth: e, ld: ld)
        for i in 0..<(B * T * d) { #expect(abs(out.p[i] - naive.p[i]) < 1e-5) }
        // Rows of probabilities sum to 1 over visible keys and are exactly 0 on future keys.
        for r in 0..<(B * h * T) {
            let t = r % T
            var s: Float = 0
            for u in 0..<T { s += probs.p[r * T + u]; if u > t { #expect(probs.p[r * T + u] == 0) } }
            #expect(abs(s - 1) < 1e-5)
        }
        let g = randn(B * T * d, seed: 4)
        let dq = Buf(zeros: B * T * ld), dk = Buf(zeros: B * T * ld), dv = Buf(zeros: B * T * ld)
        CausalSelfAttention.backward(
            dq: dq.p, dk: dk.p, dv: dv.p, dout: g, probs: probs.p, q: q.p, k: k.p, v: v.p,
            B: B, T: T, heads: h, headWidth: e, ld: ld)
        // The naive forward is the oracle for the loss, so a shared stride bug cannot hide.
        let loss = { () -> Double in
            CausalSelfAttention.forwardNaive(
                out: naive.p, q: q.p, k: k.p, v: v.p, B: B, T: T, heads: h, headWidth: e, ld: ld)
            return project(naive.p, g)
        }
        #expect(q.check(dq, samples: 60, loss: loss) < 1)
        #expect(k.check(dk, samples: 60, loss: loss) < 1)
        #expect(v.check(dv, samples: 60, loss: loss) < 1)
        // Columns outside the heads (ld > d) receive nothing: backward adds only where forward read.
        if ld > d {
            for n in 0..<(B * T) { for c in d..<ld { #expect(dq.p[n * ld + c] == 0 && dv.p[n * ld + c] == 0) } }
        }
    }

    /// Masked padding keys get probability exactly 0 (the exp kernel clamps at −87.3, so "−1e30" alone left
    /// e^−87.3 / Σ ≈ 1e−38, a subnormal): their V and K rows then receive exactly no gradient. Subnormals there
    /// made every later GEMM over those rows take the CPU's slow path (SASRec on left-padded Amazon batches: 2.6 s
    /// a step instead of 0.17 s).
    @Test func maskedPaddingKeysGetExactlyZeroProbabilityAndNoGradient() {
        let B = 2, T = 6, h = 1, e = 4, d = h * e
        let ids: [Int32] = [0, 0, 0, 5, 6, 7, 0, 3, 4, 5, 6, 7]
        let q = Buf(randn(B * T * d, seed: 11)), k = Buf(randn(B * T * d, seed: 12)),
            v = Buf(randn(B * T * d, seed: 13))
        let out = Buf(zeros: B * T * d), probs = Buf(zeros: B * h * T * T)
        ids.withUnsafeBufferPointer { id in
            CausalSelfAttention.forward(
                out: out.p, probs: probs.p, q: q.p, k: k.p, v: v.p, B: B, T: T, heads: h,
                headWidth: e, ld: d, keyIDs: id.baseAddress!)
        }
        for b in 0..<B {
            for t in 0..<T {
                for s in 0..<t where ids[b * T + s] == 0 {
                    #expect(
                        probs.p[(b * T + t) * T + s] == 0,
                        "query \(t) of row \(b) gives padding key \(s) \(probs.p[(b * T + t) * T + s])")
                }
            }
        }
        // Only real positions carry a loss (as SASRec's masked targets): padding rows' K and V get exactly 0.
        var g = randn(B * T * d, seed: 14)
        for n in 0..<(B * T) where ids[n] == 0 { for c in 0..<d { g[n * d + c] = 0 } }
        let dq = Buf(zeros: B * T * d), dk = Buf(zeros: B * T * d), dv = Buf(zeros: B * T * d)
        CausalSelfAttention.backward(
            dq: dq.p, dk: dk.p, dv: dv.p, dout: g, probs: probs.p, q: q.p, k: k.p, v: v.p,
            B: B, T: T, heads: h, headWidth: e, ld: d)
        for n in 0..<(B * T) where ids[n] == 0 {
            for c in 0..<d {
                #expect(dk.p[n * d + c] == 0 && dv.p[n * d + c] == 0)
            }
        }
    }

    @Test func outputAtTIgnoresInputsAfterT() {
        let B = 2, T = 8, h = 2, e = 3, d = h * e, t0 = 3
        let q = Buf(randn(B * T * d, seed: 5)), k = Buf(randn(B * T * d, seed: 6)), v = Buf(randn(B * T * d, seed: 7))
        let y1 = Buf(zeros: B * T * d), y2 = Buf(zeros: B * T * d), probs = Buf(zeros: B * h * T * T)
        CausalSelfAttention.forward(
            out: y1.p, probs: probs.p, q: q.p, k: k.p, v: v.p, B: B, T: T, heads: h, headWidth: e, ld: d)
        for b in 0..<B {
            for t in (t0 + 1)..<T {
                for c in 0..<d {
                    let i = (b * T + t) * d + c
                    q.p[i] += 2; k.p[i] -= 3; v.p[i] += 5
                }
            }
        }
        CausalSelfAttention.forward(
            out: y2.p, probs: probs.p, q: q.p, k: k.p, v: v.p, B: B, T: T, heads: h, headWidth: e, ld: d)
        for b in 0..<B {
            for t in 0..<T {
                for c in 0..<d {
                    let i = (b * T + t) * d + c
                    if t <= t0 { #expect(y1.p[i] == y2.p[i]) } else { #expect(y1.p[i] != y2.p[i]) }
                }
            }
        }
        // And the gradient agrees: a loss on outputs up to t0 sends nothing to Q, K, V after t0.
        var g = [Float](repeating: 0, count: B * T * d)
        for b in 0..<B { for t in 0...t0 { for c in 0..<d { g[(b * T + t) * d + c] = 1 } } }
        let dq = Buf(zeros: B * T * d), dk = Buf(zeros: B * T * d), dv = Buf(zeros: B * T * d)
        CausalSelfAttention.backward(
            dq: dq.p, dk: dk.p, dv: dv.p, dout: g, probs: probs.p, q: q.p, k: k.p, v: v.p,
            B: B, T: T, heads: h, headWidth: e, ld: d)
        for b in 0..<B {
            for t in (t0 + 1)..<T {
                for c in 0..<d {
                    let i = (b * T + t) * d + c
                    #expect(dq.p[i] == 0 && dk.p[i] == 0 && dv.p[i] == 0)
                }
            }
        }
    }

    @Test func positionalEmbeddingCountsFromTheEndAndHasFiniteDifferenceGradients() {
        let B = 2, T = 6, d = 3, P = 4
        let table = Buf(randn(P * d, seed: 8)), dtable = Buf(zeros: P * d)
        let base = randn(B * T * d, seed: 9), x = Buf(base)
        PositionalEmbedding.addForward(x: x.p, table: table.p, B: B, T: T, d: d, positions: P)
        // The last row gets position 0; rows further back than P − 1 share the table's last row.
        for c in 0..<d {
            #expect(x.p[(T - 1) * d + c] == base[(T - 1) * d + c] + table.p[c])
            #expect(x.p[0 * d + c] == base[c] + table.p[(P - 1) * d + c])
            #expect(x.p[1 * d + c] == base[d + c] + table.p[(P - 1) * d + c])
        }
        let g = randn(B * T * d, seed: 10)
        PositionalEmbedding.backward(dtable: dtable.p, dout: g, B: B, T: T, d: d, positions: P)
        let v = table.check(dtable) {
            x.p.update(from: base, count: B * T * d)
            PositionalEmbedding.addForward(x: x.p, table: table.p, B: B, T: T, d: d, positions: P)
            return project(x.p, g)
        }
        #expect(v < 1)
    }

    @Test func dropoutScalesKeptUnitsAndItsGradientMatches() {
        let n = 4000
        var rng = Rng(seed: 11)
        let x = Buf([Float](repeating: 1, count: n)), mask = Buf(zeros: n)
        Dropout.forward(x: x.p, mask: mask.p, n: n, p: 0.25, rng: &rng)
        let dropped = (0..<n).filter { x.p[$0] == 0 }.count
        #expect(dropped > 850 && dropped < 1150)
        for i in 0..<n where x.p[i] != 0 { #expect(abs(x.p[i] - 1 / 0.75) < 1e-6) }
        let dx = Buf([Float](repeating: 2, count: n))
        Dropout.backward(dx: dx.p, mask: mask.p, n: n)
        for i in 0..<n { #expect(dx.p[i] == 2 * x.p[i]) }
        // p = 0 is the identity and draws nothing from the generator.
        var a = Rng(seed: 3), b = Rng(seed: 3)
        let y = Buf(randn(10, seed: 12)), before = y.array
        Dropout.forward(x: y.p, mask: mask.p, n: 10, p: 0, rng: &a)
        #expect(y.array == before && a.next() == b.next())
    }
}
