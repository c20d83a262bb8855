import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `pipeline` binary beside this test bundle (`swift test` builds every product first).
let pipelineBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("pipeline")

/// The repository's `pipeline/` spec folder.
let repositorySpecs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("pipeline")

func temporaryDirectory(_ tag: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cprec-cli-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A started `pipeline` child with its output in files (never pipes; see Subprocess.Command).
final class PipelineRun {
    let process = Process()
    let out: URL, err: URL

    init(_ arguments: [String], in directory: URL) throws {
        out = directory.appendingPathComponent("stdout.txt")
        err = directory.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.executableURL = pipelineBinary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
    }

    func finish() -> (status: Int32, stdout: String, stderr: String) {
        process.waitUntilExit()
        return (
            process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        )
    }
}

/// Runs `pipeline arguments…` in a fresh folder with its own cache, and waits for it.
func pipeline(
    _ arguments: [String], in directory: URL? = nil, specs: Bool = true
) throws -> (status: Int32, stdout: String, stderr: String) {
    let dir = try directory ?? temporaryDirectory("run")
    return try PipelineRun(arguments + (specs ? ["--spec-dir", repositorySpecs.path] : []), in: dir).finish()
}

@Suite struct CLIExitCodeTests {
    @Test func aSpecErrorExitsWith2() throws {
        let r = try pipeline(["status", "--profile", "no-such-profile"])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("unknown profile 'no-such-profile'"))
    }

    /// A download that cannot connect fails its stage: status 1, and the failure is named.
    @Test func aStageFailureExitsWith1() throws {
        let dir = try temporaryDirectory("fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try pipeline(
            [
                "run", "fetch/ml-100k", "--profile", "movielens-100k", "--cache-dir",
                dir.appendingPathComponent("c").path,
                "--mirror", "http://127.0.0.1:1/"
            ], in: dir)
        #expect(r.status == 1, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("failed: fetch/ml-100k"))
    }

    /// Options attach only to the commands where they mean something.
    @Test func optionsOfOtherCommandsAreRejected() throws {
        let r = try pipeline(["dag", "--jobs", "2"])
        #expect(r.status == 64 && r.stderr.contains("Unknown option '--jobs'"))
        let bench = try pipeline(["bench", "--d", "8"], specs: false)
        #expect(bench.status == 64 && bench.stderr.contains("Unknown option '--d'"))
    }
}

@Suite struct CLIReportTests {
    @Test func statusAndPlanPrintJSON() throws {
        let dir = try temporaryDirectory("json")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = ["--cache-dir", dir.appendingPathComponent("c").path]
        let status = try pipeline(["status", "--profile", "smoke", "--json"] + cache, in: dir)
        #expect(status.status == 0, "\(status.stderr)")
        let stages = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(stages.count > 10)
        #expect(stages.allSatisfy { $0["state"] as? String == "missing" && $0["id"] is String })

        let plan = try pipeline(["plan", "--profile", "smoke", "--json", "prep/*"] + cache, in: dir)
        #expect(plan.status == 0, "\(plan.stderr)")
        let items = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(!items.isEmpty && items.allSatisfy { ($0["id"] as? String)?.isEmpty == false && $0["certain"] is Bool })
    }

    /// After a run, `show` names the stage's key, entry, log, outputs and inputs.
    @Test func showDescribesOneStage() throws {
        let dir = try temporaryDirectory("show")
        defer { try? FileManager.default.removeItem(at: dir) }
        let common = ["--profile", "smoke", "--cache-dir", dir.appendingPathComponent("c").path]
        let dag = try pipeline(["dag"] + common.prefix(2), in: dir)
        guard
            let prep = dag.stdout.split(separator: "\n").map({ String($0.split(separator: " ").first ?? "") })
                .first(where: { $0.hasPrefix("prep/") })
        else {
            Issue.record("no prep stage in the smoke graph:\n\(dag.stdout)")
            return
        }
        let ran = try pipeline(["run", prep, "--out", dir.path] + common, in: dir)
        #expect(ran.status == 0, "\(ran.stderr)")
        let r = try pipeline(["show", prep] + common, in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        for field in ["state     fresh", "key       ", "entry     ", "log       ", "output    ", "input     "] {
            #expect(r.stdout.contains(field), "missing \(field):\n\(r.stdout)")
        }
        #expect(try pipeline(["show", "prep/no-such"] + common, in: dir).status == 1)
    }
}

/// The signal path of a real run: a fetch from a local server that accepts and never answers, then SIGINT or
/// SIGTERM to the `pipeline` process alone. The curl it started must be gone and the exit prompt.
@Suite(.serialized) struct CLISignalTests {
    static let stallingServer = """
        import socket, sys, threading, time, os
        log = sys.argv[1]
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
        print(s.getsockname()[1], flush=True)
        threading.Timer(60, lambda: os._exit(0)).start()  # never outlive a crashed test run
        held = []
        while True:
            c, _ = s.accept(); held.append(c)
            c.recv(65536)
            with open(log, "a") as f: f.write("request\\n")
        """

    /// Pids of `curl` processes whose parent is `parent`, from /proc.
    static func curlChildren(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let name = stat[stat.index(after: stat.firstIndex(of: "(")!)..<close]
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            return name == "curl" && fields.count > 1 && Int32(fields[1]) == parent
        }
    }

    static func alive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalStopsTheRunAndItsCurl(_ signal: Int32) throws {
        let dir = try temporaryDirectory("signal")
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("requests.log")
        let script = dir.appendingPathComponent("server.py")
        try Data(Self.stallingServer.utf8).write(to: script)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", script.path, log.path]
        let portOut = dir.appendingPathComponent("port.txt")
        _ = FileManager.default.createFile(atPath: portOut.path, contents: nil)
        server.standardOutput = try FileHandle(forWritingTo: portOut)
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = Int(
                ((try? String(contentsOf: portOut, encoding: .utf8)) ?? "").trimmingCharacters(
                    in: .whitespacesAndNewlines))
            if port == nil { usleep(25_000) }
        }
        guard let port else { Issue.record("the stalling server did not start"); return }

        let run = try PipelineRun(
            [
                "run", "fetch/ml-100k", "--profile", "movielens-100k", "--spec-dir", repositorySpecs.path,
                "--cache-dir", dir.appendingPathComponent("c").path,
                "--mirror", "http://127.0.0.1:\(port)/"
            ], in: dir)
        let pid = run.process.processIdentifier
        defer { if run.process.isRunning { kill(pid, SIGKILL) } }
        // Wait until curl is connected and waiting for an answer.
        var curls: [pid_t] = []
        let ready = Date().addingTimeInterval(30)
        while Date() < ready {
            curls = Self.curlChildren(of: pid)
            if !curls.isEmpty, ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("request") { break }
            usleep(20_000)
        }
        #expect(!curls.isEmpty, "no curl child appeared")
        let sent = Date()
        kill(pid, signal)
        let result = run.finish()
        #expect(Date().timeIntervalSince(sent) < 10, "exit took \(Date().timeIntervalSince(sent)) s")
        #expect(
            run.process.terminationReason == .uncaughtSignal && result.status == signal,
            "status \(result.status), reason \(run.process.terminationReason.rawValue):\n\(result.stderr)")
        usleep(100_000)
        #expect(curls.allSatisfy { !Self.alive($0) }, "curl outlived the pipeline")
    }
}
