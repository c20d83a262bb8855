import Foundation

/// Builds a Markdown document (REPORT.md) block by block; blocks are separated by one blank line.
public struct MarkdownDocument: Sendable {
    private var blocks: [String] = []

    public init() {}

    /// `# text` for level 1, `## text` for level 2, …
    public mutating func heading(_ text: String, level: Int = 2) {
        blocks.append(String(repeating: "#", count: min(max(level, 1), 6)) + " " + oneLine(text))
    }

    /// A paragraph of running text (Markdown inside is kept).
    public mutating func paragraph(_ text: String) {
        blocks.append(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// A bullet list; an item's line breaks are indented so they stay inside the item.
    public mutating func bullets(_ items: [String]) {
        guard !items.isEmpty else { return }
        blocks.append(items.map { "- " + $0.replacingOccurrences(of: "\n", with: "\n  ") }.joined(separator: "\n"))
    }

    /// A numbered list.
    public mutating func numbered(_ items: [String]) {
        guard !items.isEmpty else { return }
        blocks.append(items.enumerated().map { "\($0.offset + 1). " + oneLine($0.element) }.joined(separator: "\n"))
    }

    /// A table rendered by `Table.markdown()` (title, caption, notes and provenance comment included).
    public mutating func table(_ table: Table) {
        blocks.append(table.markdown().trimmingCharacters(in: .newlines))
    }

    /// An image; `path` is relative to the document (e.g. "figures/fig1.png").
    public mutating func image(_ path: String, alt: String) {
        let escapedAlt = alt.replacingOccurrences(of: "]", with: "\\]")
        let escapedPath = path.replacingOccurrences(of: " ", with: "%20").replacingOccurrences(of: ")", with: "%29")
        blocks.append("![\(escapedAlt)](\(escapedPath))")
    }

    /// A fenced code block (e.g. the command that regenerates a table).
    public mutating func code(_ text: String, language: String = "") {
        var fence = "```"
        while text.contains(fence) { fence += "`" }
        blocks.append(fence + language + "\n" + text.trimmingCharacters(in: .newlines) + "\n" + fence)
    }

    /// A "key: value" list rendered as a two-column table (environment, provenance).
    public mutating func keyValues(_ pairs: [(key: String, value: String)], header: (String, String) = ("", "")) {
        guard !pairs.isEmpty else { return }
        var lines = ["| \(Escape.markdownCell(header.0)) | \(Escape.markdownCell(header.1)) |", "|:---|:---|"]
        lines += pairs.map { "| \(Escape.markdownCell($0.key)) | \(Escape.markdownCell($0.value)) |" }
        blocks.append(lines.joined(separator: "\n"))
    }

    /// Markdown passed through unchanged.
    public mutating func raw(_ markdown: String) {
        blocks.append(markdown.trimmingCharacters(in: .newlines))
    }

    /// The document text, ending with one newline.
    public var text: String { blocks.joined(separator: "\n\n") + "\n" }

    /// Writes the document atomically.
    public func write(to url: URL) throws { try AtomicFile.write(text, to: url) }

    private func oneLine(_ s: String) -> String {
        s.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
    }
}
