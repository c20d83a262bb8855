import Foundation

extension Engine {
    /// Runs the selected stages (every stage when `patterns` is nil) and whatever upstream is not fresh.
    ///
    /// Stages start in topological order, up to `options.jobs` at once; a failure skips its dependants and lets
    /// the others finish. Progress and warnings go to `console`; the summary is returned, not printed.
    public func run(_ patterns: [String]?, options: RunOptions, console: Console = .silent()) throws -> RunSummary {
        let targets = try self.targets(patterns, downstream: options.downstream)
        let needed = targets.union(graph.upstream(of: targets))
        let order = graph.sorted(needed)
        if let root = options.outputRoot, order.contains(where: { !graph.stage($0)!.publishes.isEmpty }) {
            try checkOutputFolder(root)
        }
        try store.prepare()

        let board = ProgressBoard(console: console)
        defer { board.stop() }
        let state = RunState()
        let cond = state.cond
        let quiet = QuietGate()
        var waiting = order

        let warn: (String) -> Void = { w in
            cond.lock()
            state.warnings.append(w)
            cond.unlock()
            board.print("warning: \(w)")
        }

        cond.lock()
        while true {
            // Settle stages whose inputs failed, then start ready ones in topological order.
            var progressed = true
            while progressed {
                progressed = false
                var i = 0
                while i < waiting.count {
                    let s = graph.stage(waiting[i])!
                    if let bad = s.inputs.sorted().first(where: { state.outcomes[$0]?.isFailure == true }) {
                        let root: StageID
                        if case .skipped(let up)? = state.outcomes[bad] { root = up } else { root = bad }
                        state.outcomes[s.id] = .skipped(upstream: root)
                        board.print("skip  \(s.id): upstream \(root) failed")
                        waiting.remove(at: i)
                        progressed = true
                        continue
                    }
                    let ready = s.inputs.allSatisfy { state.hashes[$0] != nil }
                    let unfinished = waiting.count + state.running.count
                    let share = max(1, options.threads / max(1, min(options.jobs, unfinished)))
                    let threads = s.preferredThreads ?? share
                    // Never more threads than `options.threads` at once (one stage alone may use what it asks).
                    let fits = state.running.isEmpty || state.threadsInUse + threads <= options.threads
                    if ready && state.running.count < options.jobs && fits {
                        waiting.remove(at: i)
                        state.running.insert(s.id)
                        state.threadsInUse += threads
                        var hashes: [StageID: String] = [:]
                        var keys: [StageID: String] = [:]
                        for id in s.inputs {
                            hashes[id] = state.hashes[id].map {
                                self.store.exposedHash(of: id, outputHash: $0, key: state.keys[id], for: s)
                            }
                            keys[id] = state.keys[id]
                        }
                        let job = Job(
                            stage: s, inputHashes: hashes, inputKeys: keys,
                            forced: options.force && targets.contains(s.id), threads: threads, quiet: quiet)
                        let t = Thread {
                            let result = self.execute(job, options: options, board: board, warn: warn)
                            cond.lock()
                            state.outcomes[job.stage.id] = result.outcome
                            if let h = result.outputHash, let k = result.key {
                                state.hashes[job.stage.id] = h
                                state.keys[job.stage.id] = k
                            }
                            state.running.remove(job.stage.id)
                            state.threadsInUse -= job.threads
                            cond.signal()
                            cond.unlock()
                        }
                        t.stackSize = 8 << 20
                        t.start()
                        progressed = true
                        continue
                    }
                    i += 1
                }
            }
            if state.running.isEmpty { break }
            cond.wait()
        }
        let summary = RunSummary(outcomes: order.map { ($0, state.outcomes[$0]!) }, warnings: state.warnings)
        cond.unlock()
        return summary
    }

    // MARK: - One stage

