import Foundation

/// Lets a stage time something with no other stage computing beside it. `quietly` waits until every other
/// running stage is parked at a yield point (its next progress report) or has finished, runs, then releases them;
/// stages do not start while a measurement waits or runs. Stages that never report progress are short (tables,
/// figures): a measurement waits for them to end.
public final class QuietGate: @unchecked Sendable {
    private let cond = NSCondition()
    /// Stages computing (between `enter` and `leave`).
    private var active = 0
    /// Active stages parked at a yield point, or waiting to measure (both compute nothing).
    private var parked = 0
    /// Stages waiting to measure; the one measuring.
    private var pending = 0
    private var measuring = false

    public init() {}

    /// Blocks while a measurement waits or runs, then counts the caller as computing.
    public func enter() {
        cond.lock()
        while measuring || pending > 0 { cond.wait() }
        active += 1
        cond.unlock()
    }

    public func leave() {
        cond.lock()
        active -= 1
        cond.broadcast()
        cond.unlock()
    }

    /// A safe point of a computing stage: parks while another stage measures or waits to.
    public func yieldPoint() {
        cond.lock()
        if measuring || pending > 0 {
            parked += 1
            cond.broadcast()
            while measuring || pending > 0 { cond.wait() }
            parked -= 1
        }
        cond.unlock()
    }

    /// Runs `body` once every other computing stage is parked or gone; measurements never overlap.
    public func quietly<T>(_ body: () throws -> T) rethrows -> T {
        cond.lock()
        pending += 1
        parked += 1  // while it waits, the caller computes nothing either
        cond.broadcast()
        while measuring || parked < active { cond.wait() }
        parked -= 1
        pending -= 1
        measuring = true
        cond.unlock()
        defer {
            cond.lock()
            measuring = false
            cond.broadcast()
            cond.unlock()
        }
        return try body()
    }
}
