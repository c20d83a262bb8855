import Foundation

/// Reads back what `Escape.csv` writes (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes).
public enum CSVReader {
    public struct Malformed: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var detail: String
        public var description: String { "\(file):\(line): \(detail)" }
        public init(file: String, line: Int, detail: String) {
            self.file = file; self.line = line; self.detail = detail
        }
    }

    /// Records as header → field dictionaries; `file` names the source in errors.
    public static func records(_ text: String, file: String) throws -> [[String: String]] {
        let rows = try rows(text, file: file)
        guard let header = rows.first else { return [] }
        return try rows.dropFirst().enumerated().map { i, row in
            guard row.count == header.count else {
                throw Malformed(
                    file: file, line: i + 2, detail: "\(row.count) fields where the header has \(header.count)")
            }
            return Dictionary(zip(header, row), uniquingKeysWith: { a, _ in a })
        }
    }

    /// Rows of fields; a final line break does not start an empty row. Lines count records, not physical lines.
    public static func rows(_ text: String, file: String) throws -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        var atFieldStart = true
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" {
                        field.append("\""); i += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else {
                switch c {
                case "\"" where atFieldStart: quoted = true
                case "\"": throw Malformed(file: file, line: rows.count + 1, detail: "a quote inside an unquoted field")
                case ",": row.append(field); field = ""; atFieldStart = true; i += 1; continue
                case "\n", "\r\n", "\r":
                    row.append(field); rows.append(row); row = []; field = ""; atFieldStart = true; i += 1; continue
                default: field.append(c)
                }
            }
            atFieldStart = false
            i += 1
        }
        if quoted { throw Malformed(file: file, line: rows.count + 1, detail: "a quoted field never closes") }
        if !atFieldStart || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}