    /// Reuses a valid entry, else takes the key's lock, runs the stage into a temporary entry, checks its outputs
    /// and commits it.
    private func execute(
        _ job: Job, options: RunOptions, board: ProgressBoard,
        warn: @escaping (String) -> Void
    ) -> StageResult {
        let s = job.stage
        do {
            let material = try KeyMaterial.of(s, inputHashes: job.inputHashes)
            let key = material.key
            var warnedDamage = false
            // Fresh entries need no lock: they are immutable once renamed into place.
            var replaced: String?  // output hash of the entry a forced run replaces
            if job.forced, case .valid(let m) = store.check(kind: s.kind, key: key) { replaced = m.outputHash }
            if !job.forced, let m = try cachedEntry(s, key: key, underLock: false, warned: &warnedDamage, warn: warn) {
                return try reuse(s, manifest: m, options: options, board: board, note: "")
            }
            let lock = try CacheLock.acquire(
                store.lock(kind: s.kind, key: key), staleAfter: store.staleLockAfter,
                waiting: { o in board.print("wait  \(s.id): locked by pid \(o.pid) on \(o.host)") }, warn: warn)
            defer { lock.release() }
            // Another process may have finished it while we waited.
            if !job.forced, let m = try cachedEntry(s, key: key, underLock: true, warned: &warnedDamage, warn: warn) {
                return try reuse(s, manifest: m, options: options, board: board, note: " (written by another run)")
            }
            let (temp, manifest) = try produce(job, material: material, board: board)
            return try commit(
                s, temporary: temp, manifest: manifest, replaced: replaced, options: options,
                board: board, warn: warn)
        } catch {
            let log = (error as? StageFailure)?.log
            let message = (error as? StageFailure)?.message ?? describeError(error)
            board.finish(s.id, line: "FAIL  \(s.id): \(message)" + (log.map { "\n      log: \($0.path)" } ?? ""))
            return StageResult(outcome: .failed(message: message, log: log), outputHash: nil, key: nil)
        }
    }

    /// The valid entry under `key`, if any. A damaged one is reported once; under the lock it is then removed.
    private func cachedEntry(
        _ s: any Stage, key: String, underLock: Bool, warned: inout Bool,
        warn: (String) -> Void
    ) throws -> Manifest? {
        switch store.check(kind: s.kind, key: key) {
        case .valid(let m): return m
        case .damaged(let why):
            if !warned { warn("cache entry of \(s.id) (\(s.kind)/\(key.prefix(12))) is damaged: \(why); recomputing") }
            warned = true
            if underLock { try store.remove(kind: s.kind, key: key) }
            return nil
        case .missing: return nil
        }
    }

    /// Runs the stage into a new temporary entry and writes its manifest there. On failure the temporary entry
    /// goes and the log is kept under the stage's failed-log path.
    private func produce(_ job: Job, material: KeyMaterial, board: ProgressBoard) throws -> (URL, Manifest) {
        let s = job.stage, key = material.key, fm = FileManager.default
        store.sweepTemporaries(kind: s.kind, key: key)
        let temp = try store.makeTemporary(kind: s.kind, key: key)
        let work = store.work(kind: s.kind, key: key)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        let out = temp.appendingPathComponent("out")
        let logURL = temp.appendingPathComponent("log.txt")
        let log = LogFile(logURL)
        var inputDirs: [StageID: URL] = [:]
        for id in s.inputs { inputDirs[id] = store.outputs(kind: id.kind, key: job.inputKeys[id]!) }
        let context = StageContext(
            outputDirectory: out, workDirectory: work, threads: job.threads, inputDirectories: inputDirs,
            progress: { msg, fraction in
                board.update(s.id, message: msg, fraction: fraction)
                log.write("progress: \(msg)")
            },
            log: { line in log.write(line) }, quiet: job.quiet)
        job.quiet.enter()
        defer { job.quiet.leave() }

        let start = Date()
        board.start(s.id, expected: store.readIndex(s.id)?.seconds)
        log.write("stage \(s.id) key \(key) threads \(job.threads) host \(HostFacts.host) pid \(getpid())")
        log.write("parameters \(material.parameters.canonicalString)")
        do {
            try s.run(context)
            let end = Date()
            let outputs = try declaredOutputs(s, in: out)
            let outputHash = ContentHash.combined(
                Dictionary(uniqueKeysWithValues: outputs.map { ($0.name, $0.sha256) }))
            let seconds = end.timeIntervalSince(start)
            let manifest = Manifest(
                id: s.id, key: key, material: material, outputs: outputs, outputHash: outputHash,
                gitCommit: HostFacts.gitCommit, host: HostFacts.host, pid: getpid(),
                start: ISOTime.string(start), end: ISOTime.string(end), seconds: seconds,
                threads: job.threads,
                measurements: context.measurements.isEmpty ? nil : context.measurements)
            log.write(String(format: "done in %.3f s, output hash %@", seconds, outputHash))
            log.close()
            do {
                try CacheStore.writeFile(
                    Manifest.encoder().encode(manifest), to: temp.appendingPathComponent("manifest.json"))
            } catch {
                try? fm.removeItem(at: temp)
                throw StageFailure(message: "could not store the entry: \(describeError(error))", log: nil)
            }
            return (temp, manifest)
        } catch let failure as StageFailure {
            throw failure
        } catch {
            let message = describeError(error)
            log.write("FAILED: \(message)")
            log.close()
            let kept = store.failedLog(s.id)
            try? fm.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? fm.removeItem(at: kept)
            let moved = (try? fm.moveItem(at: logURL, to: kept)) != nil
            try? fm.removeItem(at: temp)
            throw StageFailure(message: message, log: moved ? kept : nil)
        }
    }

