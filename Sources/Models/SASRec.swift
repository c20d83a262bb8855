import Foundation
import Kernels
import NeuralNet

// Letters: B = batch, T = positions fed to the network, N = B·T, d = width, h = heads, L = transformer blocks,
// P = positional-embedding rows, K = items (incl. padding 0).

/// SASRec (Kang & McAuley, ICDM 2018): item embedding + learned positional embedding, L pre-norm transformer
/// blocks (x + MHA(LN(x)), then y + FFN(LN(y)); FFN = d→d ReLU d→d as the original's point-wise convs), a final
/// layer norm, and next-item cross-entropy over every position like NextItNet. Input and output layers come from
/// `ModelIO`, so Bi-/Bo-/Bio- and CpRec-SASRec are the same class with another `ModelConfig`.
/// Padding positions are not masked as keys (as NextItNet's convolutions see them): padding's item embedding is
/// zero and the loss skips padding targets.
public final class SASRec: SequenceModel {
    public let config: ModelConfig
    public let parameters = ParameterSet()
    public let itemCount: Int
    public let input: InputLayer
    public let output: OutputLayer
    public let positionTable: ParamRef

    /// One d×d projection with its bias (tied projections hold the same refs).
    public struct Projection { public let w: ParamRef, b: ParamRef }
    /// One transformer block: its own two layer norms, six (possibly shared) projections.
    public struct Block {
        public let ln1g: ParamRef, ln1b: ParamRef, ln2g: ParamRef, ln2b: ParamRef
        public let q: Projection, k: Projection, v: Projection, o: Projection, f1: Projection, f2: Projection
    }
    public private(set) var blocks: [Block] = []
    public let finalGamma: ParamRef, finalBeta: ParamRef
    private var dropoutRng: Rng

    /// The six projections of a block, in the order the sharing names use.
    static let projections = ["q", "k", "v", "o", "ffn1", "ffn2"]

    /// Builds the layout from `config` (kind .sasrec) and initialises it from `seed`.
    public init(config: ModelConfig, itemCount: Int, seed: UInt64) {
        precondition(config.kind == .sasrec, "SASRec built from a \(config.kind) config")
        precondition(config.dim % config.attentionHeads == 0, "heads must divide dim")
        self.config = config
        self.itemCount = itemCount
        let d = config.dim, p = parameters
        input = ModelIO.input(config, itemCount: itemCount, params: p)
        positionTable = p.declare("position.embedding", [config.positionCount, d], .middle, .truncatedNormal(std: 0.02))
        for b in 0..<config.transformerBlocks {
            func proj(_ name: String) -> Projection {
                let n = SASRec.projectionName(config.sharing, block: b, projection: name)
                return Projection(
                    w: p.shared("\(n).w", [d, d], .middle, .truncatedNormal(std: 0.02)),
                    b: p.shared("\(n).b", [d], .middle, .zeros))
            }
            let ln1g = p.declare("block\(b).ln1.gamma", [d], .middle, .constant(1))
            let ln1b = p.declare("block\(b).ln1.beta", [d], .middle, .zeros)
            let ln2g = p.declare("block\(b).ln2.gamma", [d], .middle, .constant(1))
            let ln2b = p.declare("block\(b).ln2.beta", [d], .middle, .zeros)
            blocks.append(
                Block(
                    ln1g: ln1g, ln1b: ln1b, ln2g: ln2g, ln2b: ln2b, q: proj("q"), k: proj("k"), v: proj("v"),
                    o: proj("o"), f1: proj("ffn1"), f2: proj("ffn2")))
        }
        finalGamma = p.declare("final.ln.gamma", [d], .middle, .constant(1))
        finalBeta = p.declare("final.ln.beta", [d], .middle, .zeros)
        output = ModelIO.output(config, itemCount: itemCount, params: p, input: input)
        var rng = Rng(seed: seed)
        p.allocate(rng: &rng)
        dropoutRng = Rng(seed: seed ^ 0x5A5_2EC)
    }

