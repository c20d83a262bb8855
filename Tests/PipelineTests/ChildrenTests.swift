import Foundation
import Pipeline
import Subprocess
import Testing

@Suite struct ChildrenTests {
    /// A forwarded SIGTERM reaches a running child, which ends long before its own time; the waiter sees it end.
    /// (A private set: forwarding on the shared one would stop other suites' curl and gnuplot.)
    @Test func forwardedSignalStopsTrackedChildren() throws {
        let children = ChildProcesses()
        func sleeper() -> Process {
            let p = Process()
            // env resets SIGTERM: the test runner starts its children with it ignored, and ignored signals are
            // inherited.
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["--default-signal=TERM", "/bin/sleep", "30"]
            return p
        }
        let p = sleeper()
        try children.start(p)
        let waiter = Thread { children.wait(p) }
        waiter.start()
        let start = Date()
        #expect(children.forward(SIGTERM, timeout: 5) == 1)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(!p.isRunning)
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGTERM)
        #expect(children.count == 0)

        // A child started while the run is stopping gets the signal at once.
        let late = sleeper()
        try children.start(late)
        children.wait(late)
        #expect(late.terminationReason == .uncaughtSignal)
    }
}

@Suite struct CommandTests {
    @Test func capturesStatusAndBothStreams() throws {
        let r = try Command.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(r.status == 3 && !r.signalled && !r.succeeded)
        #expect(r.stdout == "out\n" && r.stderr == "err\n")
    }

    /// A program that never ends is stopped at the timeout instead of hanging the run.
    @Test func stopsAProgramAtItsTimeout() {
        let start = Date()
        #expect(throws: Command.Failure.self) { _ = try Command.run(["/bin/sleep", "30"], timeout: 0.3) }
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func aMissingProgramIsAnErrorNotAStatus() {
        #expect(throws: Command.Failure.self) { _ = try Command.run(["/nonexistent/program"]) }
    }
}

@Suite struct HostFactsTests {
    @Test func describesThisMachine() {
        #expect(!HostFacts.host.isEmpty)
        #expect(HostFacts.swiftVersion.hasPrefix("6."))
        #if os(Linux)
        #expect(HostFacts.cpuModel != "unknown", "/proc/cpuinfo has a model name")
        #endif
        #expect(HostFacts.machine.map(\.key) == ["CPU", "logical cores", "memory", "OS", "Swift"])
    }
}
