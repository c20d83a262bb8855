import Foundation

/// Parsed interactions before preprocessing: one chronological sequence of raw item ids per user (or per line).
public struct RawLog: Sendable {
    /// Raw item id -> original token (raw ids are assigned in first-appearance order).
    public var itemTokens: [String]
    /// One entry per user (row formats, in first-appearance order of users) or per line (sequence formats), oldest
    /// first.
    public var sequences: [[Int32]]

    public init(itemTokens: [String] = [], sequences: [[Int32]] = []) {
        self.itemTokens = itemTokens
        self.sequences = sequences
    }

    /// Number of (non-padding) interactions.
    public var interactionCount: Int { sequences.reduce(0) { $0 + $1.count } }
}

/// One fine-tuning example of the transfer task: a user's source history and their target-domain items.
public struct RawTransferExample: Sendable {
    /// Raw source item ids (indices into the source log's `itemTokens`), oldest first, padding removed.
    public var history: [Int32]
    /// Raw target item ids (indices into `RawColdRec.targetTokens`).
    public var targets: [Int32]
}

/// Parsed ColdRec pair: source sequences for pre-training and (history, targets) lines for fine-tuning.
public struct RawColdRec: Sendable {
    /// Source-domain sequences; history tokens of the target file are interned into the same token table.
    public var source: RawLog
    /// Target raw id -> token.
    public var targetTokens: [String]
    /// One per line of the target file.
    public var examples: [RawTransferExample]
}

/// Token -> dense raw id, in first-appearance order (no Dictionary iteration ever reaches an output).
struct Interner {
    var ids: [String: Int32] = [:]
    var tokens: [String] = []

    mutating func intern(_ token: String) -> Int32 {
        if let id = ids[token] { return id }
        precondition(tokens.count < Int(Int32.max), "more than 2^31-1 distinct tokens")
        let id = Int32(tokens.count)
        ids[token] = id
        tokens.append(token)
        return id
    }
}

/// Line-oriented readers for every `FormatKind`; errors name file:line and what was expected.
public enum Parsers {
    /// Reads a single-file format into a `RawLog` (`maxLines` limits the read for a quick format check).
    public static func readLog(_ file: URL, format: FormatSpec, maxLines: Int = .max) throws -> RawLog {
        switch format.kind {
        case .movielensRatings, .userItemTime:
            return try readRows(file, format: format, maxLines: maxLines)
        case .sessionCSV, .sequenceLines:
            var interner = Interner()
            let sequences = try readSequences(file, format: format, interner: &interner, maxLines: maxLines)
            return RawLog(itemTokens: interner.tokens, sequences: sequences)
        case .userItemLines, .userSequenceLines:
            return try readUserLines(file, format: format, maxLines: maxLines)
        case .coldrec:
            throw DatasetError.invalidParameter(
                field: "format.kind", expected: "a single-file format (coldrec needs readColdRec)")
        }
    }

    /// Reads PeterRec's pair: `source` = one comma-separated sequence per line; `target` = `history,,t1,t2,...` per
    /// line.
    public static func readColdRec(
        source: URL, target: URL, format: FormatSpec, maxLines: Int = .max
    ) throws -> RawColdRec {
        var interner = Interner()
        let seqFormat = FormatSpec(
            kind: .sessionCSV, delimiter: format.delimiter ?? ",", padToken: format.effectivePadToken)
        let sequences = try readSequences(source, format: seqFormat, interner: &interner, maxLines: maxLines)
        var targets = Interner()
        var examples: [RawTransferExample] = []
        let pad = format.effectivePadToken
        let sep = Array((format.delimiter ?? ",").utf8)
        let name = target.path
        try forEachLine(target, maxLines: maxLines) { line, number in
            guard let cut = find(Array(",,".utf8), in: line) else {
                throw DatasetError.malformedLine(
                    file: name, line: number,
                    expected: "'history,,target1,target2,...' (PeterRec fine-tuning line)",
                    found: preview(line))
            }
            var history: [Int32] = []
            for r in split(UnsafeBufferPointer(rebasing: line[0..<cut]), by: sep) {
                let token = string(line, r.lowerBound, r.upperBound)
                if token.isEmpty {
                    throw DatasetError.malformedLine(
                        file: name, line: number, expected: "an item token between commas", found: preview(line))
                }
                if token == pad { continue }
                history.append(interner.intern(token))
            }
            var ts: [Int32] = []
            let tail = UnsafeBufferPointer(rebasing: line[(cut + 2)...])
            for r in split(tail, by: sep) {
                let token = string(tail, r.lowerBound, r.upperBound)
                if token.isEmpty || token == pad { continue }
                ts.append(targets.intern(token))
            }
            if ts.isEmpty {
                throw DatasetError.malformedLine(
                    file: name, line: number, expected: "at least one target id after ',,'", found: preview(line))
            }
            examples.append(RawTransferExample(history: history, targets: ts))
        }
        return RawColdRec(
            source: RawLog(itemTokens: interner.tokens, sequences: sequences),
            targetTokens: targets.tokens, examples: examples)
    }

