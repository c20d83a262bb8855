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
    /// Does the work: reads inputs through the context, writes every declared output into `context.outputDirectory`.
    func run(_ context: StageContext) throws
}
