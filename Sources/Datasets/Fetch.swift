import Foundation
import Hashing
import Subprocess

/// One raw file placed in a fetch's output folder.
public struct FetchedFile: Codable, Equatable, Sendable {
    /// File name inside the fetch output folder.
    public var name: String
    /// Where it came from: a URL, `URL#member` for archive members, a local path, or `synthetic`.
    public var origin: String
    public var bytes: Int64
    public var sha256: String
}

/// What a fetch did, for the manifest and for prep (written as `fetch.json` next to the raw files).
public struct FetchRecord: Codable, Equatable, Sendable {
    /// Name of the file `fetch` writes into its output folder.
    public static let fileName = "fetch.json"

    public var dataset: String
    /// `download`, `user-placed` or `synthetic`.
    public var kind: String
    /// The downloaded URL (empty for local files).
    public var url: String
    /// The spec's upstream URL when `url` is a mirror's copy of it (absent otherwise).
    public var upstream: String? = nil
    /// SHA-256 / size of the downloaded file itself (the archive, for zips).
    public var downloadSHA256: String
    public var downloadBytes: Int64
    /// `verified` when a spec checksum matched, `recorded` when the spec had none (the hash is only recorded).
    public var checksum: String
    /// The server's Last-Modified header for the download (as sent, or ""); identifies moving snapshots such as
    /// ml-latest.
    public var serverLastModified: String
    /// When the fetch finished (ISO 8601, UTC) and how long it took.
    public var fetchedAt: String
    public var seconds: Double
    /// The raw files in the order the format reads them.
    public var files: [FetchedFile]

    /// Writes `fetch.json` (pretty, key-sorted) into `directory`, without `fetchedAt` and `seconds`: re-fetching the
    /// same bytes then yields a byte-identical file, so the cache's early cutoff spares prep; the times belong in the
    /// stage manifest (take them from the returned record).
    public func write(to directory: URL) throws {
        var stable = self
        stable.fetchedAt = ""
        stable.seconds = 0
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(stable).write(to: directory.appendingPathComponent(FetchRecord.fileName))
    }

    /// Reads `fetch.json` from a fetch output folder.
    public static func load(from directory: URL) throws -> FetchRecord {
        let url = directory.appendingPathComponent(fileName)
        do { return try JSONDecoder().decode(FetchRecord.self, from: Data(contentsOf: url)) } catch {
            throw DatasetError.corruptPrepared(path: url.path, detail: "missing or unreadable fetch record: \(error)")
        }
    }
}

/// Where fetch keeps resumable downloads and how it resolves user-placed files.
public struct FetchOptions: Sendable {
    /// Persistent folder for `.part` files and verified archives (survives a killed run, so downloads resume).
    public var downloadDirectory: URL
    /// Base for the relative default paths of user-placed files (normally the current directory).
    public var workingDirectory: URL
    /// Explicit files (or one folder holding them, or an http(s) URL) given by the user, replacing the spec's source.
    public var overrides: [URL]
    /// Lines of progress ("downloading …", "resuming at … bytes").
    public var log: @Sendable (String) -> Void
    /// Base URL of a mirror: every spec download is fetched as `mirror/<file name of its URL>` instead of from its
    /// upstream host (checksums still apply). Overrides given by the user are fetched as given.
    public var mirror: String?

    /// Environment variable naming a mirror when `--mirror` is not given.
    public static let mirrorEnvironmentVariable = "CPREC_MIRROR"

    /// A transfer that receives nothing for this many seconds is abandoned (the `.part` stays for a resume).
    public var stallSeconds: Int = Fetcher.defaultStallSeconds

    public init(
        downloadDirectory: URL, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        overrides: [URL] = [], mirror: String? = nil, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.downloadDirectory = downloadDirectory
        self.workingDirectory = workingDirectory
        self.overrides = overrides
        self.mirror = mirror
        self.log = log
    }

    /// The mirror to use: the option when given, else $CPREC_MIRROR, else none (empty values count as none).
    public static func resolveMirror(
        option: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        let m = option ?? environment[mirrorEnvironmentVariable]
        return m.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
    }

