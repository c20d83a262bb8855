import Foundation
import Testing
@testable import Datasets

/// Timings for the report; run with DATASETS_TIMING=1 (speed is measured, never asserted).
@Suite struct TimingTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["DATASETS_TIMING"] != nil))
    func printTimings() throws {
        func time(_ label: String, _ body: () throws -> Void) rethrows {
            let t0 = Date()
            try body()
            print("TIMING \(label): \(String(format: "%.3f", Date().timeIntervalSince(t0))) s")
        }
        for (name, format) in [
            ("weishi", FormatSpec(kind: .sessionCSV)), ("ml-latest", FormatSpec(kind: .userItemTime)),
            ("tiktok", FormatSpec(kind: .sessionCSV)), ("coldrec", FormatSpec(kind: .coldrec))
        ] {
            let spec = SyntheticSpec.shaped(like: name, users: 10_000, items: 5_000)
            try time("generate \(name) 10k users x 5k items") { _ = try SyntheticGenerator.generate(spec) }
            let dir = try makeTempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            var files: [String] = []
            try time("generate+write \(name)") { files = try SyntheticGenerator.write(spec, format: format, into: dir) }
            var p: PreparedDataset?
            try time("prep \(name)") {
                p = try Prep.prepare(
                    name: name, files: files.map { dir.appendingPathComponent($0) }, format: format,
                    params: PrepParams())
            }
            let st = p!.stats
            let share = DatasetStatistics.headShare(counts: p!.itemCounts, fraction: 0.2)
            print(
                "STATS \(name): sequences \(st.sequences) items \(st.items) interactions \(st.interactions) top20%share \(String(format: "%.2f", share)) transfer \(String(describing: st.transfer))"
            )
        }
        if let dir = RealSampleTests.folder {
            try time("prep ml-100k (parse + prep)") {
                _ = try Prep.prepare(
                    name: "ml-100k", files: [dir.appendingPathComponent("ml-100k.inter")],
                    format: FormatSpec(kind: .movielensRatings), params: PrepParams())
            }
        }
    }
}
