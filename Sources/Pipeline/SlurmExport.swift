import Foundation

/// What one Slurm job asks for.
public struct SlurmResources: Equatable, Sendable {
    public var cpus: Int
    /// A Slurm time limit such as "01:00:00" or "2-00:00:00".
    public var time: String
    /// A Slurm memory request such as "8G"; nil leaves the partition's default.
    public var memory: String?

    public init(cpus: Int, time: String, memory: String? = nil) {
        self.cpus = cpus
        self.time = time
        self.memory = memory
    }
}

/// How each stage's resources are chosen, by stage kind.
///
/// Precedence, highest first: the per-kind flags (`cpusByKind`, …), the all-stage flags (`cpus`, …), the stage's
/// own `preferredThreads` (CPUs only), the client's per-kind defaults, then 1 CPU and one hour.
public struct SlurmResourcePolicy: Sendable {
    /// CPUs for every stage (`--cpus`), above the built-in table.
    public var cpus: Int?
    /// Time limit for every stage (`--time`).
    public var time: String?
    /// Memory for every stage (`--mem`).
    public var memory: String?
    /// Per-kind overrides (`--cpus-for train=8`, `--time-for train=2-00:00:00`, `--mem-for train=16G`).
    public var cpusByKind: [String: Int] = [:]
    public var timeByKind: [String: String] = [:]
    public var memoryByKind: [String: String] = [:]

    /// The client's defaults per kind, below the flags and the stage's own thread count (e.g. training gets more
    /// CPUs and time than tables).
    public var defaultCPUsByKind: [String: Int] = [:]
    public var defaultTimeByKind: [String: String] = [:]
    public static let fallback = SlurmResources(cpus: 1, time: "01:00:00")

    public init(cpus: Int? = nil, time: String? = nil, memory: String? = nil) {
        self.cpus = cpus
        self.time = time
        self.memory = memory
    }

    /// The resources of one stage.
    public func resources(for stage: any Stage) -> SlurmResources {
        let kind = stage.kind
        let c = cpusByKind[kind] ?? cpus ?? stage.preferredThreads ?? defaultCPUsByKind[kind] ?? Self.fallback.cpus
        let t = timeByKind[kind] ?? time ?? defaultTimeByKind[kind] ?? Self.fallback.time
        return SlurmResources(cpus: max(1, c), time: t, memory: memoryByKind[kind] ?? memory)
    }

}

/// One stage to submit: its job waits (`afterok`) for the jobs of `after`.
public struct SlurmJob: Equatable, Sendable {
    public var id: StageID
    /// Upstream stages that are submitted too (fresh inputs are already in the cache and need no job).
    public var after: [StageID]
    public var resources: SlurmResources
    /// The job's program and arguments (run with `exec`, so its exit status is the job's).
    public var command: [String]
}

/// The jobs of one export: non-fresh stages in topological order, and the fresh ones left out.
public struct SlurmPlan: Sendable {
    public var jobs: [SlurmJob]
    public var fresh: [StageID]
}

extension Engine {
    /// The Slurm jobs that bring the selected stages (every stage when nil) and their upstream up to date.
    ///
    /// Stages fresh in the cache now are left out; every other needed stage gets one job depending on the jobs of
    /// its non-fresh inputs, so the jobs' `afterok` graph is the DAG restricted to what must run.
    public func slurmPlan(
        _ patterns: [String]?, downstream: Bool = false, policy: SlurmResourcePolicy,
        command: (StageID, SlurmResources) -> [String]
    ) throws -> SlurmPlan {
        let targets = try self.targets(patterns, downstream: downstream)
        let needed = targets.union(graph.upstream(of: targets))
        var state: [StageID: StageStatus.State] = [:]
        for s in status() where needed.contains(s.id) { state[s.id] = s.state }
        var jobs: [SlurmJob] = []
        var fresh: [StageID] = []
        for id in graph.sorted(needed) {
            if state[id] == .fresh {
                fresh.append(id)
                continue
            }
            let s = graph.stage(id)!
            let after = Array(Set(s.inputs.filter { state[$0] != .fresh })).sorted {
                graph.position($0)! < graph.position($1)!
            }
            let r = policy.resources(for: s)
            jobs.append(SlurmJob(id: id, after: after, resources: r, command: command(id, r)))
        }
        return SlurmPlan(jobs: jobs, fresh: fresh)
    }
}

