import Foundation

/// One dataset as declared in `pipeline/datasets.yaml`: where its raw files come from, how to read them, how to prepare
/// them.
public struct DatasetSpec: Codable, Hashable, Sendable {
    /// Short name used in stage ids (`fetch/<name>`, `prep/<name>`, `blocks/<name>`).
    public var name: String
    /// Where the raw files come from.
    public var source: DatasetSource
    /// How the raw files are laid out.
    public var format: FormatSpec
    /// Preprocessing parameters (all optional in YAML; defaults follow the paper's code).
    public var prep: PrepParams

    public init(name: String, source: DatasetSource, format: FormatSpec, prep: PrepParams = PrepParams()) {
        self.name = name
        self.source = source
        self.format = format
        self.prep = prep
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, source, format, prep }

    /// Checks what decoding cannot (ranges, hex checksums, file counts per format); errors name `<dataset>.<key>`.
    public func validate() throws {
        func bad(_ key: String, _ expected: String) -> DatasetError {
            .invalidParameter(field: "\(name).\(key)", expected: expected)
        }
        func isHex(_ s: String, _ n: Int) -> Bool { s.count == n && s.allSatisfy { $0.isHexDigit } }
        if name.isEmpty || name.contains("/") { throw bad("name", "a non-empty name without '/'") }
        do { try prep.validate() } catch DatasetError.invalidParameter(let field, let expected) {
            throw bad(field, expected)
        }
        switch source {
        case .download(let d):
            // A host, and a port only with digits: "http://127.0.0.1:/x.zip" once slipped into the shipped specs.
            guard let u = URLComponents(string: d.url), u.scheme == "http" || u.scheme == "https",
                u.host?.isEmpty == false,
                d.url.range(of: #"^https?://[^/?#]*:(/|$)"#, options: .regularExpression) == nil
            else {
                throw bad("source.url", "an http(s) URL")
            }
            if !d.sha256.isEmpty && !isHex(d.sha256, 64) { throw bad("source.sha256", "64 hex digits or empty") }
            if !d.md5.isEmpty && !isHex(d.md5, 32) { throw bad("source.md5", "32 hex digits or empty") }
            if d.archive == .zip && d.members.count != format.fileCount {
                throw bad(
                    "source.members",
                    "\(format.fileCount) path(s) inside the archive for format \(format.kind.rawValue)")
            }
            if d.archive == .none && format.fileCount != 1 {
                throw bad("source.archive", "zip (a two-file format needs an archive)")
            }
        case .userPlaced(let u):
            if u.files.count != format.fileCount {
                throw bad("source.files", "\(format.fileCount) path(s) for format \(format.kind.rawValue)")
            }
            for (i, f) in u.files.enumerated() {
                // Lexically: fetch checks symlinks too. Files outside the project come through --source only.
                var depth = 0
                var escapes = f.hasPrefix("/") || f.isEmpty
                for c in f.split(separator: "/") where c != "." {
                    depth += c == ".." ? -1 : 1
                    if depth < 0 { escapes = true }
                }
                if escapes {
                    throw bad(
                        "source.files[\(i)]",
                        "a relative path inside the project folder, got '\(f)' (for a file elsewhere use --source \(name)=FILE)"
                    )
                }
            }
        case .synthetic(let sy):
            do { try sy.validate() } catch DatasetError.invalidParameter(let field, let expected) {
                throw bad(field, expected)
            }
            if format.kind == .coldrec && sy.targetItems == 0 {
                throw bad("source.targetItems", "> 0 for the coldrec format")
            }
        }
        if format.kind == .movielensRatings || format.kind == .userItemTime {
            if format.userColumn < 0 || format.itemColumn < 0 || format.userColumn == format.itemColumn {
                throw bad("format.userColumn/itemColumn", "two different column indices >= 0")
            }
            if format.timeColumn < -1 { throw bad("format.timeColumn", "a column index, or -1 for file order") }
        }
        if format.kind == .coldrec && prep.effectiveSplit == .leaveOneOut {
            throw bad(
                "prep.split",
                "random for the coldrec format (its target rows have no per-user order to leave one out of)")
        }
        if let d = format.delimiter, d.isEmpty {
            throw bad("format.delimiter", "a non-empty string (or leave it out to detect)")
        }
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        source = try c.decode(DatasetSource.self, forKey: .source)
        format = try c.decode(FormatSpec.self, forKey: .format)
        prep = try c.decodeIfPresent(PrepParams.self, forKey: .prep) ?? PrepParams()
    }
}

/// Where a dataset's raw files come from; encoded flat with a `kind` key (`download`, `user-placed`, `synthetic`).
public enum DatasetSource: Codable, Hashable, Sendable {
    case download(DownloadSource)
    case userPlaced(UserPlacedSource)
    case synthetic(SyntheticSpec)