    /// `url` as fetched: the mirror's base joined with the URL's last path component, or `url` itself without a
    /// mirror. Throws when the mirror is not an absolute URL or the upstream URL names no file.
    public func resolve(_ url: String) throws -> String {
        guard let mirror else { return url }
        guard let base = URL(string: mirror), let scheme = base.scheme, !scheme.isEmpty,
            base.host != nil || scheme == "file"
        else {
            throw DatasetError.invalidParameter(
                field: "mirror", expected: "an absolute URL such as http://host/path/, got '\(mirror)'")
        }
        let name = URL(string: url)?.lastPathComponent ?? ""
        guard !name.isEmpty, name != "/" else {
            throw DatasetError.invalidParameter(
                field: "mirror", expected: "a download URL ending in a file name, got '\(url)'")
        }
        return (mirror.hasSuffix("/") ? mirror : mirror + "/") + name
    }
}

/// Obtains a dataset's raw files into a folder: download (resumable, verified, unzipped), user-placed, or synthetic.
///
/// Downloads go through the `curl` program rather than URLSession: on Linux, FoundationNetworking is a separate,
/// heavier library whose download tasks cannot append to a partial file, while curl gives resume (`-C -`), redirects
/// (`-L`), HTTP errors as failures (`--fail`), truncation detection (exit 18 on a short body) and the server's
/// headers (`--dump-header`, for Last-Modified) in one well-known tool present on every machine the bootstrap supports.
public enum Fetcher {
    /// Environment variable overriding the stall timeout (seconds without a byte before a download is abandoned).
    public static let stallVariable = "CPREC_FETCH_STALL_SECONDS"

    /// 60 s, or `$CPREC_FETCH_STALL_SECONDS` when it is a positive integer.
    public static var defaultStallSeconds: Int {
        if let v = ProcessInfo.processInfo.environment[stallVariable], let n = Int(v), n > 0 { return n }
        return 60
    }

    /// Fetches `spec`'s raw files into `destination` (created), writes `fetch.json` there and returns the record.
    public static func fetch(_ spec: DatasetSpec, into destination: URL, options: FetchOptions) throws -> FetchRecord {
        let start = Date()
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        var record: FetchRecord
        if !options.overrides.isEmpty {
            record = try fetchOverrides(spec, into: destination, options: options)
        } else {
            switch spec.source {
            case .download(var d):
                let upstream = d.url
                d.url = try options.resolve(upstream)
                if d.url != upstream { options.log("mirror: \(upstream) -> \(d.url)") }
                record = try fetchDownload(spec, d, into: destination, options: options)
                if d.url != upstream { record.upstream = upstream }
            case .userPlaced(let u): record = try fetchUserPlaced(spec, u, into: destination, options: options)
            case .synthetic(let s): record = try fetchSynthetic(spec, s, into: destination)
            }
        }
        record.seconds = Date().timeIntervalSince(start)
        record.fetchedAt = iso8601(Date())
        try record.write(to: destination)
        return record
    }

    // MARK: - sources

    static func fetchDownload(
        _ spec: DatasetSpec, _ d: DownloadSource, into destination: URL, options: FetchOptions
    ) throws -> FetchRecord {
        let archive = try download(
            url: d.url, into: options.downloadDirectory, sha256: d.sha256, md5: d.md5,
            stallSeconds: options.stallSeconds, log: options.log)
        var files: [FetchedFile] = []
        switch d.archive {
        case .zip:
            guard d.members.count == spec.format.fileCount else {
                throw DatasetError.invalidParameter(
                    field: "\(spec.name).source.members",
                    expected: "\(spec.format.fileCount) member path(s) for format \(spec.format.kind.rawValue)")
            }
            for (i, member) in d.members.enumerated() {
                let name = uniqueName((member as NSString).lastPathComponent, index: i, taken: files.map(\.name))
                let out = destination.appendingPathComponent(name)
                do { try extract(zip: archive.file, member: member, to: out) } catch let error as DatasetError {
                    throw archive.verified ? error : setAside(archive.file, after: error, log: options.log)
                }
                files.append(try describe(out, name: name, origin: "\(d.url)#\(member)"))
            }
        case .none:
            guard spec.format.fileCount == 1 else {
                throw DatasetError.invalidParameter(
                    field: "\(spec.name).source.archive", expected: "zip with members for a two-file format")
            }
            let name = archive.file.lastPathComponent
            let out = destination.appendingPathComponent(name)
            try placeCopy(of: archive.file, at: out)
            files.append(FetchedFile(name: name, origin: d.url, bytes: archive.bytes, sha256: archive.sha256))
        }
        try validate(spec, files: files.map { destination.appendingPathComponent($0.name) })
        return FetchRecord(
            dataset: spec.name, kind: "download", url: d.url, downloadSHA256: archive.sha256,
            downloadBytes: archive.bytes,
            checksum: archive.verified ? "verified" : "recorded", serverLastModified: archive.lastModified,
            fetchedAt: "", seconds: 0, files: files)
    }

