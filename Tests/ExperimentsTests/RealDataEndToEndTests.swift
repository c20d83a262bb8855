import Foundation
import Pipeline
import TestSupport
import Testing
@testable import Experiments

/// The real-data path end to end without the internet or ../shared: a MovieLens-format zip (`ml-100k/u.data`)
/// generated here, served by a local HTTP server standing in for a mirror of GroupLens, then
/// `pipeline run evaluate/ml-100k/cprec-cb` through fetch → prep → blocks → train → evaluate on a tiny budget.
@Suite(.serialized) struct RealDataEndToEndTests {
    /// 160 users × 25–44 ratings over 150 items: each user walks item i → i + 1 with some popular detours, so
    /// the models have something to learn, and every item and user passes ml-100k's 5-interaction filters.
    static func uData() -> String {
        var rng = SplitMix(seed: 7)
        var lines: [String] = []
        for user in 1...160 {
            var item = 1 + rng.next(below: 150)
            let count = 25 + rng.next(below: 20)
            for step in 0..<count {
                item = rng.next(below: 10) < 7 ? item % 150 + 1 : 1 + rng.next(below: 12)
                lines.append("\(user)\t\(item)\t\(1 + rng.next(below: 5))\t\(880_000_000 + user * 1000 + step)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static let profile = """

          e2e-real:
            summary: test-only; ml-100k through a local mirror on a tiny budget
            datasets: [ml-100k]
            model: {dim: 8, dilations: [1, 2], blockFactor: 2, lowRank: 4, caserWindow: 4, caserHorizontal: 4}
            training: {batchSize: 64, maxEpochs: 1, patience: 1, learningRate: 0.002, seed: 10}
            figure1: {dataset: ml-100k, dims: [8], depths: [1]}
            transfer: {dataset: coldrec-smoke, models: [nextitnet, cprec-cb], epochs: 1, negatives: 10}
            inferenceBatch: 64

        """

    @Test func movielensZipFromAMirrorRunsThroughEvaluate() throws {
        let root = try temporaryDirectory("real")
        defer { try? FileManager.default.removeItem(at: root) }
        let www = root.appendingPathComponent("www"), cache = root.appendingPathComponent(".cache")
        try FileManager.default.createDirectory(
            at: www.appendingPathComponent("ml-100k"), withIntermediateDirectories: true)
        try Data(Self.uData().utf8).write(to: www.appendingPathComponent("ml-100k/u.data"))
        let zip = Process()
        zip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        zip.arguments = ["zip", "-q", "-r", "ml-100k.zip", "ml-100k"]
        zip.currentDirectoryURL = www
        try zip.run(); zip.waitUntilExit()
        try #require(zip.terminationStatus == 0)

        let server = try LocalHTTPServer(root: www, lifetime: 900)
        defer { server.stop() }
        let specs = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "\nprofiles:\n", with: "\nprofiles:\n" + Self.profile)
        }
        defer { try? FileManager.default.removeItem(at: specs) }
        let options = ExperimentOptions(
            profile: "e2e-real", specDirectory: specs, outputRoot: root, mirror: server.base)
        let engine = try Engine(stages: try Paper.graph(options), store: CacheStore(root: cache))
        let target: StageID = "evaluate/ml-100k/cprec-cb/seed10"
        let summary = try engine.run([target.raw], options: RunOptions(jobs: 1, threads: 1, outputRoot: root))
        #expect(summary.succeeded, "\(summary.failed)")
        for id in [
            "fetch/ml-100k", "prep/ml-100k", "blocks/ml-100k", "train/ml-100k/cprec-cb/seed10",
            "train/ml-100k/nextitnet/seed10", target.raw
        ] {
            #expect(summary.ran.contains(StageID(id)), "\(id) did not run")
        }
        #expect(server.requests == ["/ml-100k.zip"])

        func output(_ id: StageID, _ file: String) throws -> [String: Any] {
            let key = try #require(engine.status().first { $0.id == id }?.key)
            let url = engine.store.outputs(kind: id.kind, key: key).appendingPathComponent(file)
            return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        }
        let fetched = try output("fetch/ml-100k", "fetch.json")
        #expect(fetched["url"] as? String == server.base + "ml-100k.zip")
        #expect(fetched["upstream"] as? String == "https://files.grouplens.org/datasets/movielens/ml-100k.zip")
        let metrics = try output(target, "metrics.json")
        let mrr = try #require((metrics["metrics"] as? [String: Double])?["MRR@5"])
        #expect(mrr > 0 && mrr <= 1)
        let rules = try #require(metrics["fastTopN"] as? [[String: Any]])
        #expect(rules.map { $0["rule"] as? String } == ["exact", "approximate"])
        #expect(rules[0]["agreement"] as? Double == 1)
        // Wall times stay out of the hashed output (a rerun must reproduce it) and go to the manifest.
        #expect(rules.allSatisfy { $0["seconds"] == nil })
        let key = try #require(engine.status().first { $0.id == target }?.key)
        guard case .valid(let manifest) = engine.store.check(kind: target.kind, key: key) else {
            Issue.record("\(target) has no valid entry"); return
        }
        for rule in ["exact", "approximate"] {
            #expect((manifest.measurements?["fastTopNSeconds.\(rule)"] ?? -1) >= 0, "\(rule)")
        }
        // A second run executes nothing: the mirror is transport, not part of any key.
        let again = try engine.run([target.raw], options: RunOptions(jobs: 1, threads: 1, outputRoot: root))
        #expect(again.ran.isEmpty && again.succeeded)
    }
}

/// A tiny seeded generator (SplitMix64) so the generated log is the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(below n: Int) -> Int { Int(next() % UInt64(n)) }
}