    enum KindKey: String, CodingKey { case kind }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: KindKey.self)
        let kind = try c.decode(String.self, forKey: .kind)
        switch kind {
        case "download": self = .download(try DownloadSource(from: decoder))
        case "user-placed": self = .userPlaced(try UserPlacedSource(from: decoder))
        case "synthetic": self = .synthetic(try SyntheticSpec(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: c,
                debugDescription: "unknown source kind '\(kind)'; expected download, user-placed or synthetic")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: KindKey.self)
        switch self {
        case .download(let s): try c.encode("download", forKey: .kind); try s.encode(to: encoder)
        case .userPlaced(let s): try c.encode("user-placed", forKey: .kind); try s.encode(to: encoder)
        case .synthetic(let s): try c.encode("synthetic", forKey: .kind); try s.encode(to: encoder)
        }
    }
}

/// Archive type of a downloaded file.
public enum ArchiveKind: String, Codable, Hashable, Sendable { case zip, none }

/// A file fetched over HTTP(S); an empty checksum means "record it, do not verify".
public struct DownloadSource: Codable, Hashable, Sendable {
    /// The HTTP(S) URL of the file (or archive).
    public var url: String
    /// Expected lowercase hex SHA-256 of the downloaded file; empty = not known, only recorded.
    public var sha256: String
    /// Expected lowercase hex MD5 (GroupLens publishes `<zip>.md5`); empty = not checked.
    public var md5: String
    /// Whether the download is an archive whose members must be extracted.
    public var archive: ArchiveKind
    /// Paths inside the archive to extract, in the order the format reads them (ignored when `archive` is none).
    public var members: [String]

    public init(
        url: String, sha256: String = "", md5: String = "", archive: ArchiveKind = .none, members: [String] = []
    ) {
        self.url = url
        self.sha256 = sha256
        self.md5 = md5
        self.archive = archive
        self.members = members
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case url, sha256, md5, archive, members }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: DatasetSpecKeys.download)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        sha256 = try c.decodeIfPresent(String.self, forKey: .sha256) ?? ""
        md5 = try c.decodeIfPresent(String.self, forKey: .md5) ?? ""
        archive = try c.decodeIfPresent(ArchiveKind.self, forKey: .archive) ?? .none
        members = try c.decodeIfPresent([String].self, forKey: .members) ?? []
    }
}

/// Files the user must place by hand (Baidu / Google Drive links, or not public at all).
public struct UserPlacedSource: Codable, Hashable, Sendable {
    /// Default locations relative to the working directory, in the order the format reads them.
    public var files: [String]
    /// Where the data can be obtained (shown in the error message when a file is missing).
    public var links: [String]
    /// One extra line of help (e.g. an extraction code or "no public link").
    public var help: String

    public init(files: [String], links: [String] = [], help: String = "") {
        self.files = files
        self.links = links
        self.help = help
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case files, links, help }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: DatasetSpecKeys.userPlaced)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        files = try c.decode([String].self, forKey: .files)
        links = try c.decodeIfPresent([String].self, forKey: .links) ?? []
        help = try c.decodeIfPresent(String.self, forKey: .help) ?? ""
    }
}

/// Layout of the raw files.
public enum FormatKind: String, Codable, Hashable, Sendable {
    /// GroupLens ratings: ml-100k `u.data` (tab), ml-1m `ratings.dat` (`::`), ml-latest `ratings.csv` (comma, header).
    /// Delimiter and header are detected; columns are user, item, rating, timestamp; ids must be integers.
    case movielensRatings = "movielens-ratings"
    /// The authors' session CSV: one sequence per line, comma-separated item tokens, left-padded with "0".
    case sessionCSV = "session-csv"
    /// Generic (user, item, timestamp) rows with a configurable delimiter and columns.
    case userItemTime = "user-item-time"
    /// One sequence per line, tokens separated by spaces/tabs or commas.
    case sequenceLines = "sequence-lines"
    /// SASRec's file: `USER ITEM` per line, integer ids, a user's lines contiguous and in time order (no timestamps).
    case userItemLines = "user-item-lines"
    /// S3Rec's file: `USER ITEM ITEM ...` per line, integer ids, items in time order.
    case userSequenceLines = "user-sequence-lines"
    /// PeterRec's ColdRec pair: file 1 = source sequences (comma-separated); file 2 = `history,,target1,target2,...`.
    case coldrec
}

