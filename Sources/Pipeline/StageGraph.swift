import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A validated stage DAG: unique ids, declared inputs present, no cycles; stages in a deterministic topological order.
public struct StageGraph {
    /// Stages in topological order (inputs first; ties broken by id so the order never depends on hashing).
    public let ordered: [any Stage]
    private let index: [StageID: Int]
    private let dependants: [StageID: [StageID]]

    /// Validates the graph; throws a `PipelineError` naming the duplicate id, missing input or cycle.
    public init(_ stages: [any Stage]) throws {
        var byID: [StageID: any Stage] = [:]
        for s in stages {
            if byID[s.id] != nil { throw PipelineError.message("duplicate stage id '\(s.id)'") }
            let kind = s.kind
            if kind.isEmpty || kind.hasPrefix("_") || kind.hasPrefix(".") || s.id.raw.contains("..") {
                throw PipelineError.message(
                    "stage id '\(s.id)': the kind (the part before the first '/') must be non-empty and not start with '_' or '.', and the id must not contain '..'"
                )
            }
            try StageGraph.checkFiles(s)
            byID[s.id] = s
        }
        var publishers: [String: StageID] = [:]
        for s in stages {
            for target in s.publishes.values.sorted() {
                if let other = publishers[target] {
                    throw PipelineError.message("stages '\(other)' and '\(s.id)' both publish '\(target)'")
                }
                publishers[target] = s.id
            }
        }
        var deps: [StageID: [StageID]] = [:]
        for s in stages {
            for input in s.inputs {
                guard byID[input] != nil else {
                    let hint = StageGraph.closeMatches(input.raw, among: byID.keys.map(\.raw))
                    throw PipelineError.message(
                        "stage '\(s.id)' declares input '\(input)', which is not a stage of this graph"
                            + (hint.isEmpty ? "" : " (did you mean \(hint.joined(separator: ", "))?)"))
                }
                deps[input, default: []].append(s.id)
            }
        }
        // Kahn's algorithm, always taking the smallest ready id.
        var remaining: [StageID: Int] = [:]
        for s in stages { remaining[s.id] = Set(s.inputs).count }
        var ready = stages.filter { remaining[$0.id] == 0 }.map(\.id).sorted()
        var order: [any Stage] = []
        while !ready.isEmpty {
            let id = ready.removeFirst()
            order.append(byID[id]!)
            var released: [StageID] = []
            for d in Set(deps[id] ?? []) {
                remaining[d]! -= 1
                if remaining[d] == 0 { released.append(d) }
            }
            if !released.isEmpty {
                ready.append(contentsOf: released)
                ready.sort()
            }
        }
        if order.count < stages.count {
            let placed = Set(order.map(\.id))
            let left = stages.filter { !placed.contains($0.id) }
            throw PipelineError.message("the stage graph has a cycle: " + StageGraph.findCycle(left))
        }
        ordered = order
        var idx: [StageID: Int] = [:]
        for (i, s) in order.enumerated() { idx[s.id] = i }
        index = idx
        dependants = deps.mapValues { Array(Set($0)).sorted() }
    }

    /// Output names are plain file names; published files come from the outputs and stay under the output root.
    private static func checkFiles(_ s: any Stage) throws {
        var seen: Set<String> = []
        for o in s.outputs {
            if o.isEmpty || o.contains("/") || o == "." || o == ".." {
                throw PipelineError.message("stage '\(s.id)': output '\(o)' must be a plain file or folder name")
            }
            if !seen.insert(o).inserted { throw PipelineError.message("stage '\(s.id)': output '\(o)' declared twice") }
        }
        for (name, target) in s.publishes.sorted(by: { $0.key < $1.key }) {
            if !seen.contains(name) {
                throw PipelineError.message("stage '\(s.id)': publishes '\(name)', which is not one of its outputs")
            }
            let parts = target.split(separator: "/", omittingEmptySubsequences: false)
            if target.hasPrefix("/") || parts.contains("..") || parts.contains("") {
                throw PipelineError.message("stage '\(s.id)': publish path '\(target)' must be relative, without '..'")
            }
        }
    }

