import Foundation
import TestSupport
import Testing
@testable import Datasets

/// A server on 127.0.0.1 that accepts connections and never answers; it exits by itself after `lifetime` seconds,
/// so a client without a stall timeout fails (late) instead of hanging the test run.
private final class SilentServer {
    let process = Process()
    let port: Int

    init(lifetime: Int) throws {
        guard
            let p = try startPython(
                process,
                [
                    "-c",
                    """
                    import socket, threading, os, time
                    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
                    print(s.getsockname()[1], flush=True)
                    threading.Timer(\(lifetime), lambda: os._exit(0)).start()
                    held = []
                    while True:
                        c, _ = s.accept(); held.append(c)
                    """
                ])
        else {
            throw DatasetError.tool(name: "python3", detail: "silent server did not start")
        }
        port = p
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Writes a zip holding `members` (name -> text) with Python's zipfile.
private func makeZip(_ url: URL, _ members: [String: String]) throws {
    let dir = url.deletingLastPathComponent().appendingPathComponent(".zipsrc-\(UUID().uuidString)")
    for (name, text) in members { try writeFile(dir, name, text) }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments =
        [
            "python3", "-c",
            "import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1], 'w')\n"
                + "for n in sys.argv[3:]: z.write(os.path.join(sys.argv[2], n), n)\nz.close()",
            url.path, dir.path
        ] + members.keys.sorted()
    try p.run()
    p.waitUntilExit()
    try? FileManager.default.removeItem(at: dir)
}

@Suite struct FetchHardeningTests {
    @Test func stalledServerIsAbandonedAfterTheStallTimeout() throws {
        let dl = try makeTempDir("dl")
        defer { try? FileManager.default.removeItem(at: dl) }
        let server = try SilentServer(lifetime: 20)
        defer { server.stop() }
        let start = Date()
        let err = datasetError {
            _ = try Fetcher.download(url: "http://127.0.0.1:\(server.port)/data.bin", into: dl, stallSeconds: 2)
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 12, "took \(elapsed) s")
        guard case .transfer(_, 28, let detail)? = err else { Issue.record("got \(String(describing: err))"); return }
        #expect(detail.contains("no data received for 2 s") && detail.contains(Fetcher.stallVariable))
    }

    @Test func unverifiedArchiveThatFailsToExtractIsSetAsideAndFetchedAgain() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl"), out = try makeTempDir("out")
        defer { for d in [root, dl, out] { try? FileManager.default.removeItem(at: d) } }
        let good = root.appendingPathComponent("good.zip")
        try makeZip(good, ["d/s.csv": "a,b,c\nb,c,d\n"])
        // The truncated archive a cut connection without Content-Length leaves behind.
        let whole = try Data(contentsOf: good)
        try whole.prefix(whole.count / 2).write(to: root.appendingPathComponent("data.zip"))
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let spec = DatasetSpec(
            name: "z",
            source: .download(DownloadSource(url: server.url("data.zip"), archive: .zip, members: ["d/s.csv"])),
            format: FormatSpec(kind: .sessionCSV))
        let options = FetchOptions(downloadDirectory: dl)
        let first = datasetError { _ = try Fetcher.fetch(spec, into: out, options: options) }
        guard case .archive(_, _, let detail)? = first else { Issue.record("got \(String(describing: first))"); return }
        #expect(detail.contains("downloaded again"), "\(detail)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dl.path)
        #expect(!names.contains("data.zip"), "\(names)")
        #expect(names.contains { $0.hasPrefix("data.zip.bad-") }, "\(names)")

        // The server now has the whole file: the next fetch downloads it again and succeeds.
        try FileManager.default.removeItem(at: root.appendingPathComponent("data.zip"))
        try FileManager.default.copyItem(at: good, to: root.appendingPathComponent("data.zip"))
        let before = server.requests.count
        let record = try Fetcher.fetch(spec, into: out, options: options)
        #expect(server.requests.count == before + 1)
        #expect(record.files.map(\.name) == ["s.csv"])
    }
}