/// How to read the raw files; every field but `kind` is optional in YAML.
public struct FormatSpec: Codable, Hashable, Sendable {
    public var kind: FormatKind
    /// Field delimiter; nil = detect (`::`, tab, comma) for row formats, any of comma/space/tab for sequence lines.
    public var delimiter: String?
    /// Whether the first line is a header; nil = detect (first line whose user field is not an integer).
    public var header: Bool?
    /// Zero-based column of the user (row formats).
    public var userColumn: Int
    /// Zero-based column of the item (row formats).
    public var itemColumn: Int
    /// Zero-based column of the timestamp (row formats); -1 = no timestamp, file order is the chronology.
    public var timeColumn: Int
    /// Padding token skipped in sequence formats; nil = "0" for session-csv/sequence-lines/coldrec, none for rows.
    public var padToken: String?

    public init(
        kind: FormatKind, delimiter: String? = nil, header: Bool? = nil, userColumn: Int = 0,
        itemColumn: Int = 1, timeColumn: Int? = nil, padToken: String? = nil
    ) {
        self.kind = kind
        self.delimiter = delimiter
        self.header = header
        self.userColumn = userColumn
        self.itemColumn = itemColumn
        self.timeColumn = timeColumn ?? (kind == .movielensRatings ? 3 : 2)
        self.padToken = padToken
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, delimiter, header, userColumn, itemColumn, timeColumn, padToken
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: DatasetSpecKeys.format)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            kind: try c.decode(FormatKind.self, forKey: .kind),
            delimiter: try c.decodeIfPresent(String.self, forKey: .delimiter),
            header: try c.decodeIfPresent(Bool.self, forKey: .header),
            userColumn: try c.decodeIfPresent(Int.self, forKey: .userColumn) ?? 0,
            itemColumn: try c.decodeIfPresent(Int.self, forKey: .itemColumn) ?? 1,
            timeColumn: try c.decodeIfPresent(Int.self, forKey: .timeColumn),
            padToken: try c.decodeIfPresent(String.self, forKey: .padToken))
    }

    /// The padding token actually skipped when reading sequences.
    public var effectivePadToken: String? {
        if let p = padToken { return p.isEmpty ? nil : p }
        switch kind {
        case .sessionCSV, .sequenceLines, .coldrec: return "0"
        case .movielensRatings, .userItemTime, .userItemLines, .userSequenceLines: return nil
        }
    }

    /// Number of raw files the format reads.
    public var fileCount: Int { kind == .coldrec ? 2 : 1 }

    /// One line describing the expected layout, for error messages.
    public var summary: String {
        switch kind {
        case .movielensRatings:
            return
                "movielens-ratings: user, item, rating, timestamp per row (u.data tab-separated, ratings.dat '::', ratings.csv with header); integer ids"
        case .sessionCSV:
            return
                "session-csv (the authors' format): one sequence per line, comma-separated item tokens, left-padded with \"0\""
        case .userItemTime:
            return
                "user-item-time: one interaction per row, delimiter \(delimiter.map { "'\($0)'" } ?? "auto"), user column \(userColumn), item column \(itemColumn), time column \(timeColumn)"
        case .sequenceLines:
            return "sequence-lines: one sequence per line, item tokens separated by spaces or commas, oldest first"
        case .userItemLines:
            return
                "user-item-lines (SASRec): 'USER ITEM' per line, integer ids separated by spaces or tabs, a user's lines contiguous and oldest first"
        case .userSequenceLines:
            return
                "user-sequence-lines (S3Rec): 'USER ITEM ITEM ...' per line, integer ids separated by spaces or tabs, oldest first"
        case .coldrec:
            return
                "coldrec (PeterRec): file 1 = one source sequence per line, comma-separated; file 2 = 'history,,target1,target2,...' per line"
        }
    }
}

/// How prepared rows are assigned to training, validation and test.
public enum SplitKind: String, Codable, Hashable, Sendable {
    /// The paper's protocol: a seeded shuffle of all chunks, test and validation by fraction.
    case random
    /// SASRec's / S3Rec's protocol: per user the last item is test, the second-to-last validation, the rest training.
    case leaveOneOut = "leave-one-out"
}

