import Foundation
import Kernels
import Testing
@testable import NeuralNet

/// Adam against hand-computed steps; checkpoints round-trip bit-exactly and reject mismatches clearly.
@Suite struct OptimizerTests {
    func model(seed: UInt64 = 1) -> ParameterSet {
        let p = ParameterSet()
        p.declare("a", [3], .input, .normal(std: 1))
        p.declare("b", [2, 2], .middle, .normal(std: 1))
        var rng = Rng(seed: seed)
        p.allocate(rng: &rng)
        return p
    }

    @Test func adamMatchesHandComputedSteps() {
        let p = model()
        let w0 = Array(UnsafeBufferPointer(start: p.values, count: p.count))
        let g: [Float] = [0.5, -1, 2, 0.25, -0.75, 3, 0]
        let adam = Adam(parameters: p, config: AdamConfig(learningRate: 0.1))
        var w = w0.map(Double.init), m = [Double](repeating: 0, count: 7), v = m
        for t in 1...3 {
            p.grads.update(from: g, count: 7)
            adam.update()
            let lrT = 0.1 * (1 - pow(0.999, Double(t))).squareRoot() / (1 - pow(0.9, Double(t)))
            for i in 0..<7 {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                w[i] -= lrT * m[i] / (v[i].squareRoot() + 1e-8)
            }
        }
        for i in 0..<7 { #expect(abs(Double(p.values[i]) - w[i]) < 1e-5) }
        // First step of Adam moves each weight by ~lr·sign(g): a sanity anchor independent of the formula.
        #expect(adam.step == 3)
        #expect(p.values[6] == w0[6])
    }

    @Test func adamL2AndClipping() throws {
        let p = model()
        let w0 = Array(UnsafeBufferPointer(start: p.values, count: p.count))
        let adam = Adam(parameters: p, config: AdamConfig(learningRate: 0.01, l2: 0.5, clipNorm: 1e-3))
        // L2 penalty = l2 · mean over the 2 tensors of ½‖w‖².
        let want =
            0.5
            * (0.5 * w0.prefix(3).reduce(0.0) { $0 + Double($1 * $1) }
                + 0.5 * w0.suffix(4).reduce(0.0) { $0 + Double($1 * $1) }) / 2
        #expect(abs(adam.l2Penalty() - want) < 1e-6)
        p.zeroGrads()
        let norm = try #require(adam.update())
        // With zero data gradient the only gradient is (l2 / 2)·w, whose norm is reported before clipping.
        let gnorm = (w0.reduce(0.0) { $0 + Double($1 * $1) }).squareRoot() * 0.25
        #expect(abs(Double(norm) - gnorm) < 1e-5)
        // Adam's first step is ±lr·(1−β1)/√(1−β2)·ĝ/|ĝ| ≈ ±lr regardless of the clip scale (scale-invariant),
        // so each weight moves toward zero by about lr.
        for i in 0..<7 { #expect(abs(abs(p.values[i] - w0[i]) - 0.01) < 1e-4 && abs(p.values[i]) < abs(w0[i])) }
    }

    @Test func checkpointRoundTripsBitExactlyWithOptimizerState() throws {
        let p = model(seed: 2)
        let adam = Adam(parameters: p)
        for _ in 0..<3 {
            for i in 0..<p.count { p.grads[i] = Float(i) - 2.5 }
            adam.update()
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        let config = Data(#"{"kind":"nextitnet"}"#.utf8)
        try Checkpoint.save(to: url, config: config, parameters: p, optimizer: adam)
        let q = model(seed: 3)
        let adam2 = Adam(parameters: q)
        let header = try Checkpoint.load(from: url, expectedConfig: config, parameters: q, optimizer: adam2)
        #expect(header.config == config && header.hasOptimizerState)
        for i in 0..<p.count {
            #expect(p.values[i].bitPattern == q.values[i].bitPattern)
            #expect(adam.m[i].bitPattern == adam2.m[i].bitPattern && adam.v[i].bitPattern == adam2.v[i].bitPattern)
        }
        #expect(adam2.step == 3)
        // Resumed training continues bit-exactly.
        for i in 0..<p.count { p.grads[i] = 1; q.grads[i] = 1 }
        adam.update()
        adam2.update()
        for i in 0..<p.count { #expect(p.values[i].bitPattern == q.values[i].bitPattern) }
    }

    @Test func checkpointMismatchesGiveClearErrors() throws {
        let p = model()
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        try Checkpoint.save(to: url, config: Data("A".utf8), parameters: p)
        #expect(throws: CheckpointError.configMismatch) {
            try Checkpoint.load(from: url, expectedConfig: Data("B".utf8), parameters: p)
        }
        #expect(throws: CheckpointError.missingOptimizerState) {
            try Checkpoint.load(from: url, parameters: p, optimizer: Adam(parameters: p))
        }
        let other = ParameterSet()
        other.declare("a", [3], .input, .zeros)
        other.declare("c", [2, 2], .middle, .zeros)
        var rng = Rng(seed: 1)
        other.allocate(rng: &rng)
        do {
            try Checkpoint.load(from: url, parameters: other)
            Issue.record("layout mismatch not detected")
        } catch let e as CheckpointError {
            #expect(e.description.contains("b [2, 2]"))
        }
        var bytes = try Data(contentsOf: url)
        bytes[8] = 9  // version
        try bytes.write(to: url)
        #expect(throws: CheckpointError.unsupportedVersion(found: 9, expected: 1)) {
            try Checkpoint.load(from: url, parameters: p)
        }
        try Data("nope".utf8).write(to: url)
        #expect(throws: CheckpointError.notACheckpoint(url.path)) { try Checkpoint.load(from: url, parameters: p) }
        try Checkpoint.save(to: url, config: Data("A".utf8), parameters: p)
        try (try Data(contentsOf: url)).prefix(60).write(to: url)
        #expect(throws: CheckpointError.truncated) { try Checkpoint.load(from: url, parameters: p) }
    }
}
