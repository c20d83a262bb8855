import Foundation

/// Escaping rules for the three table formats and gnuplot strings.
public enum Escape {
    /// Text safe in LaTeX body text: the ten special characters and a few common Unicode signs.
    public static func latex(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        var previous: Character = " "
        for ch in text {
            defer { previous = ch }
            switch ch {
            // Straight double quotes print as two closing quotes in LaTeX; pick the opening form after a space.
            case "\"": out += (previous.isWhitespace || "([{".contains(previous)) ? "``" : "''"
            case "\\": out += "\\textbackslash{}"
            case "{": out += "\\{"
            case "}": out += "\\}"
            case "_": out += "\\_"
            case "%": out += "\\%"
            case "&": out += "\\&"
            case "#": out += "\\#"
            case "$": out += "\\$"
            case "~": out += "\\textasciitilde{}"
            case "^": out += "\\textasciicircum{}"
            case "<": out += "\\textless{}"
            case ">": out += "\\textgreater{}"
            case "|": out += "\\textbar{}"
            case "×": out += "$\\times$"
            case "±": out += "$\\pm$"
            case "≤": out += "$\\le$"
            case "≥": out += "$\\ge$"
            case "→": out += "$\\rightarrow$"
            case "–": out += "--"
            case "—": out += "---"
            case "∼": out += "$\\sim$"
            case "\n", "\r": out += " "
            default: out.append(ch)
            }
        }
        return out
    }

    /// One RFC 4180 field: quoted (with doubled quotes) only when it holds a comma, quote or line break.
    public static func csv(_ field: String) -> String {
        let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Text safe inside a GitHub pipe-table cell: pipes escaped, line breaks flattened.
    public static func markdownCell(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "|": out += "\\|"
            case "\n", "\r", "\r\n": out += " "
            default: out.append(ch)
            }
        }
        return out
    }

    /// Text safe inside an HTML comment (no "--", which would end it early in strict parsers).
    public static func htmlComment(_ text: String) -> String {
        var s = text
        while s.contains("--") { s = s.replacingOccurrences(of: "--", with: "- -") }
        return s.replacingOccurrences(of: ">", with: "›")
    }

    /// A gnuplot single-quoted string literal (no backslash processing; a quote is doubled).
    public static func gnuplot(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''").replacingOccurrences(of: "\n", with: " ") + "'"
    }

    /// A full-precision, round-trippable number for CSV and data files: integers without ".0".
    public static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "Inf" : "-Inf") }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