    // MARK: - row formats

    private static func readRows(_ file: URL, format: FormatSpec, maxLines: Int) throws -> RawLog {
        let name = file.path
        let movielens = format.kind == .movielensRatings
        let uc = format.userColumn, ic = format.itemColumn, tc = format.timeColumn
        let needed = max(uc, ic, tc) + 1
        var delimiter: [UInt8]? = format.delimiter.map { Array($0.utf8) }
        var items = Interner()
        var userIndex: [String: Int] = [:]
        // Per user: (time, position in file) and item; sorted by (time, position) at the end, so ties keep file order.
        var events: [[(time: Double, order: Int32, item: Int32)]] = []
        var first = true
        try forEachLine(file, maxLines: maxLines) { line, number in
            let delim: [UInt8]
            if let d = delimiter {
                delim = d
            } else {
                delim = detectDelimiter(line)
                delimiter = delim
            }
            let fields = split(line, by: delim)
            let isFirst = first
            first = false
            if isFirst {
                let header: Bool
                if let h = format.header {
                    header = h
                } else if fields.count < needed {
                    header = false
                } else {
                    // A header's id (MovieLens) or time field (generic rows) is not a number.
                    let probe = movielens ? fields[uc] : (tc >= 0 ? fields[tc] : fields[uc])
                    let text = string(line, probe.lowerBound, probe.upperBound)
                    header = movielens ? parseInt(text) == nil : (tc >= 0 ? Double(text) == nil : false)
                }
                if header { return }
            }
            guard fields.count >= needed else {
                let sep = String(decoding: delim, as: UTF8.self).replacingOccurrences(of: "\t", with: "\\t")
                throw DatasetError.malformedLine(
                    file: name, line: number,
                    expected: "at least \(needed) fields separated by '\(sep)' (\(format.summary))",
                    found: preview(line))
            }
            let userText = string(line, fields[uc].lowerBound, fields[uc].upperBound)
            let itemText = string(line, fields[ic].lowerBound, fields[ic].upperBound)
            if userText.isEmpty || itemText.isEmpty {
                throw DatasetError.malformedLine(
                    file: name, line: number, expected: "non-empty user and item fields", found: preview(line))
            }
            if movielens {
                for text in [userText, itemText] {
                    guard let v = parseInt(text) else {
                        throw DatasetError.malformedLine(
                            file: name, line: number, expected: "an integer id (\(format.summary))", found: text)
                    }
                    if v > Int64(Int32.max) || v < Int64(Int32.min) {
                        throw DatasetError.idOverflow(file: name, line: number, value: text)
                    }
                }
            }
            var time = 0.0
            if tc >= 0 {
                let text = string(line, fields[tc].lowerBound, fields[tc].upperBound)
                if let v = parseInt(text) {
                    time = Double(v)
                } else if let v = Double(text) {
                    time = v
                } else {
                    throw DatasetError.malformedLine(
                        file: name, line: number, expected: "a numeric timestamp in column \(tc)", found: text)
                }
            }
            let u: Int
            if let existing = userIndex[userText] {
                u = existing
            } else {
                u = events.count
                userIndex[userText] = u
                events.append([])
            }
            events[u].append((time, Int32(truncatingIfNeeded: events[u].count), items.intern(itemText)))
        }
        var sequences: [[Int32]] = []
        sequences.reserveCapacity(events.count)
        for var e in events {
            e.sort { $0.time != $1.time ? $0.time < $1.time : $0.order < $1.order }
            sequences.append(e.map(\.item))
        }
        return RawLog(itemTokens: items.tokens, sequences: sequences)
    }

    // MARK: - user-keyed line formats (SASRec, S3Rec)

