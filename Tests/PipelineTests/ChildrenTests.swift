import Foundation
import Subprocess
import Testing

@Suite(.serialized) struct ChildrenTests {
    /// A forwarded SIGTERM reaches a running child, which ends long before its own time; the waiter sees it end.
    @Test func forwardedSignalStopsTrackedChildren() throws {
        Children.resume()
        defer { Children.resume() }
        let p = Process()
        // env resets SIGTERM: the test runner starts its children with it ignored, and ignored signals are inherited.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["--default-signal=TERM", "/bin/sleep", "30"]
        try Children.start(p)
        let waiter = Thread { Children.wait(p) }
        waiter.start()
        let start = Date()
        #expect(Children.forward(SIGTERM, timeout: 5) >= 1)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(!p.isRunning)
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGTERM)

        // A child started while the run is stopping gets the signal at once.
        let late = Process()
        late.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        late.arguments = ["--default-signal=TERM", "/bin/sleep", "30"]
        try Children.start(late)
        Children.wait(late)
        #expect(late.terminationReason == .uncaughtSignal)
    }
}
