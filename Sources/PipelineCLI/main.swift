import ArgumentParser
import Experiments
import Foundation
import Kernels
import Pipeline
import Subprocess

/// Every subcommand of `pipeline`; add new ones here (bench, export slurm, submit, …).
let subcommands: [ParsableCommand.Type] = [
    All.self, Run.self, Status.self, Plan.self, Show.self, Dag.self, Tables.self, Figures.self, Clean.self,
    BenchCommand.self, Export.self, Submit.self
]

/// The environment variable naming the cache folder when `--cache-dir` is not given.
let cacheEnvironmentVariable = "CPREC_CACHE_DIR"

/// What to run when results are asked for before the stages they read.
let runEverythingFirst = "run `pipeline all` first"

/// The `pipeline` command: every table and figure of the CpRec paper as one cached stage graph.
struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Reproduce the CpRec paper (SIGIR 2020): cached stages from raw data to tables and figures.",
        // Building the graph for the help text costs time, so only when help is what was asked for.
        discussion: CommandLine.arguments.dropFirst().contains { ["-h", "--help", "help"].contains($0) }
            ? helpDiscussion() : "",
        subcommands: subcommands)
}

/// Profiles and stage kinds read from the specs under the working directory (help must never fail).
func helpDiscussion() -> String {
    let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    let specs = cwd.appendingPathComponent("pipeline")
    var text = "PROFILES (--profile, from \(specs.path)):\n"
    let profiles = (try? Paper.profiles(specDirectory: specs)) ?? []
    if profiles.isEmpty { text += "  (none found)\n" }
    let width = profiles.map(\.name.count).max() ?? 0
    for p in profiles { text += "  \(p.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(p.summary)\n" }
    text += "\nSTAGE KINDS (the part of a stage id before the first '/'; ids and globs select stages):\n"
    let stages = (try? Paper.graph(ExperimentOptions(profile: "default", specDirectory: specs, outputRoot: cwd))) ?? []
    var counts: [String: Int] = [:]
    for s in stages { counts[s.kind, default: 0] += 1 }
    if counts.isEmpty { text += "  (the default profile has no stages yet)\n" }
    for k in counts.keys.sorted() { text += "  \(k) (\(counts[k]!) in the default profile)\n" }
    text += """

        EXAMPLES:
          pipeline all -j 2                  every stage, two at a time
          pipeline run 'train/*' --force     rerun matching stages
          pipeline status                    fresh, stale (and why), missing
        The cache is --cache-dir, else $\(cacheEnvironmentVariable), else ./.cache.
        """
    return text
}

// MARK: - Shared options

/// A profile or spec that cannot be read or built into a stage graph: exit status 2 (a stage failure is 1).
struct UnbuildableGraph: Error, CustomStringConvertible {
    let description: String
}

/// Which stage graph: every command that reads the specs takes these.
struct GraphOptions: ParsableArguments {
    @Option(help: "Profile from the specs (see `pipeline --help`).")
    var profile = "default"

    @Option(help: "Folder holding the declarative specs (default: ./pipeline).")
    var specDir: String?

    @Option(name: .customLong("source"), help: "A user-placed dataset file, NAME=FILE (repeatable).")
    var sources: [String] = []

    @Option(
        help:
            "Fetch every download's file name from this base URL instead of its upstream host (default: $\(ExperimentOptions.mirrorEnvironmentVariable)); checksums still apply."
    )
    var mirror: String?

    func validate() throws {
        _ = try sourceMap()
        do { _ = try ExperimentOptions.resolveMirror(option: mirror) } catch { throw ValidationError("\(error)") }
    }

    var cwd: URL { URL(fileURLWithPath: FileManager.default.currentDirectoryPath) }

    func path(_ p: String) -> URL {
        p.hasPrefix("/") ? URL(fileURLWithPath: p) : cwd.appendingPathComponent(p).standardizedFileURL
    }

    var specDirectory: URL { path(specDir ?? "pipeline") }

    func sourceMap() throws -> [String: URL] {
        do {
            return try parseAssignments(sources, flag: "--source", example: "NAME=FILE").mapValues(path)
        } catch { throw ValidationError("\(error)") }
    }