    /// The declared outputs, and nothing else, must be in `out`; returns them with their hashes.
    private func declaredOutputs(_ s: any Stage, in out: URL) throws -> [Manifest.Output] {
        let written = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
        let declared = Set(s.outputs)
        let missing = declared.subtracting(written).sorted()
        if !missing.isEmpty {
            throw PipelineError.message("did not write declared output(s) \(missing.joined(separator: ", "))")
        }
        let extra = written.subtracting(declared).sorted()
        if !extra.isEmpty { throw PipelineError.message("wrote undeclared output(s) \(extra.joined(separator: ", "))") }
        return try declared.sorted().map { name in
            let url = out.appendingPathComponent(name)
            return Manifest.Output(name: name, sha256: try ContentHash.of(url), bytes: Int(CacheStore.size(of: url)))
        }
    }

    /// Renames the temporary entry into place, then records and publishes it.
    private func commit(
        _ s: any Stage, temporary temp: URL, manifest: Manifest, replaced: String?,
        options: RunOptions, board: ProgressBoard, warn: (String) -> Void
    ) throws -> StageResult {
        let fm = FileManager.default
        do {
            try store.commit(temporary: temp, kind: s.kind, key: manifest.key)
        } catch {
            try? fm.removeItem(at: temp)
            throw StageFailure(message: "could not store the entry: \(describeError(error))", log: nil)
        }
        try? fm.removeItem(at: store.work(kind: s.kind, key: manifest.key))
        try? fm.removeItem(at: store.failedLog(s.id))
        let previousOutputs = store.readIndex(s.id)?.outputHash
        try record(s, manifest: manifest, options: options)
        let cutoff = previousOutputs == manifest.outputHash ? " (outputs unchanged: dependants stay cached)" : ""
        if let r = replaced, r != manifest.outputHash {
            warn("\(s.id) is not deterministic: a forced rerun with the same key produced different outputs")
        }
        board.finish(s.id, line: "done  \(s.id) in \(formatDuration(manifest.seconds))\(cutoff)")
        return StageResult(outcome: .ran(seconds: manifest.seconds), outputHash: manifest.outputHash, key: manifest.key)
    }

    private func reuse(
        _ s: any Stage, manifest: Manifest, options: RunOptions, board: ProgressBoard,
        note: String
    ) throws -> StageResult {
        let previous = store.readIndex(s.id)
        try record(s, manifest: manifest, options: options)
        if let p = previous, p.key != manifest.key {
            board.print("reuse \(s.id): restored earlier result\(note)")
        } else if !note.isEmpty {
            board.print("reuse \(s.id)\(note)")
        }
        return StageResult(outcome: .cached, outputHash: manifest.outputHash, key: manifest.key)
    }

