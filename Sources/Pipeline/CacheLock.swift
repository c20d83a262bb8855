import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who holds a lock; written inside the lock folder and refreshed by a heartbeat while the lock is held.
public struct LockOwner: Codable, Equatable, Sendable {
    public var pid: Int32
    public var host: String
    /// Seconds since 1970 of the last heartbeat.
    public var heartbeat: Double
    public var started: String
    /// Distinguishes holders that reuse a pid (threads of one process, or a recycled pid).
    public var token: String
}

/// A per-key lock that works between threads, processes and hosts sharing a filesystem.
///
/// The lock is a folder holding `owner.json`, made complete in a private temporary folder and renamed into
/// place: rename onto an existing non-empty folder fails on every POSIX filesystem (NFS included), unlike
/// `flock`, which network filesystems honour unreliably. A holder refreshes its heartbeat; a lock whose process
/// is gone (same host) or whose heartbeat is older than `staleAfter` is broken with a warning.
public final class CacheLock: @unchecked Sendable {
    public let path: URL
    let owner: LockOwner
    private var timer: DispatchSourceTimer?
    private let mutex = NSLock()
    private var released = false

    private init(path: URL, owner: LockOwner, heartbeatEvery: TimeInterval) {
        self.path = path
        self.owner = owner
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        t.schedule(deadline: .now() + heartbeatEvery, repeating: heartbeatEvery)
        t.setEventHandler { [weak self] in self?.beat() }
        t.resume()
        timer = t
    }

    deinit { release() }

    /// Blocks until the lock is held.
    ///
    /// - Parameters:
    ///   - staleAfter: a lock without heartbeat for this long is considered abandoned.
    ///   - waiting: called once, with the current owner, if the lock is busy.
    ///   - warn: called when an abandoned lock is broken.
    public static func acquire(
        _ path: URL, staleAfter: TimeInterval,
        waiting: (LockOwner) -> Void = { _ in },
        warn: (String) -> Void = { _ in }
    ) throws -> CacheLock {
        let fm = FileManager.default
        try fm.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        let me = LockOwner(
            pid: getpid(), host: HostFacts.host, heartbeat: Date().timeIntervalSince1970,
            started: ISOTime.string(Date()), token: UUID().uuidString)
        var toldWaiting = false
        var pause = 0.02
        while true {
            if try tryCreate(path, owner: me) {
                return CacheLock(path: path, owner: me, heartbeatEvery: max(0.05, staleAfter / 10))
            }
            if let other = readOwner(path) {
                if let why = staleness(other, staleAfter: staleAfter) {
                    if breakLock(path, expected: other) {
                        warn("broke stale lock \(path.path) held by pid \(other.pid) on \(other.host): \(why)")
                    }
                    continue
                }
                if !toldWaiting {
                    waiting(other)
                    toldWaiting = true
                }
            }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 1.5, 0.5)
        }
    }

    /// Releases the lock (only if it is still ours).
    public func release() {
        mutex.lock()
        defer { mutex.unlock() }
        if released { return }
        released = true
        timer?.cancel()
        timer = nil
        if CacheLock.readOwner(path)?.token == owner.token {
            _ = CacheLock.breakLock(path, expected: owner)
        }
    }

    private func beat() {
        mutex.lock()
        defer { mutex.unlock() }
        if released { return }
        guard CacheLock.readOwner(path)?.token == owner.token else { return }
        var o = owner
        o.heartbeat = Date().timeIntervalSince1970
        if let data = try? JSONEncoder().encode(o) {
            let tmp = path.appendingPathComponent("owner.json.\(UUID().uuidString)")
            if (try? CacheStore.writeFile(data, to: tmp)) != nil {
                if rename(tmp.path, path.appendingPathComponent("owner.json").path) != 0 {
                    try? FileManager.default.removeItem(at: tmp)
                }
            }
        }
    }

    static func tryCreate(_ path: URL, owner: LockOwner) throws -> Bool {
        let fm = FileManager.default
        let tmp = path.deletingLastPathComponent()
            .appendingPathComponent(".\(path.lastPathComponent).new-\(owner.token)")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        try CacheStore.writeFile(JSONEncoder().encode(owner), to: tmp.appendingPathComponent("owner.json"))
        if rename(tmp.path, path.path) == 0 { return true }
        let err = errno
        try? fm.removeItem(at: tmp)
        if err == EEXIST || err == ENOTEMPTY { return false }
        throw PipelineError.message("cannot create lock \(path.path): \(String(cString: strerror(err)))")
    }

    /// The current owner, or nil when the lock is free (or vanished while reading).
    public static func readOwner(_ path: URL) -> LockOwner? {
        guard let data = try? Data(contentsOf: path.appendingPathComponent("owner.json")) else { return nil }
        return try? JSONDecoder().decode(LockOwner.self, from: data)
    }

    /// Why a lock is abandoned, or nil when its holder may still be alive.
    static func staleness(_ o: LockOwner, staleAfter: TimeInterval) -> String? {
        if o.host == HostFacts.host && kill(o.pid, 0) != 0 && errno == ESRCH {
            return "process \(o.pid) no longer exists"
        }
        let age = Date().timeIntervalSince1970 - o.heartbeat
        if age > staleAfter { return String(format: "no heartbeat for %.0f s", age) }
        return nil
    }

    /// Moves the lock aside if it is still held by `expected`; true when this call removed it.
    static func breakLock(_ path: URL, expected: LockOwner) -> Bool {
        let fm = FileManager.default
        let aside = path.deletingLastPathComponent()
            .appendingPathComponent(".\(path.lastPathComponent).broken-\(UUID().uuidString)")
        guard rename(path.path, aside.path) == 0 else { return false }
        if readOwner(aside)?.token != expected.token {
            // Someone replaced the lock between our read and the rename: put theirs back.
            if rename(aside.path, path.path) != 0 { try? fm.removeItem(at: aside) }
            return false
        }
        try? fm.removeItem(at: aside)
        return true
    }
}
