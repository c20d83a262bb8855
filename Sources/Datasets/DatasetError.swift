import Foundation

/// Every failure of fetch / parse / prep / blocks, each with a message that names what to fix.
public enum DatasetError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// HTTP status >= 400 (curl `--fail`).
    case httpStatus(url: String, status: Int)
    /// The body ended before Content-Length; the partial file is kept for a resumed download.
    case truncated(url: String, bytesReceived: Int64, detail: String)
    /// Any other transfer failure reported by curl.
    case transfer(url: String, exitCode: Int32, detail: String)
    /// The complete file hashes differently; it has been deleted.
    case checksumMismatch(url: String, algorithm: String, expected: String, actual: String)
    /// An archive did not contain a member the spec names, or could not be extracted.
    case archive(path: String, member: String, detail: String)
    /// A user-placed file is missing.
    case userFileMissing(dataset: String, path: String, format: String, links: [String], help: String)
    /// A line that does not match the format.
    case malformedLine(file: String, line: Int, expected: String, found: String)
    /// Bytes that are no text: a control character or invalid UTF-8 (column counts bytes from 1).
    case invalidText(file: String, line: Int, column: Int, detail: String)
    /// No sequence keeps `minSequenceItems` items; names the file and one of its lines when known.
    case sequencesTooShort(dataset: String, minSequenceItems: Int, longest: Int, file: String?, example: String?)
    /// An integer id that does not fit in Int32.
    case idOverflow(file: String, line: Int, value: String)
    /// Nothing left after filtering (or an empty file).
    case empty(dataset: String, detail: String)
    /// A spec parameter out of range.
    case invalidParameter(field: String, expected: String)
    /// A prepared-dataset file that is missing or has the wrong size.
    case corruptPrepared(path: String, detail: String)
    /// A helper program (curl, unzip, md5sum) could not be run.
    case tool(name: String, detail: String)

    public var description: String {
        switch self {
        case .httpStatus(let url, let status):
            return "download failed: \(url) answered HTTP \(status)"
        case .truncated(let url, let bytes, let detail):
            return
                "download truncated: \(url) ended after \(bytes) bytes (\(detail)); the partial file is kept and the next fetch resumes it"
        case .transfer(let url, let code, let detail):
            return "download failed: \(url): curl exit \(code): \(detail)"
        case .checksumMismatch(let url, let algorithm, let expected, let actual):
            return
                "checksum mismatch for \(url): expected \(algorithm) \(expected), got \(actual); the file was deleted"
        case .archive(let path, let member, let detail):
            return "cannot extract '\(member)' from \(path): \(detail)"
        case .userFileMissing(let dataset, let path, let format, let links, let help):
            var s = "dataset \(dataset): file not found at \(path)\n  expected format: \(format)\n"
            s += "  place the file there, or pass it explicitly (--source \(dataset)=FILE)"
            if !links.isEmpty { s += "\n  obtain it from:" + links.map { "\n    \($0)" }.joined() }
            if !help.isEmpty { s += "\n  note: \(help)" }
            return s
        case .malformedLine(let file, let line, let expected, let found):
            return "\(file):\(line): expected \(expected), found '\(found)'"
        case .invalidText(let file, let line, let column, let detail):
            return
                "\(file):\(line):\(column): \(detail); the file is not a text file in the expected format (binary data, or a different encoding?)"
        case .sequencesTooShort(let dataset, let minItems, let longest, let file, let example):
            var s =
                "dataset \(dataset) is empty: every chunk has fewer than \(minItems) items (minSequenceItems); the longest sequence read has \(longest)"
            if let file { s += "\n  file: \(file)" }
            if let example { s += "\n  e.g. \(example)" }
            s += "\n  check the format (delimiter, padding token) or lower prep.minSequenceItems"
            return s
        case .idOverflow(let file, let line, let value):
            return "\(file):\(line): id \(value) does not fit in a 32-bit signed integer"
        case .empty(let dataset, let detail):
            return "dataset \(dataset) is empty: \(detail)"
        case .invalidParameter(let field, let expected):
            return "invalid parameter \(field): expected \(expected)"
        case .corruptPrepared(let path, let detail):
            return "prepared dataset file \(path): \(detail)"
        case .tool(let name, let detail):
            return "\(name): \(detail)"
        }
    }

    public var errorDescription: String? { description }
}
