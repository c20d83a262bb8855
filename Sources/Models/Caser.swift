import Foundation
import Kernels
import NeuralNet

/// Caser (Tang & Wang, WSDM 2018) for session data (no user embedding): the last L = `config.caserWindow`
/// items' embeddings → horizontal (heights 1…L, ReLU, max-pool) and vertical convolutions → concat → linear
/// to d → ReLU → softmax over all items. Trained with a sliding window: every position t ≥ 1 predicts ids[t]
/// from the L items before it (left-padded with 0, whose embedding is the zero vector).
public final class Caser: SequenceModel {
    public let config: ModelConfig
    public let parameters = ParameterSet()
    public let itemCount: Int
    public let input: InputLayer
    public let convolutions: CaserConvolutions
    public let fcWeight: ParamRef, fcBias: ParamRef
    public let output: OutputLayer
    private let emb = ScratchBuffer(), feat = ScratchBuffer(), hidden = ScratchBuffer()
    private let dEmb = ScratchBuffer(), dFeat = ScratchBuffer(), dHidden = ScratchBuffer()
    private let hc = ScratchBuffer(), dhc = ScratchBuffer()
    private var tunedWindows: [Int32] = []

    public init(config: ModelConfig, itemCount: Int, seed: UInt64) {
        precondition(config.kind == .caser, "Caser built from a \(config.kind) config")
        precondition(config.caserWindow >= 1, "Caser needs a window L ≥ 1")
        self.config = config
        self.itemCount = itemCount
        let p = parameters, d = config.dim
        input = ModelIO.input(config, itemCount: itemCount, params: p)
        let conv = CaserConvolutions(
            params: p, name: "caser", window: config.caserWindow, dim: d,
            horizontal: config.caserHorizontal, vertical: config.caserVertical)
        convolutions = conv
        fcWeight = p.declare("caser.fc.w", [conv.outputWidth, d], .middle, .glorotUniform)
        fcBias = p.declare("caser.fc.b", [d], .middle, .zeros)
        output = ModelIO.output(config, itemCount: itemCount, params: p, input: input)
        var rng = Rng(seed: seed)
        p.allocate(rng: &rng)
    }

    /// Closed-form parameter counts (input/output as NextItNet's, middle = convolutions + fully connected).
    public static func closedFormParameterCounts(
        config c: ModelConfig, itemCount: Int
    ) -> (input: Int, middle: Int, output: Int) {
        let io = ModelIO.closedFormCounts(c, itemCount: itemCount)
        let l = c.caserWindow, d = c.dim
        let width = c.caserVertical * d + l * c.caserHorizontal
        let conv = CaserConvolutions.parameterCount(
            window: l, dim: d, horizontal: c.caserHorizontal, vertical: c.caserVertical)
        return (io.input, conv + width * d + d, io.output)
    }

    /// The L ids before position `t` of row `row` (length T, row-major), left-padded with 0.
    private func window(_ ids: ArraySlice<Int32>, before t: Int, into out: inout [Int32]) {
        let l = config.caserWindow, base = ids.startIndex
        for j in 0..<l {
            let s = t - l + j
            out.append(s >= 0 ? ids[base + s] : 0)
        }
    }

    /// Windows (W, L) → hidden (W, d) after the fully connected ReLU.
    private func forward(windows: [Int32], W: Int) -> FloatPtr {
        let l = config.caserWindow, d = config.dim, F = convolutions.outputWidth
        let e = emb.reserve(W * l * d), f = feat.reserve(W * F), h = hidden.reserve(W * d)
        windows.withUnsafeBufferPointer { input.forward(out: e, ids: $0.baseAddress!, N: W * l) }
        convolutions.forward(e, batch: W, output: f)
        Linear.forward(out: h, x: f, w: parameters.value(fcWeight), bias: parameters.value(fcBias), N: W, C: F, O: d)
        Activation.reluForward(out: h, x: h, n: W * d)
        return h
    }

