import Foundation
import Testing
@testable import Pipeline

@Suite struct CleanSafetyTests {
    /// A folder that merely looks like a cache (a 64-hex-named folder) must survive `clean`.
    @Test func cleanRefusesAFolderThatIsNotOurCache() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let precious = dir.appendingPathComponent("cache/photos/" + String(repeating: "ab", count: 32))
        try FileManager.default.createDirectory(at: precious, withIntermediateDirectories: true)
        try "keep me".write(to: precious.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        let e = try engine([TestStage("fetch/a", recorder: Recorder())], dir)
        let error = #expect(throws: PipelineError.self) { try e.clean(keepResults: false) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("CACHEDIR.TAG"))
        #expect(FileManager.default.fileExists(atPath: precious.appendingPathComponent("a.txt").path))

        // Someone else's tag is not ours either.
        try "Signature: 8a477f597d28d172789f06886806bc55\n# another tool\n"
            .write(to: dir.appendingPathComponent("cache/CACHEDIR.TAG"), atomically: true, encoding: .utf8)
        #expect(throws: PipelineError.self) { try e.clean(keepResults: false) }
        #expect(FileManager.default.fileExists(atPath: precious.appendingPathComponent("a.txt").path))
    }

    @Test func cleanStillWorksOnARealCache() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stages = [TestStage("fetch/a", recorder: Recorder())]
        _ = try run(stages, dir)
        let r = try engine(stages, dir).clean(keepResults: false)
        #expect(r.removedEntries == 1)
        // A missing or empty folder has nothing to protect.
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(
            at: empty.appendingPathComponent("cache"), withIntermediateDirectories: true)
        #expect(try engine(stages, empty).clean(keepResults: false).removedEntries == 0)
    }
}
