import Foundation

/// Writes files so a reader never sees a half-written one: temporary file in the same folder, then rename(2).
public enum AtomicFile {
    /// Writes `data` to `url`, creating the parent folder if needed.
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        try createDirectory(directory)
        let temp = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)")
        do {
            try data.write(to: temp)
            try move(temp, to: url)
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw ReportError.io("cannot write \(url.path): \(DiskCause.reason(error, in: directory))")
        }
    }

    /// Writes UTF-8 text to `url` atomically.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Renames `source` over `destination` (same file system), replacing it atomically.
    public static func move(_ source: URL, to destination: URL) throws {
        if rename(source.path, destination.path) != 0 {
            let reason = String(cString: strerror(errno))
            throw ReportError.io("cannot rename \(source.path) to \(destination.path): \(reason)")
        }
    }

    /// Creates `url` and its parents; a clear error if a file is in the way.
    public static func createDirectory(_ url: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return }
            throw ReportError.io("cannot create folder \(url.path): a file with that name exists")
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw ReportError.io(
                "cannot create folder \(url.path): \(DiskCause.reason(error, in: url.deletingLastPathComponent()))")
        }
    }
}
