import Foundation
import Testing
@testable import Pipeline

#if os(Linux)
/// Two real processes on one cache: the test binary re-runs itself with a filter selecting the child test.
@Suite struct ProcessTests {
    static let childVariable = "PIPELINE_TEST_CHILD_CACHE"

    static func slowStage(_ root: URL) -> TestStage {
        var s = TestStage("train/shared", recorder: Recorder())
        s.body = { c in
            let line = "\(getpid())\n"
            let fd = open(root.appendingPathComponent("runs.txt").path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            _ = line.withCString { write(fd, $0, strlen($0)) }
            close(fd)
            Thread.sleep(forTimeInterval: 0.5)
            try "shared".write(
                to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        return s
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment[childVariable] != nil))
    func childProcessRunsTheSharedStage() throws {
        let root = URL(fileURLWithPath: ProcessInfo.processInfo.environment[Self.childVariable]!)
        let summary = try Engine(
            stages: [Self.slowStage(root)], store: CacheStore(root: root.appendingPathComponent("cache"))
        )
        .run(nil, options: RunOptions())
        try "\(summary.ran.count) \(summary.cached.count)\n".write(
            to: root.appendingPathComponent("summary-\(getpid()).txt"), atomically: true, encoding: .utf8)
    }

    @Test func twoProcessesComputeOnceAndReuse() throws {
        let root = temporaryDirectory()
        let exe = URL(fileURLWithPath: CommandLine.arguments[0])
        var children: [Process] = []
        for _ in 0..<2 {
            let p = Process()
            p.executableURL = exe
            p.arguments = ["--testing-library", "swift-testing", "--filter", "childProcessRunsTheSharedStage"]
            var env = ProcessInfo.processInfo.environment
            env[Self.childVariable] = root.path
            p.environment = env
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            children.append(p)
        }
        for p in children { p.waitUntilExit() }
        #expect(children.allSatisfy { $0.terminationStatus == 0 })
        let runs = try String(contentsOf: root.appendingPathComponent("runs.txt"), encoding: .utf8)
        #expect(runs.split(separator: "\n").count == 1)
        let summaries = try FileManager.default.contentsOfDirectory(atPath: root.path)
            .filter { $0.hasPrefix("summary-") }
            .map { try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8) }
            .sorted()
        #expect(summaries == ["0 1\n", "1 0\n"])
    }
}
#endif
