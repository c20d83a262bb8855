import Foundation
import Kernels
import NeuralNet
import Testing
@testable import Evaluation
@testable import Training
@testable import Models

@Suite struct TrainerTests {

    static let K = 30

    func tempDir(_ tag: String) -> URL {
        let u = FileManager.default.temporaryDirectory
            .appendingPathComponent(
                "cprec-trainer-\(tag)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try? FileManager.default.removeItem(at: u)
        return u
    }

    @Test func resumedRunEqualsUninterrupted() throws {
        var c = ModelConfig(kind: .gru4rec)
        c.dim = 8
        let train = PlantedSource.make(rows: 48, length: 6, itemCount: Self.K, seed: 4)
        let valid = PlantedSource.make(rows: 16, length: 6, itemCount: Self.K, seed: 5)
        var o = TrainOptions()
        o.batchSize = 16
        o.maxEpochs = 3
        o.patience = 10
        let dirA = tempDir("a"), dirB = tempDir("b")
        defer { try? FileManager.default.removeItem(at: dirA); try? FileManager.default.removeItem(at: dirB) }

        let a = try ModelFactory.make(c, itemCount: Self.K, seed: 9)
        let ra = try Trainer.train(a, config: c, train: train, validation: valid, options: o, workDirectory: dirA)

        var killed = o
        killed.stopAfterEpochs = 1
        let b1 = try ModelFactory.make(c, itemCount: Self.K, seed: 9)
        let partial = try Trainer.train(
            b1, config: c, train: train, validation: valid, options: killed, workDirectory: dirB)
        #expect(partial.history.count == 1)
        // A new process: a fresh model, different init seed even; the checkpoint must override it.
        let b2 = try ModelFactory.make(c, itemCount: Self.K, seed: 77)
        let rb = try Trainer.train(b2, config: c, train: train, validation: valid, options: o, workDirectory: dirB)
        #expect(rb.resumedAfterEpoch == 1)
        #expect(ra.history.count == 3 && rb.history.count == 3)
        #expect(ra.history.map(\.loss) == rb.history.map(\.loss))
        #expect(ra.history.map(\.validation) == rb.history.map(\.validation))
        #expect(ra.bestEpoch == rb.bestEpoch)
        let n = a.parameters.count
        #expect((0..<n).allSatisfy { a.parameters.values[$0] == b2.parameters.values[$0] })
        #expect(FileManager.default.fileExists(atPath: rb.checkpoint.path))
        // Losses go down on this learnable source.
        #expect(ra.history[2].loss < ra.history[0].loss)
        // Finished state is reused as is; different options in the same folder start over.
        let again = try Trainer.train(
            try ModelFactory.make(c, itemCount: Self.K, seed: 9), config: c, train: train,
            validation: valid, options: o, workDirectory: dirA)
        #expect(again.history == ra.history && again.resumedAfterEpoch == 3)
        var other = o
        other.maxEpochs = 1
        let fresh = try Trainer.train(
            try ModelFactory.make(c, itemCount: Self.K, seed: 9), config: c, train: train,
            validation: valid, options: other, workDirectory: dirA)
        #expect(fresh.resumedAfterEpoch == 0 && fresh.history.count == 1)
        #expect(fresh.history[0].loss == ra.history[0].loss)
    }

    @Test func earlyStoppingAndPaperSelection() throws {
        let c = ModelConfig(kind: .mostpop)
        let train = PlantedSource.make(rows: 20, length: 5, itemCount: Self.K, seed: 1)
        let m = try ModelFactory.make(c, itemCount: Self.K, seed: 1, trainSequences: train)
        var o = TrainOptions()
        o.selection = .paper
        let dir = tempDir("p")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: TrainError.self) {
            try Trainer.train(m, config: c, train: train, validation: train, options: o, workDirectory: dir)
        }
        let r = try Trainer.train(
            m, config: c, train: train, validation: train, test: train, options: o, workDirectory: dir)
        #expect(r.bestEpoch == 0 && r.history.count == 1 && r.history[0].test != nil)

        // Patience 1 with learning rate 0: no epoch beats the first, so training stops after epoch 2.
        var g = ModelConfig(kind: .gru4rec)
        g.dim = 4
        let model = try ModelFactory.make(g, itemCount: Self.K, seed: 2)
        var p = TrainOptions()
        p.learningRate = 0
        p.patience = 1
        p.maxEpochs = 10
        p.batchSize = 8
        let dir2 = tempDir("e")
        defer { try? FileManager.default.removeItem(at: dir2) }
        var messages = [String]()
        let r2 = try Trainer.train(model, config: g, train: train, validation: train, options: p, workDirectory: dir2) {
            messages.append($0.message)
        }
        #expect(r2.history.count == 2 && r2.bestEpoch == 1 && r2.stoppedEarly)
        #expect(messages.count == 2 && messages[0].hasPrefix("epoch 1/10 loss"))

        // No validation rows: the last epoch is kept and patience never triggers.
        p.maxEpochs = 3
        let dir3 = tempDir("n")
        defer { try? FileManager.default.removeItem(at: dir3) }
        let empty = SequenceSet(ids: [], length: 5)
        let r3 = try Trainer.train(
            try ModelFactory.make(g, itemCount: Self.K, seed: 2), config: g, train: train,
            validation: empty, options: p, workDirectory: dir3)
        #expect(r3.history.count == 3 && r3.bestEpoch == 3 && !r3.stoppedEarly && r3.history[0].validation == nil)
    }

