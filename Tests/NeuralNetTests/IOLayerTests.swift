import Foundation
import Kernels
import Testing
@testable import NeuralNet

/// Block-wise adaptive input, tree softmax, low-rank and full softmax: gradients, scoring, fast top-N.
@Suite struct IOLayerTests {
    init() { BLAS.setThreads(1) }

    let layout = BlockLayout(bounds: [5, 9, 14], dim: 8, factor: 2)  // widths 8, 4, 2

    @Test func blockLayoutWidthsAndLookup() {
        #expect(layout.widths == [8, 4, 2])
        #expect(BlockLayout(bounds: [2000, 8000, 20000], dim: 256, factor: 4).widths == [256, 64, 16])
        #expect(layout.block(of: 0) == 0 && layout.block(of: 4) == 0 && layout.block(of: 5) == 1)
        #expect(layout.block(of: 13) == 2 && layout.size(1) == 4 && layout.start(2) == 9)
    }

    @Test func adaptiveInputFiniteDifferences() {
        let p = ParameterSet()
        let layer = AdaptiveInput(p, prefix: "in", layout: layout, dim: 8)
        var rng = Rng(seed: 1)
        p.allocate(rng: &rng)
        let ids: [Int32] = [0, 3, 7, 12, 5, 13, 3, 9, 1]
        let N = ids.count
        let out = Buf(zeros: N * 8)
        let g = randn(N * 8, seed: 2)
        layer.forward(out: out.p, ids: ids, N: N)
        for d in 0..<8 { #expect(out.p[d] == 0) }
        // A tail item's embedding is its table row times the block projection.
        let row = p.value(layer.tables[1]) + (12 - 9) * 2, proj = p.value(layer.projections[1])
        for d in 0..<8 { #expect(abs(out.p[3 * 8 + d] - (row[0] * proj[d] + row[1] * proj[8 + d])) < 1e-6) }
        layer.backward(dout: g, ids: ids, N: N)
        for d in 0..<8 { #expect(p.grad(layer.head)[d] == 0) }
        let (v, name) = parameterViolation(p) {
            layer.forward(out: out.p, ids: ids, N: N)
            return project(out.p, g)
        }
        #expect(v < 1, "worst tensor \(name)")
    }

    @Test func lowRankEmbeddingFiniteDifferences() {
        let p = ParameterSet()
        let layer = LowRankEmbedding(p, prefix: "in", vocabulary: 10, rank: 3, dim: 6)
        var rng = Rng(seed: 3)
        p.allocate(rng: &rng)
        let ids: [Int32] = [0, 4, 9, 4, 2]
        let out = Buf(zeros: 5 * 6)
        let g = randn(5 * 6, seed: 4)
        layer.forward(out: out.p, ids: ids, N: 5)
        for d in 0..<6 { #expect(out.p[d] == 0) }
        layer.backward(dout: g, ids: ids, N: 5)
        for e in 0..<3 { #expect(p.grad(layer.table)[e] == 0) }
        let (v, name) = parameterViolation(p) {
            layer.forward(out: out.p, ids: ids, N: 5)
            return project(out.p, g)
        }
        #expect(v < 1, "worst tensor \(name)")
    }

    /// Shared checks for any output layer: loss = −Σ log score[target], gradients by finite differences,
    /// score rows sum to 1.
    func checkOutput(_ layer: OutputLayer, _ p: ParameterSet, mask: Bool) {
        let N = 7, d = 8, V = layer.vocabulary
        let targets: [Int32] = [2, 6, 13, 0, 10, 4, 11]
        let x = Buf(randn(N * d, seed: 5)), dx = Buf(zeros: N * d)
        let scale: Float = 0.5
        let loss = layer.lossForwardBackward(dx: dx.p, x: x.p, targets: targets, N: N, maskPadding: mask, scale: scale)
        let probs = Buf(zeros: N * V)
        layer.score(out: probs.p, x: x.p, N: N)
        var nll = 0.0
        for n in 0..<N {
            let s = Kernels.sum(probs.p + n * V, V)
            #expect(abs(s - 1) < 1e-5)
            if !(mask && targets[n] == 0) { nll -= log(Double(probs.p[n * V + Int(targets[n])])) }
        }
        #expect(abs(loss - nll) < 1e-4 * max(1, nll))
        let lossFn = { () -> Double in
            let junk = Buf(zeros: N * d)
            // Gradients go to a throwaway ParameterSet state: save and restore the real ones.
            let saved = Array(UnsafeBufferPointer(start: p.grads, count: p.count))
            let l = layer.lossForwardBackward(dx: junk.p, x: x.p, targets: targets, N: N, maskPadding: mask, scale: scale)
            p.grads.update(from: saved, count: p.count)
            return l * Double(scale)
        }
        #expect(x.check(dx, loss: lossFn) < 1)
        let (v, name) = parameterViolation(p, loss: lossFn)
        #expect(v < 1, "worst tensor \(name)")
    }

    @Test(arguments: [true, false])
    func treeSoftmaxLossScoresAndGradients(mask: Bool) {
        let p = ParameterSet()
        let layer = TreeSoftmax(p, prefix: "out", layout: layout, dim: 8)
        var rng = Rng(seed: 6)
        p.allocate(rng: &rng)
        // glorot init is small on this toy; scale up so the distribution is far from uniform
        Kernels.scale(p.values, 3, p.count)
        checkOutput(layer, p, mask: mask)
    }

    @Test func fullAndLowRankSoftmaxLossScoresAndGradients() {
        let p = ParameterSet()
        let full = FullSoftmax(p, prefix: "full", vocabulary: 14, dim: 8)
        let q = ParameterSet()
        let low = LowRankSoftmax(q, prefix: "low", vocabulary: 14, rank: 3, dim: 8)
        var rng = Rng(seed: 7)
        p.allocate(rng: &rng)
        q.allocate(rng: &rng)
        Kernels.scale(p.values, 30, p.count)
        Kernels.scale(q.values, 10, q.count)
        checkOutput(full, p, mask: true)
        checkOutput(low, q, mask: false)
    }

    func fullTop(_ layer: TreeSoftmax, _ x: Buf, N: Int, n: Int) -> [Int32] {
        let V = layer.vocabulary
        let probs = Buf(zeros: N * V)
        layer.score(out: probs.p, x: x.p, N: N)
        return (0..<N).flatMap { Kernels.topK(probs.p + $0 * V, V, k: n, excluding: 0) }
    }

    @Test func fastTopNEqualsFullScoringWhenClustersAreEvaluated() {
        let p = ParameterSet()
        let layer = TreeSoftmax(p, prefix: "out", layout: layout, dim: 8)
        var rng = Rng(seed: 8)
        p.allocate(rng: &rng)
        Kernels.scale(p.values, 4, p.count)
        let N = 6
        let x = Buf(randn(N * 8, seed: 9))
        // n = head width: every cluster token ranks inside the top n, so every tail is evaluated.
        let n = 6
        let fast = layer.topN(x: x.p, N: N, n: n)
        #expect(layer.lastTailEvaluations == N * 2)
        #expect(fast == fullTop(layer, x, N: N, n: n))
        #expect(!fast.contains(0))
    }

    @Test func fastTopNSkipsTailsWhenHeadDominates() {
        let p = ParameterSet()
        let layer = TreeSoftmax(p, prefix: "out", layout: layout, dim: 8)
        var rng = Rng(seed: 10)
        p.allocate(rng: &rng)
        // Make head items 1…4 dominate and the cluster tokens (columns 5, 6) very unlikely for x = 1.
        let H = 7
        let h = p.value(layer.head)
        for c in 0..<8 { for j in 0..<H { h[c * H + j] = j >= 1 && j <= 4 ? Float(j) : (j == 0 ? 0 : -5) } }
        let N = 3
        let x = Buf([Float](repeating: 1, count: N * 8))
        let fast = layer.topN(x: x.p, N: N, n: 3)
        #expect(layer.lastTailEvaluations == 0)
        #expect(fast == fullTop(layer, x, N: N, n: 3))
        #expect(Array(fast.prefix(3)) == [4, 3, 2])
    }
}
