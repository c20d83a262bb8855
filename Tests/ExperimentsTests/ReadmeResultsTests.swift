import Foundation
import Testing

/// README's results and the REPORT.md files come from the same committed files, so they cannot drift apart: every
/// row of every committed headline table (`paper-tables/headline.md` and each companion's under `results/`) and every
/// overall verdict of every committed verdict grid (`claim-grid.csv`, same places) stands in README.md as written
/// there.
@Suite struct ReadmeResultsTests {
    static let root = repositorySpecs.deletingLastPathComponent()

    func read(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    /// `paper-tables/<file>` of the default profile and of every committed companion profile, where it exists.
    func committed(_ file: String) throws -> [String] {
        var paths = ["paper-tables/\(file)"]
        let results = Self.root.appendingPathComponent("results")
        for profile in (try? FileManager.default.contentsOfDirectory(atPath: results.path))?.sorted() ?? [] {
            paths.append("results/\(profile)/paper-tables/\(file)")
        }
        return paths.filter { FileManager.default.fileExists(atPath: Self.root.appendingPathComponent($0).path) }
    }

    @Test func readmeShowsTheCommittedHeadlineRows() throws {
        let readme = try read("README.md")
        let files = try committed("headline.md")
        #expect(files.contains("paper-tables/headline.md"))
        for file in files {
            let rows = try read(file).split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Model") }
            #expect(!rows.isEmpty, "\(file) has no rows")
            for row in rows { #expect(readme.contains(row), "README.md lacks the headline row of \(file): \(row)") }
        }
    }

    @Test func readmeShowsTheCommittedVerdicts() throws {
        let readme = try read("README.md")
        let files = try committed("claim-grid.csv")
        #expect(!files.isEmpty, "no verdict grid is committed")
        for file in files {
            let lines = try read(file).split(separator: "\n").dropFirst()
            #expect(!lines.isEmpty, "\(file) has no claims")
            for line in lines {
                // claim,<group verdicts…>,overall,scope (no field of this file holds a comma).
                let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard let claim = cells.first, cells.count >= 3 else { continue }
                let overall = cells[cells.count - 2], scope = cells[cells.count - 1]
                let expected = "| \(claim) | \(overall) (\(scope)) |"
                #expect(readme.contains(expected), "README.md lacks the verdict line of \(file): \(expected)")
            }
        }
    }
}
