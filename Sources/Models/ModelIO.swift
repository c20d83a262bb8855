import Kernels
import NeuralNet

/// Input/output layers chosen by `config.input` / `config.output`, shared by GRU4Rec and Caser.
enum ModelIO {
    static func input(_ c: ModelConfig, itemCount: Int, params: ParameterSet) -> InputLayer {
        switch c.input {
        case .full, .tied:
            return FullEmbedding(
                params, name: "input.embedding", vocabulary: itemCount, dim: c.dim,
                initializer: .uniform(limit: (1 / Float(itemCount)).squareRoot()))
        case .blockwise:
            return AdaptiveInput(params, prefix: "input", layout: NextItNet.layout(c, itemCount), dim: c.dim)
        case .lowrank:
            return LowRankEmbedding(params, prefix: "input.lowrank", vocabulary: itemCount, rank: c.lowRank, dim: c.dim)
        }
    }

    static func output(_ c: ModelConfig, itemCount: Int, params: ParameterSet, input: InputLayer) -> OutputLayer {
        switch c.output {
        case .tied:
            // ModelFactory.validate admits `tied` only with a full input table.
            guard let table = (input as? FullEmbedding)?.table else {
                preconditionFailure("a tied output needs input: full")
            }
            return TiedSoftmax(params, table: table, vocabulary: itemCount, dim: c.dim)
        case .full: return FullSoftmax(params, prefix: "output.softmax", vocabulary: itemCount, dim: c.dim)
        case .blockwise:
            return TreeSoftmax(params, prefix: "output", layout: NextItNet.layout(c, itemCount), dim: c.dim)
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
    static func loss(
        output: OutputLayer, h: ConstFloatPtr, targets: [Int32], N: Int, d: Int, maskPadding: Bool,
        dh: FloatPtr, hc: ScratchBuffer, dhc: ScratchBuffer
    ) -> (Float, Int) {
        guard N > 0 else { return (0, 0) }
        var rows = [Int32](repeating: 0, count: N), tc = [Int32](repeating: 0, count: N)
        return targets.withUnsafeBufferPointer { t in
            rows.withUnsafeMutableBufferPointer { r in
                tc.withUnsafeMutableBufferPointer { c in
                    loss(
                        output: output, h: h, targets: t.baseAddress!, N: N, d: d, maskPadding: maskPadding, dh: dh,
                        rows: r.baseAddress!, tc: c.baseAddress!, hc: hc.reserve(N * d), dhc: dhc.reserve(N * d))
                }
            }
        }
    }

    /// The same over caller-owned scratch of N rows (rows, tc: N ids; hc, dhc: N × d). Only counted rows reach
    /// the output layer's GEMMs: with padding they are gathered into hc first; without, the layer reads h and
    /// writes dh directly. With no counted row, dh is left untouched.
    static func loss(
        output: OutputLayer, h: ConstFloatPtr, targets: UnsafePointer<Int32>, N: Int, d: Int,
        maskPadding: Bool, dh: FloatPtr, rows: UnsafeMutablePointer<Int32>,
        tc: UnsafeMutablePointer<Int32>, hc: FloatPtr, dhc: FloatPtr
    ) -> (Float, Int) {
        var count = 0
        for n in 0..<N where !maskPadding || targets[n] != 0 {
            rows[count] = Int32(n)
            tc[count] = targets[n]
            count += 1
        }
        if count == 0 { return (0, 0) }
        let compact = count < N
        if compact { for i in 0..<count { (hc + i * d).update(from: h + Int(rows[i]) * d, count: d) } }
        let dx = compact ? dhc : dh
        dx.update(repeating: 0, count: count * d)
        let loss = output.lossForwardBackward(
            dx: dx, x: compact ? ConstFloatPtr(hc) : h, targets: tc, N: count,
            maskPadding: maskPadding, scale: 1 / Float(count))
        if compact {
            dh.update(repeating: 0, count: N * d)
            for i in 0..<count { (dh + Int(rows[i]) * d).update(from: dhc + i * d, count: d) }
        }
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
