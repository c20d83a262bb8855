import Foundation
import Kernels
import NeuralNet
import Testing
@testable import Evaluation
@testable import Training
@testable import Models

@Suite struct TransferTests {

    static let K = 120, KT = 130

    /// Target item of a user = a fixed random relabelling of the item their planted transition leads to,
    /// so a backbone that learned "what comes next" carries the signal.
    static func pairs(rows: Int, seed: UInt64) -> TransferPairs {
        let seqs = PlantedSource.make(rows: rows, length: 8, itemCount: K, follow: 0.9, seed: seed)
        var rng = Rng(seed: 99)
        var perm = Array(1..<Int32(KT))
        rng.shuffle(&perm)
        let targets = (0..<seqs.count).map { i -> Int32 in
            let last = Int(seqs.row(i).last!)
            return perm[last % (K - 1)]  // index of next(last) = last % (K-1) + 1, minus 1
        }
        return TransferPairs(sequences: seqs, targets: targets)
    }

    @Test func pretrainedBackboneBeatsRandomInit() throws {
        var c = ModelConfig(kind: .nextitnet)
        c.dim = 16
        c.dilations = [1, 2]
        let source = PlantedSource.make(rows: 384, length: 8, itemCount: Self.K, follow: 0.9, seed: 21)
        let sourceValid = PlantedSource.make(rows: 64, length: 8, itemCount: Self.K, follow: 0.9, seed: 22)
        let pretrained = try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! NextItNet
        var o = TrainOptions()
        o.batchSize = 32
        o.maxEpochs = 8
        o.learningRate = 5e-3
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cprec-transfer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Trainer.train(
            pretrained, config: c, train: source, validation: sourceValid, options: o, workDirectory: dir)
        let random = try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! NextItNet

        let train = Self.pairs(rows: 384, seed: 31), test = Self.pairs(rows: 200, seed: 32)
        var t = TransferOptions()
        t.epochs = 15
        t.batchSize = 32
        t.learningRate = 1e-2
        let a = try Transfer.finetune(
            backbone: pretrained, targetItemCount: Self.KT, train: train, test: test, options: t)
        let b = try Transfer.finetune(backbone: random, targetItemCount: Self.KT, train: train, test: test, options: t)
        print(
            "transfer MRR@5 pretrained \(a.test.mrr5) HR@5 \(a.test.hr5); random init \(b.test.mrr5) HR@5 \(b.test.hr5)"
        )
        #expect(a.backboneFrozen && a.headParameters == Self.KT * 17)
        #expect(a.test.count == 200)
        #expect(a.test.mrr5 > b.test.mrr5 + 0.1)
        // Same seed, same lists: the evaluation is a pure function of the head, so re-running is identical.
        let a2 = try Transfer.finetune(
            backbone: pretrained, targetItemCount: Self.KT, train: train, test: test, options: t)
        #expect(a2.test == a.test)
    }

    /// Full ranking puts every target item against the true one: with every other item sampled it equals the sampled
    /// ranking, and with fewer negatives each row's full rank can only be worse, so its MRR@5 is never higher.
    @Test func fullRankingMatchesSamplingEveryItemAndBoundsFewerSamples() throws {
        var c = ModelConfig(kind: .nextitnet)
        c.dim = 16
        c.dilations = [1, 2]
        let backbone = try ModelFactory.make(c, itemCount: Self.K, seed: 3) as! NextItNet
        let train = Self.pairs(rows: 128, seed: 41), test = Self.pairs(rows: 100, seed: 42)
        var t = TransferOptions()
        t.epochs = 3
        t.batchSize = 32
        t.learningRate = 1e-2
        t.evalNegatives = Self.KT - 2
        let every = try Transfer.finetune(
            backbone: backbone, targetItemCount: Self.KT, train: train, test: test, options: t)
        #expect(every.testFull == every.test)
        #expect(every.testFull.count == 100)
        t.evalNegatives = 20
        let few = try Transfer.finetune(
            backbone: backbone, targetItemCount: Self.KT, train: train, test: test, options: t)
        #expect(few.testFull == every.testFull)  // same head (same seed), same full ranking
        #expect(few.test.mrr5 > few.testFull.mrr5)
        #expect(few.test.hr5 >= few.testFull.hr5)
    }

