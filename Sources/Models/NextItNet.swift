import Foundation
import Kernels
import NeuralNet

// Letters: B = batch, T = positions fed to the network, N = B·T, d = width, K = items (incl. padding 0),
// k = kernel, nb = residual blocks (2 conv layers each).

/// NextItNet (dilated causal CNN) and every CpRec variant of it: block-wise / low-rank input and output,
/// and the four layer-wise sharing schemes, all selected by `ModelConfig`.
public final class NextItNet: SequenceModel {
    public let config: ModelConfig
    public let parameters = ParameterSet()
    public let itemCount: Int
    public let input: InputLayer
    public let output: OutputLayer

    /// One conv layer of a residual block: conv (possibly tied with others) + its own layer norm.
    public struct ConvLayer {
        public let weight: ParamRef, bias: ParamRef, gamma: ParamRef, beta: ParamRef
        public let dilation: Int
    }
    public private(set) var layers: [ConvLayer] = []
    var blocks: Int { config.dilations.count }

    /// Builds the layout from `config` (kind .nextitnet) and initialises it from `rng`.
    /// Block-wise and low-rank variants read `config.blocks` (cumulative exclusive bounds, last = itemCount).
    public init(config: ModelConfig, itemCount: Int, rng: inout Rng) {
        precondition(config.kind == .nextitnet, "NextItNet built from a \(config.kind) config")
        self.config = config
        self.itemCount = itemCount
        let d = config.dim, p = parameters
        input = ModelIO.input(config, itemCount: itemCount, params: p)
        let k = config.kernel
        for (b, r) in config.dilations.enumerated() {
            for j in 0..<2 {
                let name = NextItNet.convName(config.sharing, block: b, layer: j)
                let w = p.shared("\(name).w", [k, d, d], .middle, .truncatedNormal(std: 0.02))
                let bias = p.shared("\(name).b", [d], .middle, .zeros)
                let g = p.declare("block\(b).ln\(j + 1).gamma", [d], .middle, .constant(1))
                let beta = p.declare("block\(b).ln\(j + 1).beta", [d], .middle, .zeros)
                layers.append(ConvLayer(weight: w, bias: bias, gamma: g, beta: beta, dilation: r * (j + 1)))
            }
        }
        output = ModelIO.output(config, itemCount: itemCount, params: p, input: input)
        p.allocate(rng: &rng)
    }

    public convenience init(config: ModelConfig, itemCount: Int, seed: UInt64) {
        var rng = Rng(seed: seed)
        self.init(config: config, itemCount: itemCount, rng: &rng)
    }

    /// Frequency blocks and widths from the config (explicit widths win over d / factor^i).
    public static func layout(_ c: ModelConfig, _ itemCount: Int) -> BlockLayout {
        precondition(
            !c.blocks.isEmpty && c.blocks.last == itemCount,
            "block-wise variants need config.blocks ending at the item count \(itemCount), got \(c.blocks)")
        if !c.blockWidths.isEmpty { return BlockLayout(bounds: c.blocks, widths: c.blockWidths) }
        return BlockLayout(bounds: c.blocks, dim: c.dim, factor: c.blockFactor)
    }

    /// Parameter name of conv `layer` (0 or 1) of residual block `block`: tied convs share a name.
    static func convName(_ s: ModelConfig.Sharing, block b: Int, layer j: Int) -> String {
        switch s {
        case .none: return "block\(b).conv\(j + 1)"
        case .crossLayer, .allProjections: return "shared.conv"  // one conv for every layer
        case .crossBlock: return "blocks.conv\(j + 1)"  // every block uses the same two convs
        case .adjacentLayer: return "block\(b).conv"  // both convs of a block share
        case .adjacentBlock: return "block\(b / 2 * 2)+\(b / 2 * 2 + 1).conv\(j + 1)"  // blocks 2m, 2m+1 share
        }
    }

