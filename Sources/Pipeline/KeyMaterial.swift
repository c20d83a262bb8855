import Foundation
import Hashing

/// Everything a cache key is computed from; recorded in manifests and the index so `status` can say what changed.
public struct KeyMaterial: Codable, Equatable, Sendable {
    /// One upstream stage and the hash of the outputs it produced.
    public struct Input: Codable, Equatable, Sendable {
        public var id: StageID
        public var outputHash: String
    }

    /// One external file (by name, not path, so a moved checkout keeps its cache) and its content hash.
    public struct File: Codable, Equatable, Sendable {
        public var name: String
        public var sha256: String
    }

    /// The stage id: two stages never share an entry through parameters their author forgot to declare.
    public var id: StageID
    public var kind: String
    public var version: Int
    public var parameters: JSONValue
    /// Sorted by id.
    public var inputs: [Input]
    /// In declared order.
    public var files: [File]

    public init(id: StageID, version: Int, parameters: JSONValue, inputs: [Input], files: [File]) {
        self.id = id
        self.kind = id.kind
        self.version = version
        self.parameters = parameters
        self.inputs = inputs.sorted { $0.id < $1.id }
        self.files = files
    }

    /// The canonical text the key hashes: a JSON object with sorted keys, built by hand so it never depends on
    /// an encoder's formatting choices.
    public var canonicalString: String {
        let value: JSONValue = .object([
            "id": .string(id.raw),
            "kind": .string(kind),
            "version": .number(Double(version)),
            "parameters": parameters,
            "inputs": .array(inputs.map { .object(["id": .string($0.id.raw), "outputHash": .string($0.outputHash)]) }),
            "files": .array(files.map { .object(["name": .string($0.name), "sha256": .string($0.sha256)]) })
        ])
        return value.canonicalString
    }

    /// The cache key: SHA-256 of the canonical text, as 64 lowercase hex digits.
    public var key: String { SHA256.hex(canonicalString) }

    /// Builds the material of a stage given its upstream stages' output hashes; hashes its file inputs.
    public static func of(_ stage: any Stage, inputHashes: [StageID: String]) throws -> KeyMaterial {
        var inputs: [Input] = []
        for id in Set(stage.inputs) {
            guard let h = inputHashes[id] else {
                throw PipelineError.message("stage '\(stage.id)': output hash of input '\(id)' is not known yet")
            }
            inputs.append(Input(id: id, outputHash: h))
        }
        var files: [File] = []
        for url in stage.fileInputs {
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw PipelineError.message("stage '\(stage.id)': input file \(url.path) does not exist")
            }
            files.append(File(name: url.lastPathComponent, sha256: try ContentHash.of(url)))
        }
        return KeyMaterial(
            id: stage.id, version: stage.version, parameters: stage.parameters,
            inputs: inputs, files: files)
    }

    /// Human-readable reasons why `self` differs from an earlier material (empty when equal).
    public func differences(from old: KeyMaterial) -> [String] {
        var out: [String] = []
        if version != old.version { out.append("version changed: \(old.version) -> \(version)") }
        for c in parameters.changes(from: old.parameters) { out.append("parameter \(c)") }
        let oldInputs = Dictionary(old.inputs.map { ($0.id, $0.outputHash) }, uniquingKeysWith: { a, _ in a })
        let newInputs = Dictionary(inputs.map { ($0.id, $0.outputHash) }, uniquingKeysWith: { a, _ in a })
        for i in inputs {
            if let o = oldInputs[i.id] {
                if o != i.outputHash { out.append("input \(i.id) produced different outputs") }
            } else {
                out.append("input \(i.id) added")
            }
        }
        for i in old.inputs where newInputs[i.id] == nil { out.append("input \(i.id) removed") }
        let oldFiles = Dictionary(old.files.map { ($0.name, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        let newFiles = Dictionary(files.map { ($0.name, $0.sha256) }, uniquingKeysWith: { a, _ in a })
        for f in files {
            if let o = oldFiles[f.name] {
                if o != f.sha256 { out.append("input file \(f.name) changed") }
            } else {
                out.append("input file \(f.name) added")
            }
        }
        for f in old.files where newFiles[f.name] == nil { out.append("input file \(f.name) removed") }
        if out.isEmpty && canonicalString != old.canonicalString {
            out.append("key inputs changed (order of input files)")
        }
        return out
    }
}

/// Content hashes of files and folders (a folder hashes the sorted list of its files' relative paths and hashes).
public enum ContentHash {
    public static func of(_ url: URL) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw PipelineError.message("\(url.path) does not exist")
        }
        if !isDir.boolValue { return try FileHashMemo.shared.hash(url) }
        var lines: [String] = []
        for rel in try filesBelow(url) {
            lines.append("\(rel)\t\(try SHA256.hex(fileAt: url.appendingPathComponent(rel)))")
        }
        return SHA256.hex("dir\n" + lines.joined(separator: "\n"))
    }

    /// Relative paths of the regular files below a folder, sorted.
    static func filesBelow(_ dir: URL) throws -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        for rel in try fm.subpathsOfDirectory(atPath: dir.path) {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dir.appendingPathComponent(rel).path, isDirectory: &isDir), !isDir.boolValue {
                out.append(rel)
            }
        }
        return out.sorted()
    }

    /// One hash over a stage's named outputs (name -> content hash), the value downstream keys use.
    public static func combined(_ outputs: [String: String]) -> String {
        SHA256.hex(outputs.keys.sorted().map { "\($0)\t\(outputs[$0]!)" }.joined(separator: "\n"))
    }
}

/// Remembers file hashes within one process by (path, size, mtime, inode), so large dataset files are hashed once
/// per command even though status, plan and run each ask.
final class FileHashMemo: @unchecked Sendable {
    static let shared = FileHashMemo()
    private let mutex = NSLock()
    private var memo: [String: String] = [:]

    func hash(_ url: URL) throws -> String {
        let attrs = try FileManager.default.attributesOfItem(atPath: url.path)
        let size = (attrs[.size] as? NSNumber)?.int64Value ?? -1
        let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
        let inode = (attrs[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
        // Small files are cheap to hash and may be rewritten within one mtime tick; only memoise big ones.
        guard size >= 1 << 20 else { return try SHA256.hex(fileAt: url) }
        let k = "\(url.standardizedFileURL.path)\u{0}\(size)\u{0}\(mtime)\u{0}\(inode)"
        mutex.lock()
        if let h = memo[k] { mutex.unlock(); return h }
        mutex.unlock()
        let h = try SHA256.hex(fileAt: url)
        mutex.lock()
        memo[k] = h
        mutex.unlock()
        return h
    }
}
