import Foundation
import Testing
@testable import Datasets

@Suite struct PathConfinementTests {
    func spec(_ file: String) -> DatasetSpec {
        DatasetSpec(
            name: "tiktok", source: .userPlaced(UserPlacedSource(files: [file])),
            format: FormatSpec(kind: .sequenceLines))
    }

    /// Spec paths stay inside the project folder; anything else only through --source (the overrides).
    @Test func userPlacedFilesAreConfinedToTheProjectFolder() throws {
        let base = try makeTempDir("confine"), out = try makeTempDir("out")
        defer { try? FileManager.default.removeItem(at: base); try? FileManager.default.removeItem(at: out) }
        let project = base.appendingPathComponent("project")
        let outside = try writeFile(base, "outside.csv", "a b c\nb c d\n")
        try writeFile(project, "data/in.csv", "a b c\nb c d\n")
        try FileManager.default.createSymbolicLink(
            at: project.appendingPathComponent("data/link.csv"), withDestinationURL: outside)
        let options = FetchOptions(downloadDirectory: out, workingDirectory: project)

        for bad in ["../outside.csv", "data/../../outside.csv", outside.path, "data/link.csv"] {
            let e = datasetError { _ = try Fetcher.fetch(spec(bad), into: out, options: options) }
            let text = e?.description ?? ""
            #expect(text.contains("inside the project folder") && text.contains("--source tiktok="), "\(bad): \(text)")
        }
        // Static check at spec validation: absolute paths and '..' escapes are refused before any fetch.
        #expect(throws: DatasetError.self) { try spec("/etc/passwd").validate() }
        #expect(throws: DatasetError.self) { try spec("a/../../x.csv").validate() }
        try spec("data/../data/in.csv").validate()

        #expect(try Fetcher.fetch(spec("data/in.csv"), into: out, options: options).files.count == 1)
        var explicit = options
        explicit.overrides = [outside]
        #expect(
            try Fetcher.fetch(spec("data/in.csv"), into: out, options: explicit).files.map(\.origin) == [outside.path])
    }
}