    public func trainStep(_ batch: SequenceBatch) -> Float {
        let B = batch.batchSize, T = batch.length, d = config.dim
        precondition(T >= 2, "sequences need at least two ids")
        var windows = [Int32](), targets = [Int32]()
        for b in 0..<B {
            let row = batch.ids[(b * T)..<((b + 1) * T)]
            for t in 1..<T {
                let y = row[row.startIndex + t]
                if config.maskPadding && y == 0 { continue }  // no need to run the convs for masked rows
                window(row, before: t, into: &windows)
                targets.append(y)
            }
        }
        let W = targets.count
        guard W > 0 else { return 0 }
        let h = forward(windows: windows, W: W)
        let dh = dHidden.reserve(W * d)
        let (loss, count) = ModelIO.loss(
            output: output, h: h, targets: targets, N: W, d: d,
            maskPadding: config.maskPadding, dh: dh, hc: hc, dhc: dhc)
        guard count > 0 else { return 0 }
        // ReLU backward in place: gradient survives only where the activation is positive.
        for i in 0..<(W * d) where h[i] <= 0 { dh[i] = 0 }
        backward(dh: dh, windows: windows)
        return loss
    }

    /// From the gradient on the hidden vectors (W, d; ReLU already applied) through the fully connected layer,
    /// the convolutions and the input layer of the latest forward over `windows`.
    private func backward(dh: ConstFloatPtr, windows: [Int32]) {
        let l = config.caserWindow, d = config.dim, F = convolutions.outputWidth, W = windows.count / l
        let df = dFeat.reserve(W * F)
        df.update(repeating: 0, count: W * F)
        Linear.backward(
            dx: df, dw: parameters.grad(fcWeight), dbias: parameters.grad(fcBias), dout: dh,
            x: feat.pointer, w: parameters.value(fcWeight), N: W, C: F, O: d)
        let de = dEmb.reserve(W * l * d)
        de.update(repeating: 0, count: W * l * d)
        convolutions.backward(dOutput: df, dInput: de)
        windows.withUnsafeBufferPointer { input.backward(dout: de, ids: $0.baseAddress!, N: W * l) }
    }

    /// Hidden vector (after the fully connected ReLU) from the last L items of each row: B × d.
    public func hiddenLast(_ batch: SequenceBatch) -> [Float] {
        let B = batch.batchSize, T = batch.length, d = config.dim
        var windows = [Int32]()
        for b in 0..<B { window(batch.ids[(b * T)..<((b + 1) * T)], before: T, into: &windows) }
        let h = forward(windows: windows, W: B)
        return Array(UnsafeBufferPointer(start: h, count: B * d))
    }

    /// `hiddenLast` that keeps the activations for `backwardHiddenLast` (fine-tuning as a transfer backbone).
    public func trainingHiddenLast(_ batch: SequenceBatch) -> [Float] {
        let T = batch.length
        tunedWindows = []
        for b in 0..<batch.batchSize { window(batch.ids[(b * T)..<((b + 1) * T)], before: T, into: &tunedWindows) }
        let h = forward(windows: tunedWindows, W: batch.batchSize)
        return Array(UnsafeBufferPointer(start: h, count: batch.batchSize * config.dim))
    }

    /// Adds the gradient of a loss on the last hidden vectors (B × d, from the latest `trainingHiddenLast`)
    /// into the convolution, fully connected and input parameters.
    public func backwardHiddenLast(_ dhIn: [Float]) {
        let l = config.caserWindow, d = config.dim, W = tunedWindows.count / l
        precondition(dhIn.count == W * d, "backwardHiddenLast without a matching trainingHiddenLast")
        let h = hidden.pointer, dh = dHidden.reserve(W * d)
        for i in 0..<(W * d) { dh[i] = h[i] > 0 ? dhIn[i] : 0 }
        backward(dh: dh, windows: tunedWindows)
    }
}
