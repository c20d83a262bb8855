import Foundation
import Testing
@testable import Pipeline

/// A job as read back from a generated script, independently of the generator.
struct ParsedJob: Equatable {
    var stage: String
    var after: [String]
    var options: [String: String]
    var command: String
}

/// Parses the `submit … <<'JOB' … JOB` blocks and `jN=$REPLY` lines of a submission script.
func parseSlurmScript(_ text: String) -> [ParsedJob] {
    var jobs: [ParsedJob] = []
    var variables: [String: String] = [:]  // jN -> stage
    let lines = text.components(separatedBy: "\n")
    var i = 0
    func unquote(_ s: String) -> String {
        s.hasPrefix("'") && s.hasSuffix("'")
            ? String(s.dropFirst().dropLast()).replacingOccurrences(of: "'\\''", with: "'") : s
    }
    while i < lines.count {
        let line = lines[i]
        if line.hasPrefix("submit "), line.hasSuffix(" <<'JOB'") {
            let words = line.dropLast(" <<'JOB'".count).split(separator: " ").map(String.init)
            var job = ParsedJob(stage: unquote(words[1]), after: [], options: [:], command: lines[i + 2])
            for w in words.dropFirst(2) where w.hasPrefix("--") {
                let eq = w.firstIndex(of: "=") ?? w.endIndex
                let name = String(w[..<eq])
                let value = eq == w.endIndex ? "" : unquote(String(w[w.index(after: eq)...]))
                job.options[name] = value
                if name == "--dependency" {
                    #expect(value.hasPrefix("afterok:"))
                    job.after = value.dropFirst("afterok:".count).split(separator: ":").map { v in
                        // Every dependency must name a job submitted earlier in the script.
                        variables[String(v.dropFirst())] ?? "UNDEFINED \(v)"
                    }
                }
            }
            #expect(lines[i + 3] == "JOB")
            let assignment = lines[i + 4]
            #expect(assignment.hasSuffix("=$REPLY"))
            variables[String(assignment.dropLast("=$REPLY".count))] = job.stage
            jobs.append(job)
            i += 5
            continue
        }
        i += 1
    }
    return jobs
}

@Suite struct SlurmExportTests {
    let dir = temporaryDirectory()

    /// fetch/a -> prep/b -> train/c, train/d -> table/e (c, d), figure/f (c).
    func stages(_ rec: Recorder) -> [any Stage] {
        [
            TestStage("fetch/a", recorder: rec),
            TestStage("prep/b", inputs: ["fetch/a"], recorder: rec),
            TestStage("train/c", inputs: ["prep/b"], recorder: rec),
            TestStage("train/d", inputs: ["prep/b"], parameters: ["lr": 0.1], recorder: rec),
            TestStage("table/e", inputs: ["train/c", "train/d"], recorder: rec),
            TestStage("figure/f", inputs: ["train/c"], recorder: rec)
        ]
    }

    func export(
        _ e: Engine, _ patterns: [String]? = nil, policy: SlurmResourcePolicy = SlurmResourcePolicy(),
        partition: String? = nil
    ) throws -> (SlurmPlan, String) {
        let plan = try e.slurmPlan(patterns, policy: policy) { id, r in
            ["/opt/my build/pipeline", "run", id.raw, "--cache-dir", e.store.root.path, "--threads", "\(r.cpus)"]
        }
        let script = try SlurmScript.render(
            plan.jobs,
            options: .init(
                logDirectory: dir.appendingPathComponent("logs"), workingDirectory: dir, partition: partition,
                extraOptions: ["--account=it's"], comment: ["test"]))
        return (plan, script)
    }

