import Foundation

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
    static func string(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }
}

/// Host facts recorded in manifests (and printed by reports as provenance).
public enum HostFacts {
    public static let host: String = ProcessInfo.processInfo.hostName

    /// The checkout's commit, or nil outside git (or without git installed).
    public static let gitCommit: String? = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "rev-parse", "HEAD"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }()
}
