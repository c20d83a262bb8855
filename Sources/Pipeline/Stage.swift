import Foundation

/// A stage's identity in the graph, e.g. "train/ml-latest/cprec-cb"; the part before the first "/" is its kind.
public struct StageID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
    public init(stringLiteral value: String) { raw = value }
    public var description: String { raw }
    public static func < (a: StageID, b: StageID) -> Bool { a.raw < b.raw }
}

/// A JSON value; stage parameters are canonicalised through it (sorted keys) before hashing.
public indirect enum JSONValue: Hashable, Codable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])
}

/// One unit of cached work: declared inputs and parameters in, declared files out.
public protocol Stage {
    /// Unique id; `kind` is the prefix before the first "/".
    var id: StageID { get }
    /// Bumped by hand when the stage's logic changes; part of the key.
    var version: Int { get }
    /// Everything that changes the result and nothing else; part of the key as canonical JSON.
    var parameters: JSONValue { get }
    /// Upstream stages whose output entries this stage reads (their output hashes go into the key).
    var inputs: [StageID] { get }
    /// External files this stage reads (their content hashes go into the key).
    var fileInputs: [URL] { get }
    /// File names (relative to the entry's output folder) the stage must produce.
    var outputs: [String] { get }
    /// Output files copied to the output root after success or when already fresh: entry file -> root-relative path.
    var publishes: [String: String] { get }
    /// Threads this stage wants (nil: the runner shares `RunOptions.threads` among running stages).
    var preferredThreads: Int? { get }
    /// True for stages that present their inputs' measurements (timings): their key then also covers those
    /// measurements, so new timings reach tables while stages reading outputs only keep their early cutoff.
    var readsMeasurements: Bool { get }
    /// Does the work: reads inputs through the context, writes every declared output into `context.outputDirectory`.
    func run(_ context: StageContext) throws
}

// MARK: - JSONValue coding

// Plain JSON coding (not the synthesised `{"number":{"_0":…}}` shape), so any Encodable converts into a JSONValue.
extension JSONValue {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? container.decode(Double.self) {
            self = .number(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else if let o = try? container.decode([String: JSONValue].self) {
            self = .object(o)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

// MARK: - Defaults

extension Stage {
    /// The prefix of `id` before the first "/" (the cache folder the stage's entries live in).
    public var kind: String { id.kind }
    /// Most stages read no external files.
    public var fileInputs: [URL] { [] }
    /// Most stages publish nothing outside the cache.
    public var publishes: [String: String] { [:] }
    /// Threads this stage wants; nil lets the runner share `RunOptions.threads` among the running stages.
    public var preferredThreads: Int? { nil }
    /// Most stages read outputs only.
    public var readsMeasurements: Bool { false }
}

extension StageID {
    /// The prefix before the first "/" (the whole id when it has none).
    public var kind: String {
        if let slash = raw.firstIndex(of: "/") { return String(raw[..<slash]) }
        return raw
    }
}

// A stage id is written as a plain string in manifests and the index.
extension StageID {
    public init(from decoder: Decoder) throws {
        raw = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(raw)
    }
}