    static func fetchUserPlaced(
        _ spec: DatasetSpec, _ u: UserPlacedSource, into destination: URL, options: FetchOptions
    ) throws -> FetchRecord {
        guard u.files.count == spec.format.fileCount else {
            throw DatasetError.invalidParameter(
                field: "\(spec.name).source.files",
                expected: "\(spec.format.fileCount) path(s) for format \(spec.format.kind.rawValue)")
        }
        // A spec is data anyone can hand over: its paths may not reach outside the project folder (no
        // `../../etc/passwd`, no absolute path, no symlink out). Files elsewhere come through --source.
        let project = options.workingDirectory.standardizedFileURL
        let paths = u.files.map { project.appendingPathComponent($0).standardizedFileURL }
        for (i, p) in paths.enumerated() {
            func inside(_ url: URL, _ root: URL) -> Bool { url.pathComponents.starts(with: root.pathComponents) }
            var ok = !u.files[i].hasPrefix("/") && inside(p, project)
            // A symlink may point out of the folder: judge an existing file by where it really is.
            if ok, FileManager.default.fileExists(atPath: p.path) {
                ok = inside(p.resolvingSymlinksInPath(), project.resolvingSymlinksInPath())
            }
            if !ok {
                throw DatasetError.invalidParameter(
                    field: "\(spec.name).source.files[\(i)]",
                    expected:
                        "a relative path inside the project folder \(project.path), got '\(u.files[i])' (resolves to \(p.resolvingSymlinksInPath().path)); pass a file elsewhere explicitly with --source \(spec.name)=FILE"
                )
            }
        }
        for p in paths where !FileManager.default.fileExists(atPath: p.path) {
            throw DatasetError.userFileMissing(
                dataset: spec.name, path: p.path, format: spec.format.summary, links: u.links, help: u.help)
        }
        return try placeLocal(spec, paths, into: destination)
    }

    static func fetchOverrides(_ spec: DatasetSpec, into destination: URL, options: FetchOptions) throws -> FetchRecord
    {
        let o = options.overrides
        if o.count == 1, let scheme = o[0].scheme, scheme == "http" || scheme == "https" {
            guard spec.format.fileCount == 1 else {
                throw DatasetError.invalidParameter(
                    field: "--source \(spec.name)",
                    expected: "local files for the two-file format \(spec.format.kind.rawValue)")
            }
            let d = DownloadSource(url: o[0].absoluteString)
            var r = try fetchDownload(spec, d, into: destination, options: options)
            r.kind = "user-placed"
            return r
        }
        var paths = o
        var isDir: ObjCBool = false
        if o.count == 1, FileManager.default.fileExists(atPath: o[0].path, isDirectory: &isDir), isDir.boolValue {
            // A folder: look for the spec's default file names inside it.
            let names: [String]
            if case .userPlaced(let u) = spec.source {
                names = u.files.map { ($0 as NSString).lastPathComponent }
            } else if case .download(let d) = spec.source, !d.members.isEmpty {
                names = d.members.map { ($0 as NSString).lastPathComponent }
            } else {
                names = []
            }
            guard names.count == spec.format.fileCount else {
                throw DatasetError.invalidParameter(
                    field: "--source \(spec.name)", expected: "file path(s), not a folder, for this dataset")
            }
            paths = names.map { o[0].appendingPathComponent($0) }
        }
        guard paths.count == spec.format.fileCount else {
            throw DatasetError.invalidParameter(
                field: "--source \(spec.name)",
                expected: "\(spec.format.fileCount) file(s) for format \(spec.format.kind.rawValue)")
        }
        for p in paths where !FileManager.default.fileExists(atPath: p.path) {
            var links: [String] = [], help = ""
            if case .userPlaced(let u) = spec.source { links = u.links; help = u.help }
            throw DatasetError.userFileMissing(
                dataset: spec.name, path: p.path, format: spec.format.summary, links: links, help: help)
        }
        return try placeLocal(spec, paths, into: destination)
    }

