import Foundation
import Testing
@testable import Pipeline

#if os(Linux)
/// What a Slurm job killed mid-stage (time limit, scancel, node loss) leaves behind, handled by the next run.
@Suite struct SlurmCacheTests {
    static let childVariable = "PIPELINE_TEST_KILLED_CHILD"

    /// The stage the child starts and never finishes; the parent runs the same id and parameters (so the same key).
    static func stage(_ root: URL, hang: Bool) -> TestStage {
        var s = TestStage("train/killed", parameters: ["epochs": 3], recorder: Recorder())
        s.body = { c in
            if hang {
                try "half".write(
                    to: c.outputDirectory.appendingPathComponent("partial.txt"), atomically: false, encoding: .utf8)
                try "\(getpid())".write(to: root.appendingPathComponent("started"), atomically: true, encoding: .utf8)
                Thread.sleep(forTimeInterval: 120)
            }
            try "done".write(
                to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        return s
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment[childVariable] != nil))
    func childHangsInsideTheStage() throws {
        let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment[Self.childVariable]!)
        _ = try Engine(
            stages: [Self.stage(root, hang: true)], store: CacheStore(root: root.appendingPathComponent("cache"))
        )
        .run(nil, options: RunOptions())
    }

    @Test func runWaitingOnAKilledJobBreaksItsLockAndRuns() throws {
        let root = temporaryDirectory()
        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["--testing-library", "swift-testing", "--filter", "childHangsInsideTheStage"]
        var env = ProcessInfo.processInfo.environment
        env[Self.childVariable] = root.path
        child.environment = env
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        let started = root.appendingPathComponent("started")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: started.path) && Date() < deadline && child.isRunning {
            Thread.sleep(forTimeInterval: 0.02)
        }
        try #require(FileManager.default.fileExists(atPath: started.path), "child never entered the stage")

        let e = try Engine(
            stages: [Self.stage(root, hang: false)], store: CacheStore(root: root.appendingPathComponent("cache")))
        let key = try KeyMaterial.of(Self.stage(root, hang: false), inputHashes: [:]).key
        let lock = e.store.lock(kind: "train", key: key)
        #expect(CacheLock.readOwner(lock)?.pid == child.processIdentifier)

        // This run waits on the live holder; the holder is then killed without any chance to clean up.
        final class Box: @unchecked Sendable { var summary: RunSummary?; var waitedAt: Date? }
        let box = Box()
        let captured = Captured()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.summary = try? e.run(nil, options: RunOptions(threads: 1), console: captured.console)
            done.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(box.summary == nil, "the run must wait while the holder is alive")
        #expect(captured.text.contains("locked by pid \(child.processIdentifier)"))
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(done.wait(timeout: .now() + 20) == .success)

        let summary = try #require(box.summary)
        #expect(summary.ran == ["train/killed"])
        #expect(
            summary.warnings.contains {
                $0.contains("broke stale lock") && $0.contains("process \(child.processIdentifier) no longer exists")
            })
        #expect(!FileManager.default.fileExists(atPath: lock.path))
        // The killed run's half-written entry never became an entry, and is swept.
        guard case .valid(let m) = e.store.check(kind: "train", key: key) else {
            Issue.record("entry not valid after the rerun")
            return
        }
        #expect(m.outputs.map(\.name) == ["out.txt"])
        let leftovers = try FileManager.default.contentsOfDirectory(
            atPath: e.store.root.appendingPathComponent("train").path
        )
        .filter { $0.hasPrefix(".tmp-") }
        #expect(leftovers.isEmpty)
    }
}
#endif
