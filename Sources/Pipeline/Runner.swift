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
                    if ready && state.running.count < options.jobs {
                        waiting.remove(at: i)
                        state.running.insert(s.id)
                        let unfinished = waiting.count + state.running.count
                        let share = max(1, options.threads / max(1, min(options.jobs, unfinished)))
                        let threads = s.preferredThreads ?? share
                        var hashes: [StageID: String] = [:]
                        var keys: [StageID: String] = [:]
                        for id in s.inputs {
                            hashes[id] = state.hashes[id].map {
                                self.store.exposedHash(of: id, outputHash: $0, key: state.keys[id], for: s)
                            }
                            keys[id] = state.keys[id]
                        }
                        let job = Job(stage: s, inputHashes: hashes, inputKeys: keys,
                                      forced: options.force && targets.contains(s.id), threads: threads)
                        let t = Thread {
                            let result = self.execute(job, options: options, board: board, warn: warn)
                            cond.lock()
                            state.outcomes[job.stage.id] = result.outcome
                            if let h = result.outputHash, let k = result.key {
                                state.hashes[job.stage.id] = h
                                state.keys[job.stage.id] = k
                            }
                            state.running.remove(job.stage.id)
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

    private func execute(_ job: Job, options: RunOptions, board: ProgressBoard,
                         warn: @escaping (String) -> Void) -> StageResult {
        let s = job.stage, inputHashes = job.inputHashes, inputKeys = job.inputKeys
        let forced = job.forced, threads = job.threads
        let fail: (String, URL?) -> StageResult = { message, log in
            board.finish(s.id, line: "FAIL  \(s.id): \(message)" + (log.map { "\n      log: \($0.path)" } ?? ""))
            return StageResult(outcome: .failed(message: message, log: log), outputHash: nil, key: nil)
        }
        let material: KeyMaterial
        do { material = try KeyMaterial.of(s, inputHashes: inputHashes) } catch { return fail(describeError(error), nil) }
        let key = material.key
        let kind = s.kind

        // Fresh entries need no lock: they are immutable once renamed into place.
        var warnedDamage = false
        var replaced: String?  // output hash of the entry a forced run replaces
        if forced, case .valid(let m) = store.check(kind: kind, key: key) { replaced = m.outputHash }
        if !forced {
            switch store.check(kind: kind, key: key) {
            case .valid(let m): return reuse(s, manifest: m, material: material, options: options, board: board, note: "")
            case .damaged(let why):
                warn("cache entry of \(s.id) (\(kind)/\(key.prefix(12))) is damaged: \(why); recomputing")
                warnedDamage = true
            case .missing: break
            }
        }

        let lock: CacheLock
        do {
            lock = try CacheLock.acquire(store.lock(kind: kind, key: key), staleAfter: store.staleLockAfter,
                                         waiting: { o in board.print("wait  \(s.id): locked by pid \(o.pid) on \(o.host)") },
                                         warn: warn)
        } catch { return fail(describeError(error), nil) }
        defer { lock.release() }

        if !forced {
            // Another process may have finished it while we waited.
            switch store.check(kind: kind, key: key) {
            case .valid(let m):
                return reuse(s, manifest: m, material: material, options: options, board: board,
                             note: " (written by another run)")
            case .damaged(let why):
                if !warnedDamage { warn("cache entry of \(s.id) (\(kind)/\(key.prefix(12))) is damaged: \(why); recomputing") }
                do { try store.remove(kind: kind, key: key) } catch { return fail(describeError(error), nil) }
            case .missing: break
            }
        }

        store.sweepTemporaries(kind: kind, key: key)
        let fm = FileManager.default
        let temp: URL
        let work = store.work(kind: kind, key: key)
        do {
            temp = try store.makeTemporary(kind: kind, key: key)
            try fm.createDirectory(at: work, withIntermediateDirectories: true)
        } catch { return fail(describeError(error), nil) }
        let out = temp.appendingPathComponent("out")
        let logURL = temp.appendingPathComponent("log.txt")
        let log = LogFile(logURL)
        var inputDirs: [StageID: URL] = [:]
        for id in s.inputs { inputDirs[id] = store.outputs(kind: id.kind, key: inputKeys[id]!) }
        let context = StageContext(
            outputDirectory: out, workDirectory: work, threads: threads, inputDirectories: inputDirs,
            progress: { msg, fraction in
                board.update(s.id, message: msg, fraction: fraction)
                log.write("progress: \(msg)")
            },
            log: { line in log.write(line) })

        let start = Date()
        board.start(s.id, expected: store.readIndex(s.id)?.seconds)
        log.write("stage \(s.id) key \(key) threads \(threads) host \(HostFacts.host) pid \(getpid())")
        log.write("parameters \(material.parameters.canonicalString)")
        func abandon(_ message: String) -> StageResult {
            log.write("FAILED: \(message)")
            log.close()
            let kept = store.failedLog(s.id)
            try? fm.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? fm.removeItem(at: kept)
            let moved = (try? fm.moveItem(at: logURL, to: kept)) != nil
            try? fm.removeItem(at: temp)
            return fail(message, moved ? kept : nil)
        }
        do {
            try s.run(context)
        } catch {
            return abandon(describeError(error))
        }
        let end = Date()

        // The declared outputs, and nothing else, must be there.
        var outputs: [Manifest.Output] = []
        var hashesByName: [String: String] = [:]
        do {
            let written = Set(try fm.contentsOfDirectory(atPath: out.path))
            let declared = Set(s.outputs)
            let missing = declared.subtracting(written).sorted()
            if !missing.isEmpty { return abandon("did not write declared output(s) \(missing.joined(separator: ", "))") }
            let extra = written.subtracting(declared).sorted()
            if !extra.isEmpty { return abandon("wrote undeclared output(s) \(extra.joined(separator: ", "))") }
            for name in declared.sorted() {
                let url = out.appendingPathComponent(name)
                let h = try ContentHash.of(url)
                hashesByName[name] = h
                outputs.append(Manifest.Output(name: name, sha256: h, bytes: Int(CacheStore.size(of: url))))
            }
        } catch {
            return abandon(describeError(error))
        }
        let outputHash = ContentHash.combined(hashesByName)
        let seconds = end.timeIntervalSince(start)
        let manifest = Manifest(id: s.id, key: key, material: material, outputs: outputs, outputHash: outputHash,
                                gitCommit: HostFacts.gitCommit, host: HostFacts.host, pid: getpid(),
                                start: ISOTime.string(start), end: ISOTime.string(end), seconds: seconds,
                                threads: threads, measurements: context.measurements.isEmpty ? nil : context.measurements)
        log.write(String(format: "done in %.3f s, output hash %@", seconds, outputHash))
        log.close()
        do {
            try CacheStore.writeFile(Manifest.encoder().encode(manifest), to: temp.appendingPathComponent("manifest.json"))
            try store.commit(temporary: temp, kind: kind, key: key)
        } catch {
            try? fm.removeItem(at: temp)
            return fail("could not store the entry: \(describeError(error))", nil)
        }
        try? fm.removeItem(at: work)
        try? fm.removeItem(at: store.failedLog(s.id))
        let previousOutputs = store.readIndex(s.id)?.outputHash
        do {
            try record(s, manifest: manifest, options: options)
        } catch {
            return fail(describeError(error), nil)
        }
        let cutoff = previousOutputs == outputHash ? " (outputs unchanged: dependants stay cached)" : ""
        if let r = replaced, r != outputHash {
            warn("\(s.id) is not deterministic: a forced rerun with the same key produced different outputs")
        }
        board.finish(s.id, line: "done  \(s.id) in \(formatDuration(seconds))\(cutoff)")
        return StageResult(outcome: .ran(seconds: seconds), outputHash: outputHash, key: key)
    }

    private func reuse(_ s: any Stage, manifest: Manifest, material: KeyMaterial, options: RunOptions,
                       board: ProgressBoard, note: String) -> StageResult {
        let previous = store.readIndex(s.id)
        do {
            try record(s, manifest: manifest, options: options)
        } catch {
            board.finish(s.id, line: "FAIL  \(s.id): \(describeError(error))")
            return StageResult(outcome: .failed(message: describeError(error), log: nil), outputHash: nil, key: nil)
        }
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
            try store.writeIndex(IndexRecord(id: s.id, key: manifest.key, material: manifest.material,
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
}

/// One stage handed to a worker thread.
private struct Job: @unchecked Sendable {
    let stage: any Stage
    let inputHashes: [StageID: String]
    let inputKeys: [StageID: String]
    let forced: Bool
    let threads: Int
}

extension StageOutcome {
    var isFailure: Bool {
        switch self {
        case .failed, .skipped: return true
        default: return false
        }
    }
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
            // A copy cut short (disk full) leaves a partial file; it must not stay in paper-tables/ or figures/.
            try? fm.removeItem(at: tmp)
            throw PipelineError.message("cannot publish \(target.path): \(posixReason(error))")
        }
        // Leftovers of runs killed mid-copy; old enough that no live run can still be writing them.
        for name in (try? fm.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix(prefix) {
            let url = folder.appendingPathComponent(name)
            if url != tmp, let m = (try? fm.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
               Date().timeIntervalSince(m) > 3600 {
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