    private static func placeLocal(_ spec: DatasetSpec, _ paths: [URL], into destination: URL) throws -> FetchRecord {
        try validate(spec, files: paths)
        var files: [FetchedFile] = []
        for (i, p) in paths.enumerated() {
            let name = uniqueName(p.lastPathComponent, index: i, taken: files.map(\.name))
            let out = destination.appendingPathComponent(name)
            // A real copy, never a hard link: editing the user's file later must not alter the cached entry.
            try? FileManager.default.removeItem(at: out)
            try FileManager.default.copyItem(at: p, to: out)
            files.append(try describe(out, name: name, origin: p.path))
        }
        return FetchRecord(
            dataset: spec.name, kind: "user-placed", url: "", downloadSHA256: "", downloadBytes: 0,
            checksum: "recorded",
            serverLastModified: "", fetchedAt: "", seconds: 0, files: files)
    }

    static func fetchSynthetic(_ spec: DatasetSpec, _ s: SyntheticSpec, into destination: URL) throws -> FetchRecord {
        let written = try SyntheticGenerator.write(s, format: spec.format, into: destination)
        let files = try written.map {
            try describe(destination.appendingPathComponent($0), name: $0, origin: "synthetic")
        }
        return FetchRecord(
            dataset: spec.name, kind: "synthetic", url: "", downloadSHA256: "", downloadBytes: 0, checksum: "recorded",
            serverLastModified: "", fetchedAt: "", seconds: 0, files: files)
    }

    /// Reads the first 1000 lines with the spec's format, so a wrong file fails at fetch with file:line.
    static func validate(_ spec: DatasetSpec, files: [URL]) throws {
        if spec.format.kind == .coldrec {
            let r = try Parsers.readColdRec(source: files[0], target: files[1], format: spec.format, maxLines: 1000)
            if r.source.interactionCount == 0 {
                throw DatasetError.empty(dataset: spec.name, detail: "\(files[0].path) holds no items")
            }
        } else {
            let r = try Parsers.readLog(files[0], format: spec.format, maxLines: 1000)
            if r.interactionCount == 0 {
                throw DatasetError.empty(dataset: spec.name, detail: "\(files[0].path) holds no items")
            }
        }
    }

    // MARK: - download

    /// A completed, verified download in the download folder.
    public struct Download: Sendable {
        public var file: URL
        public var bytes: Int64
        public var sha256: String
        /// True when a spec checksum (SHA-256 or MD5) was checked.
        public var verified: Bool
        /// The server's Last-Modified header or "" (kept in a `<name>.last-modified` sidecar for reuse).
        public var lastModified: String
    }

