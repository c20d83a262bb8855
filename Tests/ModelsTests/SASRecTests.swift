import Foundation
import Kernels
import NeuralNet
import Testing
@testable import Models

/// SASRec and CpRec-SASRec: whole-model gradients, causality end to end, the sharing map and closed-form counts.
@Suite struct SASRecTests {

    static let K = 30

    static func config(
        _ sharing: ModelConfig.Sharing = .none, bio: Bool = false, heads: Int = 1, depth: Int = 2,
        dim: Int = 8
    ) -> ModelConfig {
        var c = ModelConfig(kind: .sasrec)
        c.dim = dim
        c.heads = heads
        c.depth = depth
        c.positions = 6
        c.sharing = sharing
        c.blocks = [6, 14, K]
        c.blockFactor = 2
        c.layerNormEps = 1e-5
        if bio { c.input = .blockwise; c.output = .blockwise }
        return c
    }

    static let cases: [(String, ModelConfig)] = [
        ("sasrec", config()), ("sasrec-2heads", config(heads: 2)), ("bio-sasrec", config(bio: true)),
        (
            "sasrec-tied",
            {
                var c = config(); c.output = .tied; return c
            }()
        ),
        // Kang & McAuley's: tied output, √d-scaled embeddings, padding keys masked (the batch gets padding below).
        (
            "sasrec-published",
            {
                var c = config(heads: 2); c.output = .tied; c.scaleEmbedding = true
                c.maskPaddingKeys = true; return c
            }()
        ),
        ("cl", config(.crossLayer, bio: true)), ("cb", config(.crossBlock, bio: true)),
        ("al", config(.adjacentLayer, bio: true)), ("ab", config(.adjacentBlock, bio: true, depth: 3)),
        ("all", config(.allProjections, bio: true))
    ]

    @Test(arguments: cases.map { $0.0 })
    func trainStepGradientMatchesFiniteDifferences(name: String) throws {
        let c = Self.cases.first { $0.0 == name }!.1
        let model = try ModelFactory.make(c, itemCount: Self.K, seed: 4) as! SASRec
        let p = model.parameters
        // Larger projections than the 0.02 init so attention is far from uniform and every path carries signal.
        // One matrix serving all twelve projections compounds its curvature: half the scale keeps central
        // differences at this step accurate.
        let scale: Float = name == "all" ? 0.2 : 0.4
        var rng = Rng(seed: 2)
        for (spec, ref) in zip(p.specs, p.refs) where spec.name.hasSuffix(".w") || spec.name.hasSuffix(".b") {
            for i in 0..<ref.count { p.value(ref)[i] = rng.normal() * scale }
        }
        var batch = PlantedSource.make(rows: 3, length: 7, itemCount: Self.K, seed: 8).batch(0..<3)
        // Left padding in two rows, as short histories have, where keys are masked: a masked key must pass no
        // gradient and break nothing. (Elsewhere padding rows reach LayerNorm with only a 0.02-std positional
        // row, where a 3e-3 step is too coarse for central differences.)
        if c.maskPaddingKeys == true { for i in [0, 1, 7, 8, 9] { batch.ids[i] = 0 } }
        p.zeroGrads()
        _ = model.trainStep(batch)
        let analytic = Array(UnsafeBufferPointer(start: p.grads, count: p.count))
        // Every tensor, some coordinates each: a tied tensor must get the sum of all its uses.
        var bad = [String]()
        for (spec, ref) in zip(p.specs, p.refs) {
            for s in 0..<min(ref.count, 6) {
                let i = ref.offset + (s * 7919) % ref.count
                // A smaller step than the layer tests: with Q = K = V = O tied, the loss curves fast in each weight.
                let old = p.values[i], eps: Float = 3e-3
                p.values[i] = old + eps; let lp = Double(model.trainStep(batch))
                p.values[i] = old - eps; let lm = Double(model.trainStep(batch))
                p.values[i] = old
                let fd = Float((lp - lm) / Double(2 * eps))
                if abs(fd - analytic[i]) > 2e-3 + 3e-2 * abs(analytic[i]) {
                    bad.append("\(spec.name)[\(i - ref.offset)]: fd \(fd) vs \(analytic[i])")
                }
            }
        }
        #expect(bad.isEmpty, "\(name): \(bad.prefix(6))")
        #expect(analytic.contains { $0 != 0 })
    }

    @Test func hiddenStateAtTIgnoresLaterItems() throws {
        let c = Self.config(.none, heads: 2)
        let model = try ModelFactory.make(c, itemCount: Self.K, seed: 5) as! SASRec
        let T = 7, t0 = 3
        let a: [Int32] = [0, 4, 9, 2, 11, 7, 5], b: [Int32] = [0, 4, 9, 2, 20, 1, 28]
        let ha = model.hiddenStates(SequenceBatch(ids: a, batchSize: 1, length: T))
        let hb = model.hiddenStates(SequenceBatch(ids: b, batchSize: 1, length: T))
        let d = c.dim
        for t in 0..<T {
            let same = (0..<d).allSatisfy { ha[t * d + $0] == hb[t * d + $0] }
            #expect(same == (t <= t0), "position \(t)")
        }
    }

