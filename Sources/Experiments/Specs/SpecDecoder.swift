import Datasets
import Foundation
import Models
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

/// Where a value was read: enough to blame it after loading, when another file shows it to be wrong
/// (a profile naming a dataset that datasets.yaml does not declare).
public struct SpecLocation: Sendable, Hashable {
    public var file: String
    public var line: Int?
    public var path: String

    func error(_ message: String) -> SpecError { SpecError(file: file, line: line, path: path, message: message) }
}

/// A string read from a spec together with where it was read (model and dataset references, ids).
public struct Located: Decodable, Sendable, Hashable {
    public var value: String
    public var location: SpecLocation

    public init(from decoder: Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
        location =
            (decoder as? SpecDecoder)?.location
            ?? SpecLocation(file: "?", line: nil, path: pathString(decoder.codingPath))
    }

    /// Fails with `unknown <what> 'x' (did you mean 'y'?)` unless `known` holds the value.
    func check(in known: [String], _ what: String, declaredIn file: String) throws {
        guard !known.contains(value) else { return }
        throw location.error("unknown \(what) '\(value)'\(didYouMean(value, known)); \(what)s are declared in \(file)")
    }
}

/// One parsed spec file. Every mapping of it has been checked for repeated keys: YAML lets the last of two equal
/// keys win silently, and a repeated key is almost always an editing mistake (a pasted entry, a setting given twice).
struct SpecFile {
    let name: String
    let root: Node

    static func load(_ url: URL) throws -> SpecFile {
        let name = url.lastPathComponent
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SpecError(
                file: url.path, line: nil, path: "", message: "cannot read spec file (missing or not UTF-8)")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw SpecError(file: name, line: nil, path: "", message: "YAML syntax error: \(error)")
        }
        guard let root else { throw SpecError(file: name, line: nil, path: "", message: "file is empty") }
        try rejectDuplicateKeys(root, file: name, path: [])
        return SpecFile(name: name, root: root)
    }

    private static func rejectDuplicateKeys(_ node: Node, file: String, path: [CodingKey]) throws {
        switch node {
        case .scalar: return
        case .sequence(let seq):
            for (i, item) in seq.enumerated() {
                try rejectDuplicateKeys(item, file: file, path: path + [AnyKey(index: i)])
            }
        case .mapping(let mapping):
            var seen: [String: Int?] = [:]
            for pair in mapping {
                guard let key = pair.key.string else { continue }
                if let first = seen[key] {
                    let earlier = first.map { " (first given on line \($0))" } ?? ""
                    throw SpecError(
                        file: file, line: pair.key.mark?.line ?? node.mark?.line, path: pathString(path),
                        message: "duplicate key '\(key)'\(earlier)")
                }
                seen[key] = pair.key.mark?.line
                try rejectDuplicateKeys(pair.value, file: file, path: path + [AnyKey(key)])
            }
        }
    }

    /// Decodes the whole file into `T`; every failure becomes a `SpecError` naming this file, a line and a key path.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try SpecDecoder(layers: [SpecLayer(node: root, file: name, path: [], keyMark: nil)]).decodeValue(T.self)
    }
}

/// One source of values for a mapping: a node, its file and its key path there. A model entry is decoded over
/// three layers (the entry in models.yaml, the profile's `model:` defaults in profiles.yaml, built-in defaults),
/// and each value is blamed on the layer it came from.
struct SpecLayer: @unchecked Sendable {  // Node is an immutable value tree; Yams only omits the annotation.
    let node: Node
    let file: String
    let path: [CodingKey]
    /// Mark of the mapping key that holds `node` (errors point at `key:`, where the reader looks).
    let keyMark: Mark?

    var location: SpecLocation {
        SpecLocation(file: file, line: keyMark?.line ?? node.mark?.line, path: pathString(path))
    }

    func child(_ key: String) -> SpecLayer? {
        guard case .mapping(let mapping) = node, let pair = mapping.first(where: { $0.key.string == key }) else {
            return nil
        }
        return SpecLayer(node: pair.value, file: file, path: path + [AnyKey(key)], keyMark: pair.key.mark)
    }

    func item(_ i: Int) -> SpecLayer? {
        guard case .sequence(let seq) = node, i < seq.count else { return nil }
        let n = seq[seq.index(seq.startIndex, offsetBy: i)]
        return SpecLayer(node: n, file: file, path: path + [AnyKey(index: i)], keyMark: nil)
    }