/// Writes the bash script that submits a `SlurmPlan` with `sbatch`.
public enum SlurmScript {
    /// Settings shared by every job of the script.
    public struct Options: Sendable {
        /// Where each job's stdout and stderr go (`<stage>.<job id>.out`).
        public var logDirectory: URL
        /// The jobs' working directory (`--chdir`).
        public var workingDirectory: URL
        public var partition: String?
        /// Further `sbatch` options given verbatim to every job, e.g. `--account=abc`.
        public var extraOptions: [String]
        /// Comment lines for the header (what was exported, from where).
        public var comment: [String]

        public init(
            logDirectory: URL, workingDirectory: URL, partition: String? = nil, extraOptions: [String] = [],
            comment: [String] = []
        ) {
            self.logDirectory = logDirectory
            self.workingDirectory = workingDirectory
            self.partition = partition
            self.extraOptions = extraOptions
            self.comment = comment
        }
    }

    /// A bash script submitting one job per entry of `jobs` (in order), each waiting for its `after` jobs.
    ///
    /// It prints `<job id> <stage id>` per job. If an `sbatch` fails it cancels the jobs it already submitted, so a
    /// half-submitted DAG never runs. Jobs whose upstream job fails are cancelled by Slurm
    /// (`--kill-on-invalid-dep=yes`) instead of staying pending forever.
    ///
    /// Throws when any value written into the script holds a control character: a newline in a stage id, a path or
    /// a CLI value would otherwise end a comment, a quoted word or the job's heredoc and run the rest as commands on
    /// the submitting host.
    public static func render(_ jobs: [SlurmJob], options: Options) throws -> String {
        try checkNoControlCharacters(options: options, jobs: jobs)
        var variable: [StageID: String] = [:]
        for (n, j) in jobs.enumerated() { variable[j.id] = "j\(n + 1)" }
        var lines = ["#!/usr/bin/env bash"]
        lines += options.comment.map { "# " + $0 }
        lines += [
            "# \(jobs.count) job(s); prints \"<job id> <stage id>\" per job.",
            "set -euo pipefail",
            "mkdir -p \(quote(options.logDirectory.path))",
            "submitted=()",
            "# submit STAGE SBATCH-OPTIONS... < job-script; sets REPLY to the job id.",
            "submit() {",
            "  local stage=$1 id",
            "  shift",
            "  if ! id=$(sbatch --parsable \"$@\"); then",
            "    echo \"sbatch failed for $stage: cancelling the ${#submitted[@]} job(s) already submitted\" >&2",
            "    if [ ${#submitted[@]} -gt 0 ]; then scancel \"${submitted[@]}\" || true; fi",
            "    exit 1",
            "  fi",
            "  id=${id%%;*}",
            "  submitted+=(\"$id\")",
            "  echo \"$id $stage\"",
            "  REPLY=$id",
            "}",
            ""
        ]
        for j in jobs {
            var opts = [
                "--job-name=" + quote(j.id.raw),
                "--cpus-per-task=\(j.resources.cpus)",
                "--time=" + quote(j.resources.time)
            ]
            if let m = j.resources.memory { opts.append("--mem=" + quote(m)) }
            if let p = options.partition { opts.append("--partition=" + quote(p)) }
            opts.append("--chdir=" + quote(options.workingDirectory.path))
            opts.append("--output=" + quote(options.logDirectory.appendingPathComponent(logName(j.id)).path))
            if !j.after.isEmpty {
                opts.append("--dependency=afterok:" + j.after.map { "$" + variable[$0]! }.joined(separator: ":"))
                opts.append("--kill-on-invalid-dep=yes")
            }
            for o in options.extraOptions {
                // `--name='value'` rather than `'--name=value'`: the same word to bash, easier to read.
                if o.hasPrefix("--"), let eq = o.firstIndex(of: "="), o[..<eq].allSatisfy({ $0.isLetter || $0 == "-" })
                {
                    opts.append(String(o[...eq]) + quote(String(o[o.index(after: eq)...])))
                } else {
                    opts.append(quote(o))
                }
            }
            let body = ["#!/bin/bash", "exec " + j.command.map(quote).joined(separator: " ")]
            let end = terminator(for: body)
            lines.append("submit \(quote(j.id.raw)) \(opts.joined(separator: " ")) <<'\(end)'")
            lines += body
            lines.append(end)
            lines.append("\(variable[j.id]!)=$REPLY")
        }
        if jobs.isEmpty { lines.append("echo 'nothing to submit: every selected stage is fresh' >&2") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The heredoc terminator of one job: `JOB`, or `JOB_<n>` for the first n whose word is no line of the body, so
    /// no body can end its heredoc early (control characters are rejected anyway; this does not rely on it).
    public static func terminator(for body: [String]) -> String {
        var word = "JOB"
        var n = 0
        while body.contains(where: { $0.trimmingCharacters(in: .whitespaces) == word }) {
            n += 1
            word = "JOB_\(n)"
        }
        return word
    }

    /// Rejects control characters (newline, CR, NUL, escape, …) in every value the script interpolates.
    static func checkNoControlCharacters(options: Options, jobs: [SlurmJob]) throws {
        func check(_ value: String, _ what: String) throws {
            if let c = value.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
                let code = String(format: "U+%04X", c.value)
                throw PipelineError.message(
                    "\(what) contains a control character (\(code)), which cannot be written safely into a Slurm script: \(value.debugDescription)"
                )
            }
        }
        try check(options.logDirectory.path, "the log folder")
        try check(options.workingDirectory.path, "the working folder")
        if let p = options.partition { try check(p, "--partition") }
        for o in options.extraOptions { try check(o, "--sbatch-option") }
        for c in options.comment { try check(c, "a comment line") }
        for j in jobs {
            try check(j.id.raw, "stage id")
            try check(j.resources.time, "the time limit of \(j.id.raw.debugDescription)")
            if let m = j.resources.memory { try check(m, "the memory of \(j.id.raw.debugDescription)") }
            for w in j.command { try check(w, "the command of \(j.id.raw.debugDescription)") }
        }
    }

    /// `<stage id with unsafe characters as _>.%j.out`; '%' is Slurm's pattern character, so none may remain.
    public static func logName(_ id: StageID) -> String {
        let safe = String(
            id.raw.map { c -> Character in
                c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "." || c == "_") ? c : "_"
            })
        return "\(safe).%j.out"
    }

