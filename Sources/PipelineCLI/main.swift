import ArgumentParser
import Experiments
import Foundation
import Pipeline
import Subprocess

/// Every subcommand of `pipeline`; add new ones here (bench, export slurm, submit, …).
let subcommands: [ParsableCommand.Type] = [
    All.self, Run.self, Status.self, Plan.self, Dag.self, Tables.self, Figures.self, Clean.self, BenchCommand.self,
    Export.self, Submit.self,
]

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
        The cache is --cache-dir, else $\(CacheStore.environmentVariable), else ./.cache.
        """
    return text
}

// MARK: - Shared options

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Profile from the specs (see `pipeline --help`).")
    var profile = "default"

    @Option(name: [.short, .customLong("jobs")], help: "Stages to run at once (default: one per core).")
    var jobs = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Cache folder (default: $\(CacheStore.environmentVariable), else ./.cache).")
    var cacheDir: String?

    @Option(name: .customLong("out"), help: "Output root for paper-tables/ and figures/ (default: the working directory).")
    var out: String?

    @Option(help: "Folder holding the declarative specs (default: ./pipeline).")
    var specDir: String?

    @Option(help: "Threads shared among running stages (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("source"), help: "A user-placed dataset file, NAME=FILE (repeatable).")
    var sources: [String] = []

    @Option(help: "Fetch every download's file name from this base URL instead of its upstream host (default: $\(ExperimentOptions.mirrorEnvironmentVariable)); checksums still apply.")
    var mirror: String?

    @Option(help: "Seconds without heartbeat after which another run's lock is considered abandoned.")
    var staleLockAfter: Double = 600

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        _ = try sourceMap()
        do { _ = try ExperimentOptions.resolveMirror(option: mirror) } catch { throw ValidationError("\(error)") }
    }

    var cwd: URL { URL(fileURLWithPath: FileManager.default.currentDirectoryPath) }

    func path(_ p: String) -> URL {
        p.hasPrefix("/") ? URL(fileURLWithPath: p) : cwd.appendingPathComponent(p).standardizedFileURL
    }

    var outputRoot: URL { out.map(path) ?? cwd }

    func sourceMap() throws -> [String: URL] {
        var map: [String: URL] = [:]
        for s in sources {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex, s.index(after: eq) != s.endIndex else {
                throw ValidationError("--source expects NAME=FILE, got '\(s)'")
            }
            map[String(s[..<eq])] = path(String(s[s.index(after: eq)...]))
        }
        return map
    }

    /// Builds the profile's graph and validates it; nothing is written.
    func engine() throws -> Engine {
        let options = ExperimentOptions(profile: profile, specDirectory: path(specDir ?? "pipeline"),
                                        outputRoot: outputRoot, sources: try sourceMap(),
                                        mirror: try ExperimentOptions.resolveMirror(option: mirror))
        let stages = try Paper.graph(options)
        let store = CacheStore(root: CacheStore.resolveRoot(option: cacheDir), staleLockAfter: staleLockAfter)
        return try Engine(stages: stages, store: store)
    }

    func runOptions(force: Bool = false, downstream: Bool = false) -> RunOptions {
        RunOptions(jobs: jobs, threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, force: force,
                   downstream: downstream, outputRoot: outputRoot)
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
        print(String(format: "%3d. ", n + 1) + i.id.raw.padding(toLength: width, withPad: " ", startingAt: 0)
              + "  \(eta.padding(toLength: 8, withPad: " ", startingAt: 0))  \(mark)\(i.reason)")
    }
}

// MARK: - Subcommands

struct All: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every stage of the profile; fresh stages are reused from the cache.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Rerun every stage even when fresh.") var force = false
    @Flag(help: "Show what would run, and why, without running.") var dryRun = false

    func run() throws {
        let engine = try global.engine()
        if dryRun { return printPlan(try engine.plan(nil, force: force), jobs: global.jobs) }
        try execute(engine, nil, global.runOptions(force: force))
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the given stages (ids or globs such as 'train/*/cprec-*') and whatever upstream is not fresh.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Stage ids, globs, or kinds.") var stages: [String]
    @Flag(help: "Rerun the selected stages even when fresh.") var force = false
    @Flag(help: "Also select every stage that depends on the selection.") var downstream = false
    @Flag(help: "Show what would run, and why, without running.") var dryRun = false

    func validate() throws {
        if stages.isEmpty { throw ValidationError("name at least one stage id or glob (see `pipeline dag`)") }
    }

    func run() throws {
        let engine = try global.engine()
        if dryRun {
            return printPlan(try engine.plan(stages, force: force, downstream: downstream), jobs: global.jobs)
        }
        try execute(engine, stages, global.runOptions(force: force, downstream: downstream))
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each stage as fresh, stale (with what changed) or missing.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Print nothing; exit 0 when every stage is fresh, 1 otherwise.")
    var quiet = false

    func run() throws {
        let statuses = try global.engine().status()
        let notFresh = statuses.filter { $0.state != .fresh }.count
        if quiet {
            if notFresh > 0 { throw ExitCode.failure }
            return
        }
        let width = statuses.map(\.id.raw.count).max() ?? 0
        for s in statuses {
            let state: String
            switch s.state {
            case .fresh: state = "fresh  "
            case .stale: state = "stale  "
            case .missing: state = "missing"
            }
            var why = s.reasons
            if !s.waitingFor.isEmpty { why.append("input \(s.waitingFor.map(\.raw).joined(separator: ", ")) not fresh") }
            let line = "\(state)  \(s.id.raw.padding(toLength: width, withPad: " ", startingAt: 0))  \(why.joined(separator: "; "))"
            print(line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression))
        }
        let fresh = statuses.count - notFresh
        let stale = statuses.filter { $0.state == .stale }.count
        print("\(statuses.count) stages: \(fresh) fresh, \(stale) stale, \(notFresh - stale) missing")
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what `all` (or `run` with these stages) would execute, in order, with reasons and time estimates.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Stage ids or globs (default: every stage).") var stages: [String] = []
    @Flag(help: "As with `run --force`.") var force = false
    @Flag(help: "As with `run --downstream`.") var downstream = false

    func run() throws {
        let items = try global.engine().plan(stages.isEmpty ? nil : stages, force: force, downstream: downstream)
        printPlan(items, jobs: global.jobs)
    }
}

struct Dag: ParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, dot, mermaid }
    static let configuration = CommandConfiguration(abstract: "Print the stage graph.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Output format.") var format: Format = .text

    func run() throws {
        print(try global.engine().dag(format: format.rawValue), terminator: "")
    }
}

/// Runs only stages of some kinds, from cached upstream results.
func runKinds(_ kinds: Set<String>, _ global: GlobalOptions, force: Bool) throws {
    let engine = try global.engine()
    let selected = try engine.requireFreshUpstream(ofKinds: kinds)
    try execute(engine, selected.map(\.raw).sorted(), global.runOptions(force: force))
}

struct Tables: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate paper-tables/ and the report from cached results only (kinds table and report).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Rerun them even when fresh.") var force = false
    func run() throws { try runKinds(["table", "report"], global, force: force) }
}

struct Figures: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Regenerate figures/ from cached results only (kind figure).")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Rerun them even when fresh.") var force = false
    func run() throws { try runKinds(["figure"], global, force: force) }
}

struct Clean: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune the cache (never touches files outside it).",
        discussion: "Without --keep-results every entry, work area and log goes; with it, the entries the current graph uses stay.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Keep the entries the current profile's graph uses.") var keepResults = false

    func run() throws {
        let r = try global.engine().clean(keepResults: keepResults)
        print("removed \(r.removedEntries) entries (\(ByteCountFormatter.string(fromByteCount: r.removedBytes, countStyle: .file))), kept \(r.keptEntries)")
    }
}

// curl, unzip and gnuplot must not outlive a run stopped by SIGINT or SIGTERM.
Children.forwardTerminationSignals()

// ArgumentParser would print a Foundation error as `Error Domain=NSCocoaErrorDomain Code=512 "(null)"`: every
// such error is turned into a sentence naming the path and the cause first.
do {
    var command = try PipelineCommand.parseAsRoot()
    try command.run()
    Children.exitIfSignalled()
} catch {
    Children.exitIfSignalled()
    let ns = error as NSError
    if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
        PipelineCommand.exit(withError: PipelineError.message(describeError(error)))
    }
    PipelineCommand.exit(withError: error)
}
