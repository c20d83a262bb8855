import Foundation
import Hashing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The content-addressed store on disk.
///
/// ```
/// <root>/CACHEDIR.TAG
/// <root>/<kind>/<key>/{out/, manifest.json, log.txt}   complete entries (renamed into place)
/// <root>/<kind>/.tmp-<key>-<uuid>/                     entries being written
/// <root>/<kind>/<key>.lock/owner.json                  per-key lock
/// <root>/_work/<kind>/<key>/                            checkpoints that survive a killed run
/// <root>/_index/<escaped id>.json                       last key each stage id completed with
/// <root>/_logs/<escaped id>.failed.log                  log of the last failed run
/// ```
public struct CacheStore: Sendable {
    public let root: URL
    /// A lock whose heartbeat is older than this is treated as abandoned.
    public var staleLockAfter: TimeInterval

    public init(root: URL, staleLockAfter: TimeInterval = 600) {
        self.root = root.standardizedFileURL
        self.staleLockAfter = staleLockAfter
    }

    /// `option` if given, else the client's `environmentVariable`, else `.cache` under the working directory.
    public static func resolveRoot(
        option: String?, environmentVariable: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        cwd: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    ) -> URL {
        let path = option ?? environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 } ?? ".cache"
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL }
        return cwd.appendingPathComponent(path).standardizedFileURL
    }

    // MARK: - Paths

    public func entry(kind: String, key: String) -> URL {
        root.appendingPathComponent(kind).appendingPathComponent(key)
    }
    public func outputs(kind: String, key: String) -> URL { entry(kind: kind, key: key).appendingPathComponent("out") }
    public func work(kind: String, key: String) -> URL {
        root.appendingPathComponent("_work").appendingPathComponent(kind).appendingPathComponent(key)
    }
    public func lock(kind: String, key: String) -> URL {
        root.appendingPathComponent(kind).appendingPathComponent("\(key).lock")
    }
    public func indexFile(_ id: StageID) -> URL {
        root.appendingPathComponent("_index").appendingPathComponent("\(CacheStore.escape(id)).json")
    }
    public func failedLog(_ id: StageID) -> URL {
        root.appendingPathComponent("_logs").appendingPathComponent("\(CacheStore.escape(id)).failed.log")
    }

    /// A file-name-safe, reversible spelling of a stage id.
    public static func escape(_ id: StageID) -> String {
        var out = ""
        for b in id.raw.utf8 {
            let c = Character(Unicode.Scalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".") && !(out.isEmpty && c == ".")
            {
                out.append(c)
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    static let tagSignature = "Signature: 8a477f597d28d172789f06886806bc55"
    static let tagOwner = "# cprec-repro pipeline cache"

    /// Whether the root holds the CACHEDIR.TAG this pipeline writes (what `clean` requires before deleting).
    public var isTaggedAsOurs: Bool {
        guard let text = try? String(contentsOf: root.appendingPathComponent("CACHEDIR.TAG"), encoding: .utf8) else {
            return false
        }
        return text.hasPrefix(CacheStore.tagSignature) && text.contains(CacheStore.tagOwner)
    }

    /// Creates the root and marks it as a cache (CACHEDIR.TAG keeps backup tools out).
    public func prepare() throws {
        let fm = FileManager.default
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let tag = root.appendingPathComponent("CACHEDIR.TAG")
        if !fm.fileExists(atPath: tag.path) {
            try CacheStore.atomicWrite(
                Data("\(CacheStore.tagSignature)\n\(CacheStore.tagOwner); see README.md\n".utf8),
                to: tag)
        }
    }

    // MARK: - Entries

    /// The state of one entry on disk.
    public enum EntryCheck: Equatable {
        case missing
        case valid(Manifest)
        /// Present but its files no longer match the manifest (edited or deleted by hand).
        case damaged(String)
    }

    /// Checks an entry's files against its manifest (re-hashing every output).
    /// The hash a consumer keys on for an input: its output hash, joined with its recorded measurements when
    /// the consumer `readsMeasurements`.
    public func exposedHash(of input: StageID, outputHash: String, key: String?, for consumer: any Stage) -> String {
        guard consumer.readsMeasurements, let key, case .valid(let m) = check(kind: input.kind, key: key),
            let measured = m.measurements, !measured.isEmpty
        else { return outputHash }
        let text = measured.keys.sorted().map { "\($0)=\(measured[$0]!)" }.joined(separator: ",")
        return ContentHash.combined(["outputs": outputHash, "measurements": SHA256.hex(text)])
    }

    public func check(kind: String, key: String) -> EntryCheck {
        let dir = entry(kind: kind, key: key)
        let fm = FileManager.default
        guard fm.fileExists(atPath: dir.path) else { return .missing }
        guard let data = try? Data(contentsOf: dir.appendingPathComponent("manifest.json")),
            let m = try? JSONDecoder().decode(Manifest.self, from: data)
        else { return .damaged("manifest.json missing or unreadable") }
        if m.key != key { return .damaged("manifest.json belongs to key \(m.key)") }
        let out = dir.appendingPathComponent("out")
        var problems: [String] = []
        for o in m.outputs {
            let url = out.appendingPathComponent(o.name)
            if !fm.fileExists(atPath: url.path) {
                problems.append("out/\(o.name) deleted")
            } else if (try? ContentHash.of(url)) != o.sha256 {
                problems.append("out/\(o.name) modified")
            }
        }
        if !problems.isEmpty { return .damaged(problems.joined(separator: ", ")) }
        return .valid(m)
    }

    /// Moves an entry out of the way and deletes it.
    public func remove(kind: String, key: String) throws {
        try CacheStore.removeAtomically(entry(kind: kind, key: key))
    }

    /// A fresh temporary folder for writing an entry of `key`.
    func makeTemporary(kind: String, key: String) throws -> URL {
        let dir = root.appendingPathComponent(kind).appendingPathComponent(".tmp-\(key)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("out"), withIntermediateDirectories: true)
        return dir
    }

    /// Removes temporaries of `key` left by killed runs; call only while holding the key's lock.
    func sweepTemporaries(kind: String, key: String) {
        let dir = root.appendingPathComponent(kind)
        let prefix = ".tmp-\(key)-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where name.hasPrefix(prefix)
        {
            try? FileManager.default.removeItem(at: dir.appendingPathComponent(name))
        }
    }

    /// Renames a complete temporary folder into place, replacing an older entry of the same key.
    func commit(temporary: URL, kind: String, key: String) throws {
        let target = entry(kind: kind, key: key)
        if FileManager.default.fileExists(atPath: target.path) { try CacheStore.removeAtomically(target) }
        guard rename(temporary.path, target.path) == 0 else {
            throw PipelineError.message(
                "cannot move \(temporary.path) to \(target.path): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Index

    public func readIndex(_ id: StageID) -> IndexRecord? {
        guard let data = try? Data(contentsOf: indexFile(id)) else { return nil }
        return try? JSONDecoder().decode(IndexRecord.self, from: data)
    }

    func writeIndex(_ record: IndexRecord) throws {
        let url = indexFile(record.id)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try CacheStore.atomicWrite(try Manifest.encoder().encode(record), to: url)
    }

    // MARK: - File helpers

    /// Writes through a temporary sibling and a rename, so readers see the old or the new file, never a mix.
    public static func atomicWrite(_ data: Data, to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
        do { try writeFile(data, to: tmp) } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        guard rename(tmp.path, url.path) == 0 else {
            let e = errno
            try? FileManager.default.removeItem(at: tmp)
            throw PipelineError.message("cannot write \(url.path): \(String(cString: strerror(e)))")
        }
    }

    /// Writes a small file without fsync: Foundation's `Data.write` syncs every file, which made bookkeeping cost
    /// tens of milliseconds per stage; a torn manifest after a power cut is caught by `check` and recomputed.
    static func writeFile(_ data: Data, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw PipelineError.message("cannot write \(url.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        try data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw PipelineError.message("cannot write \(url.path): \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }

    /// Renames a folder aside first, so a half-deleted entry never sits at its real name.
    static func removeAtomically(_ url: URL) throws {
        let aside = url.deletingLastPathComponent().appendingPathComponent(
            ".trash-\(url.lastPathComponent)-\(UUID().uuidString)")
        guard rename(url.path, aside.path) == 0 else {
            if errno == ENOENT { return }
            throw PipelineError.message("cannot remove \(url.path): \(String(cString: strerror(errno)))")
        }
        try FileManager.default.removeItem(at: aside)
    }
}
