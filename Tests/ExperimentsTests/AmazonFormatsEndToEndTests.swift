import Foundation
import Pipeline
import Testing
@testable import Experiments

/// The Amazon profiles' path without ../shared: files in SASRec's and S3Rec's layouts written here, passed as
/// user-placed sources (--source) to the shipped amazon-video / amazon-beauty entries (leave-one-out), through
/// fetch → prep → blocks → train → evaluate on a tiny budget.
@Suite(.serialized) struct AmazonFormatsEndToEndTests {
    /// 90 users with 4–12 items over 60 items (a walk i → i + 1 with popular detours); user 90 has 2 items only.
    static func histories() -> [[Int]] {
        var rng = SplitMix(seed: 11)
        var out: [[Int]] = []
        for _ in 1...89 {
            var item = 1 + rng.next(below: 60)
            out.append(
                (0..<(4 + rng.next(below: 9))).map { _ in
                    item = rng.next(below: 10) < 7 ? item % 60 + 1 : 1 + rng.next(below: 8)
                    return item
                })
        }
        out.append([3, 4])
        return out
    }

    static let profile = """

          e2e-amazon:
            summary: test-only; both Amazon layouts as user-placed files on a tiny budget
            datasets: [amazon-video, amazon-beauty]
            model: {dim: 8, dilations: [1, 2], blockFactor: 2, lowRank: 4}
            training: {batchSize: 32, maxEpochs: 1, patience: 1, learningRate: 0.01, seed: 10}
            inferenceBatch: 32

        """

    @Test func bothLayoutsRunThroughEvaluateWithLeaveOneOut() throws {
        let root = try temporaryDirectory("amazon")
        defer { try? FileManager.default.removeItem(at: root) }
        let h = Self.histories()
        let video = root.appendingPathComponent("Video.txt"), beauty = root.appendingPathComponent("Beauty.txt")
        let pairs = h.enumerated().flatMap { u, s in s.map { "\(u + 1) \($0)" } }
        try Data((pairs.joined(separator: "\n") + "\n").utf8).write(to: video)
        let lines = h.enumerated().map { u, s in ([u + 1] + s).map(String.init).joined(separator: " ") }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: beauty)

        let specs = try specsCopy(editing: "profiles.yaml") {
            $0.replacingOccurrences(of: "\nprofiles:\n", with: "\nprofiles:\n" + Self.profile)
        }
        defer { try? FileManager.default.removeItem(at: specs) }
        let options = ExperimentOptions(
            profile: "e2e-amazon", specDirectory: specs, outputRoot: root,
            sources: ["amazon-video": video, "amazon-beauty": beauty])
        let engine = try Engine(
            stages: try Paper.graph(options), store: CacheStore(root: root.appendingPathComponent(".cache")))
        var metricsByDataset: [String: [String: Double]] = [:]
        for ds in ["amazon-video", "amazon-beauty"] {
            let target = StageID("evaluate/\(ds)/nextitnet/seed10")
            let summary = try engine.run([target.raw], options: RunOptions(jobs: 1, threads: 1, outputRoot: root))
            #expect(summary.succeeded, "\(summary.failed)")
            let key = try #require(engine.status().first { $0.id == target }?.key)
            let url = engine.store.outputs(kind: target.kind, key: key).appendingPathComponent("metrics.json")
            let out = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            // One test row per user with at least 3 items: the 2-item user only trains.
            #expect(out["testSequences"] as? Int == 89)
            metricsByDataset[ds] = out["metrics"] as? [String: Double]
            let hr10 = try #require(metricsByDataset[ds]?["HR@10"])
            #expect(hr10 > 0 && hr10 <= 1 && hr10 >= (metricsByDataset[ds]?["HR@5"] ?? 2))
        }
        // The two layouts hold the same histories, so prep and the trained model agree to the bit.
        #expect(metricsByDataset["amazon-video"] == metricsByDataset["amazon-beauty"])
    }
}
