import Foundation
import Testing
@testable import Pipeline

/// Timings live in manifests, outside output hashes: they never invalidate stages that read outputs only,
/// and they do reach the stages that present them.
@Suite struct MeasurementTests {
    @Test func newMeasurementsRerunOnlyTheStagesThatReadThem() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rec = Recorder()
        var train = TestStage("train/t", recorder: rec)
        train.body = { context in
            context.record("seconds", Double(rec.count("train/t")))  // differs on every run
            try "same bytes\n".write(
                to: context.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        let evaluate = TestStage("evaluate/e", inputs: ["train/t"], recorder: rec)
        var table = TestStage("table/x", inputs: ["train/t"], recorder: rec)
        table.readsMeasurements = true
        table.body = { context in
            let seconds = context.inputMeasurement("train/t", "seconds") ?? -1
            try "seconds \(seconds)\n".write(
                to: context.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        let stages: [any Stage] = [train, evaluate, table]
        let store = CacheStore(root: dir.appendingPathComponent("cache"))
        let first = try Engine(stages: stages, store: store).run(nil, options: RunOptions(jobs: 1, threads: 1))
        #expect(first.ran.count == 3)

        let forced = try Engine(stages: stages, store: store).run(
            ["train/t"], options: RunOptions(jobs: 1, threads: 1, force: true))
        #expect(forced.ran.map(\.raw) == ["train/t"])
        let second = try Engine(stages: stages, store: store).run(nil, options: RunOptions(jobs: 1, threads: 1))
        #expect(second.ran.map(\.raw) == ["table/x"])
        #expect(rec.count("evaluate/e") == 1)
        #expect(rec.count("table/x") == 2)
        // The rerun table shows the second run's measurement, and status agrees everything is fresh.
        let e = try Engine(stages: stages, store: store)
        let key = e.status().first { $0.id == "table/x" }!.key!
        let text = try String(
            contentsOf: e.store.outputs(kind: "table", key: key).appendingPathComponent("out.txt"), encoding: .utf8)
        #expect(text == "seconds 2.0\n")
        #expect(e.status().allSatisfy { $0.state == .fresh })
    }
}