    /// Builds the profile's graph and validates it; nothing is written. A spec that cannot be read, or a graph
    /// that cannot be built from it, is an `UnbuildableGraph`.
    /// `cache` nil: a command that never touches the cache (the default folder is named, not read).
    func engine(_ cache: CacheOptions?, outputRoot: URL? = nil, staleLockAfter: Double = 600) throws -> Engine {
        let root = cache?.root ?? CacheStore.resolveRoot(option: nil, environmentVariable: cacheEnvironmentVariable)
        let store = CacheStore(root: root, staleLockAfter: staleLockAfter)
        do {
            let options = ExperimentOptions(
                profile: profile, specDirectory: specDirectory,
                outputRoot: outputRoot ?? cwd, sources: try sourceMap(),
                mirror: try ExperimentOptions.resolveMirror(option: mirror))
            return try Engine(stages: try Paper.graph(options), store: store)
        } catch {
            throw UnbuildableGraph(description: describeError(error))
        }
    }
}

/// Where results are cached: the commands that read or write the cache take this.
struct CacheOptions: ParsableArguments {
    @Option(help: "Cache folder (default: $\(cacheEnvironmentVariable), else ./.cache).")
    var cacheDir: String?

    var root: URL { CacheStore.resolveRoot(option: cacheDir, environmentVariable: cacheEnvironmentVariable) }
}

/// How stages run and where results are published: the commands that run stages take these.
struct ExecutionOptions: ParsableArguments {
    @Option(name: [.short, .customLong("jobs")], help: "Stages to run at once (default: one per core).")
    var jobs = ProcessInfo.processInfo.activeProcessorCount

    @Option(
        name: .customLong("out"), help: "Output root for paper-tables/ and figures/ (default: the working directory).")
    var out: String?

    @Option(help: "Seconds without heartbeat after which another run's lock is considered abandoned.")
    var staleLockAfter: Double = 600

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func outputRoot(_ graph: GraphOptions) -> URL { out.map(graph.path) ?? graph.cwd }

    func engine(_ graph: GraphOptions, _ cache: CacheOptions) throws -> Engine {
        try graph.engine(cache, outputRoot: outputRoot(graph), staleLockAfter: staleLockAfter)
    }

    /// A stage's engine threads are part of its key (the profile's `training.threads`), so the runner's share
    /// only reaches stages that do no numeric work.
    func runOptions(_ graph: GraphOptions, force: Bool = false, downstream: Bool = false) -> RunOptions {
        RunOptions(jobs: jobs, force: force, downstream: downstream, outputRoot: outputRoot(graph))
    }
}

/// Runs, prints the summary, and turns failures into a non-zero exit status.
func execute(_ engine: Engine, _ patterns: [String]?, _ options: RunOptions) throws {
    let summary = try engine.run(patterns, options: options, console: .standardError())
    print(summary.line)
    if !summary.warnings.isEmpty { print("\(summary.warnings.count) warning(s); see above") }
    if !summary.succeeded {
        for (id, outcome) in summary.outcomes {
            if case .failed(let message, let log) = outcome {
                print("failed: \(id): \(message)" + (log.map { " (log: \($0.path))" } ?? ""))
            }
        }
        throw ExitCode.failure
    }
}

/// Prints a plan in run order.
func printPlan(_ items: [PlanItem], jobs: Int) {
    if items.isEmpty {
        print("nothing to do: every selected stage is fresh")
        return
    }
    let known = items.compactMap(\.estimatedSeconds)
    let certain = items.filter(\.certain).count
    var head = "would run \(certain) stage(s)"
    if certain < items.count { head += ", and \(items.count - certain) more if their inputs change" }
    if !known.isEmpty {
        head += "; about \(formatDuration(known.reduce(0, +) / Double(jobs))) with -j \(jobs) from earlier runs"
        if known.count < items.count { head += " (\(items.count - known.count) never timed)" }
    }
    print(head + ":")
    let width = items.map(\.id.raw.count).max() ?? 0
    for (n, i) in items.enumerated() {
        let eta = i.estimatedSeconds.map { "~" + formatDuration($0) } ?? "?"
        let mark = i.certain ? "" : "maybe: "
        print(
            String(format: "%3d. ", n + 1) + i.id.raw.padding(toLength: width, withPad: " ", startingAt: 0)
                + "  \(eta.padding(toLength: 8, withPad: " ", startingAt: 0))  \(mark)\(i.reason)")
    }
}