    /// Single-quotes a word for bash unless it is plainly safe.
    public static func quote(_ s: String) -> String {
        let plain =
            !s.isEmpty
            && s.allSatisfy { c in
                c.isASCII && (c.isLetter || c.isNumber || "-_./=:,+@%".contains(c))
            }
        return plain ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Reading what `sbatch`, `squeue` and `scontrol` print.
public enum SlurmOutput {
    /// The `<job id> <stage id>` lines a submission script printed, in order.
    public static func submitted(_ text: String) -> [(job: String, stage: StageID)] {
        text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].allSatisfy(\.isNumber) else { return nil }
            return (String(parts[0]), StageID(String(parts[1])))
        }
    }

    /// `JobState` and `ExitCode` from one line of `scontrol show job -o`, e.g. ("COMPLETED", "0:0").
    public static func jobState(_ line: String) -> (state: String, exitCode: String)? {
        func field(_ name: String) -> String? {
            for word in line.split(separator: " ") where word.hasPrefix(name + "=") {
                return String(word.dropFirst(name.count + 1))
            }
            return nil
        }
        guard let s = field("JobState") else { return nil }
        return (s, field("ExitCode") ?? "?")
    }
}

/// Parses repeated `NAME=VALUE` options (`--source`, `--cpus-for`, …): neither side may be empty; a later
/// assignment to a name replaces an earlier one. `example` shows the expected form in the error.
public func parseAssignments(
    _ values: [String], flag: String, example: String = "NAME=VALUE"
) throws -> [String: String] {
    var out: [String: String] = [:]
    for v in values {
        guard let eq = v.firstIndex(of: "="), eq != v.startIndex, v.index(after: eq) != v.endIndex else {
            throw PipelineError.message("\(flag) expects \(example), got '\(v)'")
        }
        out[String(v[..<eq])] = String(v[v.index(after: eq)...])
    }
    return out
}
