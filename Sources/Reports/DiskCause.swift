import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why files cannot be written in a folder, read from the file system (Foundation on Linux often reports only
/// "Code=512", and gnuplot writes a truncated image on a full disk without a word).
enum DiskCause {
    /// "No space left on device", "Read-only file system", "Permission denied", or nil when nothing explains it.
    static func of(_ directory: URL) -> String? {
        var fs = statvfs()
        if statvfs(directory.path, &fs) == 0 {
            if fs.f_flag & UInt(ST_RDONLY) != 0 { return String(cString: strerror(EROFS)) }
            // A plot is tens of kB: a folder with less than that free is full for this purpose.
            let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
            if free < 64 * 1024 { return "\(String(cString: strerror(ENOSPC))) (\(free) bytes free)" }
        }
        if access(directory.path, W_OK) != 0 { return String(cString: strerror(errno)) }
        return nil
    }

    /// The reason inside a Foundation error, else the folder's state, else the error's own text.
    static func reason(_ error: Error, in directory: URL) -> String {
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let cause = of(directory) { return cause }
        if ns.domain == NSCocoaErrorDomain { return "file system error (Foundation code \(ns.code))" }
        return "\(error)"
    }
}
