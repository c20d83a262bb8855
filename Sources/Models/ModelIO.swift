import Kernels
import NeuralNet

/// Input/output layers chosen by `config.input` / `config.output`, shared by GRU4Rec and Caser.
enum ModelIO {
    static func input(_ c: ModelConfig, itemCount: Int, params: ParameterSet) -> InputLayer {
        switch c.input {
        case .full:
            return FullEmbedding(params, name: "input.embedding", vocabulary: itemCount, dim: c.dim,
                                 initializer: .uniform(limit: (1 / Float(itemCount)).squareRoot()))
        case .blockwise:
            return AdaptiveInput(params, prefix: "input", layout: NextItNet.layout(c, itemCount), dim: c.dim)
        case .lowrank:
            return LowRankEmbedding(params, prefix: "input.lowrank", vocabulary: itemCount, rank: c.lowRank, dim: c.dim)
        }
    }

    static func output(_ c: ModelConfig, itemCount: Int, params: ParameterSet) -> OutputLayer {
        switch c.output {
        case .full: return FullSoftmax(params, prefix: "output.softmax", vocabulary: itemCount, dim: c.dim)
        case .blockwise: return TreeSoftmax(params, prefix: "output", layout: NextItNet.layout(c, itemCount), dim: c.dim)
        case .lowrank:
            return LowRankSoftmax(params, prefix: "output.lowrank", vocabulary: itemCount, rank: c.lowRank, dim: c.dim)
        }
    }

    /// Closed-form input and output parameter counts of `c`'s layers (NextItNet's formulas: the layers are the same).
    static func closedFormCounts(_ c: ModelConfig, itemCount: Int) -> (input: Int, output: Int) {
        var nc = c
        nc.kind = .nextitnet
        let io = NextItNet.closedFormParameterCounts(config: nc, itemCount: itemCount)
        return (io.input, io.output)
    }

    /// Mean cross-entropy over the rows whose target counts (non-padding when `maskPadding`); writes the
    /// gradient of that mean into dh (N, d) (overwriting; zero on rows that do not count). Returns (loss, count).
    static func loss(output: OutputLayer, h: ConstFloatPtr, targets: [Int32], N: Int, d: Int, maskPadding: Bool,
                     dh: FloatPtr, hc: ScratchBuffer, dhc: ScratchBuffer) -> (Float, Int) {
        var rows = [Int32](), tc = [Int32]()
        rows.reserveCapacity(N); tc.reserveCapacity(N)
        for n in 0..<N where !maskPadding || targets[n] != 0 {
            rows.append(Int32(n)); tc.append(targets[n])
        }
        dh.update(repeating: 0, count: N * d)
        let count = rows.count
        guard count > 0 else { return (0, 0) }
        let x = hc.reserve(count * d), dx = dhc.reserve(count * d)
        for (i, r) in rows.enumerated() { (x + i * d).update(from: h + Int(r) * d, count: d) }
        dx.update(repeating: 0, count: count * d)
        let loss = tc.withUnsafeBufferPointer { t in
            output.lossForwardBackward(dx: dx, x: x, targets: t.baseAddress!, N: count, maskPadding: maskPadding,
                                       scale: 1 / Float(count))
        }
        for (i, r) in rows.enumerated() { (dh + Int(r) * d).update(from: dx + i * d, count: d) }
        return (Float(loss / Double(count)), count)
    }

    /// Full distributions from hidden rows (B, d): padding 0 gets probability 0, the rest renormalised.
    static func score(output: OutputLayer, h: ConstFloatPtr, B: Int, itemCount K: Int) -> [Float] {
        var probs = [Float](repeating: 0, count: B * K)
        probs.withUnsafeMutableBufferPointer { pb in
            let p = pb.baseAddress!
            output.score(out: p, x: h, N: B)
            for b in 0..<B {
                let row = p + b * K
                row[0] = 0
                let s = Kernels.sum(row, K)
                if s > 0 { Kernels.scale(row, Float(1 / s), K) }
            }
        }
        return probs
    }
}
