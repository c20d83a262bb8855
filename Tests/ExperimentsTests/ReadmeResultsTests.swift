import Foundation
import Testing

/// README's results and REPORT.md come from the same committed files, so they cannot drift apart: every row of the
/// headline table (paper-tables/headline.md) and every overall verdict (paper-tables/claim-grid.csv) stands in
/// README.md as written there.
@Suite struct ReadmeResultsTests {
    static let root = repositorySpecs.deletingLastPathComponent()

    func read(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func readmeShowsTheCommittedHeadlineRows() throws {
        let readme = try read("README.md")
        let rows = try read("paper-tables/headline.md").split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Model") }
        #expect(!rows.isEmpty)
        for row in rows { #expect(readme.contains(row), "README.md lacks the headline row: \(row)") }
    }

    @Test func readmeShowsTheCommittedVerdicts() throws {
        let readme = try read("README.md")
        let lines = try read("paper-tables/claim-grid.csv").split(separator: "\n").dropFirst()
        #expect(!lines.isEmpty)
        for line in lines {
            // claim,<group verdicts…>,overall,scope (no field of this file holds a comma).
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard let claim = cells.first, cells.count >= 3 else { continue }
            let overall = cells[cells.count - 2], scope = cells[cells.count - 1]
            let expected = "| \(claim) | \(overall) (\(scope)) |"
            #expect(readme.contains(expected), "README.md lacks the verdict line \(expected)")
        }
    }
}