    /// Parameter counts per group computed from the formulas (independently of the layout table).
    public static func closedFormParameterCounts(
        config c: ModelConfig, itemCount K: Int
    ) -> (input: Int, middle: Int, output: Int) {
        let d = c.dim, e = c.lowRank, nb = c.dilations.count
        func widths() -> [Int] {
            if !c.blockWidths.isEmpty { return c.blockWidths }
            return (0..<c.blocks.count).map { i in i == 0 ? d : max(1, d / Int(pow(Double(c.blockFactor), Double(i)))) }
        }
        func sizes() -> [Int] {
            c.blocks.enumerated().map { $0.element - ($0.offset == 0 ? 0 : c.blocks[$0.offset - 1]) }
        }
        let input: Int
        switch c.input {
        case .full, .tied: input = K * d
        case .lowrank: input = K * e + e * d
        case .blockwise:
            let w = widths(), s = sizes()
            input = s[0] * d + (1..<s.count).reduce(0) { $0 + s[$1] * w[$1] + w[$1] * d }
        }
        let convSets: Int
        switch c.sharing {
        case .none: convSets = 2 * nb
        case .crossLayer, .allProjections: convSets = 1
        case .crossBlock: convSets = 2
        case .adjacentLayer: convSets = nb
        case .adjacentBlock: convSets = 2 * ((nb + 1) / 2)
        }
        let middle = convSets * (c.kernel * d * d + d) + nb * 4 * d
        let output: Int
        switch c.output {
        case .full: output = d * K + K
        case .tied: output = 0
        case .lowrank: output = d * e + e * K + K
        case .blockwise:
            let w = widths(), s = sizes()
            output = d * (s[0] + s.count - 1) + (1..<s.count).reduce(0) { $0 + d * w[$1] + w[$1] * s[$1] }
        }
        return (input, middle, output)
    }

    // MARK: activations

    /// Every activation buffer for one (B, T), allocated once and reused each step (llm.c's ActivationTensors).
    final class Workspace {
        let B: Int, T: Int, N: Int, d: Int, k: Int, L: Int
        let ids: UnsafeMutablePointer<Int32>, targets: UnsafeMutablePointer<Int32>
        /// streams[b] (N, d): input of residual block b; streams[nb] is the final hidden state.
        let streams: [FloatPtr]
        /// Per conv layer: col (N, k·d) im2col cache, conv output (N, d), LN+ReLU output (N, d), mean/rstd (N).
        let cols: [FloatPtr], convs: [FloatPtr], acts: [FloatPtr], means: [FloatPtr], rstds: [FloatPtr]
        /// Backward scratch.
        let dstream: FloatPtr, dA: FloatPtr, dB: FloatPtr, dcol: FloatPtr
        /// Compacted rows for the output layer (only counted targets).
        let hc: FloatPtr, dhc: FloatPtr, tc: UnsafeMutablePointer<Int32>, rows: UnsafeMutablePointer<Int32>
        private let buffers: FixedBuffers

        init(B: Int, T: Int, d: Int, k: Int, layers L: Int, blocks nb: Int, training: Bool) {
            self.B = B; self.T = T; self.N = B * T; self.d = d; self.k = k; self.L = L
            let N = B * T
            ids = .allocate(capacity: N)
            targets = .allocate(capacity: N)
            tc = .allocate(capacity: N)
            rows = .allocate(capacity: N)
            let buffers = FixedBuffers()
            func buf(_ n: Int) -> FloatPtr { buffers.make(n) }
            var streams: [FloatPtr] = []
            for _ in 0...nb { streams.append(buf(N * d)) }
            // Inference needs no backward caches: all layers share one set of per-layer buffers.
            let distinct = training ? L : 1
            let c = (0..<distinct).map { _ in buf(N * k * d) }, v = (0..<distinct).map { _ in buf(N * d) }
            let a = (0..<distinct).map { _ in buf(N * d) }, m = (0..<distinct).map { _ in buf(N) }
            let s = (0..<distinct).map { _ in buf(N) }
            let pick = (0..<L).map { training ? $0 : 0 }
            cols = pick.map { c[$0] }; convs = pick.map { v[$0] }; acts = pick.map { a[$0] }
            means = pick.map { m[$0] }; rstds = pick.map { s[$0] }
            let bw = training ? N * d : 1
            dstream = buf(bw); dA = buf(bw); dB = buf(bw); dcol = buf(training ? N * k * d : 1)
            hc = buf(bw); dhc = buf(bw)
            self.streams = streams
            self.buffers = buffers
        }