    @Test func minEpochsOutlastsAFlatStart() throws {
        // Learning rate 0 keeps validation flat; patience 1 alone would stop after epoch 2.
        var g = ModelConfig(kind: .gru4rec)
        g.dim = 4
        let train = PlantedSource.make(rows: 20, length: 5, itemCount: Self.K, seed: 1)
        var p = TrainOptions()
        p.learningRate = 0
        p.patience = 1
        p.minEpochs = 4
        p.maxEpochs = 10
        p.batchSize = 8
        let dir = tempDir("min")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Trainer.train(
            try ModelFactory.make(g, itemCount: Self.K, seed: 2), config: g, train: train,
            validation: train, options: p, workDirectory: dir)
        #expect(r.history.count == 4 && r.bestEpoch == 1 && r.stoppedEarly)
    }

    @Test func nonFiniteUpdateIsRejected() throws {
        // An infinite learning rate: the loss of step 1 is finite (computed before the update), the parameters
        // after it are not. Such a state must never become a checkpoint.
        var g = ModelConfig(kind: .gru4rec)
        g.dim = 4
        let train = PlantedSource.make(rows: 8, length: 5, itemCount: Self.K, seed: 1)
        var p = TrainOptions()
        p.learningRate = .infinity
        p.maxEpochs = 1
        p.batchSize = 8
        let dir = tempDir("nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            try Trainer.train(
                try ModelFactory.make(g, itemCount: Self.K, seed: 2), config: g, train: train,
                validation: train, options: p, workDirectory: dir)
        } throws: { error in
            guard case TrainError.nonFiniteParameters(let e, let s, _) = error else { return false }
            return e == 1 && s == 1
        }
    }

    /// The order and the negatives behind every committed number: batches tile one `Rng(seed ⊕ salt·epoch)` shuffle
    /// in order, the step's generator continues that shuffle's sequence, each step starts from zero gradients, and
    /// the epoch's loss is the weighted mean.
    @Test func epochLoopTilesOneSeededShuffle() throws {
        let p = ParameterSet()
        _ = p.declare("w", [3], .middle, .zeros)
        var initRng = Rng(seed: 1)
        p.allocate(rng: &initRng)
        let salt: UInt64 = 0xA076_1D64_78BD_642F
        let loop = EpochLoop(
            optimizers: [Adam(parameters: p, config: AdamConfig(learningRate: 0))], batchSize: 4,
            seed: 7, salt: salt)
        var batches = [[Int]](), draws = [Int](), gradsWereZero = true
        let mean = try loop.run(epoch: 3, rows: 10) { rows, rng in
            gradsWereZero = gradsWereZero && (0..<3).allSatisfy { p.grads[$0] == 0 }
            p.grads[1] = 1
            batches.append(Array(rows))
            draws.append(rng.int(below: 1000))
            return (Double(batches.count * rows.count), Double(rows.count))
        }
        var expected = Array(0..<10), rng = Rng(seed: 7 ^ (salt &* 3))
        rng.shuffle(&expected)
        #expect(batches.map(\.count) == [4, 4, 2] && batches.flatMap { $0 } == expected)
        #expect(draws == (0..<3).map { _ in rng.int(below: 1000) })
        #expect(gradsWereZero)
        #expect(mean == Double(1 * 4 + 2 * 4 + 3 * 2) / 10)
        #expect {
            _ = try loop.run(epoch: 2, rows: 10) { _, _ in (.nan, 1) }
        } throws: { error in
            guard case TrainError.nonFiniteLoss(let e) = error else { return false }
            return e == 2
        }
    }

    /// The planted transition i → i+1 is learnable by sequence models and invisible to MostPop.
    @Test(arguments: ["nextitnet", "gru4rec"])
    func sequenceModelsBeatMostPop(kind: String) throws {
        let train = PlantedSource.make(rows: 256, length: 8, itemCount: Self.K, seed: 11)
        let valid = PlantedSource.make(rows: 64, length: 8, itemCount: Self.K, seed: 12)
        let test = PlantedSource.make(rows: 128, length: 8, itemCount: Self.K, seed: 13)
        let pop = try ModelFactory.make(ModelConfig(kind: .mostpop), itemCount: Self.K, seed: 0, trainSequences: train)
        let popMRR = Evaluator.evaluate(pop, on: test, batchSize: 64).mrr5
        var c = ModelConfig(kind: ModelConfig.Kind(rawValue: kind)!)
        c.dim = 16
        c.dilations = [1, 2]
        let model = try ModelFactory.make(c, itemCount: Self.K, seed: 5)
        var o = TrainOptions()
        o.batchSize = 32
        o.maxEpochs = kind == "gru4rec" ? 10 : 6
        o.learningRate = kind == "gru4rec" ? 1e-2 : 5e-3
        let dir = tempDir(kind)
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try Trainer.train(model, config: c, train: train, validation: valid, options: o, workDirectory: dir)
        let mrr = Evaluator.evaluate(model, on: test, batchSize: 64).mrr5
        print("planted source MRR@5: \(kind) \(mrr) vs MostPop \(popMRR)")
        #expect(mrr > popMRR + 0.3, "\(kind) MRR@5 \(mrr) vs MostPop \(popMRR)")
    }
}