    @Test func scriptDependencyGraphEqualsTheDAG() throws {
        let all = stages(Recorder())
        let e = try engine(all, dir)
        let (_, script) = try export(e)
        let jobs = parseSlurmScript(script)
        #expect(jobs.map(\.stage) == e.graph.ids.map(\.raw))
        for s in all {
            let job = try #require(jobs.first { $0.stage == s.id.raw })
            #expect(job.after.sorted() == s.inputs.map(\.raw).sorted())
            #expect(job.options["--job-name"] == s.id.raw)
            #expect(job.options["--kill-on-invalid-dep"] == (s.inputs.isEmpty ? nil : "yes"))
            #expect(
                job.command
                    == "exec '/opt/my build/pipeline' run \(s.id.raw) --cache-dir \(e.store.root.path) --threads \(job.options["--cpus-per-task"]!)"
            )
            #expect(job.options["--output"]!.hasSuffix(SlurmScript.logName(s.id)))
            #expect(job.options["--account"] == "it's")
        }
        #expect(SlurmScript.logName("train/ml-1m/cprec cb") == "train_ml-1m_cprec_cb.%j.out")
    }

    @Test func freshStagesAreOmitted() throws {
        let rec = Recorder()
        let e = try engine(stages(rec), dir)
        #expect(try e.run(["prep/b", "train/d"], options: RunOptions(threads: 1)).succeeded)
        let (plan, script) = try export(e)
        #expect(plan.fresh == ["fetch/a", "prep/b", "train/d"])
        let jobs = parseSlurmScript(script)
        #expect(jobs.map(\.stage) == ["train/c", "figure/f", "table/e"])
        // Fresh inputs are in the cache: only non-fresh upstream jobs are waited for.
        #expect(jobs.map(\.after) == [[], ["train/c"], ["train/c"]])

        // A selection brings only its non-fresh upstream along.
        let (_, figureOnly) = try export(e, ["figure/f"])
        #expect(parseSlurmScript(figureOnly).map(\.stage) == ["train/c", "figure/f"])

        // Everything fresh: no job, and the script says so.
        #expect(try e.run(nil, options: RunOptions(threads: 1)).succeeded)
        let (none, empty) = try export(e)
        #expect(none.jobs.isEmpty && none.fresh.count == 6)
        #expect(parseSlurmScript(empty).isEmpty && empty.contains("nothing to submit"))
    }

    @Test func resourcesFollowKindDefaultsFlagsAndStageHints() throws {
        var all = stages(Recorder())
        var hinted = TestStage("prep/hinted", inputs: ["fetch/a"], recorder: Recorder())
        hinted.preferredThreads = 3
        all.append(hinted)
        let e = try engine(all, dir)

        func resources(_ policy: SlurmResourcePolicy, partition: String? = nil) throws -> [String: [String: String]] {
            var out: [String: [String: String]] = [:]
            for j in parseSlurmScript(try export(e, policy: policy, partition: partition).1) {
                out[j.stage] = j.options
            }
            return out
        }
        // The client's defaults: training gets more CPUs and time than tables and figures.
        var defaults = SlurmResourcePolicy()
        defaults.defaultCPUsByKind = ["train": 2]
        defaults.defaultTimeByKind = ["train": "24:00:00", "fetch": "02:00:00"]
        let builtIn = try resources(defaults)
        #expect(builtIn["train/c"]?["--cpus-per-task"] == "2" && builtIn["train/c"]?["--time"] == "24:00:00")
        #expect(builtIn["table/e"]?["--cpus-per-task"] == "1" && builtIn["table/e"]?["--time"] == "01:00:00")
        #expect(builtIn["fetch/a"]?["--time"] == "02:00:00")
        #expect(builtIn["prep/hinted"]?["--cpus-per-task"] == "3")
        #expect(builtIn["table/e"]?["--mem"] == nil && builtIn["table/e"]?["--partition"] == nil)

        // --cpus/--time/--mem for all, --cpus-for etc. per kind on top.
        var p = SlurmResourcePolicy(cpus: 4, time: "00:30:00", memory: "2G")
        p.cpusByKind = try parseAssignments(["train=8", "table=2"], flag: "--cpus-for").mapValues { Int($0)! }
        p.timeByKind = ["train": "2-00:00:00"]
        p.memoryByKind = ["train": "16G"]
        let flagged = try resources(p, partition: "long")
        #expect(
            flagged["train/d"] == [
                "--job-name": "train/d", "--cpus-per-task": "8", "--time": "2-00:00:00",
                "--mem": "16G", "--partition": "long", "--chdir": dir.path,
                "--output": dir.appendingPathComponent("logs/train_d.%j.out").path,
                "--dependency": "afterok:$j2", "--kill-on-invalid-dep": "yes",
                "--account": "it's"
            ])
        #expect(flagged["table/e"]?["--cpus-per-task"] == "2" && flagged["table/e"]?["--time"] == "00:30:00")
        #expect(flagged["figure/f"]?["--cpus-per-task"] == "4" && flagged["figure/f"]?["--mem"] == "2G")
        #expect(flagged["prep/hinted"]?["--cpus-per-task"] == "4")
        #expect(throws: PipelineError.self) { try parseAssignments(["train"], flag: "--cpus-for") }
    }

    /// Runs the script with fake `sbatch`/`scancel` on PATH: it must be valid bash whose `$jN` become real ids.
    func runWithFakeSlurm(
        _ script: String, failAt: Int = 0
    ) throws -> (status: Int32, stdout: String, calls: [String], cancelled: String) {
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("calls")
        let fake = """
            #!/bin/bash
            n=$(( $(cat \(log.path).n 2>/dev/null || echo 100) + 1 ))
            echo $n > \(log.path).n
            if [ $n -eq \(100 + failAt) ]; then echo "sbatch: error: invalid partition" >&2; exit 1; fi
            { printf '%s|' "$@"; echo; cat | grep '^exec '; } >> \(log.path)
            echo "$n;cluster"
            """
        try fake.write(to: bin.appendingPathComponent("sbatch"), atomically: true, encoding: .utf8)
        try "#!/bin/bash\necho \"$@\" > \(dir.path)/cancelled\n".write(
            to: bin.appendingPathComponent("scancel"), atomically: true, encoding: .utf8)
        chmod(bin.appendingPathComponent("sbatch").path, 0o755)
        chmod(bin.appendingPathComponent("scancel").path, 0o755)
        let file = dir.appendingPathComponent("submit.sh")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [file.path]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let calls = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        let cancelled = (try? String(contentsOf: dir.appendingPathComponent("cancelled"), encoding: .utf8)) ?? ""
        return (p.terminationStatus, String(decoding: data, as: UTF8.self), calls, cancelled)
    }

    @Test func scriptSubmitsWithRealJobIdsAndCancelsOnFailure() throws {
        let e = try engine(stages(Recorder()), dir)
        let (_, script) = try export(e)
        let r = try runWithFakeSlurm(script)
        #expect(r.status == 0)
        let printed = SlurmOutput.submitted(r.stdout)
        #expect(printed.map(\.job) == ["101", "102", "103", "104", "105", "106"])
        #expect(printed.map(\.stage) == e.graph.ids)
        // Calls alternate: sbatch arguments, then the job script's exec line read from stdin.
        #expect(r.calls.count == 12)
        // Order fetch/a, prep/b, train/c, figure/f, train/d, table/e: table/e waits for 103 and 105.
        let table = r.calls[2 * 5]
        #expect(table.contains("--dependency=afterok:103:105|"))
        #expect(table.contains("--job-name=table/e|") && table.contains("--account=it's|"))
        #expect(
            r.calls[2 * 5 + 1]
                == "exec '/opt/my build/pipeline' run table/e --cache-dir \(e.store.root.path) --threads 1")

        try FileManager.default.removeItem(at: dir.appendingPathComponent("calls.n"))
        try? FileManager.default.removeItem(at: dir.appendingPathComponent("calls"))
        let failed = try runWithFakeSlurm(script, failAt: 3)
        #expect(failed.status == 1)
        #expect(failed.cancelled.trimmingCharacters(in: .whitespacesAndNewlines) == "101 102")
    }

    @Test func readsSlurmOutput() {
        let line =
            "JobId=7 JobName=train/x UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=1:0"
        #expect(SlurmOutput.jobState(line)! == ("FAILED", "1:0"))
        #expect(SlurmOutput.jobState("slurm_load_jobs error: Invalid job id specified") == nil)
        #expect(
            SlurmOutput.submitted("12 fetch/a\nnoise\n13 train/a b\n").map { "\($0.job) \($0.stage)" }
                == ["12 fetch/a", "13 train/a b"])
    }
}
