import Foundation

/// The state of one stage against the cache.
public struct StageStatus: Sendable {
    public enum State: Equatable, Sendable {
        /// The entry for the current key exists and its files match its manifest.
        case fresh
        /// Ran before, but something changed (see `reasons`), or an input stage must run first.
        case stale
        /// No usable entry and no earlier run to compare with (or its entry was removed).
        case missing
    }

    public var id: StageID
    public var state: State
    /// What changed since the last run, each naming the version, parameter path, input or file.
    public var reasons: [String]
    /// Input stages that are not fresh, so this stage's key is not known until they run.
    public var waitingFor: [StageID]
    /// The current key, when all inputs are fresh.
    public var key: String?
    /// The current output hash (fresh stages only).
    public var outputHash: String?
    /// Duration of the last recorded run, for ETAs.
    public var lastSeconds: Double?

    /// "fresh", "missing (never run)", "stale: parameter lr: 0.001 -> 0.002; …".
    public var summary: String {
        var parts = reasons
        if !waitingFor.isEmpty {
            // A table can read hundreds of runs (one per model, dataset and seed): name a few, count the rest.
            let shown = waitingFor.prefix(3).map(\.raw).joined(separator: ", ")
            let more = waitingFor.count > 3 ? " and \(waitingFor.count - 3) more" : ""
            parts.append("input\(waitingFor.count == 1 ? "" : "s") \(shown)\(more) not fresh")
        }
        switch state {
        case .fresh: return "fresh"
        case .missing: return "missing" + (parts.isEmpty ? "" : " (\(parts.joined(separator: "; ")))")
        case .stale: return "stale: " + parts.joined(separator: "; ")
        }
    }
}

/// One stage that `plan` expects to run.
public struct PlanItem: Sendable {
    public var id: StageID
    /// Why it runs.
    public var reason: String
    /// False when it runs only if an upstream stage's rerun changes its outputs (early cutoff may skip it).
    public var certain: Bool
    /// From the last recorded run of this stage id.
    public var estimatedSeconds: Double?
}

/// Options of a run.
public struct RunOptions: Sendable {
    /// Stages running at once.
    public var jobs: Int
    /// Threads shared among running stages (a stage's `preferredThreads` overrides its share).
    public var threads: Int
    /// Rerun the selected stages even when fresh.
    public var force: Bool
    /// Also select every stage depending on the selection.
    public var downstream: Bool
    /// Where `publishes` files are copied; nil publishes nothing.
    public var outputRoot: URL?

    public init(
        jobs: Int = 1, threads: Int = ProcessInfo.processInfo.activeProcessorCount, force: Bool = false,
        downstream: Bool = false, outputRoot: URL? = nil
    ) {
        self.jobs = max(1, jobs)
        self.threads = max(1, threads)
        self.force = force
        self.downstream = downstream
        self.outputRoot = outputRoot
    }
}

/// What happened to one stage in a run.
public enum StageOutcome: Equatable, Sendable {
    case ran(seconds: Double)
    /// Its entry was already in the cache (fresh, restored from the run cache, or written by another process).
    case cached
    case failed(message: String, log: URL?)
    case skipped(upstream: StageID)
}

/// The result of a run, in topological order.
public struct RunSummary: Sendable {
    public var outcomes: [(id: StageID, outcome: StageOutcome)]
    public var warnings: [String]

    public var ran: [StageID] {
        outcomes.filter {
            if case .ran = $0.outcome { return true }; return false
        }.map(\.id)
    }
    public var cached: [StageID] { outcomes.filter { $0.outcome == .cached }.map(\.id) }
    public var failed: [StageID] {
        outcomes.filter {
            if case .failed = $0.outcome { return true }; return false
        }.map(\.id)
    }
    public var skipped: [StageID] {
        outcomes.filter {
            if case .skipped = $0.outcome { return true }; return false
        }.map(\.id)
    }
    public var succeeded: Bool { failed.isEmpty && skipped.isEmpty }