// MARK: - Subcommands

struct All: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every stage of the profile; fresh stages are reused from the cache.")
    @OptionGroup var graph: GraphOptions
    @OptionGroup var cache: CacheOptions
    @OptionGroup var execution: ExecutionOptions
    @Flag(help: "Rerun every stage even when fresh.") var force = false
    @Flag(help: "Show what would run, and why, without running.") var dryRun = false

    func run() throws {
        let engine = try execution.engine(graph, cache)
        if dryRun { return printPlan(try engine.plan(nil, force: force), jobs: execution.jobs) }
        try execute(engine, nil, execution.runOptions(graph, force: force))
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the given stages (ids or globs such as 'train/*/cprec-*') and whatever upstream is not fresh.")
    @OptionGroup var graph: GraphOptions
    @OptionGroup var cache: CacheOptions
    @OptionGroup var execution: ExecutionOptions
    @Argument(help: "Stage ids, globs, or kinds.") var stages: [String]
    @Flag(help: "Rerun the selected stages even when fresh.") var force = false
    @Flag(help: "Also select every stage that depends on the selection.") var downstream = false
    @Flag(help: "Show what would run, and why, without running.") var dryRun = false

    func validate() throws {
        if stages.isEmpty { throw ValidationError("name at least one stage id or glob (see `pipeline dag`)") }
    }

    func run() throws {
        let engine = try execution.engine(graph, cache)
        if dryRun {
            return printPlan(try engine.plan(stages, force: force, downstream: downstream), jobs: execution.jobs)
        }
        try execute(engine, stages, execution.runOptions(graph, force: force, downstream: downstream))
    }
}

