import Foundation
import Testing
@testable import Pipeline

@Suite struct LockTests {
    let dir = temporaryDirectory()

    @Test func twoRunnersRaceForOneStage() throws {
        let rec = Recorder()
        var s = TestStage("train/slow", recorder: rec)
        s.body = { c in
            Thread.sleep(forTimeInterval: 0.3)
            try "done".write(
                to: c.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
        }
        let stage = s
        let root = dir
        // Two engines (as two processes would have) on one cache folder, started together.
        final class Box: @unchecked Sendable { var summaries: [RunSummary] = []; let lock = NSLock() }
        let box = Box()
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                let summary = try! run([stage], root)
                box.lock.lock(); box.summaries.append(summary); box.lock.unlock()
                group.leave()
            }.start()
        }
        group.wait()
        #expect(rec.count("train/slow") == 1)
        #expect(box.summaries.count == 2 && box.summaries.allSatisfy(\.succeeded))
        #expect(box.summaries.map { $0.ran.count }.sorted() == [0, 1])
        #expect(box.summaries.map { $0.cached.count }.sorted() == [0, 1])
    }

    /// A pid that belonged to a process that has exited.
    func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exit 0"]
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    @Test func staleLockOfDeadProcessIsBroken() throws {
        let rec = Recorder()
        let s = TestStage("train/a", recorder: rec)
        let e = try engine([s], dir)
        let key = try KeyMaterial.of(s, inputHashes: [:]).key
        let lock = e.store.lock(kind: "train", key: key)
        // What a killed run leaves: its lock and a half-written temporary.
        let owner = LockOwner(
            pid: try deadPID(), host: HostFacts.host, heartbeat: Date().timeIntervalSince1970,
            started: "then", token: "dead")
        #expect(try CacheLock.tryCreate(lock, owner: owner))
        let leftover = e.store.root.appendingPathComponent("train/.tmp-\(key)-killed/out")
        try FileManager.default.createDirectory(at: leftover, withIntermediateDirectories: true)

        let summary = try e.run(nil, options: RunOptions())
        #expect(summary.ran == ["train/a"])
        #expect(summary.warnings.contains { $0.contains("broke stale lock") && $0.contains("no longer exists") })
        #expect(!FileManager.default.fileExists(atPath: lock.path))
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
    }

    @Test func lockWithoutHeartbeatIsBrokenAfterTimeoutButLiveOneIsNot() throws {
        let path = dir.appendingPathComponent("k.lock")
        // Another host: the pid cannot be checked, only the heartbeat age.
        let old = LockOwner(
            pid: 1, host: "elsewhere", heartbeat: Date().timeIntervalSince1970 - 100, started: "",
            token: "old")
        #expect(try CacheLock.tryCreate(path, owner: old))
        var warnings: [String] = []
        let lock = try CacheLock.acquire(path, staleAfter: 1, warn: { warnings.append($0) })
        #expect(warnings.count == 1 && warnings[0].contains("no heartbeat"))
        #expect(CacheLock.readOwner(path)?.token == lock.owner.token)

        // A held lock keeps its heartbeat fresh, so a waiter with a short timeout still waits.
        let got = Recorder()
        let waiter = Thread {
            let l = try! CacheLock.acquire(path, staleAfter: 0.8)
            got.started("waiter")
            l.release()
        }
        waiter.start()
        Thread.sleep(forTimeInterval: 1.2)  // longer than the waiter's timeout: only the heartbeat keeps it
        #expect(got.count("waiter") == 0)
        lock.release()
        let deadline = Date().addingTimeInterval(5)
        while got.count("waiter") == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(got.count("waiter") == 1)
    }
}