    /// "3 ran, 2 cached, 0 failed, 0 skipped", or the explicit nothing-to-do line.
    public var line: String {
        if ran.isEmpty && failed.isEmpty && skipped.isEmpty {
            return "nothing to do: all \(outcomes.count) stages fresh (0 executed)"
        }
        return "\(ran.count) ran, \(cached.count) cached, \(failed.count) failed, \(skipped.count) skipped"
    }
}

/// The stage engine over one graph and one cache: selection, status, plan, run, clean, dag.
public struct Engine {
    public let graph: StageGraph
    public let store: CacheStore

    /// Validates the graph (duplicate ids, undeclared inputs, cycles) before anything touches the disk.
    public init(stages: [any Stage], store: CacheStore) throws {
        self.graph = try StageGraph(stages)
        self.store = store
    }

    // MARK: - Selection

    /// The stages a command acts on: matches of `patterns` (every stage when nil), plus their dependants if asked.
    public func targets(_ patterns: [String]?, downstream: Bool) throws -> Set<StageID> {
        var t = try patterns.map { try graph.select($0) } ?? Set(graph.ids)
        if downstream { t.formUnion(graph.downstream(of: t)) }
        return t
    }

    // MARK: - Status

    /// Every stage's state, in topological order; reads the cache, writes nothing.
    public func status() -> [StageStatus] {
        var known: [StageID: String] = [:]
        var knownKeys: [StageID: String] = [:]
        var out: [StageStatus] = []
        for s in graph.ordered {
            let record = store.readIndex(s.id)
            var st = StageStatus(
                id: s.id, state: .missing, reasons: [], waitingFor: [], key: nil, outputHash: nil,
                lastSeconds: record?.seconds)
            let waiting = Array(Set(s.inputs).filter { known[$0] == nil }).sorted()
            // Unknown input hashes are taken from the last run, so the diff shows only this stage's own changes.
            var hashes: [StageID: String] = [:]
            for id in s.inputs where known[id] != nil {
                hashes[id] = store.exposedHash(of: id, outputHash: known[id]!, key: knownKeys[id], for: s)
            }
            for w in waiting { hashes[w] = record?.material.inputs.first { $0.id == w }?.outputHash ?? "" }
            let material: KeyMaterial
            do {
                material = try KeyMaterial.of(s, inputHashes: hashes)
            } catch {
                st.state = record == nil ? .missing : .stale
                st.reasons = ["\(error)"]
                out.append(st)
                continue
            }
            if !waiting.isEmpty {
                st.waitingFor = waiting
                st.state = record == nil ? .missing : .stale
                if let r = record {
                    st.reasons = material.differences(from: r.material)
                } else {
                    st.reasons = ["never run"]
                }
                out.append(st)
                continue
            }
            let key = material.key
            st.key = key
            switch store.check(kind: s.kind, key: key) {
            case .valid(let m):
                st.state = .fresh
                if let r = record, r.key != key {
                    st.reasons = ["an earlier result, restored and republished by the next run"]
                }
                st.outputHash = m.outputHash
                st.lastSeconds = m.seconds
                known[s.id] = m.outputHash
                knownKeys[s.id] = key
            case .damaged(let why):
                st.state = .stale
                st.reasons = ["cache entry damaged: \(why)"]
            case .missing:
                if let r = record {
                    if r.key == key {
                        st.state = .missing
                        st.reasons = ["cache entry was removed"]
                    } else {
                        st.state = .stale
                        st.reasons = material.differences(from: r.material)
                    }
                } else {
                    st.state = .missing
                    st.reasons = ["never run"]
                }
            }
            out.append(st)
        }
        return out
    }

    // MARK: - Plan

