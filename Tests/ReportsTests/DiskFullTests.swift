import Foundation
import Testing
@testable import Reports

/// A 96 KiB tmpfs, when this test may mount one (root in a container or VM); nil elsewhere.
private func tinyFileSystem() -> URL? {
    guard getuid() == 0 else { return nil }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cprec-full-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", dir.path]
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return nil }
    p.waitUntilExit()
    if p.terminationStatus != 0 { try? FileManager.default.removeItem(at: dir); return nil }
    return dir
}

private func unmount(_ dir: URL) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["umount", dir.path]
    try? p.run()
    p.waitUntilExit()
    try? FileManager.default.removeItem(at: dir)
}

@Suite struct DiskFullTests {
    /// On a full disk, figure and table writes name the cause and leave no temporary file behind.
    @Test func fullDiskNamesTheCauseAndLeavesNoTemporaryFiles() throws {
        guard let disk = tinyFileSystem() else { return }  // not root: nothing to mount, nothing to check
        defer { unmount(disk) }
        let figures = disk.appendingPathComponent("figures")
        let e = #expect(throws: ReportError.self) { try sampleFigure().render(to: figures, name: "sample") }
        #expect("\(e.map { "\($0)" } ?? "")".contains("No space left on device"), "\(String(describing: e))")

        // Fill what is left, then an atomic write fails with the cause and removes its temporary file.
        let tables = disk.appendingPathComponent("tables")
        try FileManager.default.createDirectory(at: tables, withIntermediateDirectories: true)
        let fd = open(disk.appendingPathComponent("filler").path, O_WRONLY | O_CREAT, 0o644)
        var block = [UInt8](repeating: 0, count: 4096)
        while write(fd, &block, block.count) > 0 {}
        close(fd)
        let e2 = #expect(throws: ReportError.self) {
            try AtomicFile.write(Data(count: 50_000), to: tables.appendingPathComponent("table2.csv"))
        }
        #expect("\(e2.map { "\($0)" } ?? "")".contains("No space left on device"), "\(String(describing: e2))")
        for dir in [figures, tables] {
            let left = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            #expect(left.filter { $0.contains(".tmp-") || $0.contains(".render-") }.isEmpty, "\(left)")
        }
    }
}