    /// Parameter name of projection `j` of block `b`: tied projections share a name. The paper's four schemes,
    /// with a transformer block for NextItNet's residual block and a d×d projection for its conv layer:
    /// - cross-layer: every block uses one set of six projections (ALBERT's all-shared, the "cross-layer");
    /// - cross-block: the attention projections (Q, K, V, O) are shared by every block, each block keeps its own
    ///   FFN (ALBERT's shared-attention: its ablation found attention the cheap part to share);
    /// - adjacent-layer (within a block): Q = K = V = O share one matrix and the FFN's two projections another
    ///   (both are d×d in SASRec; shared Q/K is Reformer's shared-QK attention), 2 matrices per block instead of 6;
    /// - adjacent-block: blocks 2m and 2m+1 share all six (as NextItNet's Ab);
    /// - all-projections: one matrix for all six of every block (the paper's Cl: one conv for every layer).
    /// Layer norms are never shared, as on NextItNet.
    static func projectionName(_ s: ModelConfig.Sharing, block b: Int, projection j: String) -> String {
        let attention = ["q", "k", "v", "o"].contains(j)
        switch s {
        case .none: return "block\(b).\(j)"
        case .crossLayer: return "blocks.\(j)"
        case .crossBlock: return attention ? "blocks.\(j)" : "block\(b).\(j)"
        case .adjacentLayer: return attention ? "block\(b).attention" : "block\(b).ffn"
        case .adjacentBlock: return "block\(b / 2 * 2)+\(b / 2 * 2 + 1).\(j)"
        case .allProjections: return "blocks.projection"
        }
    }

    /// Parameter counts per group from the formulas (independently of the layout table); the positional
    /// embedding, layer norms and projections are the middle group.
    public static func closedFormParameterCounts(
        config c: ModelConfig, itemCount: Int
    ) -> (input: Int, middle: Int, output: Int) {
        let io = ModelIO.closedFormCounts(c, itemCount: itemCount)
        let d = c.dim, L = c.transformerBlocks
        let sets: Int
        switch c.sharing {
        case .none: sets = 6 * L
        case .crossLayer: sets = 6
        case .crossBlock: sets = 4 + 2 * L
        case .adjacentLayer: sets = 2 * L
        case .adjacentBlock: sets = 6 * ((L + 1) / 2)
        case .allProjections: sets = 1
        }
        let middle = c.positionCount * d + sets * (d * d + d) + L * 4 * d + 2 * d
        return (io.input, middle, io.output)
    }

    // MARK: activations

    /// Every activation of one (B, T), allocated once and reused (per block so backward can read them).
    final class Workspace {
        let B: Int, T: Int, N: Int
        let ids: UnsafeMutablePointer<Int32>
        /// streams[b] (N, d) is block b's input; streams[L] feeds the final layer norm, whose output is `hidden`.
        let streams: [FloatPtr], hidden: FloatPtr, fmean: FloatPtr, frstd: FloatPtr
        /// Per block: LN1 out/mean/rstd, Q, K, V, attention probs (B, h, T, T), merged heads, mid stream y,
        /// LN2 out/mean/rstd, FFN hidden (post-ReLU), dropout masks (embedding uses dropMasks[0] of block 0 slot).
        let a1: [FloatPtr], m1: [FloatPtr], r1: [FloatPtr], q: [FloatPtr], k: [FloatPtr], v: [FloatPtr]
        let probs: [FloatPtr], att: [FloatPtr], y: [FloatPtr], a2: [FloatPtr], m2: [FloatPtr], r2: [FloatPtr]
        let f1: [FloatPtr], branch: FloatPtr, embMask: FloatPtr, attMask: [FloatPtr], ffnMask: [FloatPtr]
        /// Backward scratch.
        let dstream: FloatPtr, dA: FloatPtr, dQ: FloatPtr, dK: FloatPtr, dV: FloatPtr, dAtt: FloatPtr, dF: FloatPtr
        private let buffers: FixedBuffers

