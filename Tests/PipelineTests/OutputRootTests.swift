import Foundation
import Testing
@testable import Pipeline

@Suite struct OutputRootTests {
    /// An --out that names a regular file fails before any stage runs, naming the path and the cause.
    @Test func outputRootThatIsAFileFailsBeforeAnyStage() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("results")
        try "not a folder".write(to: file, atomically: true, encoding: .utf8)
        let rec = Recorder()
        var stage = TestStage("table/a", recorder: rec)
        stage.publishes = ["out.txt": "a.txt"]
        let e = try engine([stage], dir)
        let error = #expect(throws: PipelineError.self) {
            _ = try e.run(nil, options: RunOptions(jobs: 1, threads: 1, outputRoot: file))
        }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains(file.path) && text.contains("not a folder"), "\(text)")
        #expect(rec.count("table/a") == 0)

        let below = file.appendingPathComponent("sub")
        let e2 = #expect(throws: PipelineError.self) {
            _ = try e.run(nil, options: RunOptions(jobs: 1, threads: 1, outputRoot: below))
        }
        #expect("\(e2.map { "\($0)" } ?? "")".contains("Not a directory"), "\(String(describing: e2))")
        #expect(rec.count("table/a") == 0)
    }

    /// Foundation errors become one sentence with the path and the system's reason, never `NSCocoaErrorDomain`.
    @Test func foundationErrorsBecomeSentences() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("f")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        do {
            try Data("y".utf8).write(to: file.appendingPathComponent("inside"))
            Issue.record("writing below a file succeeded")
        } catch {
            let text = describeError(error)
            #expect(!text.contains("NSCocoaErrorDomain") && !text.contains("Code="), "\(text)")
            #expect(text.contains(file.appendingPathComponent("inside").path), "\(text)")
            #expect(text.contains("Not a directory"), "\(text)")
        }
        let full = NSError(
            domain: NSCocoaErrorDomain, code: 640,
            userInfo: [
                NSFilePathErrorKey: "/data/x.csv",
                NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))
            ])
        let text = describeError(full)
        #expect(text.contains("/data/x.csv") && text.contains("No space left on device"), "\(text)")
    }

    /// A failed copy while publishing leaves no `.name.tmp-*` file behind.
    @Test func failedPublishLeavesNoTemporaryFile() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("src.txt")
        try "data".write(to: source, atomically: true, encoding: .utf8)
        let target = dir.appendingPathComponent("out/t.txt")
        // A folder in the target's place makes the final rename fail.
        try FileManager.default.createDirectory(
            at: target.appendingPathComponent("x"), withIntermediateDirectories: true)
        #expect(throws: (any Error).self) { try Publisher.publish(source, to: target) }
        let t2 = dir.appendingPathComponent("out/u.txt")
        // Old leftovers of a killed run are swept on the next publish of that name.
        let stale = dir.appendingPathComponent("out/.u.txt.tmp-0000")
        try Data().write(to: stale)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -7200)], ofItemAtPath: stale.path)
        try Publisher.publish(source, to: t2)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("out").path).filter {
            $0.contains(".tmp-")
        }
        #expect(left.isEmpty, "\(left)")
    }
}
