import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A set of running child processes that can all be sent a signal and waited for.
public final class ChildProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [pid_t: String] = [:]
    /// The signal being forwarded, or 0: children started from now on get it at once.
    private var stopping: Int32 = 0

    public init() {}

    /// Starts `process` and tracks it until `wait(_:)` (or `forget(_:)`).
    public func start(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        // Held across run(): a forward that starts meanwhile sees this child once it exists.
        try process.run()
        running[process.processIdentifier] = process.executableURL?.lastPathComponent ?? "child"
        if stopping != 0 { kill(process.processIdentifier, stopping) }
    }

    /// Waits for `process` to end and stops tracking it.
    public func wait(_ process: Process) {
        process.waitUntilExit()
        forget(process)
    }

    public func forget(_ process: Process) {
        lock.lock()
        running.removeValue(forKey: process.processIdentifier)
        lock.unlock()
    }

    /// Children started and not yet waited for.
    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return running.count
    }

    /// The signal being forwarded, if any (a child that died of it was stopped; it did not fail).
    public var stoppingSignal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return stopping == 0 ? nil : stopping
    }

    /// Sends `signal` to every tracked child and waits up to `timeout` seconds for their waiters to see them end;
    /// children still alive then get SIGKILL. Returns how many children were signalled.
    @discardableResult
    public func forward(_ signal: Int32, timeout: TimeInterval = 10) -> Int {
        lock.lock()
        stopping = signal
        let pids = Array(running.keys)
        lock.unlock()
        for pid in pids { kill(pid, signal) }
        let deadline = Date().addingTimeInterval(timeout)
        while count > 0 && Date() < deadline { usleep(10_000) }
        lock.lock()
        let left = Array(running.keys)
        lock.unlock()
        for pid in left { kill(pid, SIGKILL) }
        return pids.count
    }
}

/// Write end of the self-pipe the signal handler writes to (a C handler cannot capture context).
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// Every child process the pipeline starts (curl, unzip, md5sum, gnuplot, git, bash/sbatch, squeue), tracked so
/// that a SIGINT or SIGTERM sent to the pipeline alone (`kill PID`, a batch scheduler, a container stop) reaches
/// them too: otherwise a curl or gnuplot outlives the run that started it and keeps writing into the cache.
public enum Children {
    public static let shared = ChildProcesses()

    public static func start(_ process: Process) throws { try shared.start(process) }
    public static func wait(_ process: Process) { shared.wait(process) }
    public static var stoppingSignal: Int32? { shared.stoppingSignal }

    /// Ends this process by the forwarded signal, if one arrived: the run may finish (its stages failing as their
    /// children die) before the signal thread re-raises, and the exit status must still say "killed by SIGTERM".
    public static func exitIfSignalled() {
        guard let sig = stoppingSignal else { return }
        shared.forward(sig)
        signal(sig, SIG_DFL)
        kill(getpid(), sig)
    }

    /// On SIGINT or SIGTERM: forward the signal to every child, wait for them, then end this process by the same
    /// signal (so the exit status says what happened; the cache is safe against a kill at any point).
    ///
    /// A real handler, not SIG_IGN plus a dispatch source: an ignored signal stays ignored in every child exec'd
    /// later, so the forwarded SIGTERM would not stop them. A caught one is reset to the default by exec.
    public static func forwardTerminationSignals() {
        // A launcher may start us with these signals blocked (a test runner does); a blocked SIGTERM would never
        // reach the handler, and the run would go on until its own end. Threads started later inherit this mask.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        signalPipeWrite = fds[1]
        let readEnd = fds[0]
        // Only write(2) in the handler (async-signal-safe); the thread below does the work.
        let handler: @convention(c) (Int32) -> Void = { sig in
            var byte = UInt8(truncatingIfNeeded: sig)
            _ = write(signalPipeWrite, &byte, 1)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        let thread = Thread {
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) != 1 {}
            let sig = Int32(byte)
            let n = shared.forward(sig)
            if n > 0 {
                let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
                FileHandle.standardError.write(Data("\(name): stopped \(n) child process(es); exiting\n".utf8))
            }
            signal(sig, SIG_DFL)
            kill(getpid(), sig)
        }
        thread.start()
    }
}