    /// This layer without `keys` (a mapping's other pairs keep their marks).
    func dropping(_ keys: [String]) -> SpecLayer {
        guard case .mapping(let m) = node, m.contains(where: { keys.contains($0.key.string ?? "") }) else {
            return self
        }
        let pairs = m.filter { !keys.contains($0.key.string ?? "") }.map { ($0.key, $0.value) }
        return SpecLayer(
            node: .mapping(Node.Mapping(pairs, m.tag, m.style, m.mark)), file: file, path: path, keyMark: keyMark)
    }

    /// The deepest node along `relative` (a decoding error's path below this layer).
    func descend(_ relative: [CodingKey]) -> SpecLayer {
        var here = self
        for key in relative {
            let next = key.intValue.flatMap { here.item($0) } ?? here.child(key.stringValue)
            guard let next else { break }
            here = next
        }
        return SpecLayer(node: here.node, file: here.file, path: path + relative, keyMark: here.keyMark)
    }

    var kind: String {
        switch node {
        case .scalar(let s): return s.string.isEmpty ? "nothing" : "'\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    var isNull: Bool {
        guard case .scalar(let s) = node else { return false }
        return s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string)
    }
}

/// A `Decoder` over Yams' node tree. It reads from the first layer holding a key, and turns every failure
/// (its own, and the `DecodingError`s that types throw from `init(from:)`) into a `SpecError` through `specError`,
/// the one place that maps a key path to a file and line.
struct SpecDecoder: Decoder {
    let layers: [SpecLayer]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var codingPath: [CodingKey] { layers[0].path }
    var location: SpecLocation { layers[0].location }

    func fail(_ expected: String) -> SpecError { location.error("expected \(expected), found \(layers[0].kind)") }

