import Foundation
import Testing
@testable import Pipeline

/// Runs `bash -n` on the script, then runs it with `sbatch` and `scancel` stubbed to `true`.
private func checkScript(_ script: String, in dir: URL) throws -> (syntax: Int32, run: Int32) {
    let bin = dir.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    for tool in ["sbatch", "scancel"] {
        try "#!/bin/sh\nexec true\n".write(to: bin.appendingPathComponent(tool), atomically: true, encoding: .utf8)
        chmod(bin.appendingPathComponent(tool).path, 0o755)
    }
    let file = dir.appendingPathComponent("submit.sh")
    try script.write(to: file, atomically: true, encoding: .utf8)
    func bash(_ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = args
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
    return (try bash(["-n", file.path]), try bash([file.path]))
}

@Suite struct SlurmInjectionTests {
    let dir = temporaryDirectory()

    func job(id: String = "train/x", command: [String] = ["/bin/pipeline", "run", "train/x"]) -> SlurmJob {
        SlurmJob(id: StageID(id), after: [], resources: SlurmResources(cpus: 1, time: "01:00:00"), command: command)
    }

    var options: SlurmScript.Options { .init(logDirectory: dir.appendingPathComponent("logs"), workingDirectory: dir) }

    /// A value that, pasted into the old fixed `<<'JOB'` heredoc, ended it and ran `touch` on the submitting host.
    var payload: String { "m\nJOB\ntouch \(dir.appendingPathComponent("INJECTED").path)\ncat <<'JOB'\n" }

    /// Every interpolated value is checked; whatever the script does, the marker file must never appear.
    @Test func newlinePayloadsNeverRunOnTheSubmittingHost() throws {
        let variants: [(String, [SlurmJob], SlurmScript.Options)] = [
            ("command word", [job(command: ["/bin/pipeline", "run", "train/" + payload])], options),
            ("stage id", [job(id: "train/" + payload)], options),
            (
                "partition", [job()],
                {
                    var o = options; o.partition = payload; return o
                }()
            ),
            (
                "sbatch option", [job()],
                {
                    var o = options; o.extraOptions = ["--account=" + payload]; return o
                }()
            ),
            (
                "comment", [job()],
                {
                    var o = options; o.comment = [payload]; return o
                }()
            ),
            (
                "time",
                [SlurmJob(id: "train/x", after: [], resources: SlurmResources(cpus: 1, time: payload), command: ["x"])],
                options
            )
        ]
        for (what, jobs, opts) in variants {
            let script: String
            do {
                script = try SlurmScript.render(jobs, options: opts)
            } catch {
                #expect("\(error)".contains("control character"), "\(what): \(error)")
                continue
            }
            let r = try checkScript(script, in: dir)
            #expect(r.syntax == 0, "\(what): bash -n failed")
            #expect(
                !FileManager.default.fileExists(atPath: dir.appendingPathComponent("INJECTED").path),
                "\(what) injected a command")
        }
    }

    /// Values without control characters (quotes, `$(…)`, the heredoc word itself) are quoted, never run.
    @Test func heredocWordAndShellSyntaxStayData() throws {
        let marker = dir.appendingPathComponent("INJECTED").path
        let words = ["JOB", "$(touch \(marker))", "`touch \(marker)`", "'; touch \(marker); '", "JOB_0"]
        let script = try SlurmScript.render([job(command: ["/bin/pipeline"] + words)], options: options)
        let r = try checkScript(script, in: dir)
        #expect(r.syntax == 0 && r.run == 0)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func terminatorNeverAppearsInTheBody() {
        let body = ["#!/bin/bash", "exec JOB_SCRIPT_END"]
        let t = SlurmScript.terminator(for: body)
        #expect(!body.contains(t))
        #expect(
            SlurmScript.terminator(for: ["x"]) != SlurmScript.terminator(for: ["x", SlurmScript.terminator(for: ["x"])])
        )
    }
}