    /// One reader for both published layouts: a line is a user id followed by items, and SASRec's file is the
    /// special case of exactly one item per line. File order is the only chronology these files carry, so a user
    /// whose lines are split by another user's is an error (a sorted or merged file would silently reorder history).
    private static func readUserLines(_ file: URL, format: FormatSpec, maxLines: Int) throws -> RawLog {
        let name = file.path
        let pairs = format.kind == .userItemLines
        let explicit: [UInt8]? = format.delimiter.map { Array($0.utf8) }
        var items = Interner()
        var sequences: [[Int32]] = []
        var firstLine: [String: Int] = [:]
        var current: String? = nil
        try forEachLine(file, maxLines: maxLines) { line, number in
            var tokens: [Range<Int>] = []
            if let d = explicit {
                tokens = split(line, by: d)
            } else {
                var start = -1
                for i in 0...line.count {
                    if i == line.count || line[i] == 0x20 || line[i] == 0x09 {
                        if start >= 0 { tokens.append(start..<i); start = -1 }
                    } else if start < 0 {
                        start = i
                    }
                }
            }
            if pairs ? tokens.count != 2 : tokens.count < 2 {
                throw DatasetError.malformedLine(
                    file: name, line: number,
                    expected: pairs
                        ? "exactly 2 fields, USER ITEM (\(format.summary))"
                        : "a user id and at least one item (\(format.summary))",
                    found: preview(line))
            }
            var texts: [String] = []
            texts.reserveCapacity(tokens.count)
            for (k, r) in tokens.enumerated() {
                let text = string(line, r.lowerBound, r.upperBound)
                guard let v = parseInt(text) else {
                    throw DatasetError.malformedLine(
                        file: name, line: number,
                        expected: "an integer \(k == 0 ? "user" : "item") id in field \(k + 1) (\(format.summary))",
                        found: text.isEmpty ? preview(line) : text)
                }
                if v > Int64(Int32.max) || v < Int64(Int32.min) {
                    throw DatasetError.idOverflow(file: name, line: number, value: text)
                }
                texts.append(text)
            }
            let user = texts[0]
            if user != current {
                if let earlier = firstLine[user] {
                    throw DatasetError.malformedLine(
                        file: name, line: number,
                        expected:
                            "user \(user)'s lines contiguous (they started at line \(earlier); another user's lines came between)",
                        found: preview(line))
                }
                firstLine[user] = number
                current = user
                sequences.append([])
            }
            for t in texts.dropFirst() { sequences[sequences.count - 1].append(items.intern(t)) }
        }
        return RawLog(itemTokens: items.tokens, sequences: sequences)
    }

    // MARK: - sequence formats

    private static func readSequences(
        _ file: URL, format: FormatSpec, interner: inout Interner, maxLines: Int
    ) throws -> [[Int32]] {
        let name = file.path
        let pad = format.effectivePadToken
        let strictComma = format.kind == .sessionCSV || format.kind == .coldrec
        let explicit: [UInt8]? = format.delimiter.map { Array($0.utf8) } ?? (strictComma ? [UInt8(ascii: ",")] : nil)
        let padBytes = pad.map { Array($0.utf8) }
        var sequences: [[Int32]] = []
        try forEachLine(file, maxLines: maxLines) { line, number in
            var seq: [Int32] = []
            if let d = explicit {
                for r in split(line, by: d) {
                    // Trim spaces on bytes and test for the pad token before building a String (the hot path).
                    var a = r.lowerBound, b = r.upperBound
                    while a < b && (line[a] == 0x20 || line[a] == 0x09) { a += 1 }
                    while b > a && (line[b - 1] == 0x20 || line[b - 1] == 0x09) { b -= 1 }
                    if a == b {
                        throw DatasetError.malformedLine(
                            file: name, line: number,
                            expected: "an item token between delimiters (\(format.summary))",
                            found: preview(line))
                    }
                    if let p = padBytes, p.count == b - a, (0..<p.count).allSatisfy({ line[a + $0] == p[$0] }) {
                        continue
                    }
                    seq.append(interner.intern(string(line, a, b)))
                }
            } else {
                var start = -1
                for i in 0...line.count {
                    let isSep = i == line.count || line[i] == 0x2C || line[i] == 0x20 || line[i] == 0x09
                    if isSep {
                        if start >= 0 {
                            let token = string(line, start, i)
                            if token != pad { seq.append(interner.intern(token)) }
                            start = -1
                        }
                    } else if start < 0 {
                        start = i
                    }
                }
            }
            sequences.append(seq)
        }
        return sequences
    }

    // MARK: - byte helpers