/// Prints `value` as sorted, pretty JSON on stdout.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each stage as fresh, stale (with what changed) or missing.")
    @OptionGroup var graph: GraphOptions
    @OptionGroup var cache: CacheOptions
    @Flag(name: [.short, .long], help: "Print nothing; exit 0 when every stage is fresh, 1 otherwise.")
    var quiet = false
    @Flag(help: "Print the stages as JSON: id, state, reasons, waitingFor, key, outputHash, lastSeconds.")
    var json = false

    /// One stage in `status --json`.
    struct Entry: Encodable {
        var id: String, state: String, reasons: [String], waitingFor: [String]
        var key: String?, outputHash: String?, lastSeconds: Double?
    }

    func run() throws {
        let statuses = try graph.engine(cache).status()
        let notFresh = statuses.filter { $0.state != .fresh }.count
        if quiet {
            if notFresh > 0 { throw ExitCode.failure }
            return
        }
        if json {
            return try printJSON(
                statuses.map {
                    Entry(
                        id: $0.id.raw, state: "\($0.state)", reasons: $0.reasons, waitingFor: $0.waitingFor.map(\.raw),
                        key: $0.key, outputHash: $0.outputHash, lastSeconds: $0.lastSeconds)
                })
        }
        let width = statuses.map(\.id.raw.count).max() ?? 0
        for s in statuses {
            var why = s.reasons
            if !s.waitingFor.isEmpty {
                why.append("input \(s.waitingFor.map(\.raw).joined(separator: ", ")) not fresh")
            }
            let state = "\(s.state)".padding(toLength: 7, withPad: " ", startingAt: 0)
            let line =
                "\(state)  \(s.id.raw.padding(toLength: width, withPad: " ", startingAt: 0))  \(why.joined(separator: "; "))"
            print(line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
        }
        let fresh = statuses.count - notFresh
        let stale = statuses.filter { $0.state == .stale }.count
        print("\(statuses.count) stages: \(fresh) fresh, \(stale) stale, \(notFresh - stale) missing")
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Show what `all` (or `run` with these stages) would execute, in order, with reasons and time estimates.")
    @OptionGroup var graph: GraphOptions
    @OptionGroup var cache: CacheOptions
    @Argument(help: "Stage ids or globs (default: every stage).") var stages: [String] = []
    @Option(name: [.short, .customLong("jobs")], help: "Stages at once, for the time estimate (default: one per core).")
    var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "As with `run --force`.") var force = false
    @Flag(help: "As with `run --downstream`.") var downstream = false
    @Flag(help: "Print the plan as JSON: id, reason, certain, estimatedSeconds, in run order.") var json = false

    /// One stage in `plan --json`.
    struct Entry: Encodable {
        var id: String, reason: String, certain: Bool, estimatedSeconds: Double?
    }

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let items = try graph.engine(cache).plan(stages.isEmpty ? nil : stages, force: force, downstream: downstream)
        if json {
            return try printJSON(
                items.map {
                    Entry(id: $0.id.raw, reason: $0.reason, certain: $0.certain, estimatedSeconds: $0.estimatedSeconds)
                })
        }
        printPlan(items, jobs: jobs)
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one stage: its state, key, cache entry, log, measurements, outputs and inputs.")
    @OptionGroup var graph: GraphOptions
    @OptionGroup var cache: CacheOptions
    @Argument(help: "A stage id (see `pipeline dag`).") var stage: String

    func run() throws {
        let engine = try graph.engine(cache)
        let id = StageID(stage)
        guard let s = engine.graph.stage(id) else {
            let near = StageGraph.closeMatches(stage, among: engine.graph.ids.map(\.raw))
            throw PipelineError.message(
                "no stage \(stage)" + (near.isEmpty ? "" : "; did you mean \(near.joined(separator: ", "))?"))
        }
        let status = engine.status().first { $0.id == id }!
        let store = engine.store
        print("stage     \(id)")
        print("state     \(status.summary)")
        // Without a current key (inputs not fresh) the last run's entry is the one worth showing.
        let last = store.readIndex(id)
        let key = status.key ?? last?.key
        print(
            "key       \(status.key ?? "unknown until inputs are fresh")"
                + (status.key == nil && key != nil ? " (last run: \(key!))" : ""))
        if let key {
            let entry = store.entry(kind: id.kind, key: key)
            print("entry     \(entry.path)")
            if case .valid(let m) = store.check(kind: id.kind, key: key) {
                print("log       \(entry.appendingPathComponent("log.txt").path)")
                print(String(format: "ran       %@ on %@, %.1f s, %d thread(s)", m.end, m.host, m.seconds, m.threads))
                for (name, value) in (m.measurements ?? [:]).sorted(by: { $0.key < $1.key }) {
                    print("measured  \(name) = \(value)")
                }
                for o in m.outputs {
                    print(
                        "output    \(store.outputs(kind: id.kind, key: key).appendingPathComponent(o.name).path) (\(o.bytes) bytes, sha256 \(o.sha256.prefix(12)))"
                    )
                }
            }
        }
        let failed = store.failedLog(id)
        if FileManager.default.fileExists(atPath: failed.path) { print("failed    \(failed.path)") }
        for input in s.inputs.sorted() {
            let state = engine.status().first { $0.id == input }?.state
            print("input     \(input) (\(state.map { "\($0)" } ?? "unknown"))")
        }
        for (name, target) in s.publishes.sorted(by: { $0.key < $1.key }) { print("publishes \(name) -> \(target)") }
    }
}

struct Dag: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, dot, mermaid }
    static let configuration = CommandConfiguration(abstract: "Print the stage graph.")
    @OptionGroup var graph: GraphOptions
    @Option(help: "Output format.") var format: Format = .text

    func run() throws {
        print(try graph.engine(nil).dag(format: format.rawValue), terminator: "")
    }
}

/// Options of `tables` and `figures`, which run only stages of some kinds from cached upstream results.
struct KindsCommandOptions: ParsableArguments {
    @OptionGroup var graph: GraphOptions
    @OptionGroup var cache: CacheOptions
    @OptionGroup var execution: ExecutionOptions
    @Flag(help: "Rerun them even when fresh.") var force = false