    /// What `run` would execute for these patterns and flags, in order, with reasons and estimates.
    public func plan(_ patterns: [String]?, force: Bool = false, downstream: Bool = false) throws -> [PlanItem] {
        let targets = try self.targets(patterns, downstream: downstream)
        let needed = targets.union(graph.upstream(of: targets))
        var byID: [StageID: StageStatus] = [:]
        for s in status() { byID[s.id] = s }
        var runs: [StageID: Bool] = [:]  // id -> certain
        var items: [PlanItem] = []
        for id in graph.sorted(needed) {
            let st = byID[id]!
            let upstreamRuns = graph.stage(id)!.inputs.filter { runs[$0] != nil }
            var item: PlanItem?
            if force && targets.contains(id) {
                item = PlanItem(id: id, reason: "forced", certain: true, estimatedSeconds: st.lastSeconds)
            } else if st.state != .fresh {
                if st.reasons.isEmpty && st.state == .stale {
                    let names = st.waitingFor.map(\.raw).joined(separator: ", ")
                    item = PlanItem(
                        id: id, reason: "if \(names) change their outputs", certain: false,
                        estimatedSeconds: st.lastSeconds)
                } else {
                    item = PlanItem(id: id, reason: st.summary, certain: true, estimatedSeconds: st.lastSeconds)
                }
            } else if !upstreamRuns.isEmpty {
                item = PlanItem(
                    id: id, reason: "if \(upstreamRuns.map(\.raw).joined(separator: ", ")) change their outputs",
                    certain: false, estimatedSeconds: st.lastSeconds)
            }
            if let i = item {
                runs[id] = i.certain
                items.append(i)
            }
        }
        return items
    }

    /// Errors unless every stage the given kinds read from (outside those kinds) is fresh; returns the selection.
    /// `remedy` tells the user what to run instead (the client knows its command names).
    public func requireFreshUpstream(ofKinds kinds: Set<String>, remedy: String) throws -> Set<StageID> {
        let selected = Set(graph.ids.filter { kinds.contains($0.kind) })
        if selected.isEmpty {
            throw PipelineError.message("the graph has no stages of kind \(kinds.sorted().joined(separator: ", "))")
        }
        let upstream = graph.upstream(of: selected).filter { !kinds.contains($0.kind) }
        let notFresh = status().filter { upstream.contains($0.id) && $0.state != .fresh }
        if !notFresh.isEmpty {
            let names = notFresh.prefix(8).map { "\($0.id) (\($0.summary))" }.joined(separator: "\n  ")
            throw PipelineError.message(
                "\(notFresh.count) stage(s) these results read from are not fresh; \(remedy):\n  \(names)")
        }
        return selected
    }

    // MARK: - DAG

    /// The graph as text (one stage per line with its inputs), Graphviz dot, or Mermaid.
    public func dag(format: String) throws -> String {
        switch format {
        case "text":
            return graph.ordered.map { s in
                s.inputs.isEmpty ? s.id.raw : "\(s.id.raw)  <- \(s.inputs.map(\.raw).sorted().joined(separator: ", "))"
            }.joined(separator: "\n") + "\n"
        case "dot":
            var lines = ["digraph pipeline {", "  rankdir=LR;", "  node [shape=box];"]
            for s in graph.ordered { lines.append("  \"\(s.id.raw)\";") }
            for s in graph.ordered {
                for i in s.inputs.sorted() { lines.append("  \"\(i.raw)\" -> \"\(s.id.raw)\";") }
            }
            return (lines + ["}"]).joined(separator: "\n") + "\n"
        case "mermaid":
            var lines = ["graph LR"]
            for (n, s) in graph.ordered.enumerated() { lines.append("  n\(n)[\"\(s.id.raw)\"]") }
            for (n, s) in graph.ordered.enumerated() {
                for i in s.inputs.sorted() { lines.append("  n\(graph.position(i)!) --> n\(n)") }
            }
            return lines.joined(separator: "\n") + "\n"
        default:
            throw PipelineError.message("unknown dag format '\(format)' (text, dot, mermaid)")
        }
    }

    // MARK: - Clean

    /// What `clean` removed.
    public struct CleanReport: Sendable {
        public var removedEntries: Int
        public var keptEntries: Int
        public var removedBytes: Int64
    }

