import Foundation
import Hashing
import TestSupport
import Testing
@testable import Datasets

@Suite struct FetchTests {
    /// 64 KiB of deterministic bytes: large enough that "half" is a real prefix.
    static func payload() -> Data { Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }) }

    @Test func goodFileIsVerifiedAndRecorded() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl")
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: dl) }
        let data = Self.payload()
        try data.write(to: root.appendingPathComponent("data.bin"))
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let sha = SHA256.hex(data)
        let md5 = try Fetcher.md5Hex(fileAt: root.appendingPathComponent("data.bin"))
        let r = try Fetcher.download(url: server.url("data.bin"), into: dl, sha256: sha, md5: md5)
        #expect(r.verified)
        #expect(r.sha256 == sha)
        #expect(r.bytes == Int64(data.count))
        #expect(try Data(contentsOf: r.file) == data)
        #expect(!FileManager.default.fileExists(atPath: r.file.path + ".part"))
        #expect(r.lastModified == "Thu, 01 Oct 2020 12:00:00 GMT")
        // A second call reuses the verified file without a request.
        let before = server.requests.count
        let again = try Fetcher.download(url: server.url("data.bin"), into: dl, sha256: sha)
        #expect(server.requests.count == before)
        #expect(again.lastModified == r.lastModified)
    }

    @Test func checksumMismatchNamesBothHashesAndDeletesTheFile() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl")
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: dl) }
        let data = Self.payload()
        try data.write(to: root.appendingPathComponent("data.bin"))
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let wrong = String(repeating: "0", count: 64)
        let url = server.url("data.bin")
        let err = datasetError { _ = try Fetcher.download(url: url, into: dl, sha256: wrong) }
        #expect(err == .checksumMismatch(url: url, algorithm: "sha256", expected: wrong, actual: SHA256.hex(data)))
        #expect(err?.description.contains(url) == true)
        #expect(!FileManager.default.fileExists(atPath: dl.appendingPathComponent("data.bin.part").path))
        #expect(!FileManager.default.fileExists(atPath: dl.appendingPathComponent("data.bin").path))
        let badMD5 = datasetError {
            _ = try Fetcher.download(url: url, into: dl, md5: String(repeating: "f", count: 32))
        }
        guard case .checksumMismatch(_, "md5", _, _)? = badMD5 else {
            Issue.record("expected an md5 mismatch, got \(String(describing: badMD5))"); return
        }
    }

    @Test func truncatedBodyKeepsPrefixAndTheNextFetchResumesWithARange() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl")
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: dl) }
        let data = Self.payload()
        try data.write(to: root.appendingPathComponent("data.bin"))
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let sha = SHA256.hex(data)
        let err = datasetError {
            _ = try Fetcher.download(url: server.url("truncated/data.bin"), into: dl, sha256: sha)
        }
        guard case .truncated(_, let got, _)? = err else {
            Issue.record("expected truncation, got \(String(describing: err))"); return
        }
        #expect(got == Int64(data.count / 2))
        let part = dl.appendingPathComponent("data.bin.part")
        #expect(try Data(contentsOf: part) == data.prefix(data.count / 2))
        // Same file name from the healthy URL: curl continues at the prefix length.
        let r = try Fetcher.download(url: server.url("data.bin"), into: dl, sha256: sha)
        #expect(try Data(contentsOf: r.file) == data)
        #expect(server.requests.contains("/data.bin bytes=\(data.count / 2)-"))
    }

    @Test func resumeWithoutServerRangesRestartsAndCompletePartIsAccepted() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl"), dl2 = try makeTempDir("dl")
        defer { for d in [root, dl, dl2] { try? FileManager.default.removeItem(at: d) } }
        let data = Self.payload()
        try data.write(to: root.appendingPathComponent("data.bin"))
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        // A server that ignores Range: curl refuses to append, the fetch starts over.
        try data.prefix(1000).write(to: dl.appendingPathComponent("data.bin.part"))
        let r = try Fetcher.download(url: server.url("norange/data.bin"), into: dl)
        #expect(try Data(contentsOf: r.file) == data)
        #expect(!r.verified)
        // A .part that is already complete (killed before the rename): the range request gets 416, the file is kept.
        try data.write(to: dl2.appendingPathComponent("data.bin.part"))
        let r2 = try Fetcher.download(url: server.url("data.bin"), into: dl2)
        #expect(try Data(contentsOf: r2.file) == data)
    }

    @Test func http404And500AreErrorsWithTheStatus() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl")
        defer { try? FileManager.default.removeItem(at: root); try? FileManager.default.removeItem(at: dl) }
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let missing = server.url("missing.zip"), broken = server.url("status/500")
        #expect(
            datasetError { _ = try Fetcher.download(url: missing, into: dl) } == .httpStatus(url: missing, status: 404))
        #expect(
            datasetError { _ = try Fetcher.download(url: broken, into: dl) } == .httpStatus(url: broken, status: 500))
        #expect(DatasetError.httpStatus(url: missing, status: 404).description.contains("404"))
    }

    @Test func zipMemberIsExtractedAndRecorded() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl"), out = try makeTempDir("out")
        defer { for d in [root, dl, out] { try? FileManager.default.removeItem(at: d) } }
        let rows = "1\t10\t5\t100\n1\t11\t3\t50\n2\t10\t4\t70\n2\t12\t4\t80\n"
        try writeFile(root, "ml-tiny/u.data", rows)
        let zip = Process()
        zip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        zip.arguments = ["zip", "-q", "-r", "ml-tiny.zip", "ml-tiny"]
        zip.currentDirectoryURL = root
        try zip.run(); zip.waitUntilExit()
        try #require(zip.terminationStatus == 0)
        let zipSHA = try SHA256.hex(fileAt: root.appendingPathComponent("ml-tiny.zip"))
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let spec = DatasetSpec(
            name: "ml-tiny",
            source: .download(
                DownloadSource(
                    url: server.url("ml-tiny.zip"), sha256: zipSHA, archive: .zip, members: ["ml-tiny/u.data"])),
            format: FormatSpec(kind: .movielensRatings))
        let record = try Fetcher.fetch(spec, into: out, options: FetchOptions(downloadDirectory: dl))
        #expect(record.checksum == "verified")
        #expect(record.downloadSHA256 == zipSHA)
        #expect(record.files.map(\.name) == ["u.data"])
        #expect(record.files[0].sha256 == SHA256.hex(rows))
        #expect(try String(contentsOf: out.appendingPathComponent("u.data"), encoding: .utf8) == rows)
        #expect(record.seconds > 0 && !record.fetchedAt.isEmpty)
        var stable = record
        stable.seconds = 0
        stable.fetchedAt = ""
        #expect(try FetchRecord.load(from: out) == stable)
        // The fetched folder goes straight into prep.
        let prepared = try Prep.prepare(spec: spec, fetchDirectory: out)
        #expect(prepared.stats.rawInteractions == 4)
        // A member the archive lacks is an error naming it.
        var bad = spec
        bad.source = .download(
            DownloadSource(
                url: server.url("ml-tiny.zip"), sha256: zipSHA, archive: .zip, members: ["ml-tiny/ratings.dat"]))
        let out2 = try makeTempDir("out2")
        defer { try? FileManager.default.removeItem(at: out2) }
        let err = datasetError { _ = try Fetcher.fetch(bad, into: out2, options: FetchOptions(downloadDirectory: dl)) }
        guard case .archive(_, "ml-tiny/ratings.dat", _)? = err else {
            Issue.record("expected an archive error, got \(String(describing: err))"); return
        }
    }

    /// `--mirror`: the spec's upstream host is never contacted (here it is unreachable); the file of the same name
    /// comes from the mirror, its checksum still decides, and fetch.json names both URLs.
    @Test func mirrorServesTheUpstreamFileNameAndChecksumsStillApply() throws {
        let root = try makeTempDir("srv"), dl = try makeTempDir("dl"), out = try makeTempDir("out")
        defer { for d in [root, dl, out] { try? FileManager.default.removeItem(at: d) } }
        let rows = "1\t10\t5\t100\n1\t11\t3\t50\n2\t10\t4\t70\n"
        try writeFile(root, "sub/ml-tiny/u.data", rows)
        let zip = Process()
        zip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        zip.arguments = ["zip", "-q", "-r", "ml-tiny.zip", "ml-tiny"]
        zip.currentDirectoryURL = root.appendingPathComponent("sub")
        try zip.run(); zip.waitUntilExit()
        try #require(zip.terminationStatus == 0)
        let zipSHA = try SHA256.hex(fileAt: root.appendingPathComponent("sub/ml-tiny.zip"))
        let server = try LocalHTTPServer(root: root)
        defer { server.stop() }
        let upstream = "http://upstream.invalid/datasets/movielens/ml-tiny.zip"
        func spec(_ sha: String) -> DatasetSpec {
            DatasetSpec(
                name: "ml-tiny",
                source: .download(
                    DownloadSource(url: upstream, sha256: sha, archive: .zip, members: ["ml-tiny/u.data"])),
                format: FormatSpec(kind: .movielensRatings))
        }
        // A mirror base with or without the trailing slash.
        for base in [server.url("sub/"), server.url("sub")] {
            try? FileManager.default.removeItem(at: dl)
            let record = try Fetcher.fetch(
                spec(zipSHA), into: out, options: FetchOptions(downloadDirectory: dl, mirror: base))
            #expect(record.checksum == "verified")
            #expect(record.url == server.url("sub/ml-tiny.zip") && record.upstream == upstream)
            #expect(record.files[0].origin == server.url("sub/ml-tiny.zip") + "#ml-tiny/u.data")
            #expect(try String(contentsOf: out.appendingPathComponent("u.data"), encoding: .utf8) == rows)
        }
        #expect(server.requests.allSatisfy { $0.hasPrefix("/sub/ml-tiny.zip") })
        // A mirror serving other bytes fails the pinned checksum.
        try? FileManager.default.removeItem(at: dl)
        let wrong = String(repeating: "0", count: 64)
        let err = datasetError {
            _ = try Fetcher.fetch(
                spec(wrong), into: out, options: FetchOptions(downloadDirectory: dl, mirror: server.url("sub/")))
        }
        guard case .checksumMismatch(let url, "sha256", _, zipSHA)? = err else {
            Issue.record("expected a checksum mismatch, got \(String(describing: err))"); return
        }
        #expect(url == server.url("sub/ml-tiny.zip"))
        // Without a mirror the upstream is used as is; a mirror that is no URL is an error before any download.
        #expect(try FetchOptions(downloadDirectory: dl).resolve(upstream) == upstream)
        #expect(
            datasetError { _ = try FetchOptions(downloadDirectory: dl, mirror: "not a url").resolve(upstream) } != nil)
    }

    @Test func mirrorOptionWinsOverTheEnvironment() {
        let env = [FetchOptions.mirrorEnvironmentVariable: "http://env.example/"]
        #expect(FetchOptions.resolveMirror(option: "http://opt.example/", environment: env) == "http://opt.example/")
        #expect(FetchOptions.resolveMirror(option: nil, environment: env) == "http://env.example/")
        #expect(FetchOptions.resolveMirror(option: nil, environment: [:]) == nil)
        #expect(
            FetchOptions.resolveMirror(option: nil, environment: [FetchOptions.mirrorEnvironmentVariable: " "]) == nil)
    }

    @Test func missingUserPlacedFileNamesPathFormatAndLinks() throws {
        let cwd = try makeTempDir("cwd"), out = try makeTempDir("out")
        defer { try? FileManager.default.removeItem(at: cwd); try? FileManager.default.removeItem(at: out) }
        let spec = DatasetSpec(
            name: "tiktok",
            source: .userPlaced(
                UserPlacedSource(
                    files: ["data/tiktok/tiktok.csv"], links: ["https://pan.baidu.com/s/1sdvA-prlW8cBVtFuuiqF3Q"],
                    help: "code wncu")),
            format: FormatSpec(kind: .sessionCSV))
        let err = datasetError {
            _ = try Fetcher.fetch(spec, into: out, options: FetchOptions(downloadDirectory: out, workingDirectory: cwd))
        }
        let text = err?.description ?? ""
        #expect(text.contains(cwd.appendingPathComponent("data/tiktok/tiktok.csv").path))
        #expect(text.contains("session-csv"))
        #expect(text.contains("pan.baidu.com/s/1sdvA-prlW8cBVtFuuiqF3Q"))
        #expect(text.contains("--source tiktok="))
        // Placed at the default path, it is found, validated and copied.
        try writeFile(cwd, "data/tiktok/tiktok.csv", "0,0,a,b,c\nb,c,d,a,b\n")
        let record = try Fetcher.fetch(
            spec, into: out, options: FetchOptions(downloadDirectory: out, workingDirectory: cwd))
        #expect(record.kind == "user-placed")
        #expect(record.files.map(\.name) == ["tiktok.csv"])
        // A placed file in the wrong format fails at fetch with file:line.
        try writeFile(cwd, "data/tiktok/tiktok.csv", "a,b,c\nb,,d\n")
        let out3 = try makeTempDir("out3")
        defer { try? FileManager.default.removeItem(at: out3) }
        let bad = datasetError {
            _ = try Fetcher.fetch(
                spec, into: out3, options: FetchOptions(downloadDirectory: out, workingDirectory: cwd))
        }
        #expect(bad?.description.contains("tiktok.csv:2:") == true)
    }
}

@Suite struct MD5Tests {
    /// libcrypto's MD5 against the RFC 1321 test vector (it replaced an `md5sum` subprocess).
    @Test func matchesTheRFCVector() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("md5-\(UUID().uuidString)")
        try Data("abc".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try Fetcher.md5Hex(fileAt: file) == "900150983cd24fb0d6963f7d28e17f72")
    }
}