    func run(_ kinds: Set<String>) throws {
        let engine = try execution.engine(graph, cache)
        let selected = try engine.requireFreshUpstream(ofKinds: kinds, remedy: runEverythingFirst)
        try execute(engine, selected.map(\.raw).sorted(), execution.runOptions(graph, force: force))
    }
}

struct Tables: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate paper-tables/ and the report from cached results only (kinds table and report).")
    @OptionGroup var options: KindsCommandOptions
    func run() throws { try options.run(["table", "report"]) }
}

struct Figures: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate figures/ from cached results only (kind figure).")
    @OptionGroup var options: KindsCommandOptions
    func run() throws { try options.run(["figure"]) }
}

struct Clean: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune the cache (never touches files outside it).",
        discussion:
            "Without --keep-results every entry, work area and log goes; with it, the entries the current graph uses stay."
    )
    @OptionGroup var graph: GraphOptions
    @OptionGroup var cache: CacheOptions
    @Flag(help: "Keep the entries the current profile's graph uses.") var keepResults = false

    func run() throws {
        let r = try graph.engine(cache).clean(keepResults: keepResults)
        print(
            "removed \(r.removedEntries) entries (\(ByteCountFormatter.string(fromByteCount: r.removedBytes, countStyle: .file))), kept \(r.keptEntries)"
        )
    }
}

// curl, unzip and gnuplot must not outlive a run stopped by SIGINT or SIGTERM.
Children.forwardTerminationSignals()

// ArgumentParser would print a Foundation error as `Error Domain=NSCocoaErrorDomain Code=512 "(null)"`: every
// such error is turned into a sentence naming the path and the cause first. Exit status: 2 for a spec that cannot
// be read or built into a graph, 1 for a stage failure or any other error, 64 for a usage error.
/// OpenBLAS picks its kernel when the library loads, before any Swift code runs, so choosing another one means
/// restarting the process once with OPENBLAS_CORETYPE named. Two cases: `CPREC_NUMERICS=avx2` (Haswell, the capped
/// numerics path; the row kernels read the same variable), and OpenBLAS falling back to a generic SSE kernel on a
/// CPU it does not recognise (the kernel matching the CPU's instruction set; a variable the user set is never touched).
func restartWithTheRightBLASKernel() {
    let env = ProcessInfo.processInfo.environment
    let kernel: String
    if env["CPREC_NUMERICS"] == "avx2" {
        guard env["OPENBLAS_CORETYPE"] != "Haswell" else { return }
        kernel = "Haswell"
    } else {
        guard
            let k = BLAS.matchingKernel(
                loaded: BLAS.coreName, isaLevel: Kernels.isaLevel,
                coretypeVariable: env["OPENBLAS_CORETYPE"])
        else { return }
        FileHandle.standardError.write(
            Data(
                ("note: OpenBLAS fell back to its generic \(BLAS.coreName) kernel on this CPU; "
                    + "restarting with OPENBLAS_CORETYPE=\(k) (the CPU supports it). Set OPENBLAS_CORETYPE to choose.\n")
                    .utf8))
        kernel = k
    }
    setenv("OPENBLAS_CORETYPE", kernel, 1)
    let args = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", args)
    FileHandle.standardError.write(
        Data("Error: could not restart with OPENBLAS_CORETYPE=\(kernel) (errno \(errno))\n".utf8))
    exit(1)
}
restartWithTheRightBLASKernel()

do {
    var command = try PipelineCommand.parseAsRoot()
    try command.run()
    Children.exitIfSignalled()
} catch let error as UnbuildableGraph {
    Children.exitIfSignalled()
    FileHandle.standardError.write(Data("Error: spec: \(error)\n".utf8))
    PipelineCommand.exit(withError: ExitCode(2))
} catch {
    Children.exitIfSignalled()
    let ns = error as NSError
    if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
        PipelineCommand.exit(withError: PipelineError.message(describeError(error)))
    }
    PipelineCommand.exit(withError: error)
}