        deinit {
            ids.deallocate(); targets.deallocate(); tc.deallocate(); rows.deallocate()
        }
    }

    private var trainWS: Workspace?
    private var inferWS: Workspace?
    /// Workspace of the latest `trainingHiddenLast`; cleared by `trainStep`, which overwrites its activations.
    private var tunedWS: Workspace?

    private func workspace(training: Bool, B: Int, T: Int) -> Workspace {
        let current = training ? trainWS : inferWS
        if let w = current, w.B == B, w.T == T { return w }
        let w = Workspace(
            B: B, T: T, d: config.dim, k: config.kernel, layers: layers.count, blocks: blocks, training: training)
        if training { trainWS = w } else { inferWS = w }
        return w
    }

    // MARK: forward / backward

    /// Input embedding + residual blocks over ws.ids; leaves the hidden states in ws.streams[nb].
    private func forward(_ ws: Workspace) {
        let p = parameters, d = config.dim, k = config.kernel, N = ws.N
        input.forward(out: ws.streams[0], ids: ws.ids, N: N)
        for b in 0..<blocks {
            var x = UnsafePointer(ws.streams[b])
            for j in 0..<2 {
                let l = 2 * b + j, L = layers[l]
                CausalConv.forward(
                    y: ws.convs[l], col: ws.cols[l], x: x, w: p.value(L.weight), bias: p.value(L.bias),
                    B: ws.B, T: ws.T, C: d, O: d, k: k, r: L.dilation)
                LayerNorm.forward(
                    out: ws.acts[l], mean: ws.means[l], rstd: ws.rstds[l], x: ws.convs[l],
                    gamma: p.value(L.gamma), beta: p.value(L.beta), N: N, C: d, eps: config.layerNormEps,
                    relu: true)
                x = UnsafePointer(ws.acts[l])
            }
            Activation.residualForward(out: ws.streams[b + 1], a: ws.streams[b], b: x, n: N * d)
        }
    }

    /// Backward from ws.dstream = dLoss/dHidden (N, d) down to the input embedding; adds into parameter grads.
    private func backward(_ ws: Workspace) {
        let p = parameters, d = config.dim, k = config.kernel, N = ws.N
        for b in stride(from: blocks - 1, through: 0, by: -1) {
            // ws.dstream holds d(streams[b+1]); the residual passes it unchanged to streams[b], and the conv
            // branch adds its part on top (backward adds), so dstream ends as d(streams[b]).
            // conv2: dstream → (ReLU, LN)' → dB → conv' → dA (= d act1)
            // conv1: dA → (ReLU, LN)' → dB → conv' → adds into dstream
            for j in stride(from: 1, through: 0, by: -1) {
                let l = 2 * b + j, L = layers[l]
                LayerNorm.backward(
                    dx: ws.dB, dgamma: p.grad(L.gamma), dbeta: p.grad(L.beta),
                    dout: j == 1 ? ws.dstream : ws.dA, x: ws.convs[l], mean: ws.means[l],
                    rstd: ws.rstds[l], gamma: p.value(L.gamma), N: N, C: d, relu: true,
                    out: ws.acts[l], accumulate: false, dxColumnSums: p.grad(L.bias))
                CausalConv.backward(
                    dx: j == 1 ? ws.dA : ws.dstream, dw: p.grad(L.weight), dbias: nil,
                    dcol: ws.dcol, dy: ws.dB, col: ws.cols[l], w: p.value(L.weight), B: ws.B, T: ws.T,
                    C: d, O: d, k: k, r: L.dilation, accumulate: j == 0)
            }
        }
        input.backward(dout: ws.dstream, ids: ws.ids, N: N)
    }