    /// Downloads `url` into `directory/<basename>` via `<basename>.part`, resuming a partial file, then verifies it.
    ///
    /// A complete file already present and matching is reused without network. On a checksum mismatch the file is
    /// deleted (it is complete, so resuming cannot fix it); on a truncated body or a transfer error the `.part`
    /// stays (it is a prefix) and the next call resumes it with an HTTP range request.
    public static func download(
        url: String, into directory: URL, sha256: String = "", md5: String = "",
        stallSeconds: Int = defaultStallSeconds, log: (String) -> Void = { _ in }
    ) throws -> Download {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let base = URL(string: url)?.lastPathComponent ?? ""
        let name = base.isEmpty || base == "/" ? "download" : base
        let final = directory.appendingPathComponent(name)
        let part = directory.appendingPathComponent(name + ".part")
        let headers = directory.appendingPathComponent(name + ".headers")
        let sidecar = directory.appendingPathComponent(name + ".last-modified")
        let fm = FileManager.default
        let hasChecksum = !sha256.isEmpty || !md5.isEmpty

        if fm.fileExists(atPath: final.path) {
            if !hasChecksum || (try? verify(final, url: url, sha256: sha256, md5: md5)) != nil {
                log("using \(final.path) (already downloaded)")
                return try finish(final, verified: hasChecksum)
            }
            try? fm.removeItem(at: final)
        }
        if hasChecksum, fm.fileExists(atPath: part.path), (try? verify(part, url: url, sha256: sha256, md5: md5)) != nil
        {
            try fm.moveItem(at: part, to: final)
            return try finish(final, verified: true)
        }

        var attempt = 0
        while true {
            attempt += 1
            let resumeAt = (try? fm.attributesOfItem(atPath: part.path)[.size] as? NSNumber)??.int64Value ?? 0
            log(resumeAt > 0 ? "resuming \(url) at \(resumeAt) bytes" : "downloading \(url)")
            var args = [
                "curl", "--fail", "--location", "--silent", "--show-error", "--dump-header", headers.path,
                "--connect-timeout", "30", "--output", part.path, "--write-out", "%{http_code}",
                // A server that accepts and then never sends (or stops sending) would hang the run forever.
                "--speed-limit", "1", "--speed-time", "\(max(1, stallSeconds))"
            ]
            if resumeAt > 0 { args += ["--continue-at", "-"] }
            args.append(url)
            let r = try run(args)
            let status = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let detail = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            if r.status == 0 { break }
            if ((try? fm.attributesOfItem(atPath: part.path)[.size] as? NSNumber)??.int64Value ?? 0) == 0 {
                try? fm.removeItem(at: part)  // an empty .part from a failed first request is no prefix worth keeping
            }
            switch r.status {
            case 33 where attempt == 1:
                // The server ignores byte ranges: start over.
                log("server does not support resume; restarting \(url)")
                try? fm.removeItem(at: part)
                continue
            case 22 where status == 416 && resumeAt > 0:
                // Range starts at the end: the partial file is already complete; the checksum decides.
                break
            case 22:
                throw DatasetError.httpStatus(url: url, status: status)
            case 28:
                throw DatasetError.transfer(
                    url: url, exitCode: r.status,
                    detail:
                        "no data received for \(max(1, stallSeconds)) s, abandoned (the server stalled; set \(stallVariable) to wait longer); a partial file is kept and resumed next time"
                )
            case 18:
                let got = (try? fm.attributesOfItem(atPath: part.path)[.size] as? NSNumber)??.int64Value ?? 0
                throw DatasetError.truncated(url: url, bytesReceived: got, detail: detail)
            default:
                throw DatasetError.transfer(url: url, exitCode: r.status, detail: detail)
            }
            break
        }
        do { try verify(part, url: url, sha256: sha256, md5: md5) } catch {
            try? fm.removeItem(at: part)
            throw error
        }
        // The last Last-Modified header (after redirects) of the request that completed the file.
        let dumped = (try? String(contentsOf: headers, encoding: .utf8)) ?? ""
        let modified =
            dumped.split(whereSeparator: \.isNewline).reversed()
            .first { $0.lowercased().hasPrefix("last-modified:") }
            .map { String($0.dropFirst("last-modified:".count)).trimmingCharacters(in: .whitespaces) } ?? ""
        try Data(modified.utf8).write(to: sidecar)
        try? fm.removeItem(at: headers)
        try? fm.removeItem(at: final)
        try fm.moveItem(at: part, to: final)
        return try finish(final, verified: hasChecksum)
    }

    /// Moves an unverified download whose extraction failed to `<name>.bad-<time>`: kept for inspection, and no
    /// longer "already downloaded", so the next fetch downloads it again instead of failing on it forever.
    static func setAside(_ file: URL, after error: DatasetError, log: (String) -> Void) -> DatasetError {
        let stamp = iso8601(Date()).replacingOccurrences(of: ":", with: "")
        let aside = file.deletingLastPathComponent().appendingPathComponent("\(file.lastPathComponent).bad-\(stamp)")
        let fm = FileManager.default
        guard (try? fm.moveItem(at: file, to: aside)) != nil else { return error }
        try? fm.removeItem(
            at: file.deletingLastPathComponent().appendingPathComponent(file.lastPathComponent + ".last-modified"))
        log("moved the unusable download to \(aside.path)")
        guard case .archive(let path, let member, let detail) = error else { return error }
        return .archive(
            path: path, member: member,
            detail: detail
                + "; the download had no pinned checksum, so it may be damaged: it was moved to \(aside.path) for inspection and will be downloaded again on the next fetch"
        )
    }

