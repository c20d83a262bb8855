import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one way this project runs another program (curl, unzip, gnuplot, git, bash, squeue): tracked by
/// `Children`, so a SIGINT or SIGTERM sent to the pipeline reaches it, with stdin closed and output captured in
/// temporary files.
///
/// Files, never pipes: a pipe's write end can leak into a child that another thread spawns at the same moment,
/// and reading that pipe to its end would then wait for the unrelated child; a file also cannot fill up and
/// block a chatty child.
public enum Command {
    /// How a program ended and what it printed.
    public struct Outcome: Sendable {
        /// The exit status, or the number of the signal that ended it.
        public var status: Int32
        /// True when a signal ended it.
        public var signalled: Bool
        public var stdout: String
        public var stderr: String
        /// Exited with status 0.
        public var succeeded: Bool { !signalled && status == 0 }
    }

    /// Why a program could not be run to its end.
    public enum Failure: Error, CustomStringConvertible {
        case cannotStart(program: String, detail: String)
        case timedOut(program: String, seconds: TimeInterval)

        public var description: String {
            switch self {
            case .cannotStart(let p, let d): return "cannot start \(p): \(d)"
            case .timedOut(let p, let s): return "\(p) did not finish within \(Int(s)) s; stopped"
            }
        }
    }

    /// Runs `argv` to completion. A bare `argv[0]` is looked up on PATH. Standard output goes to `stdout` when
    /// given (large outputs), else it is captured; standard error is always captured. After `timeout` seconds
    /// the program is terminated and `Failure.timedOut` thrown.
    public static func run(
        _ argv: [String], directory: URL? = nil, environment: [String: String]? = nil,
        stdout: FileHandle? = nil, timeout: TimeInterval? = nil
    ) throws -> Outcome {
        precondition(!argv.isEmpty, "Command.run needs a program")
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("cprec-command-\(UUID().uuidString)")
        let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
        _ = fm.createFile(atPath: outURL.path, contents: nil)
        _ = fm.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? fm.removeItem(at: outURL)
            try? fm.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
        defer {
            try? outHandle.close()
            try? errHandle.close()
        }
        let p = Process()
        if argv[0].contains("/") {
            p.executableURL = URL(fileURLWithPath: argv[0])
            p.arguments = Array(argv.dropFirst())
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = argv
        }
        if let directory { p.currentDirectoryURL = directory }
        if let environment { p.environment = environment }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = stdout ?? outHandle
        p.standardError = errHandle
        let name = URL(fileURLWithPath: argv[0]).lastPathComponent
        do { try Children.start(p) } catch {
            throw Failure.cannotStart(program: name, detail: error.localizedDescription)
        }
        if let timeout {
            let deadline = Date().addingTimeInterval(timeout)
            while p.isRunning {
                if Date() > deadline {
                    // SIGKILL: a program past its time gets no grace, and SIGTERM may be ignored (inherited).
                    kill(p.processIdentifier, SIGKILL)
                    Children.wait(p)
                    throw Failure.timedOut(program: name, seconds: timeout)
                }
                usleep(5_000)
            }
        }
        Children.wait(p)
        let out = (try? Data(contentsOf: outURL)) ?? Data(), err = (try? Data(contentsOf: errURL)) ?? Data()
        return Outcome(
            status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
            stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }
}
