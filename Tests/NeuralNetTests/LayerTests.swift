import Foundation
import Kernels
import Testing
@testable import NeuralNet

/// Every layer's backward against central finite differences, plus naive twins and invariants.
@Suite struct LayerTests {
    init() { BLAS.setThreads(1) }

    @Test func embeddingLookupAndGradient() {
        let V = 6, D = 5, N = 7
        let ids: [Int32] = [3, 0, 5, 3, 1, 0, 2]
        let table = Buf(randn(V * D, seed: 1)), dtable = Buf(zeros: V * D)
        let out = Buf(zeros: N * D)
        let w = randn(N * D, seed: 2)
        Embedding.forward(out: out.p, ids: ids, table: table.p, N: N, D: D)
        for d in 0..<D {
            #expect(out.p[1 * D + d] == 0)
            #expect(out.p[0 * D + d] == table.p[3 * D + d])
        }
        Embedding.backward(dtable: dtable.p, dout: w, ids: ids, N: N, D: D)
        for d in 0..<D { #expect(dtable.p[d] == 0) }  // padding row gets nothing
        let v = table.check(dtable) {
            Embedding.forward(out: out.p, ids: ids, table: table.p, N: N, D: D)
            return project(out.p, w)
        }
        #expect(v < 1)
    }

    @Test(arguments: [(1, 3), (2, 3), (4, 2), (3, 1)])
    func causalConvMatchesNaiveAndFiniteDifferences(r: Int, k: Int) {
        let B = 2, T = 9, C = 3, O = 4
        let x = Buf(randn(B * T * C, seed: 3)), wt = Buf(randn(k * C * O, seed: 4, scale: 0.5))
        let bias = Buf(randn(O, seed: 5))
        let y = Buf(zeros: B * T * O), yn = Buf(zeros: B * T * O), col = Buf(zeros: B * T * k * C)
        CausalConv.forward(y: y.p, col: col.p, x: x.p, w: wt.p, bias: bias.p, B: B, T: T, C: C, O: O, k: k, r: r)
        CausalConv.forwardNaive(y: yn.p, x: x.p, w: wt.p, bias: bias.p, B: B, T: T, C: C, O: O, k: k, r: r)
        for i in 0..<(B * T * O) { #expect(abs(y.p[i] - yn.p[i]) < 1e-5) }

        let g = randn(B * T * O, seed: 6)
        let dx = Buf(zeros: B * T * C), dw = Buf(zeros: k * C * O), db = Buf(zeros: O)
        let dcol = Buf(zeros: B * T * k * C)
        CausalConv.backward(
            dx: dx.p, dw: dw.p, dbias: db.p, dcol: dcol.p, dy: g, col: col.p, w: wt.p,
            B: B, T: T, C: C, O: O, k: k, r: r)
        // The naive forward is the oracle for the loss, so a shared im2col bug cannot hide.
        let loss = { () -> Double in
            CausalConv.forwardNaive(y: yn.p, x: x.p, w: wt.p, bias: bias.p, B: B, T: T, C: C, O: O, k: k, r: r)
            return project(yn.p, g)
        }
        #expect(x.check(dx, samples: 54, loss: loss) < 1)
        #expect(wt.check(dw, loss: loss) < 1)
        #expect(bias.check(db, loss: loss) < 1)
        // Overwrite mode (NextItNet's second conv of a block) writes exactly what accumulating into zeros gives.
        let written = Buf(randn(B * T * C, seed: 7)), dw2 = Buf(zeros: k * C * O), db2 = Buf(zeros: O)
        CausalConv.backward(
            dx: written.p, dw: dw2.p, dbias: db2.p, dcol: dcol.p, dy: g, col: col.p, w: wt.p,
            B: B, T: T, C: C, O: O, k: k, r: r, accumulate: false)
        for i in 0..<(B * T * C) { #expect(written.p[i] == dx.p[i]) }
    }

    @Test func causalConvNeverSeesTheFuture() {
        let B = 2, T = 12, C = 4, O = 3, k = 3, r = 2
        let x = Buf(randn(B * T * C, seed: 7)), wt = Buf(randn(k * C * O, seed: 8)), bias = Buf(randn(O, seed: 9))
        let y1 = Buf(zeros: B * T * O), y2 = Buf(zeros: B * T * O), col = Buf(zeros: B * T * k * C)
        CausalConv.forward(y: y1.p, col: col.p, x: x.p, w: wt.p, bias: bias.p, B: B, T: T, C: C, O: O, k: k, r: r)
        let t0 = 5
        for b in 0..<B { for t in (t0 + 1)..<T { for c in 0..<C { x.p[(b * T + t) * C + c] += 3 } } }
        CausalConv.forward(y: y2.p, col: col.p, x: x.p, w: wt.p, bias: bias.p, B: B, T: T, C: C, O: O, k: k, r: r)
        for b in 0..<B {
            for t in 0..<T {
                for o in 0..<O {
                    let i = (b * T + t) * O + o
                    if t <= t0 { #expect(y1.p[i] == y2.p[i]) } else { #expect(y1.p[i] != y2.p[i]) }
                }
            }
        }
    }

    // 12: scalar tails only (every vector width here is 4, 8 or 16 lanes); 16: whole vectors; 300: several
    // 128-row slabs of dγ/dβ partials when N is large enough (below) plus vectors and a tail.
    @Test(arguments: [(12, false), (16, false), (12, true), (40, true)])
    func layerNormFiniteDifferences(C: Int, relu: Bool) {
        let N = 5
        let x = Buf(randn(N * C, seed: 10, scale: 2)), gamma = Buf(randn(C, seed: 11)), beta = Buf(randn(C, seed: 12))
        let out = Buf(zeros: N * C), mean = Buf(zeros: N), rstd = Buf(zeros: N)
        LayerNorm.forward(
            out: out.p, mean: mean.p, rstd: rstd.p, x: x.p, gamma: gamma.p, beta: beta.p, N: N, C: C,
            eps: 1e-5, relu: relu)
        if !relu {
            for n in 0..<N {
                let row = Array(UnsafeBufferPointer(start: out.p + n * C, count: C))
                let xh = (0..<C).map { (row[$0] - beta.p[$0]) / gamma.p[$0] }
                #expect(abs(xh.reduce(0, +) / Float(C)) < 1e-4)
            }
        } else {
            #expect((0..<(N * C)).allSatisfy { out.p[$0] >= 0 })
            #expect((0..<(N * C)).contains { out.p[$0] == 0 }, "no unit is cut by the ReLU: the mask goes untested")
        }
        let g = randn(N * C, seed: 13)
        let dx = Buf(zeros: N * C), dg = Buf(zeros: C), dbt = Buf(zeros: C)
        LayerNorm.backward(
            dx: dx.p, dgamma: dg.p, dbeta: dbt.p, dout: g, x: x.p, mean: mean.p, rstd: rstd.p,
            gamma: gamma.p, N: N, C: C, relu: relu, out: out.p)
        let loss = { () -> Double in
            LayerNorm.forward(
                out: out.p, mean: mean.p, rstd: rstd.p, x: x.p, gamma: gamma.p, beta: beta.p,
                N: N, C: C, eps: 1e-5, relu: relu)
            return project(out.p, g)
        }
        #expect(x.check(dx, samples: 60, eps: 1e-3, loss: loss) < 1)
        #expect(gamma.check(dg, eps: 1e-3, loss: loss) < 1)
        #expect(beta.check(dbt, eps: 1e-3, loss: loss) < 1)
    }

    /// Overwrite and accumulate modes agree; dγ/dβ and the fused dx column sums add up over several 128-row slabs.
    @Test func layerNormBackwardModesAndSlabs() {
        let N = 300, C = 24
        let x = Buf(randn(N * C, seed: 30, scale: 2)), gamma = Buf(randn(C, seed: 31)), beta = Buf(randn(C, seed: 32))
        let out = Buf(zeros: N * C), mean = Buf(zeros: N), rstd = Buf(zeros: N)
        LayerNorm.forward(
            out: out.p, mean: mean.p, rstd: rstd.p, x: x.p, gamma: gamma.p, beta: beta.p, N: N, C: C,
            eps: 1e-5, relu: true)
        let g = randn(N * C, seed: 33), base = randn(N * C, seed: 34)
        let written = Buf(randn(N * C, seed: 35)), added = Buf(base)
        let dg1 = Buf(zeros: C), db1 = Buf(zeros: C), dg2 = Buf(zeros: C), db2 = Buf(zeros: C)
        let sums = Buf([Float](repeating: 1, count: C))
        LayerNorm.backward(
            dx: written.p, dgamma: dg1.p, dbeta: db1.p, dout: g, x: x.p, mean: mean.p, rstd: rstd.p,
            gamma: gamma.p, N: N, C: C, relu: true, out: out.p, accumulate: false, dxColumnSums: sums.p)
        for c in 0..<C {
            let want = 1 + (0..<N).reduce(0.0) { $0 + Double(written.p[$1 * C + c]) }
            #expect(abs(Double(sums.p[c]) - want) < 1e-3, "column \(c): fused dx column sum")
        }
        LayerNorm.backward(
            dx: added.p, dgamma: dg2.p, dbeta: db2.p, dout: g, x: x.p, mean: mean.p, rstd: rstd.p,
            gamma: gamma.p, N: N, C: C, relu: true, out: out.p, accumulate: true)
        for i in 0..<(N * C) { #expect(abs(added.p[i] - base[i] - written.p[i]) < 1e-5) }
        for c in 0..<C {
            var sg = 0.0, sb = 0.0
            for n in 0..<N where out.p[n * C + c] > 0 {
                let xh = (Double(x.p[n * C + c]) - Double(mean.p[n])) * Double(rstd.p[n])
                sg += Double(g[n * C + c]) * xh
                sb += Double(g[n * C + c])
            }
            #expect(abs(Double(dg1.p[c]) - sg) < 1e-3 && abs(Double(db1.p[c]) - sb) < 1e-3)
            #expect(dg1.p[c] == dg2.p[c] && db1.p[c] == db2.p[c])
        }
    }

    @Test(arguments: [true, false])
    func linearFiniteDifferences(withBias: Bool) {
        let N = 6, C = 5, O = 7
        let x = Buf(randn(N * C, seed: 14)), w = Buf(randn(C * O, seed: 15)), b = Buf(randn(O, seed: 16))
        let out = Buf(zeros: N * O)
        let g = randn(N * O, seed: 17)
        let dx = Buf(zeros: N * C), dw = Buf(zeros: C * O), db = Buf(zeros: O)
        Linear.backward(dx: dx.p, dw: dw.p, dbias: withBias ? db.p : nil, dout: g, x: x.p, w: w.p, N: N, C: C, O: O)
        let loss = { () -> Double in
            Linear.forward(out: out.p, x: x.p, w: w.p, bias: withBias ? b.p : nil, N: N, C: C, O: O)
            return project(out.p, g)
        }
        #expect(x.check(dx, loss: loss) < 1)
        #expect(w.check(dw, loss: loss) < 1)
        if withBias { #expect(b.check(db, loss: loss) < 1) }
    }

    @Test func reluAndResidualFiniteDifferences() {
        let n = 40
        // Keep inputs away from the kink so central differences are exact.
        let x = Buf(randn(n, seed: 18).map { $0 + ($0 >= 0 ? 0.1 : -0.1) }), y = Buf(zeros: n)
        let g = randn(n, seed: 19)
        let dx = Buf(zeros: n)
        Activation.reluForward(out: y.p, x: x.p, n: n)
        Activation.reluBackward(dx: dx.p, dout: g, out: y.p, n: n)
        #expect(
            x.check(dx) {
                Activation.reluForward(out: y.p, x: x.p, n: n)
                return project(y.p, g)
            } < 1)
        let a = Buf(randn(n, seed: 20)), da = Buf(zeros: n), db = Buf(zeros: n)
        Activation.residualBackward(da: da.p, db: db.p, dout: g, n: n)
        let loss = { () -> Double in
            Activation.residualForward(out: y.p, a: a.p, b: x.p, n: n)
            return project(y.p, g)
        }
        #expect(a.check(da, loss: loss) < 1)
        #expect(x.check(db, loss: loss) < 1)
    }

    @Test(arguments: [true, false])
    func softmaxCrossEntropyFiniteDifferencesAndMask(mask: Bool) {
        let N = 5, V = 9
        let targets: [Int32] = [3, 0, 8, 1, 0]
        let logits = Buf(randn(N * V, seed: 21, scale: 2)), probs = Buf(zeros: N * V), losses = Buf(zeros: N)
        let loss = { () -> Double in
            probs.p.update(from: logits.p, count: N * V)
            return SoftmaxCrossEntropy.forward(
                losses: losses.p, probs: probs.p, targets: targets, N: N, V: V,
                maskPadding: mask)
        }
        let total = loss()
        if mask {
            #expect(losses.p[1] == 0 && losses.p[4] == 0)
        } else {
            #expect(losses.p[1] > 0)
        }
        for n in 0..<N where !(mask && targets[n] == 0) {
            #expect(abs(Double(losses.p[n]) + log(Double(probs.p[n * V + Int(targets[n])]))) < 1e-5)
        }
        #expect(total > 0)
        let d = Buf(zeros: N * V)
        SoftmaxCrossEntropy.backward(
            dlogits: d.p, probs: probs.p, targets: targets, N: N, V: V, maskPadding: mask, scale: 1)
        if mask { for j in 0..<V { #expect(d.p[1 * V + j] == 0) } }
        #expect(logits.check(d, samples: 45, loss: loss) < 1)
    }

    @Test func fusedChunkedSoftmaxMatchesUnfused() {
        let N = 11, D = 6, V = 13, chunk = 4
        let targets: [Int32] = [1, 5, 0, 12, 7, 7, 3, 0, 2, 9, 11]
        let x = Buf(randn(N * D, seed: 22)), w = Buf(randn(D * V, seed: 23)), b = Buf(randn(V, seed: 24))
        let dx = Buf(zeros: N * D), dw = Buf(zeros: D * V), db = Buf(zeros: V)
        let scratch = Buf(zeros: chunk * V), ls = Buf(zeros: chunk)
        let scale: Float = 1 / 9
        let fused = SoftmaxCrossEntropy.linearForwardBackward(
            dx: dx.p, dw: dw.p, dbias: db.p, scratch: scratch.p, lossScratch: ls.p, chunk: chunk, x: x.p, w: w.p,
            bias: b.p, targets: targets, N: N, D: D, V: V, maskPadding: true, scale: scale)
        let logits = Buf(zeros: N * V), losses = Buf(zeros: N)
        let loss = { () -> Double in
            Linear.forward(out: logits.p, x: x.p, w: w.p, bias: b.p, N: N, C: D, O: V)
            return SoftmaxCrossEntropy.forward(
                losses: losses.p, probs: logits.p, targets: targets, N: N, V: V,
                maskPadding: true) * Double(scale)
        }
        #expect(abs(fused * Double(scale) - loss()) < 1e-6)
        #expect(x.check(dx, loss: loss) < 1)
        #expect(w.check(dw, loss: loss) < 1)
        #expect(b.check(db, loss: loss) < 1)
    }

    @Test func tiedParameterGradientIsSumOfUses() {
        // Two linear uses of one weight (a tie) vs two independent copies of it.
        let N = 4, C = 3, O = 3
        let x1 = randn(N * C, seed: 25), x2 = randn(N * C, seed: 26)
        let g1 = randn(N * O, seed: 27), g2 = randn(N * O, seed: 28)
        let tied = ParameterSet()
        let a = tied.shared("conv.w", [C, O], .middle, .normal(std: 1))
        let b = tied.shared("conv.w", [C, O], .middle, .normal(std: 1))
        #expect(a == b && tied.count == C * O && tied.count(in: .middle) == C * O)
        var rng = Rng(seed: 3)
        tied.allocate(rng: &rng)
        Linear.backward(dx: nil, dw: tied.grad(a), dbias: nil, dout: g1, x: x1, w: tied.value(a), N: N, C: C, O: O)
        Linear.backward(dx: nil, dw: tied.grad(b), dbias: nil, dout: g2, x: x2, w: tied.value(b), N: N, C: C, O: O)
        let d1 = Buf(zeros: C * O), d2 = Buf(zeros: C * O)
        Linear.backward(dx: nil, dw: d1.p, dbias: nil, dout: g1, x: x1, w: tied.value(a), N: N, C: C, O: O)
        Linear.backward(dx: nil, dw: d2.p, dbias: nil, dout: g2, x: x2, w: tied.value(a), N: N, C: C, O: O)
        for i in 0..<(C * O) {
            #expect(abs(tied.grad(a)[i] - (d1.p[i] + d2.p[i])) < 1e-6)
            #expect(d1.p[i] != 0 && d2.p[i] != 0)
        }
        // And the tied gradient is the finite-difference gradient of the summed loss.
        let out = Buf(zeros: N * O)
        let v = gradientViolation(tied.value(a), count: C * O, analytic: tied.grad(a)) {
            Linear.forward(out: out.p, x: x1, w: tied.value(a), bias: nil, N: N, C: C, O: O)
            let l1 = project(out.p, g1)
            Linear.forward(out: out.p, x: x2, w: tied.value(b), bias: nil, N: N, C: C, O: O)
            return l1 + project(out.p, g2)
        }
        #expect(v < 1)
    }
}