    /// Removes cache entries, work areas, leftovers and failed logs; with `keepResults`, keeps the entries the
    /// current graph uses (the current key, or the last key of stages whose inputs are not fresh).
    /// Only names matching the cache layout are touched, and held locks are left alone.
    public func clean(keepResults: Bool) throws -> CleanReport {
        let fm = FileManager.default
        var report = CleanReport(removedEntries: 0, keptEntries: 0, removedBytes: 0)
        guard fm.fileExists(atPath: store.root.path) else { return report }
        // A mistyped --cache-dir can name any folder, and 64-hex names are common (git objects, other caches):
        // only a folder carrying the tag `prepare()` writes is ours to empty.
        let contents = (try? fm.contentsOfDirectory(atPath: store.root.path)) ?? []
        if !contents.isEmpty && !store.isTaggedAsOurs {
            throw PipelineError.message(
                "\(store.root.path) is not a pipeline cache (no CACHEDIR.TAG written by this pipeline); refusing to clean it; check the cache folder given"
            )
        }
        var keep: Set<String> = []
        if keepResults {
            for st in status() {
                if let k = st.key { keep.insert(k) }
                if let r = store.readIndex(st.id) { keep.insert(r.key) }
            }
        }
        func isKey(_ name: String) -> Bool {
            name.count == 64 && name.allSatisfy { $0.isHexDigit && !$0.isUppercase }
        }
        func remove(_ url: URL) {
            report.removedBytes += CacheStore.size(of: url)
            try? fm.removeItem(at: url)
        }
        func held(_ lock: URL) -> Bool {
            guard let o = CacheLock.readOwner(lock) else { return false }
            return CacheLock.staleness(o, staleAfter: store.staleLockAfter) == nil
        }
        let top = ((try? fm.contentsOfDirectory(atPath: store.root.path)) ?? []).sorted()
        for kind in top where !kind.hasPrefix("_") && !kind.hasPrefix(".") && kind != "CACHEDIR.TAG" {
            let kindDir = store.root.appendingPathComponent(kind)
            for name in ((try? fm.contentsOfDirectory(atPath: kindDir.path)) ?? []).sorted() {
                let url = kindDir.appendingPathComponent(name)
                if isKey(name) {
                    if keep.contains(name) {
                        report.keptEntries += 1
                    } else if !held(store.lock(kind: kind, key: name)) {
                        remove(url)
                        report.removedEntries += 1
                    }
                } else if name.hasPrefix(".tmp-") || name.hasPrefix(".trash-") {
                    let key = String(name.dropFirst(name.hasPrefix(".tmp-") ? 5 : 7).prefix(64))
                    if !held(store.lock(kind: kind, key: key)) { remove(url) }
                } else if name.hasSuffix(".lock"), isKey(String(name.dropLast(5))), !held(url) {
                    remove(url)  // abandoned by a killed run
                } else if name.hasPrefix("."), name.contains(".lock.new-") || name.contains(".lock.broken-") {
                    let key = String(name.dropFirst().prefix(64))
                    if !held(store.lock(kind: kind, key: key)) { remove(url) }
                }
            }
        }
        let work = store.root.appendingPathComponent("_work")
        for kind in ((try? fm.contentsOfDirectory(atPath: work.path)) ?? []).sorted() {
            let kindDir = work.appendingPathComponent(kind)
            for key in ((try? fm.contentsOfDirectory(atPath: kindDir.path)) ?? []).sorted() where isKey(key) {
                if !keep.contains(key) && !held(store.lock(kind: kind, key: key)) {
                    remove(kindDir.appendingPathComponent(key))
                }
            }
        }
        let logs = store.root.appendingPathComponent("_logs")
        for name in ((try? fm.contentsOfDirectory(atPath: logs.path)) ?? []) where name.hasSuffix(".failed.log") {
            remove(logs.appendingPathComponent(name))
        }
        if !keepResults {
            let index = store.root.appendingPathComponent("_index")
            for name in ((try? fm.contentsOfDirectory(atPath: index.path)) ?? []) where name.hasSuffix(".json") {
                remove(index.appendingPathComponent(name))
            }
        }
        return report
    }
}

extension CacheStore {
    /// Bytes below a path (0 when absent).
    static func size(of url: URL) -> Int64 {
        let fm = FileManager.default
        var total: Int64 = 0
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else { return 0 }
        if !isDir.boolValue {
            return (try? fm.attributesOfItem(atPath: url.path)[.size] as? Int64) ?? 0
        }
        for rel in (try? fm.subpathsOfDirectory(atPath: url.path)) ?? [] {
            total += (try? fm.attributesOfItem(atPath: url.appendingPathComponent(rel).path)[.size] as? Int64) ?? 0
        }
        return total
    }
}
