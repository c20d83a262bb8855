import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the engine writes human-facing lines (stderr in the CLI, a buffer in tests).
public final class Console: @unchecked Sendable {
    /// True when redrawing live lines with ANSI escapes is appropriate.
    public let isTerminal: Bool
    private let sink: (String) -> Void
    private let mutex = NSLock()

    public init(isTerminal: Bool, write: @escaping (String) -> Void) {
        self.isTerminal = isTerminal
        self.sink = write
    }

    /// Standard error; live redraws only when it is a terminal.
    public static func standardError() -> Console {
        Console(isTerminal: isatty(STDERR_FILENO) == 1) { s in
            FileHandle.standardError.write(Data(s.utf8))
        }
    }

    /// Terminal width, so live lines never wrap (a wrapped line would break the redraw).
    var columns: Int {
        guard isTerminal else { return Int.max }
        var w = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0 { return Int(w.ws_col) }
        return 80
    }

    /// Discards everything.
    public static func silent() -> Console { Console(isTerminal: false) { _ in } }

    /// Writes raw text (callers add newlines).
    public func write(_ text: String) {
        mutex.lock()
        defer { mutex.unlock() }
        sink(text)
    }
}

/// Formats seconds as "45s", "3m12s", "2h05m".
public func formatDuration(_ s: Double) -> String {
    if s < 10 { return String(format: "%.1fs", s) }
    let t = Int(s.rounded())
    if t < 60 { return "\(t)s" }
    if t < 3600 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
    return "\(t / 3600)h\(String(format: "%02d", (t % 3600) / 60))m"
}

/// The live progress display: one line per running stage, redrawn in place on a terminal, plain lines otherwise.
final class ProgressBoard: @unchecked Sendable {
    private struct Live {
        var start: Date
        var expected: Double?
        var message = ""
        var fraction: Double?
        var lastPrinted = Date.distantPast
        var lastMessage = ""
    }

    private let console: Console
    private let mutex = NSLock()
    private var live: [StageID: Live] = [:]
    private var drawn = 0
    private var timer: DispatchSourceTimer?
    /// Minimum seconds between plain progress lines of one stage.
    private let plainInterval: Double

    init(console: Console, plainInterval: Double = 5) {
        self.console = console
        self.plainInterval = plainInterval
        if console.isTerminal {
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
            t.schedule(deadline: .now() + 1, repeating: 1)
            t.setEventHandler { [weak self] in self?.redraw() }
            t.resume()
            timer = t
        }
    }

    func stop() {
        timer?.cancel()
        timer = nil
        mutex.lock()
        clearLocked()
        mutex.unlock()
    }

    func start(_ id: StageID, expected: Double?) {
        mutex.lock()
        defer { mutex.unlock() }
        live[id] = Live(start: Date(), expected: expected)
        if console.isTerminal {
            drawLocked()
        } else {
            let eta = expected.map { " (last run took \(formatDuration($0)))" } ?? ""
            console.write("run   \(id)\(eta)\n")
        }
    }

    func update(_ id: StageID, message: String, fraction: Double?) {
        mutex.lock()
        defer { mutex.unlock() }
        guard var l = live[id] else { return }
        l.message = message
        l.fraction = fraction
        if !console.isTerminal {
            let now = Date()
            if now.timeIntervalSince(l.lastPrinted) >= plainInterval && message != l.lastMessage {
                l.lastPrinted = now
                l.lastMessage = message
                console.write("      \(lineLocked(id, l))\n")
            }
        }
        live[id] = l
    }

    /// Ends a stage's live line and prints a permanent one.
    func finish(_ id: StageID, line: String) {
        mutex.lock()
        defer { mutex.unlock() }
        live[id] = nil
        printLocked(line)
    }

    /// Prints a permanent line above the live block.
    func print(_ line: String) {
        mutex.lock()
        defer { mutex.unlock() }
        printLocked(line)
    }

    private func printLocked(_ line: String) {
        if console.isTerminal {
            clearLocked()
            console.write(line + "\n")
            drawLocked()
        } else {
            console.write(line + "\n")
        }
    }

    private func redraw() {
        mutex.lock()
        defer { mutex.unlock() }
        drawLocked()
    }

    private func clearLocked() {
        guard console.isTerminal, drawn > 0 else { return }
        console.write("\u{1B}[\(drawn)A\u{1B}[0J")
        drawn = 0
    }

    private func drawLocked() {
        guard console.isTerminal else { return }
        var text = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        let ids = live.keys.sorted()
        let width = max(20, console.columns - 1)
        for id in ids { text += "\r\u{1B}[2K" + String(lineLocked(id, live[id]!).prefix(width)) + "\n" }
        text += "\u{1B}[0J"
        console.write(text)
        drawn = ids.count
    }

    private func lineLocked(_ id: StageID, _ l: Live) -> String {
        let elapsed = Date().timeIntervalSince(l.start)
        var eta = ""
        if let f = l.fraction, f > 0.01 {
            eta = ", ETA " + formatDuration(max(0, elapsed / min(f, 1) - elapsed))
        } else if let e = l.expected {
            eta = e > elapsed ? ", ETA ~" + formatDuration(e - elapsed) : ", over last run's " + formatDuration(e)
        }
        let msg = l.message.isEmpty ? "" : "  \(l.message)"
        return "\(id)\(msg)  [\(formatDuration(elapsed))\(eta)]"
    }
}
