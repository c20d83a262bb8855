import Foundation
import Kernels
import NeuralNet
import Testing
@testable import Evaluation
@testable import Models

@Suite struct TransferTests {
    init() { Kernels.setThreads(1) }

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
            return perm[last % (K - 1)]   // index of next(last) = last % (K-1) + 1, minus 1
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
        _ = try Trainer.train(pretrained, config: c, train: source, validation: sourceValid, options: o, workDirectory: dir)
        let random = try ModelFactory.make(c, itemCount: Self.K, seed: 1) as! NextItNet

        let train = Self.pairs(rows: 384, seed: 31), test = Self.pairs(rows: 200, seed: 32)
        var t = TransferOptions()
        t.epochs = 15
        t.batchSize = 32
        t.learningRate = 1e-2
        let a = Transfer.finetune(backbone: pretrained, targetItemCount: Self.KT, train: train, test: test, options: t)
        let b = Transfer.finetune(backbone: random, targetItemCount: Self.KT, train: train, test: test, options: t)
        print("transfer MRR@5 pretrained \(a.test.mrr5) HR@5 \(a.test.hr5); random init \(b.test.mrr5) HR@5 \(b.test.hr5)")
        #expect(a.backboneFrozen && a.headParameters == Self.KT * 17)
        #expect(a.test.count == 200)
        #expect(a.test.mrr5 > b.test.mrr5 + 0.1)
        // Same seed, same lists: the evaluation is a pure function of the head, so re-running is identical.
        let a2 = Transfer.finetune(backbone: pretrained, targetItemCount: Self.KT, train: train, test: test, options: t)
        #expect(a2.test == a.test)
    }

    @Test func pairsFromPrepLayout() {
        let rows = SequenceSet(ids: [0, 3, 4, 7, 1, 2, 5, 9], length: 4)
        let p = TransferPairs(rowsWithTarget: rows)
        #expect(p.targets == [7, 9])
        #expect(p.sequences == SequenceSet(ids: [0, 3, 4, 1, 2, 5], length: 3))
    }
}
