import Foundation
import Kernels
import NeuralNet
import Testing
@testable import Evaluation
@testable import Models

/// GRU4Rec, Caser, MostPop and the factory: scoring, parameter counts, config errors, learning.
@Suite struct ModelZooTests {

    static let K = 40

    static func config(
        _ kind: ModelConfig.Kind, input: ModelConfig.Factorization = .full,
        output: ModelConfig.Factorization = .full
    ) -> ModelConfig {
        var c = ModelConfig(kind: kind)
        c.dim = 16
        c.dilations = [1, 2]
        c.blocks = [8, 20, K]
        c.input = input
        c.output = output
        c.caserWindow = 3
        c.caserHorizontal = 4
        c.caserVertical = 2
        return c
    }

    static let train = PlantedSource.make(rows: 64, length: 8, itemCount: K, seed: 1)

    static let zoo: [(String, ModelConfig)] = [
        ("NextItNet", config(.nextitnet)), ("GRU4Rec", config(.gru4rec)),
        ("Bi-GRU4Rec", config(.gru4rec, input: .blockwise)), ("Bo-GRU4Rec", config(.gru4rec, output: .blockwise)),
        ("Bio-GRU4Rec", config(.gru4rec, input: .blockwise, output: .blockwise)), ("Caser", config(.caser)),
        ("Bio-Caser", config(.caser, input: .blockwise, output: .blockwise)), ("MostPop", config(.mostpop)),
        ("SASRec", config(.sasrec)), ("Bio-SASRec", config(.sasrec, input: .blockwise, output: .blockwise))
    ]

    @Test(arguments: zoo.map { $0.0 })
    func fullScoringSumsToOneAndTopNAgrees(name: String) throws {
        let c = Self.zoo.first { $0.0 == name }!.1
        let model = try ModelFactory.make(c, itemCount: Self.K, seed: 3, trainSequences: Self.train)
        // A few steps so the scores are not the initial ones.
        let adam = Adam(parameters: model.parameters)
        for s in 0..<3 {
            model.parameters.zeroGrads()
            _ = model.trainStep(Self.train.batch((s * 8)..<((s + 1) * 8)))
            adam.update()
        }
        let (ctx, _) = Self.train.contextAndTargets(0..<5)
        let scores = model.scoreLast(ctx)
        #expect(scores.count == 5 * Self.K)
        for b in 0..<5 {
            let row = scores[(b * Self.K)..<((b + 1) * Self.K)]
            let sum = row.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - 1) < 1e-4, "\(name) row \(b) sums to \(sum)")
            #expect(row.allSatisfy { $0 >= 0 })
            #expect(row.first == 0, "padding must get probability 0")
        }
        // Without a tree softmax there is no early stop: topN must be exactly full scoring's list.
        let fast = model.topN(ctx, n: 5), full = model.topNByFullScoring(ctx, n: 5)
        #expect(fast.count == full.count)
        #expect(!fast.contains(0))
        if c.output != .blockwise { #expect(fast == full) }
    }

    @Test(arguments: zoo.map { $0.0 }.filter { $0 != "MostPop" })
    func parameterCountsEqualClosedForm(name: String) throws {
        let c = Self.zoo.first { $0.0 == name }!.1
        let model = try ModelFactory.make(c, itemCount: Self.K, seed: 1)
        let cf = ModelFactory.closedFormParameterCounts(c, itemCount: Self.K)
        let p = model.parameters
        #expect(p.count(in: .input) == cf.input)
        #expect(p.count(in: .middle) == cf.middle)
        #expect(p.count(in: .output) == cf.output)
        let pc = ParameterCounts(model)
        #expect(pc.total == p.count && pc.inputOutput == cf.input + cf.output)
        if c.kind == .gru4rec {
            // By hand: GRU 3d(2d + 2); full embedding K·d; full softmax d·K + K.
            let d = c.dim, k = Self.K
            #expect(cf.middle == 3 * d * (2 * d + 2))
            if c.input == .full { #expect(cf.input == k * d) }
            // Blocks [8, 20, 40], widths 16, 4, 1: head 8·16, tails 12·4 + 4·16 and 20·1 + 1·16.
            if c.input == .blockwise { #expect(cf.input == 8 * 16 + 12 * 4 + 4 * 16 + 20 * 1 + 1 * 16) }
            if c.output == .full { #expect(cf.output == d * k + k) }
            // Head 16·(8 + 2) and tails 16·4 + 4·12, 16·1 + 1·20.
            if c.output == .blockwise { #expect(cf.output == 16 * 10 + 16 * 4 + 4 * 12 + 16 * 1 + 1 * 20) }
        }
    }

    @Test func factoryRejectsInvalidConfigs() {
        var c = Self.config(.gru4rec, output: .blockwise)
        c.blocks = [8, 20, 39]
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(c, itemCount: Self.K, seed: 1) }
        do {
            _ = try ModelFactory.make(c, itemCount: Self.K, seed: 1)
        } catch {
            #expect("\(error)".contains("must end at the item count 40"))
        }
        var s = Self.config(.gru4rec)
        s.sharing = .crossLayer
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(s, itemCount: Self.K, seed: 1) }
        #expect(throws: ModelConfigError.self) {
            try ModelFactory.make(Self.config(.mostpop), itemCount: Self.K, seed: 1)
        }
        var w = Self.config(.caser)
        w.caserWindow = 0
        #expect(throws: ModelConfigError.self) { try ModelFactory.make(w, itemCount: Self.K, seed: 1) }
        #expect(throws: Never.self) { try ModelFactory.make(Self.config(.nextitnet), itemCount: Self.K, seed: 1) }
    }
}