    /// Points the index at the entry and publishes its files.
    private func record(_ s: any Stage, manifest: Manifest, options: RunOptions) throws {
        // Unchanged pointers are not rewritten: a warm run over hundreds of stages then writes nothing.
        let current = store.readIndex(s.id)
        if current?.key != manifest.key || current?.outputHash != manifest.outputHash {
            try store.writeIndex(
                IndexRecord(
                    id: s.id, key: manifest.key, material: manifest.material,
                    outputHash: manifest.outputHash, seconds: manifest.seconds,
                    time: ISOTime.string(Date())))
        }
        guard let root = options.outputRoot else { return }
        let out = store.outputs(kind: s.kind, key: manifest.key)
        for name in s.publishes.keys.sorted() {
            try Publisher.publish(out.appendingPathComponent(name), to: root.appendingPathComponent(s.publishes[name]!))
        }
    }
}

/// Scheduler state shared with worker threads; guarded by `cond`.
private final class RunState: @unchecked Sendable {
    let cond = NSCondition()
    var outcomes: [StageID: StageOutcome] = [:]
    var hashes: [StageID: String] = [:]
    var keys: [StageID: String] = [:]
    var warnings: [String] = []
    var running: Set<StageID> = []
    var threadsInUse = 0
}

/// One stage handed to a worker thread.
private struct Job: @unchecked Sendable {
    let stage: any Stage
    let inputHashes: [StageID: String]
    let inputKeys: [StageID: String]
    let forced: Bool
    let threads: Int
    let quiet: QuietGate
}

extension StageOutcome {
    var isFailure: Bool {
        switch self {
        case .failed, .skipped: return true
        default: return false
        }
    }
}

/// Why a stage failed, with its kept log when there is one.
private struct StageFailure: Error {
    let message: String
    let log: URL?
}

struct StageResult {
    var outcome: StageOutcome
    var outputHash: String?
    var key: String?
}

/// Copies cache files to the output root.
enum Publisher {
    /// Copies through a temporary sibling and a rename, and only when the content differs (keeps mtimes stable).
    static func publish(_ source: URL, to target: URL) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: source.path) else {
            throw PipelineError.message("published file \(source.lastPathComponent) is not among the stage's outputs")
        }
        if fm.fileExists(atPath: target.path), (try? ContentHash.of(target)) == (try? ContentHash.of(source)) { return }
        try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let folder = target.deletingLastPathComponent()
        let prefix = ".\(target.lastPathComponent).tmp-"
        let tmp = folder.appendingPathComponent(prefix + UUID().uuidString)
        do { try fm.copyItem(at: source, to: tmp) } catch {
            // A copy cut short (disk full) leaves a partial file; it must not stay among the published results.
            try? fm.removeItem(at: tmp)
            throw PipelineError.message("cannot publish \(target.path): \(posixReason(error))")
        }
        // Leftovers of runs killed mid-copy; old enough that no live run can still be writing them.
        for name in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix(prefix) {
            let url = folder.appendingPathComponent(name)
            if url != tmp, let m = (try? fm.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
                Date().timeIntervalSince(m) > 3600
            {
                try? fm.removeItem(at: url)
            }
        }
        if rename(tmp.path, target.path) != 0 {
            let e = errno
            try? fm.removeItem(at: tmp)
            throw PipelineError.message("cannot publish \(target.path): \(String(cString: strerror(e)))")
        }
    }
}

/// A stage's log file, safe to write from the stage's own threads.
final class LogFile: @unchecked Sendable {
    private var handle: FileHandle?
    private let mutex = NSLock()

    init(_ url: URL) {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        handle = try? FileHandle(forWritingTo: url)
    }

    func write(_ line: String) {
        mutex.lock()
        defer { mutex.unlock() }
        handle?.write(Data("\(ISOTime.string(Date())) \(line)\n".utf8))
    }

    func close() {
        mutex.lock()
        defer { mutex.unlock() }
        try? handle?.close()
        handle = nil
    }
}