    /// Calls `body` for each non-blank line (without the newline and a trailing CR), numbering lines from 1.
    static func forEachLine(_ file: URL, maxLines: Int, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws
    {
        let data: Data
        do { data = try Data(contentsOf: file, options: .alwaysMapped) } catch {
            throw DatasetError.corruptPrepared(path: file.path, detail: "cannot read: \(error.localizedDescription)")
        }
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            let n = bytes.count
            // A leading UTF-8 byte order mark (Windows editors write one) would become part of the first token.
            var start = n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
            var number = 0
            while start < n, number < maxLines {
                var end = start
                var nonASCII = false, control = -1
                while end < n {
                    let b = bytes[end]
                    if b == 0x0A { break }
                    if b >= 0x80 {
                        nonASCII = true
                    } else if (b < 0x20 && b != 0x09 && b != 0x0D) || b == 0x7F {
                        if control < 0 { control = end }
                    }
                    end += 1
                }
                number += 1
                var stop = end
                if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
                // Binary input must fail here, at its first bad byte: read as tokens it trains and caches noise.
                if control < 0, let cr = (start..<stop).first(where: { bytes[$0] == 0x0D }) { control = cr }
                if control >= 0 || nonASCII {
                    try checkText(
                        UnsafeBufferPointer(rebasing: bytes[start..<stop]),
                        control: control < 0 ? nil : control - start,
                        file: file.path, line: number)
                }
                var blank = true
                for i in start..<stop where bytes[i] != 0x20 && bytes[i] != 0x09 { blank = false; break }
                if !blank { try body(UnsafeBufferPointer(rebasing: bytes[start..<stop]), number) }
                start = end + 1
            }
        }
    }

    /// Throws at the first control character (offset `control`, if any) or invalid UTF-8 sequence of a line,
    /// whichever comes first.
    static func checkText(_ line: UnsafeBufferPointer<UInt8>, control: Int?, file: String, line number: Int) throws {
        var decoder = Unicode.UTF8.ForwardParser()
        var iterator = line.makeIterator()
        var offset = 0
        while true {
            if let c = control, offset >= c { break }
            switch decoder.parseScalar(from: &iterator) {
            case .valid(let encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if scalar.properties.generalCategory == .control && scalar != "\t" {
                    throw DatasetError.invalidText(
                        file: file, line: number, column: offset + 1,
                        detail: "control character \(String(format: "U+%04X", scalar.value))")
                }
                offset += encoded.count
            case .error(let length):
                throw DatasetError.invalidText(
                    file: file, line: number, column: offset + 1,
                    detail:
                        "invalid UTF-8 (\(length) byte(s) \(line[offset..<min(line.count, offset + length)].map { String(format: "%02X", $0) }.joined(separator: " ")))"
                )
            case .emptyInput:
                return
            }
        }
        if let c = control {
            let b = line[c]
            throw DatasetError.invalidText(
                file: file, line: number, column: c + 1,
                detail: b == 0x0D
                    ? "carriage return inside a line (old Mac line endings?)"
                    : "control character \(String(format: "U+%04X", b))")
        }
    }

    static func detectDelimiter(_ line: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        if find(Array("::".utf8), in: line) != nil { return Array("::".utf8) }
        if line.contains(0x09) { return [0x09] }
        if line.contains(0x2C) { return [0x2C] }
        return [0x20]
    }

    static func find(_ needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = 0
        while i + needle.count <= hay.count {
            var ok = true
            for j in 0..<needle.count where hay[i + j] != needle[j] { ok = false; break }
            if ok { return i }
            i += 1
        }
        return nil
    }

    /// Field ranges separated by `delim` (empty fields kept, so "a,,b" has three fields).
    static func split(_ line: UnsafeBufferPointer<UInt8>, by delim: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        if line.isEmpty { return out }
        var start = 0
        var i = 0
        let d0 = delim[0], dn = delim.count
        while i < line.count {
            if line[i] == d0 && i + dn <= line.count && (dn == 1 || (1..<dn).allSatisfy { line[i + $0] == delim[$0] }) {
                out.append(start..<i)
                i += dn
                start = i
            } else {
                i += 1
            }
        }
        out.append(start..<line.count)
        return out
    }

    static func string(_ line: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: line[a..<b]), as: UTF8.self)
    }

    static func preview(_ line: UnsafeBufferPointer<UInt8>) -> String {
        let s = String(decoding: line.prefix(120), as: UTF8.self)
        return line.count > 120 ? s + "…" : s
    }

    /// Decimal integer (optional sign), nil when not an integer; saturates far beyond Int32 so overflow is still
    /// detected.
    static func parseInt(_ text: String) -> Int64? {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if let f = utf8.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") {
            negative = f == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        if utf8.isEmpty { return nil }
        var v: Int64 = 0
        for c in utf8 {
            guard c >= 48 && c <= 57 else { return nil }
            if v < Int64(1) << 40 { v = v * 10 + Int64(c - 48) }
        }
        return negative ? -v : v
    }
}