    private static func findCycle(_ stages: [any Stage]) -> String {
        var byID: [StageID: any Stage] = [:]
        for s in stages { byID[s.id] = s }
        // Every stage left after Kahn's algorithm has an input that is also left, so walking inputs must repeat.
        var path: [StageID] = []
        var seen: [StageID: Int] = [:]
        var current = stages.map(\.id).min()!
        while seen[current] == nil {
            seen[current] = path.count
            path.append(current)
            current = byID[current]!.inputs.filter { byID[$0] != nil }.min()!
        }
        var loop = Array(path[seen[current]!...].reversed())
        let first = loop.firstIndex(of: loop.min()!)!
        loop = Array(loop[first...] + loop[..<first])
        let cycle = loop + [loop[0]]
        // Printed in data-flow direction: each stage feeds the next.
        return cycle.map(\.raw).joined(separator: " -> ")
    }

    /// All ids, in topological order.
    public var ids: [StageID] { ordered.map(\.id) }

    /// The stage with this id.
    public func stage(_ id: StageID) -> (any Stage)? { index[id].map { ordered[$0] } }

    /// Position in the topological order.
    public func position(_ id: StageID) -> Int? { index[id] }

    /// Stages that declare `id` as an input.
    public func dependants(of id: StageID) -> [StageID] { dependants[id] ?? [] }

    /// Every stage the given ones read from, transitively (not including them).
    public func upstream(of ids: Set<StageID>) -> Set<StageID> {
        var out: Set<StageID> = []
        var stack = Array(ids)
        while let id = stack.popLast() {
            for i in stage(id)?.inputs ?? [] where !out.contains(i) {
                out.insert(i)
                stack.append(i)
            }
        }
        return out.subtracting(ids)
    }

    /// Every stage reading from the given ones, transitively (not including them).
    public func downstream(of ids: Set<StageID>) -> Set<StageID> {
        var out: Set<StageID> = []
        var stack = Array(ids)
        while let id = stack.popLast() {
            for d in dependants(of: id) where !out.contains(d) {
                out.insert(d)
                stack.append(d)
            }
        }
        return out.subtracting(ids)
    }

    /// Sorts ids into topological order.
    public func sorted(_ ids: Set<StageID>) -> [StageID] {
        ids.sorted { index[$0]! < index[$1]! }
    }

    // MARK: - Selection

    /// Resolves ids and globs (`train/*/cprec-*`, `figure/fig1`, or a bare kind such as `figure`).
    ///
    /// - Throws: a `PipelineError` listing close matches when a pattern selects nothing.
    public func select(_ patterns: [String]) throws -> Set<StageID> {
        var out: Set<StageID> = []
        for p in patterns {
            let matched = match(p)
            if matched.isEmpty {
                let hint = StageGraph.closeMatches(p, among: ids.map(\.raw))
                var msg = "no stage matches '\(p)'"
                if ordered.isEmpty {
                    msg += " (the graph is empty)"
                } else if !hint.isEmpty {
                    msg += "; close matches: \(hint.joined(separator: ", "))"
                } else {
                    let kinds = Array(Set(ordered.map(\.kind))).sorted()
                    msg += "; stage kinds are \(kinds.joined(separator: ", ")) (see `pipeline dag`)"
                }
                throw PipelineError.message(msg)
            }
            out.formUnion(matched)
        }
        return out
    }

    private func match(_ pattern: String) -> [StageID] {
        if stage(StageID(pattern)) != nil { return [StageID(pattern)] }
        if !pattern.contains("/") && !pattern.contains(where: { "*?[".contains($0) }) {
            return ids.filter { $0.kind == pattern }
        }
        return ids.filter { fnmatch(pattern, $0.raw, 0) == 0 }
    }

    /// Up to five ids near `name` (edit distance, or sharing its kind), closest first.
    public static func closeMatches(_ name: String, among candidates: [String]) -> [String] {
        let literal = name.filter { !"*?[]".contains($0) }
        let scored = candidates.map { ($0, editDistance(literal, $0)) }
        let limit = max(3, literal.count / 3)
        var near = scored.filter { $0.1 <= limit }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
        if near.isEmpty {
            let kind = StageID(literal).kind
            near = candidates.filter { StageID($0).kind == kind }.sorted()
        }
        return Array(near.prefix(5))
    }
}

/// Levenshtein distance, for "did you mean" hints.
public func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count)
    var cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[y.count]
}
