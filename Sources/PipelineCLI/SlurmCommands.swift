import ArgumentParser
import Foundation
import Pipeline
import Subprocess

#if canImport(Glibc)
import Glibc
#endif

/// Options of `export slurm` and `submit`: which stages, and what each job asks Slurm for.
struct SlurmOptions: ParsableArguments {
    @Argument(help: "Stage ids, globs, or kinds (default: every stage); their non-fresh upstream is included.")
    var stages: [String] = []

    @Flag(help: "Also include every stage that depends on the selection.")
    var downstream = false

    @Option(help: "Slurm partition for every job.")
    var partition: String?

    @Option(help: "CPUs per job for every stage (default: train, finetune, evaluate 2; others 1).")
    var cpus: Int?

    @Option(
        help:
            "Time limit for every stage, e.g. 04:00:00 (default: train, finetune 24:00:00; evaluate 04:00:00; fetch 02:00:00; others 01:00:00)."
    )
    var time: String?

    @Option(help: "Memory per job for every stage, e.g. 8G (default: the partition's).")
    var mem: String?

    @Option(help: "CPUs for one stage kind, KIND=N (repeatable; beats --cpus), e.g. --cpus-for train=8.")
    var cpusFor: [String] = []

    @Option(help: "Time limit for one stage kind, KIND=T (repeatable; beats --time), e.g. --time-for train=2-00:00:00.")
    var timeFor: [String] = []

    @Option(help: "Memory for one stage kind, KIND=M (repeatable; beats --mem).")
    var memFor: [String] = []

    @Option(help: "An sbatch option passed verbatim to every job, e.g. --sbatch-option=--account=abc (repeatable).")
    var sbatchOption: [String] = []

    @Option(help: "Folder for the jobs' output files (default: <cache-dir>/_slurm/logs).")
    var logDir: String?

    @Option(
        name: .customLong("out"),
        help: "Output root every job publishes paper-tables/ and figures/ into (default: the working directory).")
    var out: String?

    @Option(help: "Seconds without heartbeat after which a job treats another run's lock as abandoned.")
    var staleLockAfter: Double = 600

    func validate() throws {
        if let c = cpus, c < 1 { throw ValidationError("--cpus must be at least 1") }
        _ = try policy()
    }

    func policy() throws -> SlurmResourcePolicy {
        var p = SlurmResourcePolicy(cpus: cpus, time: time, memory: mem)
        p.defaultCPUsByKind = ["train": 2, "finetune": 2, "evaluate": 2]
        p.defaultTimeByKind = ["train": "24:00:00", "finetune": "24:00:00", "evaluate": "04:00:00", "fetch": "02:00:00"]
        for (kind, v) in try parseAssignments(cpusFor, flag: "--cpus-for", example: "KIND=VALUE (e.g. train=4)") {
            guard let n = Int(v), n >= 1 else {
                throw ValidationError("--cpus-for \(kind)=\(v): CPUs must be a positive integer")
            }
            p.cpusByKind[kind] = n
        }
        p.timeByKind = try parseAssignments(timeFor, flag: "--time-for", example: "KIND=VALUE (e.g. train=4)")
        p.memoryByKind = try parseAssignments(memFor, flag: "--mem-for", example: "KIND=VALUE (e.g. train=4)")
        return p
    }
}

/// The absolute path of this very binary, so jobs run the same build that exported them.
func currentExecutable() -> String {
    if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return target }
    let arg0 = CommandLine.arguments[0]
    if arg0.hasPrefix("/") { return arg0 }
    return Bundle.main.executableURL?.path
        ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(arg0)
        .standardizedFileURL.path
}

