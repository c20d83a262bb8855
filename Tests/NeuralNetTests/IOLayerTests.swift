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
            let l = layer.lossForwardBackward(
                dx: junk.p, x: x.p, targets: targets, N: N, maskPadding: mask, scale: scale)
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

    /// The tied output scores with the input table: the loss, scores and the table's gradient (which the input
    /// lookup adds to as well) pass the same checks as the untied layers, and it declares no parameter of its own.
    @Test(arguments: [true, false])
    func tiedSoftmaxLossScoresAndGradients(mask: Bool) {
        let p = ParameterSet()
        let input = FullEmbedding(p, name: "in", vocabulary: 14, dim: 8, initializer: .normal(std: 0.3))
        let tied = TiedSoftmax(p, table: input.table, vocabulary: 14, dim: 8)
        #expect(p.specs.count == 1)
        var rng = Rng(seed: 9)
        p.allocate(rng: &rng)
        checkOutput(tied, p, mask: mask)
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

    /// A flat softmax's logits are its scores before normalising: softmax(logits) = scores, and top-n (which ranks
    /// the logits, with no exponentials over the vocabulary) equals the top-n of the scores.
    @Test func flatOutputsRankTheirLogits() {
        let p = ParameterSet()
        let input = FullEmbedding(p, name: "in", vocabulary: 14, dim: 8, initializer: .normal(std: 0.3))
        let layers: [any OutputLayer] = [
            FullSoftmax(p, prefix: "full", vocabulary: 14, dim: 8),
            TiedSoftmax(p, table: input.table, vocabulary: 14, dim: 8),
            LowRankSoftmax(p, prefix: "low", vocabulary: 14, rank: 3, dim: 8)
        ]
        var rng = Rng(seed: 12)
        p.allocate(rng: &rng)
        Kernels.scale(p.values, 10, p.count)
        let N = 4, V = 14
        let x = Buf((0..<(N * 8)).map { _ in rng.normal() })
        for layer in layers {
            let logits = Buf(zeros: N * V), scores = Buf(zeros: N * V)
            layer.logits(out: logits.p, x: x.p, N: N)
            layer.score(out: scores.p, x: x.p, N: N)
            var sum = 0.0
            for i in 0..<V { sum += Double(logits.p[i]) }
            #expect(abs(sum - 1) > 1e-3, "\(type(of: layer)): logits look normalised")
            Kernels.softmaxRows(logits.p, logits.p, rows: N, cols: V)
            for i in 0..<(N * V) { #expect(abs(logits.p[i] - scores.p[i]) < 1e-5) }
            let top = layer.topN(x: x.p, N: N, n: 5)
            #expect(top == (0..<N).flatMap { Kernels.topK(scores.p + $0 * V, V, k: 5, excluding: 0) })
        }
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
        // The authors' rule with n = head width: every cluster token ranks inside the top n, so every tail is
        // evaluated and the list is the full one.
        layer.pruning = .approximate
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

    /// Random weights peaked enough that tail blocks both win and lose against the head: the exact rule must
    /// reproduce full scoring row for row, in a batch and one row at a time, while still skipping blocks.
    @Test(arguments: [
        (bounds: [5, 9, 14], dim: 8, factor: 2),
        (bounds: [30, 200], dim: 16, factor: 4),
        (bounds: [40, 90, 260, 600], dim: 16, factor: 2),
        (bounds: [10, 11, 60, 61, 300], dim: 8, factor: 1)  // one-item blocks: item probability = cluster's
    ])
    func exactTopNEqualsFullScoringOnRandomWeights(_ c: (bounds: [Int], dim: Int, factor: Int)) {
        let layout = BlockLayout(bounds: c.bounds, dim: c.dim, factor: c.factor)
        let p = ParameterSet()
        let layer = TreeSoftmax(p, prefix: "out", layout: layout, dim: c.dim)
        var rng = Rng(seed: UInt64(c.bounds.last!))
        p.allocate(rng: &rng)
        Kernels.scale(p.values, 3, p.count)
        let N = 400
        let x = Buf(randn(N * c.dim, seed: 11, scale: 2))
        #expect(layer.pruning == .exact)
        var evaluated = 0
        for k in [1, 5, 20] {
            let n = min(k, layout.vocabulary - 1)
            let full = fullTop(layer, x, N: N, n: n)
            #expect(layer.topN(x: x.p, N: N, n: n) == full, "n = \(n)")
            #expect(layer.lastTailPairs == N * layout.tailCount)
            evaluated += layer.lastTailEvaluations
            for r in 0..<60 {
                let one = layer.topN(x: x.p + r * c.dim, N: 1, n: n)
                #expect(one == Array(full[(r * n)..<((r + 1) * n)]), "row \(r), n = \(n), batch 1")
            }
        }
        #expect(evaluated > 0 && evaluated < 3 * N * layout.tailCount, "evaluated \(evaluated)")
        // No pruning: the same lists, every block scored.
        layer.pruning = .off
        #expect(layer.topN(x: x.p, N: N, n: 5) == fullTop(layer, x, N: N, n: 5))
        #expect(layer.lastTailEvaluations == N * layout.tailCount)
    }

    /// All-zero weights: every head entry has probability 1/H and each block is uniform, so the ranking is
    /// decided by the tie rule alone (higher probability, then lower id), as in full scoring.
    @Test func exactTopNBreaksTiesLikeFullScoring() {
        let layout = BlockLayout(bounds: [4, 6, 7, 9], dim: 4, factor: 1)
        let p = ParameterSet()
        let layer = TreeSoftmax(p, prefix: "out", layout: layout, dim: 4)
        var rng = Rng(seed: 1)
        p.allocate(rng: &rng)
        p.values.update(repeating: 0, count: p.count)
        let x = Buf(randn(2 * 4, seed: 2))
        // 1, 2, 3 and 6 (a one-item block) at 1/7; then 4 beats 5, 7 and 8 (all 1/14) by id.
        #expect(fullTop(layer, x, N: 2, n: 5) == [1, 2, 3, 6, 4, 1, 2, 3, 6, 4])
        #expect(layer.topN(x: x.p, N: 2, n: 5) == [1, 2, 3, 6, 4, 1, 2, 3, 6, 4])
    }

    /// Row A: the head ranks cluster 1 (0.45, four items of 0.1125) first, cluster 2 (0.3, one item) second and
    /// item 1 (0.2) third. For n = 1 the authors' rule scores only block 1 and answers item 3; the full ranking's
    /// best is item 7 (0.3). Row B: item 1 (0.6) dominates and both rules agree.
    static func constructedTree() -> (TreeSoftmax, Buf) {
        let layout = BlockLayout(bounds: [3, 7, 8], dim: 2, factor: 1)
        let p = ParameterSet()
        let layer = TreeSoftmax(p, prefix: "out", layout: layout, dim: 2)
        var rng = Rng(seed: 1)
        p.allocate(rng: &rng)
        p.values.update(repeating: 0, count: p.count)  // tail blocks uniform
        // Head columns: padding, item 1, item 2, cluster 1, cluster 2; x = e_0 selects row A's logits, e_1 row B's.
        let a: [Double] = [1e-9, 0.2, 0.05, 0.45, 0.3], b: [Double] = [1e-9, 0.6, 0.1, 0.2, 0.1]
        let h = p.value(layer.head)
        for j in 0..<5 { h[j] = Float(log(a[j])); h[5 + j] = Float(log(b[j])) }
        return (layer, Buf([1, 0, 0, 1, 1, 0, 0, 1]))  // rows A, B, A, B
    }

    @Test func approximateRuleMissesWhatTheExactRuleFinds() {
        let (layer, x) = Self.constructedTree()
        #expect(fullTop(layer, x, N: 4, n: 1) == [7, 1, 7, 1])
        #expect(layer.topN(x: x.p, N: 4, n: 1) == [7, 1, 7, 1])
        #expect(layer.lastTailEvaluations == 4 && layer.lastTailPairs == 8)  // row A scores both blocks, B none
        layer.pruning = .approximate
        #expect(layer.topN(x: x.p, N: 4, n: 1) == [3, 1, 3, 1])
        #expect(layer.lastTailEvaluations == 2 && layer.lastTailPairs == 8)  // row A scores block 1 only
    }
}
