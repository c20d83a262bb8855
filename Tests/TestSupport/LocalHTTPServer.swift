import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The test HTTP server did not print its port (python3 missing or failing).
public struct ServerDidNotStart: Error {}

/// A local HTTP server on 127.0.0.1 (free port chosen by the OS) serving `root`, with byte ranges, /status/<code>,
/// /truncated/<file> (announces the full Content-Length, sends half, closes) and /norange/<file> (ignores Range).
/// Requests are logged to `log`.
public final class LocalHTTPServer {
    let process = Process()
    public let port: Int
    public let log: URL
    public var base: String { "http://127.0.0.1:\(port)/" }

    static let script = """
        import http.server, os, socket, sys, threading
        root, log = sys.argv[1], sys.argv[2]
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args):
                pass
            def reply(self, code, body, headers=()):
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                rng = self.headers.get("Range")
                with open(log, "a") as f:
                    f.write(self.path + (" " + rng if rng else "") + "\\n")
                if self.path.startswith("/status/"):
                    return self.reply(int(self.path.split("/")[2]), b"server error page")
                if self.path.startswith("/truncated/"):
                    data = open(os.path.join(root, self.path.split("/", 2)[2]), "rb").read()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if self.path.startswith("/norange/"):
                    data = open(os.path.join(root, self.path.split("/", 2)[2]), "rb").read()
                    return self.reply(200, data)
                path = os.path.join(root, self.path.lstrip("/"))
                if not os.path.isfile(path):
                    return self.reply(404, b"not found")
                data = open(path, "rb").read()
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        return self.reply(416, b"", [("Content-Range", "bytes */%d" % len(data))])
                    return self.reply(206, data[start:], [("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))])
                self.reply(200, data, [("Last-Modified", "Thu, 01 Oct 2020 12:00:00 GMT")])
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        print(server.server_address[1], flush=True)
        threading.Timer(int(sys.argv[3]), lambda: os._exit(0)).start()  # never outlive a crashed test run
        server.serve_forever()
        """

    /// `lifetime`: seconds after which the server exits by itself, so a crashed test run leaves none behind.
    public init(root: URL, lifetime: Int = 60) throws {
        let scriptURL = root.appendingPathComponent(".server.py")
        try Data(LocalHTTPServer.script.utf8).write(to: scriptURL)
        log = root.appendingPathComponent(".requests.log")
        guard let p = try startPython(process, [scriptURL.path, root.path, log.path, String(lifetime)]) else {
            process.terminate()
            throw ServerDidNotStart()
        }
        port = p
    }

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    /// Each request as "<path>" or "<path> <Range header>".
    public var requests: [String] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// SIGKILL, not terminate(): the test runner's children may inherit SIGTERM as ignored/blocked, and a server
    /// that survives SIGTERM would stall this (cooperative) thread in waitUntilExit until its safety timer.
    public func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Starts `python3 arguments…` in `process` and reads the port the script prints on its first line (nil when it
/// printed none): how the tests' local servers on 127.0.0.1 say where they listen.
public func startPython(_ process: Process, _ arguments: [String]) throws -> Int? {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    var line = Data()
    while !line.contains(0x0A) {
        let chunk = out.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        line.append(chunk)
    }
    return Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}