/// Builds the submission script for the selected stages; also returns what it contains.
func slurmScript(
    _ global: GraphOptions, _ cacheOptions: CacheOptions, _ slurm: SlurmOptions
) throws
    -> (script: String, plan: SlurmPlan, cache: URL)
{
    let outputRoot = slurm.out.map(global.path) ?? global.cwd
    let engine = try global.engine(cacheOptions, outputRoot: outputRoot, staleLockAfter: slurm.staleLockAfter)
    let cache = engine.store.root
    let specDir = global.specDirectory
    let binary = currentExecutable()
    let sources = try global.sourceMap()
    let plan = try engine.slurmPlan(
        slurm.stages.isEmpty ? nil : slurm.stages, downstream: slurm.downstream,
        policy: try slurm.policy()
    ) { id, resources in
        var c = [
            binary, "run", id.raw, "--profile", global.profile, "--cache-dir", cache.path,
            "--spec-dir", specDir.path, "--out", outputRoot.path, "--stale-lock-after", "\(slurm.staleLockAfter)"
        ]
        for name in sources.keys.sorted() { c += ["--source", "\(name)=\(sources[name]!.path)"] }
        return c
    }
    let logs = slurm.logDir.map(global.path) ?? cache.appendingPathComponent("_slurm").appendingPathComponent("logs")
    let selection = slurm.stages.isEmpty ? "every stage" : slurm.stages.joined(separator: " ")
    let options = SlurmScript.Options(
        logDirectory: logs, workingDirectory: global.cwd, partition: slurm.partition, extraOptions: slurm.sbatchOption,
        comment: [
            "Written by `pipeline export slurm` on \(ISO8601DateFormatter().string(from: Date())) at \(HostFacts.host).",
            "Profile \(global.profile), \(selection); cache \(cache.path) (must be on a filesystem every node shares).",
            "One job per stage that was not fresh at export time (\(plan.fresh.count) fresh stage(s) left out), each",
            "`pipeline run <stage>` of \(binary) waiting (afterok) for its upstream jobs; do not rebuild that binary",
            "while jobs are pending. Follow with `pipeline status --profile \(global.profile) --cache-dir \(cache.path)`."
        ])
    return (try SlurmScript.render(plan.jobs, options: options), plan, cache)
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the stage graph for another executor.",
        subcommands: [ExportSlurm.self])
}

struct ExportSlurm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract:
            "Write a bash script that submits one Slurm job per non-fresh stage, wired with --dependency=afterok.",
        discussion: """
            Each job runs `pipeline run <stage-id>` with this same binary and the same --profile, --cache-dir, \
            --spec-dir, --out and --source. The cache folder must be shared by every node. Stages fresh in the cache \
            at export time are left out, so export again after the cache changes. Job names are stage ids; the script \
            prints "<job id> <stage id>" per job and, if an sbatch fails, cancels the jobs it already submitted. A \
            failed job's dependants are cancelled by Slurm.

            Resources per stage, highest precedence first: --cpus-for/--time-for/--mem-for of its kind, then \
            --cpus/--time/--mem, then the stage's own preferred thread count (CPUs), then the defaults per kind \
            (train, finetune: 2 CPUs, 24:00:00; evaluate: 2 CPUs, 04:00:00; fetch: 02:00:00), then 1 CPU, 01:00:00.

            Example:
              pipeline export slurm --profile paper --cache-dir /shared/cache --partition cpu --cpus-for train=16 \
              --mem-for train=32G --script submit.sh
              bash submit.sh
            """)
    @OptionGroup var global: GraphOptions
    @OptionGroup var cache: CacheOptions
    @OptionGroup var slurm: SlurmOptions
    @Option(help: "Write the script to this file (made executable) instead of standard output.")
    var script: String?

    func run() throws {
        let (text, plan, _) = try slurmScript(global, cache, slurm)
        if let s = script {
            let url = global.path(s)
            try CacheStore.atomicWrite(Data(text.utf8), to: url)
            chmod(url.path, 0o755)
            FileHandle.standardError.write(
                Data(
                    "wrote \(url.path): \(plan.jobs.count) job(s), \(plan.fresh.count) fresh stage(s) left out\n".utf8))
        } else {
            print(text, terminator: "")
        }
    }
}

struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Export the Slurm script (as `export slurm`) and run it: sbatch every non-fresh stage, print job ids.",
        discussion: """
            Same options as `pipeline export slurm`. The script is kept in <cache-dir>/_slurm/. While jobs run, \
            `pipeline status` shows progress from the shared cache. With --wait, polls squeue until every job has \
            ended and fails unless all completed.
            """)
    @OptionGroup var global: GraphOptions
    @OptionGroup var cache: CacheOptions
    @OptionGroup var slurm: SlurmOptions
    @Flag(help: "Wait until every submitted job has ended; exit non-zero unless all completed.")
    var wait = false
    @Option(help: "Seconds between squeue polls with --wait.")
    var poll: Double = 2

    func run() throws {
        let (text, plan, cacheRoot) = try slurmScript(global, cache, slurm)
        if plan.jobs.isEmpty {
            print("nothing to submit: all \(plan.fresh.count) selected stage(s) are fresh")
            return
        }
        let dir = cacheRoot.appendingPathComponent("_slurm")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let url = dir.appendingPathComponent("submit-\(stamp)-\(getpid()).sh")
        try CacheStore.atomicWrite(Data(text.utf8), to: url)
        chmod(url.path, 0o755)
        let result = try command(["bash", url.path], passStderr: true)
        print(result.stdout, terminator: "")
        let jobs = SlurmOutput.submitted(result.stdout)
        guard result.status == 0, jobs.count == plan.jobs.count else {
            throw PipelineError.message(
                "submission script \(url.path) failed (exit \(result.status), \(jobs.count) of \(plan.jobs.count) jobs submitted)"
            )
        }
        print("submitted \(jobs.count) job(s) (\(plan.fresh.count) fresh stage(s) left out); script \(url.path)")
        print("follow: pipeline status --profile \(global.profile) --cache-dir \(cacheRoot.path)")
        if wait { try waitFor(jobs) }
    }

    /// Polls squeue itself: `sbatch --wait` backs off to 32 s polls (see the Slurm notes).
    func waitFor(_ jobs: [(job: String, stage: StageID)]) throws {
        let final: Set<String> = [
            "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE"
        ]
        let neverStarts: Set<String> = [
            "PartitionConfig", "BadConstraints", "PartitionNodeLimit", "PartitionTimeLimit",
            "DependencyNeverSatisfied", "InvalidAccount", "InvalidQOS"
        ]
        var ended: [String: String] = [:]
        let start = Date()
        while ended.count < jobs.count {
            let open = jobs.filter { ended[$0.job] == nil }
            let r = try command([
                "squeue", "-h", "-t", "all", "-o", "%i %T %r", "-j", open.map(\.job).joined(separator: ",")
            ])
            var seen: [String: String] = [:]
            var stuck: [String] = []
            for line in r.stdout.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count >= 2 else { continue }
                seen[String(f[0])] = String(f[1])
                // Pending for a reason that no amount of waiting fixes (e.g. more CPUs than the partition has).
                if f[1] == "PENDING", f.count >= 3, neverStarts.contains(String(f[2])),
                    let j = open.first(where: { $0.job == f[0] })
                {
                    stuck.append("\(j.job) \(j.stage) (\(f[2]))")
                }
            }
            if !stuck.isEmpty {
                print(
                    "\(stuck.count) job(s) can never start: \(stuck.joined(separator: ", ")); "
                        + "they stay queued (scancel them, fix the resources, submit again)")
                throw ExitCode.failure
            }
            for j in open {
                // A job missing from squeue has been purged (MinJobAge): its outcome is unknown.
                let state = seen[j.job].map { $0.split(separator: "+").first.map(String.init) ?? $0 } ?? "PURGED"
                if final.contains(state) || state == "PURGED" {
                    ended[j.job] = state
                    print(
                        String(
                            format: "%@ %@ %@ after %.0f s", j.job, state, j.stage.raw, Date().timeIntervalSince(start))
                    )
                }
            }
            if ended.count < jobs.count { Thread.sleep(forTimeInterval: poll) }
        }
        let bad = jobs.filter { ended[$0.job] != "COMPLETED" }
        if !bad.isEmpty {
            print(
                "\(bad.count) of \(jobs.count) job(s) did not complete: "
                    + bad.map { "\($0.stage) (\(ended[$0.job]!))" }.joined(separator: ", "))
            throw ExitCode.failure
        }
        print(String(format: "all %d job(s) completed in %.0f s", jobs.count, Date().timeIntervalSince(start)))
    }
}

/// Runs a program found on PATH and collects its output; with `passStderr` its standard error is repeated on ours.
func command(_ argv: [String], passStderr: Bool = false) throws -> (status: Int32, stdout: String) {
    let r: Command.Outcome
    do { r = try Command.run(argv) } catch { throw PipelineError.message("\(error)") }
    if passStderr { FileHandle.standardError.write(Data(r.stderr.utf8)) }
    return (r.status, r.stdout)
}
