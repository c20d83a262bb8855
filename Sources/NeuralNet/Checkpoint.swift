import Foundation
import Kernels

/// Why a checkpoint could not be read.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case notACheckpoint(String)
    case unsupportedVersion(found: Int, expected: Int)
    case configMismatch
    case layoutMismatch(String)
    case truncated
    case missingOptimizerState

    public var description: String {
        switch self {
        case .notACheckpoint(let p): return "\(p) is not a cprec checkpoint (bad magic)"
        case .unsupportedVersion(let f, let e):
            return "checkpoint format version \(f), this build reads \(e); retrain to regenerate it"
        case .configMismatch: return "checkpoint was written for a different model config"
        case .layoutMismatch(let s): return "checkpoint parameter layout differs from the model's: \(s)"
        case .truncated: return "checkpoint file is truncated"
        case .missingOptimizerState: return "checkpoint holds no optimizer state, but resuming needs it"
        }
    }
}

/// Versioned binary checkpoint: magic "CPRECKPT", UInt32 version, UInt32-length config JSON, UInt32-length
/// layout JSON (names + shapes), UInt64 float count, raw little-endian Float32 values, then a UInt32 flag and,
/// when set, UInt64 Adam step + m + v, so training resumes bit-exactly.
public enum Checkpoint {
    public static let magic = Array("CPRECKPT".utf8)
    public static let version = 1

    private struct LayoutEntry: Codable, Equatable {
        var name: String
        var shape: [Int]
    }

    private static func layoutJSON(_ p: ParameterSet) -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return try! enc.encode(p.specs.map { LayoutEntry(name: $0.name, shape: $0.shape) })
    }

    /// Writes parameters (and optimizer moments when given) atomically to `url`.
    public static func save(to url: URL, config: Data, parameters: ParameterSet, optimizer: Adam? = nil) throws {
        var d = Data()
        d.append(contentsOf: magic)
        func u32(_ x: Int) { var v = UInt32(x).littleEndian; withUnsafeBytes(of: &v) { d.append(contentsOf: $0) } }
        func u64(_ x: Int) { var v = UInt64(x).littleEndian; withUnsafeBytes(of: &v) { d.append(contentsOf: $0) } }
        func floats(_ p: UnsafePointer<Float>, _ n: Int) {
            // Float32 bit patterns as little-endian (a no-op on every platform we run on).
            d.append(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: n * 4))
        }
        u32(version)
        u32(config.count)
        d.append(config)
        let layout = layoutJSON(parameters)
        u32(layout.count)
        d.append(layout)
        u64(parameters.count)
        floats(parameters.values, parameters.count)
        if let opt = optimizer {
            u32(1)
            u64(opt.step)
            floats(opt.m, parameters.count)
            floats(opt.v, parameters.count)
        } else {
            u32(0)
        }
        try d.write(to: url, options: .atomic)
    }

    /// What a checkpoint holds besides the values it loaded.
    public struct Header {
        public var config: Data
        public var hasOptimizerState: Bool
    }

    /// Reads a checkpoint into `parameters` (and `optimizer` when given). With `expectedConfig` set, a
    /// different config JSON is an error. Throws `CheckpointError` on any mismatch, before touching the model.
    @discardableResult
    public static func load(
        from url: URL, expectedConfig: Data? = nil, parameters: ParameterSet,
        optimizer: Adam? = nil
    ) throws -> Header {
        let d = try Data(contentsOf: url)
        var pos = 0
        func bytes(_ n: Int) throws -> Data {
            guard pos + n <= d.count else { throw CheckpointError.truncated }
            defer { pos += n }
            return d.subdata(in: (d.startIndex + pos)..<(d.startIndex + pos + n))
        }
        func u32() throws -> Int {
            Int(UInt32(littleEndian: try bytes(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }))
        }
        func u64() throws -> Int {
            Int(UInt64(littleEndian: try bytes(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        }
        func floats(into p: UnsafeMutablePointer<Float>, _ n: Int) throws {
            let b = try bytes(n * 4)
            b.withUnsafeBytes { raw in UnsafeMutableRawPointer(p).copyMemory(from: raw.baseAddress!, byteCount: n * 4) }
        }
        guard d.count >= magic.count, Array(d.prefix(magic.count)) == magic else {
            throw CheckpointError.notACheckpoint(url.path)
        }
        pos = magic.count
        let ver = try u32()
        guard ver == version else { throw CheckpointError.unsupportedVersion(found: ver, expected: version) }
        let config = try bytes(try u32())
        if let expectedConfig, expectedConfig != config { throw CheckpointError.configMismatch }
        let layout = try bytes(try u32())
        let mine = layoutJSON(parameters)
        guard layout == mine else {
            let theirs = (try? JSONDecoder().decode([LayoutEntry].self, from: layout)) ?? []
            let ours = parameters.specs.map { LayoutEntry(name: $0.name, shape: $0.shape) }
            let first = zip(theirs, ours).first { $0 != $1 }
            let what =
                first.map { "file has \($0.name) \($0.shape), model has \($1.name) \($1.shape)" }
                ?? "file has \(theirs.count) tensors, model has \(ours.count)"
            throw CheckpointError.layoutMismatch(what)
        }
        let n = try u64()
        guard n == parameters.count else { throw CheckpointError.layoutMismatch("\(n) floats vs \(parameters.count)") }
        // Validate the whole file length before writing anything into the model.
        let valuesAt = pos
        pos += n * 4
        let flag = try u32()
        let hasOpt = flag == 1
        if hasOpt { guard pos + 8 + 2 * n * 4 <= d.count else { throw CheckpointError.truncated } }
        if optimizer != nil && !hasOpt { throw CheckpointError.missingOptimizerState }
        pos = valuesAt
        try floats(into: parameters.values, n)
        _ = try u32()
        if let opt = optimizer {
            opt.step = try u64()
            try floats(into: opt.m, n)
            try floats(into: opt.v, n)
        }
        return Header(config: config, hasOptimizerState: hasOpt)
    }
}