        init(B: Int, T: Int, d: Int, heads h: Int, blocks L: Int, dropout: Bool) {
            self.B = B; self.T = T; self.N = B * T
            let N = B * T
            ids = .allocate(capacity: N)
            let buffers = FixedBuffers()
            func buf(_ n: Int) -> FloatPtr { buffers.make(n) }
            func per(_ n: Int) -> [FloatPtr] { (0..<L).map { _ in buf(n) } }
            streams = (0...L).map { _ in buf(N * d) }
            hidden = buf(N * d); fmean = buf(N); frstd = buf(N)
            a1 = per(N * d); m1 = per(N); r1 = per(N); q = per(N * d); k = per(N * d); v = per(N * d)
            probs = per(B * h * T * T); att = per(N * d); y = per(N * d); a2 = per(N * d); m2 = per(N); r2 = per(N)
            f1 = per(N * d); branch = buf(N * d)
            embMask = buf(dropout ? N * d : 1); attMask = per(dropout ? N * d : 1); ffnMask = per(dropout ? N * d : 1)
            dstream = buf(N * d); dA = buf(N * d); dQ = buf(N * d); dK = buf(N * d); dV = buf(N * d)
            dAtt = buf(N * d); dF = buf(N * d)
            self.buffers = buffers
        }

        deinit {
            ids.deallocate()
        }
    }

    private var trainWS: Workspace?
    private var inferWS: Workspace?
    private let hc = ScratchBuffer(), dhc = ScratchBuffer()

    private func workspace(training: Bool, B: Int, T: Int) -> Workspace {
        let current = training ? trainWS : inferWS
        if let w = current, w.B == B, w.T == T { return w }
        let w = Workspace(
            B: B, T: T, d: config.dim, heads: config.attentionHeads, blocks: blocks.count,
            dropout: training && config.dropoutRate > 0)
        if training { trainWS = w } else { inferWS = w }
        return w
    }

    // MARK: forward / backward

    /// Embedding + positions + blocks + final layer norm over ws.ids; leaves the hidden states in ws.hidden.
    private func forward(_ ws: Workspace, training: Bool) {
        let p = parameters, d = config.dim, N = ws.N, h = config.attentionHeads, eps = config.layerNormEps
        let drop = training && config.dropoutRate > 0
        input.forward(out: ws.streams[0], ids: ws.ids, N: N)
        if config.scaleEmbedding == true { Kernels.scale(ws.streams[0], Float(d).squareRoot(), N * d) }
        PositionalEmbedding.addForward(
            x: ws.streams[0], table: p.value(positionTable), B: ws.B, T: ws.T, d: d,
            positions: config.positionCount)
        if drop {
            Dropout.forward(x: ws.streams[0], mask: ws.embMask, n: N * d, p: config.dropoutRate, rng: &dropoutRng)
        }
        for (l, blk) in blocks.enumerated() {
            let x = ws.streams[l]
            LayerNorm.forward(
                out: ws.a1[l], mean: ws.m1[l], rstd: ws.r1[l], x: x, gamma: p.value(blk.ln1g),
                beta: p.value(blk.ln1b), N: N, C: d, eps: eps)
            for (pr, out) in [(blk.q, ws.q[l]), (blk.k, ws.k[l]), (blk.v, ws.v[l])] {
                Linear.forward(out: out, x: ws.a1[l], w: p.value(pr.w), bias: p.value(pr.b), N: N, C: d, O: d)
            }
            CausalSelfAttention.forward(
                out: ws.att[l], probs: ws.probs[l], q: ws.q[l], k: ws.k[l], v: ws.v[l],
                B: ws.B, T: ws.T, heads: h, headWidth: d / h, ld: d,
                keyIDs: config.maskPaddingKeys == true ? UnsafePointer(ws.ids) : nil)
            Linear.forward(out: ws.branch, x: ws.att[l], w: p.value(blk.o.w), bias: p.value(blk.o.b), N: N, C: d, O: d)
            if drop {
                Dropout.forward(x: ws.branch, mask: ws.attMask[l], n: N * d, p: config.dropoutRate, rng: &dropoutRng)
            }
            Activation.residualForward(out: ws.y[l], a: x, b: ws.branch, n: N * d)
            LayerNorm.forward(
                out: ws.a2[l], mean: ws.m2[l], rstd: ws.r2[l], x: ws.y[l], gamma: p.value(blk.ln2g),
                beta: p.value(blk.ln2b), N: N, C: d, eps: eps)
            Linear.forward(out: ws.f1[l], x: ws.a2[l], w: p.value(blk.f1.w), bias: p.value(blk.f1.b), N: N, C: d, O: d)
            Activation.reluForward(out: ws.f1[l], x: ws.f1[l], n: N * d)
            Linear.forward(out: ws.branch, x: ws.f1[l], w: p.value(blk.f2.w), bias: p.value(blk.f2.b), N: N, C: d, O: d)
            if drop {
                Dropout.forward(x: ws.branch, mask: ws.ffnMask[l], n: N * d, p: config.dropoutRate, rng: &dropoutRng)
            }
            Activation.residualForward(out: ws.streams[l + 1], a: ws.y[l], b: ws.branch, n: N * d)
        }
        LayerNorm.forward(
            out: ws.hidden, mean: ws.fmean, rstd: ws.frstd, x: ws.streams[blocks.count],
            gamma: p.value(finalGamma), beta: p.value(finalBeta), N: N, C: d, eps: eps)
    }

