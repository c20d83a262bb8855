import Foundation
import Subprocess

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The record written beside every cache entry: what went in, what came out, where and when it ran.
public struct Manifest: Codable, Equatable, Sendable {
    /// One output file or folder with its content hash.
    public struct Output: Codable, Equatable, Sendable {
        public var name: String
        public var sha256: String
        public var bytes: Int
    }

    public var id: StageID
    public var key: String
    public var material: KeyMaterial
    /// Sorted by name.
    public var outputs: [Output]
    /// `ContentHash.combined` of the outputs: what downstream keys use.
    public var outputHash: String
    /// `git rev-parse HEAD` of the working directory, if it is a git checkout.
    public var gitCommit: String?
    public var host: String
    public var pid: Int32
    public var start: String
    public var end: String
    public var seconds: Double
    public var threads: Int
    /// Observations that are not reproducible bit for bit (wall times, throughput), recorded by the stage
    /// through `StageContext.record` and kept out of the output hash, so they never invalidate downstream stages.
    public var measurements: [String: Double]?

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

/// The index record of a stage id: the key it last completed with (run or reused), for `status` diffs and ETAs.
public struct IndexRecord: Codable, Equatable, Sendable {
    public var id: StageID
    public var key: String
    public var material: KeyMaterial
    public var outputHash: String
    /// Wall time of the run that produced the entry.
    public var seconds: Double
    public var time: String
}

enum ISOTime {
    // Making a formatter costs milliseconds on Linux; one shared instance behind a lock.
    private static let formatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
    private static let mutex = NSLock()

    static func string(_ date: Date) -> String {
        mutex.lock()
        defer { mutex.unlock() }
        return formatter.string(from: date)
    }
}