    /// Decodes `T` here, mapping any `DecodingError` below this node to a located `SpecError`.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let choice = T.self as? SpecChoice.Type {
            guard case .scalar(let s) = layers[0].node, choice.choices.contains(s.string) else {
                let found = layers[0].node.scalar.map { didYouMean($0.string, choice.choices) } ?? ""
                throw location.error(
                    "expected one of \(choice.choices.joined(separator: " | ")), found \(layers[0].kind)\(found)")
            }
        }
        do {
            if T.self == Float.self { return try SingleValue(decoder: self).decode(Float.self) as! T }
            return try T(from: self)
        } catch let error as DecodingError {
            throw specError(error)
        }
    }

    /// The error mapper: a `DecodingError`'s key path (relative to this decoder's) becomes file:line: path: message.
    func specError(_ error: DecodingError) -> SpecError {
        func at(_ path: [CodingKey]) -> SpecLayer {
            let own = codingPath.count
            let relative = path.count >= own ? Array(path.dropFirst(own)) : []
            return layers[0].descend(relative)
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return at(ctx.codingPath).location.error("missing required key '\(key.stringValue)'")
        case .typeMismatch(let type, let ctx):
            let place = at(ctx.codingPath)
            return place.location.error("expected \(describeType(type)), found \(place.kind)")
        case .valueNotFound(let type, let ctx):
            return at(ctx.codingPath).location.error("expected \(describeType(type)), found nothing")
        case .dataCorrupted(let ctx):
            let place = at(ctx.codingPath)
            if let unknown = ctx.underlyingError as? UnknownKeyError {
                return place.location.error(
                    "unknown key '\(unknown.key)'\(didYouMean(unknown.key, unknown.allowed)); expected one of: \(unknown.allowed.joined(separator: ", "))"
                )
            }
            return place.location.error(ctx.debugDescription)
        @unknown default:
            return location.error("\(error)")
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let mappings = layers.filter { if case .mapping = $0.node { return true } else { return false } }
        guard case .mapping = layers[0].node else { throw fail("a mapping (key: value)") }
        return KeyedDecodingContainer(Keyed<Key>(layers: mappings))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .sequence(let seq) = layers[0].node else { throw fail("a list") }
        return Unkeyed(decoder: self, count: seq.count)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleValue(decoder: self) }

    private struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let layers: [SpecLayer]
        var codingPath: [CodingKey] { layers[0].path }

        var allKeys: [Key] {
            var seen: Set<String> = [], keys: [Key] = []
            for layer in layers {
                guard case .mapping(let m) = layer.node else { continue }
                for pair in m {
                    guard let s = pair.key.string, seen.insert(s).inserted, let k = Key(stringValue: s) else {
                        continue
                    }
                    keys.append(k)
                }
            }
            return keys
        }

        func contains(_ key: Key) -> Bool { layers.contains { $0.child(key.stringValue) != nil } }

        /// The key's value in every layer that has it, first layer first.
        private func children(_ key: Key) throws -> SpecDecoder {
            let found = layers.compactMap { $0.child(key.stringValue) }
            guard !found.isEmpty else {
                throw layers[0].location.error("missing required key '\(key.stringValue)'")
            }
            return SpecDecoder(layers: found)
        }

        func decodeNil(forKey key: Key) throws -> Bool { try children(key).layers[0].isNull }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try children(key).decodeValue(T.self) }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try children(key).decodeValue(Bool.self) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            try children(key).decodeValue(String.self)
        }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
            try children(key).decodeValue(Double.self)
        }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try children(key).decodeValue(Float.self) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try children(key).decodeValue(Int.self) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try children(key).decodeValue(Int8.self) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try children(key).decodeValue(Int16.self) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try children(key).decodeValue(Int32.self) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try children(key).decodeValue(Int64.self) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try children(key).decodeValue(UInt.self) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try children(key).decodeValue(UInt8.self) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
            try children(key).decodeValue(UInt16.self)
        }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
            try children(key).decodeValue(UInt32.self)
        }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
            try children(key).decodeValue(UInt64.self)
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            guard contains(key), try !decodeNil(forKey: key) else { return nil }
            return try decode(T.self, forKey: key)
        }

        func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
            try children(key).container(keyedBy: N.self)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
            try children(key).unkeyedContainer()
        }
        func superDecoder() throws -> Decoder { SpecDecoder(layers: layers) }
        func superDecoder(forKey key: Key) throws -> Decoder { try children(key) }
    }

    private struct Unkeyed: UnkeyedDecodingContainer {
        let decoder: SpecDecoder
        let count: Int?
        var currentIndex = 0
        var codingPath: [CodingKey] { decoder.codingPath }
        var isAtEnd: Bool { currentIndex >= (count ?? 0) }

        init(decoder: SpecDecoder, count: Int) {
            self.decoder = decoder
            self.count = count
        }

        private mutating func next() throws -> SpecDecoder {
            guard let item = decoder.layers[0].item(currentIndex) else { throw decoder.fail("more items in the list") }
            currentIndex += 1
            return SpecDecoder(layers: [item])
        }

        mutating func decodeNil() throws -> Bool {
            guard let item = decoder.layers[0].item(currentIndex), item.isNull else { return false }
            currentIndex += 1
            return true
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(T.self) }
        mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decodeValue(Bool.self) }
        mutating func decode(_ type: String.Type) throws -> String { try next().decodeValue(String.self) }
        mutating func decode(_ type: Double.Type) throws -> Double { try next().decodeValue(Double.self) }
        mutating func decode(_ type: Float.Type) throws -> Float { try next().decodeValue(Float.self) }
        mutating func decode(_ type: Int.Type) throws -> Int { try next().decodeValue(Int.self) }
        mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decodeValue(Int8.self) }
        mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decodeValue(Int16.self) }
        mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decodeValue(Int32.self) }
        mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decodeValue(Int64.self) }
        mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decodeValue(UInt.self) }
        mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decodeValue(UInt8.self) }
        mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decodeValue(UInt16.self) }
        mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decodeValue(UInt32.self) }
        mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decodeValue(UInt64.self) }
        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> {
            try next().container(keyedBy: N.self)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next() }
    }

    private struct SingleValue: SingleValueDecodingContainer {
        let decoder: SpecDecoder
        var codingPath: [CodingKey] { decoder.codingPath }
        var node: Node { decoder.layers[0].node }

        private func scalar(_ expected: String) throws -> String {
            guard case .scalar(let s) = node else { throw decoder.fail(expected) }
            return s.string
        }
        private func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
            _ = try scalar("an integer")
            guard let i = node.int, let v = I(exactly: i) else {
                throw decoder.fail(I.isSigned ? "an integer" : "an integer ≥ 0")
            }
            return v
        }

        func decodeNil() -> Bool { decoder.layers[0].isNull }
        func decode(_ type: Bool.Type) throws -> Bool {
            guard let b = node.bool, case .scalar = node else { throw decoder.fail("true or false") }
            return b
        }
        func decode(_ type: String.Type) throws -> String { try scalar("a string") }
        func decode(_ type: Double.Type) throws -> Double {
            _ = try scalar("a number")
            guard let v = node.float ?? node.int.map(Double.init) else { throw decoder.fail("a number") }
            return v
        }
        func decode(_ type: Float.Type) throws -> Float {
            // Parsed from the text, not through Double: a Float in a cache key must round-trip exactly.
            let text = try scalar("a number")
            guard node.float != nil || node.int != nil, let v = Float(text) ?? node.float.map(Float.init) else {
                throw decoder.fail("a number")
            }
            return v
        }
        func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(T.self) }
    }
}

