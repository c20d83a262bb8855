import Foundation
import Subprocess
import Testing

@Suite struct ChildrenTests {
    /// A forwarded SIGTERM reaches a running child, which ends long before its own time; the waiter sees it end.
    /// (A private set: forwarding on the shared one would stop other suites' curl and gnuplot.)
    @Test func forwardedSignalStopsTrackedChildren() throws {
        let children = ChildProcesses()
        func sleeper() -> Process {
            let p = Process()
            // env resets SIGTERM: the test runner starts its children with it ignored, and ignored signals are inherited.
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