    /// Backward from dHidden (N, d) (read from ws.dA, which it then reuses) to the embeddings; adds into grads.
    private func backward(_ ws: Workspace) {
        let p = parameters, d = config.dim, N = ws.N, h = config.attentionHeads, nd = N * d
        let drop = config.dropoutRate > 0
        LayerNorm.backward(
            dx: ws.dstream, dgamma: p.grad(finalGamma), dbeta: p.grad(finalBeta), dout: ws.dA,
            x: ws.streams[blocks.count], mean: ws.fmean, rstd: ws.frstd, gamma: p.value(finalGamma),
            N: N, C: d, accumulate: false)
        for l in stride(from: blocks.count - 1, through: 0, by: -1) {
            let blk = blocks[l]
            // ws.dstream = d(streams[l+1]); the residual passes it to y, the FFN branch adds its part.
            ws.dF.update(from: ws.dstream, count: nd)
            if drop { Dropout.backward(dx: ws.dF, mask: ws.ffnMask[l], n: nd) }
            ws.dAtt.update(repeating: 0, count: nd)
            Linear.backward(
                dx: ws.dAtt, dw: p.grad(blk.f2.w), dbias: p.grad(blk.f2.b), dout: ws.dF, x: ws.f1[l],
                w: p.value(blk.f2.w), N: N, C: d, O: d)
            let f1 = ws.f1[l], g = ws.dAtt
            for i in 0..<nd where f1[i] <= 0 { g[i] = 0 }
            ws.dA.update(repeating: 0, count: nd)
            Linear.backward(
                dx: ws.dA, dw: p.grad(blk.f1.w), dbias: p.grad(blk.f1.b), dout: g, x: ws.a2[l],
                w: p.value(blk.f1.w), N: N, C: d, O: d)
            LayerNorm.backward(
                dx: ws.dstream, dgamma: p.grad(blk.ln2g), dbeta: p.grad(blk.ln2b), dout: ws.dA,
                x: ws.y[l], mean: ws.m2[l], rstd: ws.r2[l], gamma: p.value(blk.ln2g), N: N, C: d)
            // ws.dstream = d(y); attention branch.
            ws.dF.update(from: ws.dstream, count: nd)
            if drop { Dropout.backward(dx: ws.dF, mask: ws.attMask[l], n: nd) }
            ws.dAtt.update(repeating: 0, count: nd)
            Linear.backward(
                dx: ws.dAtt, dw: p.grad(blk.o.w), dbias: p.grad(blk.o.b), dout: ws.dF, x: ws.att[l],
                w: p.value(blk.o.w), N: N, C: d, O: d)
            for b in [ws.dQ, ws.dK, ws.dV] { b.update(repeating: 0, count: nd) }
            CausalSelfAttention.backward(
                dq: ws.dQ, dk: ws.dK, dv: ws.dV, dout: ws.dAtt, probs: ws.probs[l],
                q: ws.q[l], k: ws.k[l], v: ws.v[l], B: ws.B, T: ws.T, heads: h,
                headWidth: d / h, ld: d)
            ws.dA.update(repeating: 0, count: nd)
            for (pr, dy) in [(blk.q, ws.dQ), (blk.k, ws.dK), (blk.v, ws.dV)] {
                Linear.backward(
                    dx: ws.dA, dw: p.grad(pr.w), dbias: p.grad(pr.b), dout: dy, x: ws.a1[l],
                    w: p.value(pr.w), N: N, C: d, O: d)
            }
            LayerNorm.backward(
                dx: ws.dstream, dgamma: p.grad(blk.ln1g), dbeta: p.grad(blk.ln1b), dout: ws.dA,
                x: ws.streams[l], mean: ws.m1[l], rstd: ws.r1[l], gamma: p.value(blk.ln1g), N: N, C: d)
        }
        if drop { Dropout.backward(dx: ws.dstream, mask: ws.embMask, n: nd) }
        PositionalEmbedding.backward(
            dtable: p.grad(positionTable), dout: ws.dstream, B: ws.B, T: ws.T, d: d,
            positions: config.positionCount)
        if config.scaleEmbedding == true { Kernels.scale(ws.dstream, Float(d).squareRoot(), nd) }
        input.backward(dout: ws.dstream, ids: ws.ids, N: N)
    }