extension Decoder {
    /// A keyed container that refuses keys outside `Key` (a misspelt key would otherwise leave its default in place).
    func strictContainer<Key: CodingKey & CaseIterable>(
        _ type: Key.Type, also extra: [String] = []
    ) throws -> KeyedDecodingContainer<Key> {
        try rejectUnknownKeys(self, allowed: Key.allCases.map(\.stringValue) + extra)
        return try container(keyedBy: Key.self)
    }

    /// Fails with `expected <what>` at this decoder's key path (for range checks inside `init(from:)`).
    func invalid(_ what: String) -> Error {
        DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "expected \(what)"))
    }
}

extension KeyedDecodingContainer {
    /// Fails with `expected <what>, found <value>` at `key` (range checks name the key and its line).
    func invalid(_ key: Key, _ what: String, found: Any) -> Error {
        DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "expected \(what), found \(found)")
    }

    /// A string that must be one of `choices`; a near miss gets a hint.
    func decodeChoice(_ key: Key, _ choices: [String]) throws -> String? {
        guard let s = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard choices.contains(s) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self,
                debugDescription:
                    "expected one of \(choices.joined(separator: " | ")), found '\(s)'\(didYouMean(s, choices))")
        }
        return s
    }
}

/// A value spelt as one of a fixed set of words (model kinds, sharing schemes, table columns).
protocol SpecChoice { static var choices: [String] { get } }

extension SpecChoice where Self: CaseIterable & RawRepresentable, RawValue == String {
    static var choices: [String] { allCases.map(\.rawValue) }
}

extension ModelConfig.Kind: SpecChoice {}
extension ModelConfig.Factorization: SpecChoice {}
extension ModelConfig.Sharing: SpecChoice {}

/// A mapping whose keys are ids (dataset, model, profile names), in file order (tables print rows in that order).
/// Ids end up in stage ids, cache paths, file names and Slurm job scripts, so they are held to a conservative
/// pattern instead of being quoted everywhere.
struct IdMap<Value: Decodable>: Decodable {
    var entries: [(id: String, value: Value)]

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        entries = try c.allKeys.map { key in
            guard SpecID.isValid(key.stringValue) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: c, debugDescription: "invalid id '\(key.stringValue)': \(SpecID.rule)")
            }
            return (key.stringValue, try c.decode(Value.self, forKey: key))
        }
    }

    var ids: [String] { entries.map(\.id) }
    var dictionary: [String: Value] { Dictionary(entries, uniquingKeysWith: { a, _ in a }) }
}

/// Free text shown in tables and reports; control characters would break their lines and cells.
struct Label: Decodable {
    var text: String

    init(from decoder: Decoder) throws {
        text = try decoder.singleValueContainer().decode(String.self)
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw decoder.invalid("a label without control characters (newline, tab, NUL, …)")
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

/// Any string (or index) as a coding key.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s }
    init(stringValue: String) { self.stringValue = stringValue }
    init(index: Int) {
        stringValue = "\(index)"
        intValue = index
    }
    init?(intValue: Int) { self.init(index: intValue) }
}

func pathString(_ keys: [CodingKey]) -> String {
    var out = ""
    for k in keys {
        if let i = k.intValue { out += "[\(i)]" } else { out += out.isEmpty ? k.stringValue : ".\(k.stringValue)" }
    }
    return out
}

private func describeType(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type, is UInt64.Type, is Int64.Type, is Int32.Type, is UInt.Type: return "an integer"
    case is Double.Type, is Float.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is String.Type: return "a string"
    case is [Any].Type: return "a list"
    case is [String: Any].Type: return "a mapping"
    default: return "\(type)"
    }
}

/// ` (did you mean 'x'?)` for the closest candidate, or "" when there is none.
func didYouMean(_ word: String, _ candidates: [String]) -> String {
    candidates.min { editDistance($0, word) < editDistance($1, word) }.map { " (did you mean '\($0)'?)" } ?? ""
}
