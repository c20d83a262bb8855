import Foundation
import Testing
@testable import Pipeline

/// Timing sections run with no other stage computing beside them, and the runner never runs more threads than
/// it was given.
@Suite struct QuietGateTests {
    let dir = temporaryDirectory()

    /// Thread-safe counter a "training" stage advances between its progress reports.
    final class Work: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        var stop = false
        func tick() { lock.lock(); n += 1; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return n }
    }

    /// A stage that trains (ticks, reporting progress every tick) beside one that times: during the timing
    /// section the trainer does no work; before and after it does.
    @Test func aTimingSectionSeesNoOtherStageCompute() throws {
        let rec = Recorder(), work = Work()
        let duringTiming = Work()
        var trainer = TestStage("train/a", recorder: rec)
        trainer.body = { c in
            while !work.stop {
                work.tick()
                c.progress("step")
                Thread.sleep(forTimeInterval: 0.001)
            }
            try "t".write(to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        var timer = TestStage("evaluate/b", recorder: rec)
        timer.body = { c in
            while work.count < 20 { Thread.sleep(forTimeInterval: 0.001) }  // the trainer is computing
            c.quietly {
                let before = work.count
                c.progress("timing")  // its own progress report must not wait on its own section
                Thread.sleep(forTimeInterval: 0.1)
                for _ in 0..<(work.count - before) { duringTiming.tick() }
            }
            let after = work.count
            while work.count < after + 20 { Thread.sleep(forTimeInterval: 0.001) }  // released again
            work.stop = true
            try "e".write(to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        let summary = try run([trainer, timer], dir, jobs: 2)
        #expect(summary.succeeded)
        #expect(duringTiming.count == 0, "the trainer advanced \(duringTiming.count) steps during the timing section")
    }

    /// Two timing sections never overlap and neither waits forever on the other.
    @Test func timingSectionsDoNotOverlapOrDeadlock() throws {
        let gate = QuietGate()
        let inside = Work(), overlaps = Work()
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                gate.enter()
                for _ in 0..<5 {
                    gate.yieldPoint()
                    gate.quietly {
                        inside.tick()  // odd while one section is inside; even would mean two
                        if inside.count % 2 == 0 { overlaps.tick() }
                        Thread.sleep(forTimeInterval: 0.002)
                        inside.tick()  // even count again means "left"
                    }
                }
                gate.leave()
                group.leave()
            }.start()
        }
        #expect(group.wait(timeout: .now() + 20) == .success, "timing sections deadlocked")
        #expect(inside.count == 40 && overlaps.count == 0)
    }

    /// Stages asking for all threads run one at a time even with two jobs.
    @Test func theRunnerNeverRunsMoreThreadsThanItHas() throws {
        let rec = Recorder()
        var stages: [any Stage] = []
        for name in ["train/a", "train/b", "train/c"] {
            var s = TestStage(StageID(name), recorder: rec)
            s.preferredThreads = 2
            s.body = { c in
                let start = Date()
                Thread.sleep(forTimeInterval: 0.05)
                rec.interval(name, start, Date())
                try "x".write(
                    to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
            }
            stages.append(s)
        }
        #expect(try run(stages, dir, jobs: 2).succeeded)  // the helper gives the runner 2 threads
        let spans = try ["train/a", "train/b", "train/c"].map { try #require(rec.interval($0)) }.sorted { $0.0 < $1.0 }
        for (x, y) in zip(spans, spans.dropFirst()) { #expect(x.1 <= y.0, "two 2-thread stages overlapped") }
    }
}
