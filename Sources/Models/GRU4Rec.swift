import Foundation
import Kernels
import NeuralNet

/// GRU4Rec (Hidasi et al., ICLR 2016) as a next-item model: item embedding d → `config.gruLayers` GRU layers
/// (hidden d) → softmax over all items, trained on every position like NextItNet (ids[:, :-1] → ids[:, 1:]).
/// `config.input` / `config.output` = .blockwise give the Bi-/Bo-/Bio-GRU4Rec variants of the paper's Table 5.
public final class GRU4Rec: SequenceModel {
    public let config: ModelConfig
    public let parameters = ParameterSet()
    public let itemCount: Int
    public let input: InputLayer
    public let output: OutputLayer
    public let layers: [GRULayer]
    private let acts = ScratchBuffer(), grads = ScratchBuffer(), hc = ScratchBuffer(), dhc = ScratchBuffer()
    private var tunedIds: [Int32] = [], tunedShape = (B: 0, T: 0)

    public init(config: ModelConfig, itemCount: Int, seed: UInt64) {
        precondition(config.kind == .gru4rec, "GRU4Rec built from a \(config.kind) config")
        precondition(config.gruLayers >= 1, "GRU4Rec needs at least one GRU layer")
        self.config = config
        self.itemCount = itemCount
        let p = parameters
        input = ModelIO.input(config, itemCount: itemCount, params: p)
        layers = (0..<config.gruLayers).map {
            GRULayer(params: p, name: "gru\($0)", inputSize: config.dim, hiddenSize: config.dim)
        }
        output = ModelIO.output(config, itemCount: itemCount, params: p, input: input)
        var rng = Rng(seed: seed)
        parameters.allocate(rng: &rng)
    }

    /// Middle-layer parameter count in closed form (input/output are NextItNet's formulas).
    public static func closedFormParameterCounts(
        config c: ModelConfig, itemCount: Int
    ) -> (input: Int, middle: Int, output: Int) {
        let io = ModelIO.closedFormCounts(c, itemCount: itemCount)
        return (io.input, c.gruLayers * GRULayer.parameterCount(inputSize: c.dim, hiddenSize: c.dim), io.output)
    }

    /// Runs embedding + GRU stack on ids (B, T); activations live in `acts`: slot l (N, d), l = 0 the
    /// embedding, l = L the top layer's output.
    private func forward(ids: [Int32], B: Int, T: Int) -> FloatPtr {
        let d = config.dim, N = B * T, L = layers.count
        let a = acts.reserve((L + 1) * N * d)
        ids.withUnsafeBufferPointer { input.forward(out: a, ids: $0.baseAddress!, N: N) }
        for (l, layer) in layers.enumerated() {
            layer.forward(a + l * N * d, batch: B, steps: T, output: a + (l + 1) * N * d)
        }
        return a + L * N * d
    }

    public func trainStep(_ batch: SequenceBatch) -> Float {
        let B = batch.batchSize, T = batch.length - 1, d = config.dim, N = B * T
        precondition(T >= 1, "sequences need at least two ids")
        var ids = [Int32](), targets = [Int32]()
        ids.reserveCapacity(N); targets.reserveCapacity(N)
        for b in 0..<B {
            let row = batch.ids[(b * (T + 1))..<((b + 1) * (T + 1))]
            ids.append(contentsOf: row.dropLast())
            targets.append(contentsOf: row.dropFirst())
        }
        let top = forward(ids: ids, B: B, T: T)
        let L = layers.count
        // Two gradient slots ping-pong down the stack.
        let g = grads.reserve(2 * N * d)
        let (loss, count) = ModelIO.loss(
            output: output, h: top, targets: targets, N: N, d: d,
            maskPadding: config.maskPadding, dh: g, hc: hc, dhc: dhc)
        guard count > 0 else { return 0 }
        var cur = g, next = g + N * d
        for l in stride(from: L - 1, through: 0, by: -1) {
            next.update(repeating: 0, count: N * d)
            layers[l].backward(dOutput: cur, dInput: next)
            swap(&cur, &next)
        }
        ids.withUnsafeBufferPointer { input.backward(dout: cur, ids: $0.baseAddress!, N: N) }
        return loss
    }

    /// Top-layer hidden state after the last position of each row: B × d.
    public func hiddenLast(_ batch: SequenceBatch) -> [Float] {
        let B = batch.batchSize, T = batch.length, d = config.dim
        let top = forward(ids: batch.ids, B: B, T: T)
        var out = [Float](repeating: 0, count: B * d)
        for b in 0..<B { for j in 0..<d { out[b * d + j] = top[(b * T + T - 1) * d + j] } }
        return out
    }

    /// `hiddenLast` that keeps the activations for `backwardHiddenLast` (fine-tuning as a transfer backbone).
    public func trainingHiddenLast(_ batch: SequenceBatch) -> [Float] {
        tunedIds = batch.ids
        tunedShape = (batch.batchSize, batch.length)
        return hiddenLast(batch)
    }

    /// Adds the gradient of a loss on the last hidden vectors (B × d, from the latest `trainingHiddenLast`)
    /// into the GRU and input parameters.
    public func backwardHiddenLast(_ dh: [Float]) {
        let (B, T) = tunedShape, d = config.dim, N = B * T
        precondition(
            dh.count == B * d && tunedIds.count == N, "backwardHiddenLast without a matching trainingHiddenLast")
        let g = grads.reserve(2 * N * d)
        g.update(repeating: 0, count: 2 * N * d)
        for b in 0..<B { for j in 0..<d { g[(b * T + T - 1) * d + j] = dh[b * d + j] } }
        var cur = g, next = g + N * d
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            next.update(repeating: 0, count: N * d)
            layers[l].backward(dOutput: cur, dInput: next)
            swap(&cur, &next)
        }
        tunedIds.withUnsafeBufferPointer { input.backward(dout: cur, ids: $0.baseAddress!, N: N) }
    }
}