    /// Fine-tuning a GRU4Rec backbone end to end updates the backbone and fits the training pairs better than a
    /// frozen one (on this small set it overfits, so test accuracy is not asserted).
    @Test func finetunedBackboneLearns() throws {
        var c = ModelConfig(kind: .gru4rec)
        c.dim = 16
        let train = Self.pairs(rows: 384, seed: 31), test = Self.pairs(rows: 200, seed: 32)
        var t = TransferOptions()
        t.epochs = 10
        t.batchSize = 32
        t.learningRate = 1e-2
        let frozen = try Transfer.finetune(
            backbone: try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! GRU4Rec,
            targetItemCount: Self.KT, train: train, validation: test, test: test, options: t)
        // Validation = test here, so the restored best head must reproduce its epoch's validation metrics.
        #expect(frozen.history.allSatisfy { $0.validation != nil })
        #expect(frozen.history[frozen.bestEpoch - 1].validation == frozen.test)
        #expect(frozen.history.allSatisfy { $0.validation!.mrr5 <= frozen.test.mrr5 })
        t.finetuneBackbone = true
        let tunedModel = try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! GRU4Rec
        let before = Array(UnsafeBufferPointer(start: tunedModel.parameters.values, count: tunedModel.parameters.count))
        let tuned = try Transfer.finetune(
            backbone: tunedModel, targetItemCount: Self.KT, train: train, test: test, options: t)
        print(
            "transfer GRU4Rec random init: frozen MRR@5 \(frozen.test.mrr5) train loss \(frozen.history.last!.loss); "
                + "fine-tuned \(tuned.test.mrr5) train loss \(tuned.history.last!.loss)")
        #expect(!tuned.backboneFrozen && frozen.backboneFrozen)
        #expect(tuned.history.last!.loss < frozen.history.last!.loss - 0.1)
        #expect(
            before
                != Array(UnsafeBufferPointer(start: tunedModel.parameters.values, count: tunedModel.parameters.count)))
    }

    /// A NextItNet / CpRec backbone fine-tunes end to end: its input layer and residual blocks change, its
    /// pre-training output layer does not, and it fits the training pairs better than the frozen backbone.
    @Test(arguments: [false, true])
    func finetunedNextItNetBackboneLearns(cprec: Bool) throws {
        var c = ModelConfig(kind: .nextitnet)
        c.dim = 16
        c.dilations = [1, 2]
        if cprec {
            c.input = .blockwise
            c.output = .blockwise
            c.blocks = [20, 60, Self.K]
            c.sharing = .crossBlock
        }
        let train = Self.pairs(rows: 384, seed: 31), test = Self.pairs(rows: 200, seed: 32)
        var t = TransferOptions()
        t.epochs = 8
        t.batchSize = 32
        t.learningRate = 1e-2
        let frozen = try Transfer.finetune(
            backbone: try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! NextItNet,
            targetItemCount: Self.KT, train: train, test: test, options: t)
        t.finetuneBackbone = true
        let m = try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! NextItNet
        let p = m.parameters
        func snapshot(_ g: ParameterGroup) -> [Float] {
            zip(p.specs, p.refs).filter { $0.0.group == g }.flatMap {
                Array(UnsafeBufferPointer(start: p.value($0.1), count: $0.1.count))
            }
        }
        let before = [ParameterGroup.input, .middle, .output].map(snapshot)
        let tuned = try Transfer.finetune(backbone: m, targetItemCount: Self.KT, train: train, test: test, options: t)
        let after = [ParameterGroup.input, .middle, .output].map(snapshot)
        print(
            "transfer NextItNet\(cprec ? " (CpRec-Cb)" : "") random init: frozen train loss \(frozen.history.last!.loss); "
                + "fine-tuned \(tuned.history.last!.loss)")
        #expect(!tuned.backboneFrozen && frozen.backboneFrozen)
        #expect(after[0] != before[0] && after[1] != before[1])
        #expect(after[2] == before[2])
        #expect(tuned.history.last!.loss < frozen.history.last!.loss - 0.05)
    }

    /// A backbone without a backward from its hidden vector is frozen-only: asking to fine-tune it throws.
    @Test func frozenOnlyBackboneRefusesFinetuning() throws {
        final class FrozenOnly: HiddenRepresentation {
            let base: NextItNet
            init(_ base: NextItNet) { self.base = base }
            var parameters: ParameterSet { base.parameters }
            var itemCount: Int { base.itemCount }
            var hiddenSize: Int { base.hiddenSize }
            func trainStep(_ batch: SequenceBatch) -> Float { base.trainStep(batch) }
            func scoreLast(_ batch: SequenceBatch) -> [Float] { base.scoreLast(batch) }
            func topN(_ batch: SequenceBatch, n: Int) -> [Int32] { base.topN(batch, n: n) }
            func hiddenLast(_ batch: SequenceBatch) -> [Float] { base.hiddenLast(batch) }
        }
        var n = ModelConfig(kind: .nextitnet)
        n.dim = 8
        n.dilations = [1]
        let train = Self.pairs(rows: 64, seed: 31), test = Self.pairs(rows: 32, seed: 32)
        var t = TransferOptions()
        t.epochs = 1
        t.finetuneBackbone = true
        let backbone = FrozenOnly(try ModelFactory.make(n, itemCount: Self.K, seed: 1) as! NextItNet)
        #expect(throws: TransferError.self) {
            try Transfer.finetune(backbone: backbone, targetItemCount: Self.KT, train: train, test: test, options: t)
        }
        t.finetuneBackbone = false
        #expect(
            try Transfer.finetune(backbone: backbone, targetItemCount: Self.KT, train: train, test: test, options: t)
                .backboneFrozen)
    }

    /// Fine-tuning runs in the trainer's epoch loop, so it has the trainer's guard: a NaN loss (a backbone that
    /// outputs NaN) or a NaN head after an update stops it in step 1 instead of keeping a NaN head.
    @Test func nonFiniteFinetuningThrows() throws {
        var c = ModelConfig(kind: .gru4rec)
        c.dim = 4
        let train = Self.pairs(rows: 64, seed: 31), test = Self.pairs(rows: 32, seed: 32)
        let broken = try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! GRU4Rec
        broken.parameters.values.update(repeating: .nan, count: broken.parameters.count)
        var t = TransferOptions()
        t.epochs = 2
        t.batchSize = 16
        #expect {
            try Transfer.finetune(backbone: broken, targetItemCount: Self.KT, train: train, test: test, options: t)
        } throws: { error in
            guard case TrainError.nonFiniteLoss(let e) = error else { return false }
            return e == 1
        }
        t.learningRate = .infinity
        #expect {
            try Transfer.finetune(
                backbone: try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! GRU4Rec,
                targetItemCount: Self.KT, train: train, test: test, options: t)
        } throws: { error in
            guard case TrainError.nonFiniteParameters(let e, let s, let name) = error else { return false }
            return e == 1 && s == 1 && name == "target.w"
        }
    }

    @Test(arguments: ["gru4rec", "caser"])
    func backwardHiddenLastMatchesFiniteDifferences(kind: String) throws {
        var c = ModelConfig(kind: ModelConfig.Kind(rawValue: kind)!)
        c.dim = 5
        c.caserWindow = 3
        c.caserHorizontal = 2
        c.caserVertical = 2
        let m = try ModelFactory.make(c, itemCount: 15, seed: 2) as! any FineTunableBackbone
        let batch = PlantedSource.make(rows: 3, length: 5, itemCount: 15, seed: 3).batch(0..<3)
        var rng = Rng(seed: 4)
        let r = (0..<(3 * 5)).map { _ in rng.normal() }
        func loss() -> Double { zip(m.hiddenLast(batch), r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        m.parameters.zeroGrads()
        _ = m.trainingHiddenLast(batch)
        m.backwardHiddenLast(r)
        let p = m.parameters
        var bad = 0
        for _ in 0..<60 {
            let i = rng.int(below: p.count)
            let old = p.values[i]
            // A small step: ReLU and max-pool kinks must not be crossed.
            p.values[i] = old + 1e-4; let lp = loss()
            p.values[i] = old - 1e-4; let lm = loss()
            p.values[i] = old
            let fd = Float((lp - lm) / 2e-4)
            if abs(fd - p.grads[i]) > 2e-3 + 5e-2 * abs(p.grads[i]) { bad += 1 }
        }
        #expect(bad <= (kind == "caser" ? 2 : 0))
    }

    @Test func pairsFromPrepLayout() {
        let rows = SequenceSet(ids: [0, 3, 4, 7, 1, 2, 5, 9], length: 4)
        let p = TransferPairs(rowsWithTarget: rows)
        #expect(p.targets == [7, 9])
        #expect(p.sequences == SequenceSet(ids: [0, 3, 4, 1, 2, 5], length: 3))
    }
}
