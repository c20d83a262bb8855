import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A Foundation or POSIX error as one sentence naming the path and the system's reason ("cannot write
/// /x/table2.csv: No space left on device"); any other error as its own description. Users saw
/// `Error Domain=NSCocoaErrorDomain Code=512 "(null)"` before, which names neither.
public func describeError(_ error: Error) -> String {
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
    let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
    let verb: String
    switch ns.code {
    case 256..<512 where ns.domain == NSCocoaErrorDomain: verb = "cannot read"
    case 512..<768 where ns.domain == NSCocoaErrorDomain: verb = "cannot write"
    default: verb = "file operation failed on"
    }
    let cause: String
    if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
        cause = String(cString: strerror(Int32(u.code)))
    } else if ns.domain == NSPOSIXErrorDomain {
        cause = String(cString: strerror(Int32(ns.code)))
    } else {
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: cause = String(cString: strerror(ENOENT))
        case .fileWriteOutOfSpace: cause = String(cString: strerror(ENOSPC))
        case .fileReadNoPermission, .fileWriteNoPermission: cause = String(cString: strerror(EACCES))
        case .fileWriteVolumeReadOnly: cause = String(cString: strerror(EROFS))
        case .fileWriteFileExists: cause = String(cString: strerror(EEXIST))
        case .fileReadTooLarge: cause = "file too large"
        case .fileReadCorruptFile, .fileReadInapplicableStringEncoding:
            cause = "not readable as expected (corrupt or wrong encoding)"
        default:
            // swift-corelibs-foundation often drops the errno (a bare Code=512); find the reason on disk instead.
            cause = path.flatMap(probableCause) ?? "unknown cause (Foundation error \(ns.code))"
        }
    }
    return path.map { "\(verb) \($0): \(cause)" } ?? "\(verb) a file: \(cause)"
}

/// Checks, before any stage runs, that results can be published under `root`: a file in its place or an
/// unwritable folder would otherwise surface after the whole run, as the last stage fails.
public func checkOutputFolder(_ root: URL) throws {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    if fm.fileExists(atPath: root.path, isDirectory: &isDirectory), !isDirectory.boolValue {
        throw PipelineError.message("output folder \(root.path) (--out) is a file, not a folder")
    }
    do {
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
    } catch {
        throw PipelineError.message("output folder \(root.path) (--out) cannot be created: \(posixReason(error))")
    }
    // Writing is the only reliable test (permissions, read-only mounts, ACLs, root squash).
    let probe = root.appendingPathComponent(".pipeline-write-test-\(getpid())-\(UUID().uuidString)")
    let fd = open(probe.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    if fd < 0 {
        throw PipelineError.message(
            "output folder \(root.path) (--out) is not writable: \(String(cString: strerror(errno)))")
    }
    close(fd)
    unlink(probe.path)
}

/// The system's reason inside an error ("Not a directory"), or the error's sentence.
func posixReason(_ error: Error) -> String {
    let ns = error as NSError
    if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
        return String(cString: strerror(Int32(u.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path,
        let cause = probableCause(path)
    {
        return cause
    }
    return describeError(error)
}

/// Why writing `path` fails, from the file system itself: a file where a folder should be, a full or read-only
/// file system, missing permission; nil when nothing explains it.
public func probableCause(_ path: String) -> String? {
    let fm = FileManager.default
    var components = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
    components.removeLast()
    var current = ""
    var existing = "/"
    for c in components {
        current =
            current.isEmpty || current == "/"
            ? (current + c).replacingOccurrences(of: "//", with: "/") : current + "/" + c
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: current, isDirectory: &isDirectory) else { break }
        if !isDirectory.boolValue { return "\(String(cString: strerror(ENOTDIR))) (\(current) is a file)" }
        existing = current
    }
    var fs = statvfs()
    if statvfs(existing, &fs) == 0 {
        if fs.f_flag & UInt(ST_RDONLY) != 0 { return String(cString: strerror(EROFS)) }
        if fs.f_bavail == 0 { return String(cString: strerror(ENOSPC)) }
    }
    if access(existing, W_OK) != 0 { return "\(String(cString: strerror(errno))) (\(existing))" }
    if !fm.fileExists(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) {
        return String(cString: strerror(ENOENT))
    }
    return nil
}