    public func trainStep(_ batch: SequenceBatch) -> Float {
        let B = batch.batchSize, T = batch.length - 1, d = config.dim
        precondition(T >= 1, "sequences need at least two ids")
        let ws = workspace(training: true, B: B, T: T)
        var targets = [Int32](repeating: 0, count: ws.N)
        batch.ids.withUnsafeBufferPointer { s in
            for b in 0..<B {
                (ws.ids + b * T).update(from: s.baseAddress! + b * (T + 1), count: T)
                for t in 0..<T { targets[b * T + t] = s[b * (T + 1) + t + 1] }
            }
        }
        forward(ws, training: true)
        let (loss, count) = ModelIO.loss(
            output: output, h: ws.hidden, targets: targets, N: ws.N, d: d,
            maskPadding: config.maskPadding, dh: ws.dA, hc: hc, dhc: dhc)
        guard count > 0 else { return 0 }
        backward(ws)
        return loss
    }

    /// Hidden state at the last position of each row: (B, d), in the inference workspace.
    private func lastHidden(_ batch: SequenceBatch) -> FloatPtr {
        let B = batch.batchSize, T = batch.length, d = config.dim
        let ws = workspace(training: false, B: B, T: T)
        batch.ids.withUnsafeBufferPointer { ws.ids.update(from: $0.baseAddress!, count: B * T) }
        forward(ws, training: false)
        // streams[0] is free after forward.
        let out = ws.streams[0]
        for b in 0..<B { (out + b * d).update(from: ws.hidden + (b * T + T - 1) * d, count: d) }
        return out
    }

    /// Hidden states at every position (B·T × d), for tests of causality.
    func hiddenStates(_ batch: SequenceBatch) -> [Float] {
        let ws = workspace(training: false, B: batch.batchSize, T: batch.length)
        batch.ids.withUnsafeBufferPointer { ws.ids.update(from: $0.baseAddress!, count: ws.N) }
        forward(ws, training: false)
        return Array(UnsafeBufferPointer(start: ws.hidden, count: ws.N * config.dim))
    }

    /// B × d hidden vectors at the last position.
    public func hiddenLast(_ batch: SequenceBatch) -> [Float] {
        Array(UnsafeBufferPointer(start: lastHidden(batch), count: batch.batchSize * config.dim))
    }
}