/// Preprocessing parameters; defaults follow the authors' code (t = 20, 80/20 split, seed 10).
public struct PrepParams: Codable, Hashable, Sendable {
    /// Sequence length t: longer histories are cut into chunks of t from the most recent end.
    public var seqLength: Int = 20
    /// Items with fewer interactions are dropped (one pass, before the user filter).
    public var minItemCount: Int = 1
    /// Users (or lines) with fewer remaining interactions are dropped (one pass, after the item filter).
    public var minUserCount: Int = 1
    /// Chunks with fewer real (non-padding) items are dropped; 2 = at least one input and one target.
    public var minSequenceItems: Int = 2
    /// Share of sequences held out for test (the last floor(f·N) after a seeded shuffle, as the authors' code).
    public var testFraction: Double = 0.2
    /// Share of the remaining training sequences carved out for validation (epoch selection).
    public var validFraction: Double = 0.1
    /// Seed of the split shuffle.
    public var seed: UInt64 = 10
    /// How rows are assigned to splits; nil = the paper's random split of chunks. Optional so that a dataset
    /// without the key encodes exactly as before and its stage keys do not change.
    public var split: SplitKind?

    public init(
        seqLength: Int = 20, minItemCount: Int = 1, minUserCount: Int = 1, minSequenceItems: Int = 2,
        testFraction: Double = 0.2, validFraction: Double = 0.1, seed: UInt64 = 10, split: SplitKind? = nil
    ) {
        self.split = split
        self.seqLength = seqLength
        self.minItemCount = minItemCount
        self.minUserCount = minUserCount
        self.minSequenceItems = minSequenceItems
        self.testFraction = testFraction
        self.validFraction = validFraction
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case seqLength, minItemCount, minUserCount, minSequenceItems, testFraction, validFraction, seed, split
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: DatasetSpecKeys.prep)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PrepParams()
        seqLength = try c.decodeIfPresent(Int.self, forKey: .seqLength) ?? d.seqLength
        minItemCount = try c.decodeIfPresent(Int.self, forKey: .minItemCount) ?? d.minItemCount
        minUserCount = try c.decodeIfPresent(Int.self, forKey: .minUserCount) ?? d.minUserCount
        minSequenceItems = try c.decodeIfPresent(Int.self, forKey: .minSequenceItems) ?? d.minSequenceItems
        testFraction = try c.decodeIfPresent(Double.self, forKey: .testFraction) ?? d.testFraction
        validFraction = try c.decodeIfPresent(Double.self, forKey: .validFraction) ?? d.validFraction
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        split = try c.decodeIfPresent(SplitKind.self, forKey: .split)
    }

    /// The split actually applied.
    public var effectiveSplit: SplitKind { split ?? .random }

    /// Rejects values that cannot produce a dataset, naming the field.
    public func validate() throws {
        func bad(_ field: String, _ expected: String) -> DatasetError {
            .invalidParameter(field: "prep.\(field)", expected: expected)
        }
        if seqLength < 2 { throw bad("seqLength", "an integer >= 2") }
        if minItemCount < 1 { throw bad("minItemCount", "an integer >= 1") }
        if minUserCount < 1 { throw bad("minUserCount", "an integer >= 1") }
        if minSequenceItems < 1 || minSequenceItems > seqLength { throw bad("minSequenceItems", "1...seqLength") }
        if !(testFraction >= 0 && testFraction < 1) { throw bad("testFraction", "a number in [0, 1)") }
        if !(validFraction >= 0 && validFraction < 1) { throw bad("validFraction", "a number in [0, 1)") }
    }
}

/// The keys each part of a dataset entry accepts. A key the reader does not know is a typo whose value would
/// otherwise be replaced by a default without a word (`seqLen: 10` running with seqLength 20), so it is an error.
public enum DatasetSpecKeys {
    public static let format = FormatSpec.CodingKeys.allCases.map(\.rawValue)
    public static let prep = PrepParams.CodingKeys.allCases.map(\.rawValue)
    public static let download = ["kind"] + DownloadSource.CodingKeys.allCases.map(\.rawValue)
    public static let userPlaced = ["kind"] + UserPlacedSource.CodingKeys.allCases.map(\.rawValue)
    public static let synthetic = ["kind"] + SyntheticSpec.CodingKeys.allCases.map(\.rawValue)
    public static let blocks = BlockRule.CodingKeys.allCases.map(\.rawValue)
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A key outside what a spec mapping accepts (carried by the `DecodingError`, so a reader can suggest the closest).
public struct UnknownKeyError: Error, Sendable {
    public let key: String
    public let allowed: [String]
}

/// Fails decoding on a key outside `allowed`: a misspelt key would otherwise leave its default in place unnoticed.
public func rejectUnknownKeys(_ decoder: Decoder, allowed: [String]) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    if let key = c.allKeys.first(where: { !allowed.contains($0.stringValue) }) {
        throw DecodingError.dataCorrupted(
            .init(
                codingPath: c.codingPath + [key],
                debugDescription:
                    "unknown key '\(key.stringValue)'; expected one of: \(allowed.joined(separator: ", "))",
                underlyingError: UnknownKeyError(key: key.stringValue, allowed: allowed)))
    }
}