    @Test func sharingMapAndClosedFormCounts() throws {
        for depth in [1, 2, 3, 4] {
            for sharing in [
                ModelConfig.Sharing.none, .crossLayer, .crossBlock, .adjacentLayer, .adjacentBlock, .allProjections
            ] {
                for bio in [false, true] {
                    let c = Self.config(sharing, bio: bio, depth: depth)
                    let m = try ModelFactory.make(c, itemCount: Self.K, seed: 1)
                    let f = ModelFactory.closedFormParameterCounts(c, itemCount: Self.K)
                    #expect(m.parameters.count(in: .input) == f.input)
                    #expect(m.parameters.count(in: .middle) == f.middle, "\(sharing) depth \(depth)")
                    #expect(m.parameters.count(in: .output) == f.output)
                }
            }
        }
        // By hand, d = 8, 3 blocks, 6 positions: a projection is 8·8 + 8 = 72; layer norms 4·8 per block + 16 final.
        let fixed = 6 * 8 + 3 * 32 + 16, proj = 72
        func mid(_ s: ModelConfig.Sharing) -> Int {
            SASRec.closedFormParameterCounts(config: Self.config(s, depth: 3), itemCount: Self.K).middle
        }
        #expect(mid(.none) == fixed + 18 * proj)
        #expect(mid(.crossLayer) == fixed + 6 * proj)
        #expect(mid(.crossBlock) == fixed + (4 + 3 * 2) * proj)
        #expect(mid(.adjacentLayer) == fixed + 3 * 2 * proj)
        #expect(mid(.adjacentBlock) == fixed + 12 * proj)
        #expect(mid(.allProjections) == fixed + proj)
        let all = SASRec(config: Self.config(.allProjections, depth: 3), itemCount: Self.K, seed: 1).parameters.specs
            .map(\.name)
        #expect(all.filter { $0.hasPrefix("block") && $0.hasSuffix(".w") } == ["blocks.projection.w"])
        let names = SASRec(config: Self.config(.adjacentBlock, depth: 3), itemCount: Self.K, seed: 1).parameters.specs
            .map(\.name)
        #expect(
            names.contains("block0+1.q.w") && names.contains("block2+3.ffn2.b") && names.contains("block2.ln1.gamma"))
        let al = SASRec(config: Self.config(.adjacentLayer), itemCount: Self.K, seed: 1).parameters.specs.map(\.name)
        #expect(
            al.filter { $0.hasPrefix("block") && $0.hasSuffix(".w") } == [
                "block0.attention.w", "block0.ffn.w", "block1.attention.w", "block1.ffn.w"
            ])
    }

    /// The published SASRec predicts with its item embedding: no output matrix in the parameter table, and the
    /// closed form agrees; a tied output without a full input table is refused.
    @Test func tiedSASRecHasNoOutputMatrix() throws {
        var c = Self.config()
        c.output = .tied
        let model = try ModelFactory.make(c, itemCount: Self.K, seed: 2)
        #expect(model.parameters.count(in: .output) == 0)
        #expect(!model.parameters.specs.contains { $0.name.hasPrefix("output") })
        let untied = try ModelFactory.make(Self.config(), itemCount: Self.K, seed: 2)
        #expect(untied.parameters.count(in: .output) == 8 * Self.K + Self.K)
        #expect(model.parameters.count(in: .input) == untied.parameters.count(in: .input))
        let closed = SASRec.closedFormParameterCounts(config: c, itemCount: Self.K)
        #expect(
            closed.output == 0 && closed.input == model.parameters.count(in: .input)
                && closed.middle == model.parameters.count(in: .middle))
        c.input = .blockwise
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(c, itemCount: Self.K, seed: 1) }
    }

    /// With padding keys masked, the padding positions' inputs (here their positional rows) reach no real
    /// position; without the mask they do.
    @Test func paddingKeysAreNotAttendedTo() throws {
        var c = Self.config(heads: 2)
        c.maskPaddingKeys = true
        let batch = SequenceBatch(ids: [0, 0, 3, 9, 4, 11], batchSize: 1, length: 6)
        func shift(_ masked: Bool) throws -> Float {
            var cc = c
            cc.maskPaddingKeys = masked ? true : nil
            let model = try ModelFactory.make(cc, itemCount: Self.K, seed: 7) as! SASRec
            let before = model.hiddenLast(batch)
            // Positions 0 and 1 (the padding) read positional rows T−1−t = 5 and 4.
            let pos = model.parameters.value(model.positionTable)
            // Not a constant: LayerNorm would remove a shift of every component alike.
            for i in (4 * cc.dim)..<(6 * cc.dim) { pos[i] += Float(i % 3) - 1 }
            return zip(before, model.hiddenLast(batch)).map { abs($0 - $1) }.max() ?? 0
        }
        #expect(try shift(true) == 0)
        #expect(try shift(false) > 1e-4)
    }

    @Test func factoryChecksSASRecKeys() {
        var c = Self.config(heads: 3)
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(c, itemCount: Self.K, seed: 1) }
        c.heads = 2
        c.dropout = 1
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(c, itemCount: Self.K, seed: 1) }
        var n = ModelConfig(kind: .nextitnet)
        n.depth = 2
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(n, itemCount: Self.K, seed: 1) }
        n.depth = nil
        n.sharing = .allProjections  // NextItNet's one-conv-for-every-layer is cross-layer; no second name for it
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(n, itemCount: Self.K, seed: 1) }
        // SASRec's optional keys leave every other kind's encoding (its stage keys) as it was.
        let json = String(decoding: try! JSONEncoder().encode(ModelConfig(kind: .nextitnet)), as: UTF8.self)
        #expect(!json.contains("heads") && !json.contains("depth") && !json.contains("dropout"))
    }

    @Test func dropoutTrainsAndIsOffAtInference() throws {
        var c = Self.config()
        c.dropout = 0.3
        let model = try ModelFactory.make(c, itemCount: Self.K, seed: 4)
        let batch = PlantedSource.make(rows: 4, length: 7, itemCount: Self.K, seed: 8).batch(0..<4)
        let l1 = model.trainStep(batch), l2 = model.trainStep(batch)
        #expect(l1.isFinite && l1 != l2)  // masks differ per step
        #expect(model.scoreLast(batch) == model.scoreLast(batch))
    }
}
