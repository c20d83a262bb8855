import Foundation
import Pipeline
import Yams

/// A spec file problem, always naming the file, the line and the key path, and what was expected.
public struct SpecError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let path: String
    public let message: String
    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// A YAML node with its file and key path, read through typed accessors that fail with a `SpecError`.
struct SpecNode {
    let node: Node
    let file: String
    let path: String

    /// Parses one YAML file; a syntax error names the file and line.
    static func load(_ url: URL) throws -> SpecNode {
        let name = url.lastPathComponent
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SpecError(file: url.path, line: nil, path: "", message: "cannot read spec file (missing or not UTF-8)")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw SpecError(file: name, line: nil, path: "", message: "file is empty")
            }
            let root = SpecNode(node: node, file: name, path: "")
            // YAML lets the last of two equal keys win silently; a repeated key is almost always an editing
            // mistake (a pasted entry, a setting given twice), so every mapping of every spec file refuses them.
            try root.rejectDuplicateKeys()
            return root
        } catch let error as YamlError {
            throw SpecError(file: name, line: nil, path: "", message: "YAML syntax error: \(error)")
        }
    }

    var line: Int? { node.mark?.line }

    private func rejectDuplicateKeys() throws {
        switch node {
        case .scalar: return
        case .sequence: for item in try list() { try item.rejectDuplicateKeys() }
        case .mapping(let mapping):
            var seen: [String: Int?] = [:]
            for pair in mapping {
                guard let key = pair.key.string else { continue }
                if let first = seen[key] {
                    let earlier = first.map { " (first given on line \($0))" } ?? ""
                    throw SpecError(file: file, line: pair.key.mark?.line ?? line, path: path,
                                    message: "duplicate key '\(key)'\(earlier)")
                }
                seen[key] = pair.key.mark?.line
                try child(pair.value, key).rejectDuplicateKeys()
            }
        }
    }

    func fail(_ message: String) -> SpecError { SpecError(file: file, line: line, path: path, message: message) }

    private func child(_ node: Node, _ key: String) -> SpecNode {
        SpecNode(node: node, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// Ordered key/value pairs of a mapping (YAML order is kept: specs list rows in the order tables print).
    func entries() throws -> [(String, SpecNode)] {
        guard let mapping = node.mapping else { throw fail("expected a mapping (key: value), found \(kind)") }
        return try mapping.map { pair in
            guard let key = pair.key.string else { throw fail("expected string keys") }
            return (key, child(pair.value, key))
        }
    }

    /// Rejects keys outside `allowed`, naming the closest allowed key (typos are the usual cause).
    func checkKeys(_ allowed: [String]) throws {
        for (key, value) in try entries() where !allowed.contains(key) {
            let hint = allowed.min { editDistance($0, key) < editDistance($1, key) }.map { " (did you mean '\($0)'?)" } ?? ""
            throw value.fail("unknown key '\(key)'\(hint); expected one of: \(allowed.joined(separator: ", "))")
        }
    }

    /// Entries whose keys are ids (dataset, model, profile names). Ids end up in stage ids, cache paths, file names
    /// and Slurm job scripts, so they are held to a conservative pattern instead of being quoted everywhere.
    func idEntries() throws -> [(String, SpecNode)] {
        guard let mapping = node.mapping else { throw fail("expected a mapping (key: value), found \(kind)") }
        for pair in mapping {
            guard let key = pair.key.string else { throw fail("expected string keys") }
            if !SpecID.isValid(key) {
                throw SpecError(file: file, line: pair.key.mark?.line ?? line, path: path,
                                message: "invalid id '\(key)': \(SpecID.rule)")
            }
        }
        return try entries()
    }

    subscript(key: String) -> SpecNode? {
        guard let mapping = node.mapping, let value = mapping[key] else { return nil }
        return child(value, key)
    }

    func required(_ key: String) throws -> SpecNode {
        guard node.mapping != nil else { throw fail("expected a mapping, found \(kind)") }
        guard let value = self[key] else { throw fail("missing required key '\(key)'") }
        return value
    }

    var kind: String {
        switch node {
        case .scalar(let s): return "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    func string() throws -> String {
        guard case .scalar(let s) = node else { throw fail("expected a string, found \(kind)") }
        return s.string
    }

    /// Free text shown in tables and reports; control characters would break their lines and cells.
    func label() throws -> String {
        let s = try string()
        if s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw fail("labels may not contain control characters (newline, tab, NUL, …)")
        }
        return s
    }

    func int() throws -> Int {
        guard let v = node.int else { throw fail("expected an integer, found \(kind)") }
        return v
    }

    func double() throws -> Double {
        guard let v = node.float ?? node.int.map(Double.init) else { throw fail("expected a number, found \(kind)") }
        return v
    }

    func bool() throws -> Bool {
        guard let v = node.bool else { throw fail("expected true or false, found \(kind)") }
        return v
    }

    func list() throws -> [SpecNode] {
        guard case .sequence(let seq) = node else { throw fail("expected a list, found \(kind)") }
        return seq.enumerated().map { i, n in SpecNode(node: n, file: file, path: "\(path)[\(i)]") }
    }

    func strings() throws -> [String] { try list().map { try $0.string() } }
    func ints() throws -> [Int] { try list().map { try $0.int() } }
    func doubles() throws -> [Double] { try list().map { try $0.double() } }

    /// A string that must be one of `choices`.
    func oneOf(_ choices: [String]) throws -> String {
        let s = try string()
        guard choices.contains(s) else { throw fail("expected one of \(choices.joined(separator: " | ")), found '\(s)'") }
        return s
    }

    /// The node as a plain JSON-compatible value (for handing sub-trees to Codable types).
    func json() throws -> Any {
        switch node {
        case .scalar:
            if let b = node.bool, ["true", "false"].contains((try? string())?.lowercased() ?? "") { return b }
            if let i = node.int { return i }
            if let d = node.float { return d }
            return try string()
        case .sequence: return try list().map { try $0.json() }
        case .mapping:
            var out: [String: Any] = [:]
            for (k, v) in try entries() { out[k] = try v.json() }
            return out
        }
    }

    /// Decodes the sub-tree into a Codable type, turning a decoding error into one that names file, line, key.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: json(), options: [.fragmentsAllowed, .sortedKeys])
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw fail("missing key '\(pathString(ctx.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw fail("'\(pathString(ctx.codingPath))': \(ctx.debugDescription)")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw fail("'\(pathString(ctx.codingPath))': \(ctx.debugDescription)")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw fail("'\(pathString(ctx.codingPath))': value missing")
        }
    }
}

/// The id rule shared by every spec file and the command line.
public enum SpecID {
    public static let rule = "ids start with a letter or digit and contain only letters, digits, '.', '_' and '-'"

    public static func isValid(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, isAlnum(first) else { return false }
        return id.unicodeScalars.allSatisfy { isAlnum($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    private static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }
}

private func pathString(_ keys: [CodingKey]) -> String {
    keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}