    private static func finish(_ file: URL, verified: Bool) throws -> Download {
        let attrs = try FileManager.default.attributesOfItem(atPath: file.path)
        let bytes = (attrs[.size] as? NSNumber)?.int64Value ?? 0
        let sidecar = file.deletingLastPathComponent().appendingPathComponent(file.lastPathComponent + ".last-modified")
        let modified = (try? String(contentsOf: sidecar, encoding: .utf8)) ?? ""
        return Download(
            file: file, bytes: bytes, sha256: try SHA256.hex(fileAt: file), verified: verified, lastModified: modified)
    }

    /// Throws `checksumMismatch` naming the URL, the expected and the actual hash.
    static func verify(_ file: URL, url: String, sha256: String, md5: String) throws {
        if !sha256.isEmpty {
            let actual = try SHA256.hex(fileAt: file)
            if actual != sha256.lowercased() {
                throw DatasetError.checksumMismatch(url: url, algorithm: "sha256", expected: sha256, actual: actual)
            }
        }
        if !md5.isEmpty {
            let actual = try md5Hex(fileAt: file)
            if actual != md5.lowercased() {
                throw DatasetError.checksumMismatch(url: url, algorithm: "md5", expected: md5, actual: actual)
            }
        }
    }

    /// MD5 through libcrypto (GroupLens publishes MD5s).
    public static func md5Hex(fileAt file: URL) throws -> String { try SHA256.md5Hex(fileAt: file) }

    /// Extracts one member of a zip (via `unzip -p`) into `destination`, atomically (temp file + rename).
    public static func extract(zip: URL, member: String, to destination: URL) throws {
        let tmp = destination.deletingLastPathComponent().appendingPathComponent(
            "." + destination.lastPathComponent + ".tmp")
        _ = FileManager.default.createFile(atPath: tmp.path, contents: nil)
        let out = try FileHandle(forWritingTo: tmp)
        let r: Command.Outcome
        do {
            r = try run(["unzip", "-p", zip.path, member], stdoutTo: out)
            try out.close()
        } catch {
            try? out.close()
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        guard r.status == 0 else {
            try? FileManager.default.removeItem(at: tmp)
            let detail =
                r.status == 11
                ? "no such member in the archive"
                : "unzip exit \(r.status): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
            throw DatasetError.archive(path: zip.path, member: member, detail: detail)
        }
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: tmp, to: destination)
    }

    // MARK: - helpers

    /// Hard link when possible (no copy of large downloads; a re-download renames a new inode into place, so the
    /// linked entry stays intact), else a copy.
    static func placeCopy(of source: URL, at destination: URL) throws {
        let fm = FileManager.default
        try? fm.removeItem(at: destination)
        do { try fm.linkItem(at: source, to: destination) } catch { try fm.copyItem(at: source, to: destination) }
    }

    static func describe(_ file: URL, name: String, origin: String) throws -> FetchedFile {
        let attrs = try FileManager.default.attributesOfItem(atPath: file.path)
        return FetchedFile(
            name: name, origin: origin, bytes: (attrs[.size] as? NSNumber)?.int64Value ?? 0,
            sha256: try SHA256.hex(fileAt: file))
    }

    static func uniqueName(_ base: String, index: Int, taken: [String]) -> String {
        let b = base.isEmpty || base == FetchRecord.fileName ? "file\(index)" : base
        return taken.contains(b) ? "\(index)-\(b)" : b
    }

    static func iso8601(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: d)
    }

    /// `Command.run`, its failures and a child killed by a signal as `DatasetError.tool`.
    static func run(_ argv: [String], stdoutTo: FileHandle? = nil) throws -> Command.Outcome {
        let r: Command.Outcome
        do { r = try Command.run(argv, stdout: stdoutTo) } catch {
            throw DatasetError.tool(name: argv[0], detail: "\(error)")
        }
        if r.signalled {
            throw DatasetError.tool(
                name: argv[0],
                detail: "stopped by signal \(r.status)"
                    + (Children.stoppingSignal != nil ? " (the pipeline is being stopped)" : ""))
        }
        return r
    }
}