    public func trainStep(_ batch: SequenceBatch) -> Float {
        let B = batch.batchSize, T = batch.length - 1, d = config.dim
        precondition(T >= 1, "sequences need at least two ids")
        let ws = workspace(training: true, B: B, T: T)
        tunedWS = nil
        let N = ws.N
        batch.ids.withUnsafeBufferPointer { s in
            for b in 0..<B {
                (ws.ids + b * T).update(from: s.baseAddress! + b * (T + 1), count: T)
                (ws.targets + b * T).update(from: s.baseAddress! + b * (T + 1) + 1, count: T)
            }
        }
        forward(ws)
        let (loss, count) = ModelIO.loss(
            output: output, h: ws.streams[blocks], targets: ws.targets, N: N, d: d,
            maskPadding: config.maskPadding, dh: ws.dstream, rows: ws.rows, tc: ws.tc,
            hc: ws.hc, dhc: ws.dhc)
        if count == 0 { return 0 }
        backward(ws)
        return loss
    }

    /// Runs the network on the whole batch and gathers the hidden state at the last position: (B, d).
    /// With `training`, the per-layer caches of the training workspace are kept for `backward`.
    private func lastHidden(_ batch: SequenceBatch, training: Bool = false) -> (Workspace, FloatPtr) {
        let B = batch.batchSize, T = batch.length, d = config.dim
        let ws = workspace(training: training, B: B, T: T)
        batch.ids.withUnsafeBufferPointer { ws.ids.update(from: $0.baseAddress!, count: B * T) }
        forward(ws)
        let h = ws.streams[blocks]
        // Inference: streams[0] is free after forward. Training: hc, the output layer's scratch, is idle here.
        let out = training ? ws.hc : ws.streams[0]
        for b in 0..<B { (out + b * d).update(from: h + (b * T + T - 1) * d, count: d) }
        return (ws, out)
    }

    /// B × d hidden vectors at the last position (the transfer-learning representation).
    public func hiddenLast(_ batch: SequenceBatch) -> [Float] {
        let (_, h) = lastHidden(batch)
        return Array(UnsafeBufferPointer(start: h, count: batch.batchSize * config.dim))
    }

    /// `hiddenLast` that keeps the activations for `backwardHiddenLast` (fine-tuning as a transfer backbone).
    public func trainingHiddenLast(_ batch: SequenceBatch) -> [Float] {
        let (ws, h) = lastHidden(batch, training: true)
        tunedWS = ws
        return Array(UnsafeBufferPointer(start: h, count: batch.batchSize * config.dim))
    }

    /// Adds the gradient of a loss on the last hidden vectors (B × d, from the latest `trainingHiddenLast`)
    /// into the residual blocks and the input layer; the output layer gets none.
    public func backwardHiddenLast(_ dh: [Float]) {
        guard let ws = tunedWS else { preconditionFailure("backwardHiddenLast without a preceding trainingHiddenLast") }
        let B = ws.B, T = ws.T, d = config.dim
        precondition(dh.count == B * d, "backwardHiddenLast: dh has \(dh.count) values, expected \(B) × \(d)")
        // Only the last position of each row receives a gradient from the loss.
        ws.dstream.update(repeating: 0, count: ws.N * d)
        dh.withUnsafeBufferPointer { g in
            for b in 0..<B { (ws.dstream + (b * T + T - 1) * d).update(from: g.baseAddress! + b * d, count: d) }
        }
        backward(ws)
    }
}
