import Foundation
import Testing

/// The sources read in a 120-column editor: swift-format (`.swift-format`) lays out code and comments; a line may run
/// longer only where it holds a string literal, which swift-format cannot break without changing the text.
@Suite struct SourceLayoutTests {
    static let limit = 120

    static func swiftFiles() -> [URL] {
        let root = repositorySpecs.deletingLastPathComponent()
        var files: [URL] = []
        for top in ["Sources", "Tests"] {
            let folder = root.appendingPathComponent(top)
            let e = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
            while let url = e?.nextObject() as? URL {
                if url.pathExtension == "swift" { files.append(url) }
            }
        }
        return files
    }

    @Test func noCodeOrCommentLineIsLongerThan120Columns() throws {
        let files = Self.swiftFiles()
        #expect(files.count > 100)
        var offenders: [String] = []
        for url in files {
            let text = try String(contentsOf: url, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            for (i, line) in lines.enumerated() where line.count > Self.limit && !line.contains("\"") {
                offenders.append("\(url.lastPathComponent):\(i + 1) (\(line.count) columns)")
            }
        }
        #expect(offenders.isEmpty, "\(offenders.joined(separator: ", "))")
    }
}
