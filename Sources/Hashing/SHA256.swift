import CCrypto
import Foundation

/// Incremental SHA-256 (or MD5, for the checksums some data hosts publish) over the system's libcrypto (OpenSSL
/// EVP API).
public struct SHA256Hasher {
    private var context: OpaquePointer

    public init() { self.init(EVP_sha256()) }

    init(_ algorithm: OpaquePointer?) {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, algorithm, nil)
    }

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        if data.count > 0 { EVP_DigestUpdate(context, data.baseAddress, data.count) }
    }

    public mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ string: String) {
        update(Data(string.utf8))
    }

    /// Finishes the digest and returns it as lowercase hex; the hasher must not be used afterwards.
    public mutating func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        EVP_MD_CTX_free(context)
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}

/// One-shot SHA-256 helpers.
public enum SHA256 {
    public static func hex(_ data: Data) -> String {
        var h = SHA256Hasher()
        h.update(data)
        return h.finalizeHex()
    }

    public static func hex(_ string: String) -> String { hex(Data(string.utf8)) }

    /// Streams a file through the hash in 1 MiB chunks, so large downloads never sit in memory.
    public static func hex(fileAt url: URL) throws -> String { try digest(fileAt: url, SHA256Hasher()) }

    /// MD5 of a file (GroupLens publishes MD5s); never used for cache keys.
    public static func md5Hex(fileAt url: URL) throws -> String { try digest(fileAt: url, SHA256Hasher(EVP_md5())) }

    static func digest(fileAt url: URL, _ hasher: SHA256Hasher) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var h = hasher
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            h.update(chunk)
        }
        return h.finalizeHex()
    }
}
