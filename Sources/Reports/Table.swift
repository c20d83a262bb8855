import Foundation

/// How a number is shown in Markdown and LaTeX; CSV always keeps the full-precision value.
public enum NumberFormat: Sendable, Hashable {
    /// Fixed decimal places: `.decimal(4)` renders 0.10634 as "0.1063".
    case decimal(Int)
    /// Fixed decimal places with an explicit sign: "+0.0120", "-0.0031" (for differences).
    case signedDecimal(Int)
    /// Rounded integer with thousands grouping: "1,234,567".
    case integer
    /// Human count with K/M/B suffix: 34_000_000 as "34M", 1_234 as "1.2K", 999 as "999".
    case count
    /// A fraction shown as percent: `.percent(1)` renders 0.2345 as "23.5%".
    case percent(Int)
    /// A fraction shown as signed percent: "+23.5%" (for relative differences).
    case signedPercent(Int)
    /// A ratio shown with a times sign: `.times(1)` renders 4.04 as "4.0×".
    case times(Int)

    /// The text for `value`, or "n/a" when it is not finite.
    public func format(_ value: Double) -> String {
        guard value.isFinite else { return Cell.missingText }
        switch self {
        case .decimal(let places):
            return fixed(value, places)
        case .signedDecimal(let places):
            return signed(fixed(value, places))
        case .integer:
            return grouped(value.rounded())
        case .count:
            return humanCount(value)
        case .percent(let places):
            return fixed(value * 100, places) + "%"
        case .signedPercent(let places):
            return signed(fixed(value * 100, places)) + "%"
        case .times(let places):
            return fixed(value, places) + "×"
        }
    }

    private func fixed(_ value: Double, _ places: Int) -> String {
        // String(format:) is locale-independent (C locale); "-0.0000" is normalised so signs stay honest.
        let text = String(format: "%.\(max(0, places))f", value)
        if text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) {
            return String(text.dropFirst())
        }
        return text
    }

    private func signed(_ text: String) -> String {
        if text.hasPrefix("-") { return text }
        return text.allSatisfy({ $0 == "0" || $0 == "." }) ? text : "+" + text
    }

    private func grouped(_ value: Double) -> String {
        let negative = value < 0
        let digits = String(format: "%.0f", abs(value))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (negative && out != "0" ? "-" : "") + out
    }

    private func humanCount(_ value: Double) -> String {
        let negative = value < 0
        var scaled = abs(value)
        let suffixes = ["", "K", "M", "B", "T"]
        var unit = 0
        while scaled >= 1000, unit < suffixes.count - 1 {
            scaled /= 1000
            unit += 1
        }
        // Below 10 in the chosen unit one decimal is kept ("1.2K"); rounding may carry into the next unit.
        var places = (unit > 0 && scaled < 9.95) ? 1 : 0
        var text = String(format: "%.\(places)f", scaled)
        if let rounded = Double(text), rounded >= 1000, unit < suffixes.count - 1 {
            unit += 1
            scaled = rounded / 1000
            places = 1
            text = String(format: "%.\(places)f", scaled)
        }
        if places == 1, text.hasSuffix(".0") { text.removeLast(2) }
        return (negative ? "-" : "") + text + suffixes[unit]
    }
}

/// Horizontal alignment of a column.
public enum Alignment: String, Sendable, Hashable {
    case left, center, right
}

/// One value: a number (with an optional format overriding the column's), text, or missing ("n/a").
public enum CellValue: Sendable, Hashable {
    case number(Double, NumberFormat? = nil)
    case text(String)
    case missing

    /// True when the value renders as "n/a" (missing or a non-finite number).
    public var isMissing: Bool {
        switch self {
        case .missing: return true
        case .number(let v, _): return !v.isFinite
        case .text: return false
        }
    }
}

/// A table cell: our value, optionally the paper's value for the same cell, and emphasis.
public struct Cell: Sendable, Hashable {
    /// What every writer prints for a missing value.
    public static let missingText = "n/a"

    public var value: CellValue
    /// The paper's value; only shown in columns declared with `paper: true` (nil renders "n/a").
    public var paper: CellValue?
    /// Rendered bold (e.g. the best value of a column).
    public var bold: Bool
    /// Standard deviation over seeds; shown as "mean ± std" in columns declared with `spread: true`.
    public var std: Double?

    public init(_ value: CellValue, paper: CellValue? = nil, bold: Bool = false, std: Double? = nil) {
        self.value = value
        self.paper = paper
        self.bold = bold
        self.std = std
    }

    /// A number in the column's format, optionally with the paper's number beside it and a spread.
    public static func number(
        _ v: Double, _ format: NumberFormat? = nil, paper: Double? = nil,
        bold: Bool = false, std: Double? = nil
    ) -> Cell {
        Cell(.number(v, format), paper: paper.map { .number($0, format) }, bold: bold, std: std)
    }

    /// A text cell.
    public static func text(_ s: String, bold: Bool = false) -> Cell { Cell(.text(s), bold: bold) }

    /// A missing cell ("n/a"), optionally with the paper's number.
    public static func missing(paper: Double? = nil) -> Cell {
        Cell(.missing, paper: paper.map { .number($0, nil) })
    }

    /// A number that may be absent (nil renders "n/a").
    public static func optional(_ v: Double?, _ format: NumberFormat? = nil, paper: Double? = nil) -> Cell {
        Cell(v.map { .number($0, format) } ?? .missing, paper: paper.map { .number($0, format) })
    }
}

extension Cell: ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self.init(.text(value)) }
    public init(floatLiteral value: Double) { self.init(.number(value, nil)) }
    public init(integerLiteral value: Int) { self.init(.number(Double(value), nil)) }
}

/// A column: header, optional unit, default number format, alignment, and whether it shows paper values.
public struct Column: Sendable, Hashable {
    public var title: String
    /// Shown in the header as "TT (min)".
    public var unit: String?
    /// Format for number cells that do not carry their own.
    public var format: NumberFormat
    public var alignment: Alignment
    /// When true the column becomes a group with sub-columns "ours | paper" (two CSV columns).
    public var paper: Bool
    /// Title of a column group spanning this column and adjacent columns with the same group.
    public var group: String?
    /// When true cells show "mean ± std" (from `Cell.std`), and CSV gets a "<header> std" column.
    public var spread: Bool

    public init(
        _ title: String, unit: String? = nil, format: NumberFormat = .decimal(4),
        alignment: Alignment = .right, paper: Bool = false, group: String? = nil, spread: Bool = false
    ) {
        self.title = title
        self.unit = unit
        self.format = format
        self.alignment = alignment
        self.paper = paper
        self.group = group
        self.spread = spread
    }

    /// A left-aligned text column (model names, dataset names).
    public static func label(_ title: String) -> Column { Column(title, alignment: .left) }

    /// The header text with its unit: "TT (min)".
    public var header: String { unit.map { "\(title) (\($0))" } ?? title }
}

/// Rows under an optional group header (e.g. one group per dataset).
public struct RowGroup: Sendable, Hashable {
    public var title: String?
    public var rows: [[Cell]]
    public init(title: String?, rows: [[Cell]] = []) {
        self.title = title
        self.rows = rows
    }
}

/// Where a result came from: ordered key/value lines (profile, git commit, date, host) shown as a footer comment.
public struct Provenance: Sendable, Hashable {
    public var entries: [(key: String, value: String)]

    public init(_ entries: [(key: String, value: String)] = []) { self.entries = entries }

    /// The usual four lines; `date` and `host` default to now and this machine.
    public init(
        profile: String, gitCommit: String?, date: Date = Date(),
        host: String = ProcessInfo.processInfo.hostName
    ) {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        entries = [
            ("profile", profile), ("git commit", gitCommit ?? "unknown"),
            ("date", formatter.string(from: date)), ("host", host)
        ]
    }

    public var isEmpty: Bool { entries.isEmpty }

    public static func == (a: Provenance, b: Provenance) -> Bool {
        a.entries.map(\.key) == b.entries.map(\.key) && a.entries.map(\.value) == b.entries.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        for e in entries {
            hasher.combine(e.key)
            hasher.combine(e.value)
        }
    }
}

/// Errors from table and figure writers; each message names what to fix.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    case invalidTable(String)
    case invalidFigure(String)
    case gnuplotMissing(String)
    case gnuplotFailed(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidTable(let m): return "table: \(m)"
        case .invalidFigure(let m): return "figure: \(m)"
        case .gnuplotMissing(let m): return m
        case .gnuplotFailed(let m): return "gnuplot: \(m)"
        case .io(let m): return m
        }
    }
}

/// An in-memory result table, written as Markdown, LaTeX (booktabs) and CSV.
public struct Table: Sendable, Hashable {
    /// Short title, e.g. "Table 3: where to apply block-wise decomposition".
    public var title: String?
    /// The long caption (the paper's words where known).
    public var caption: String?
    /// LaTeX label; `write(to:name:)` uses "tab:<name>" when nil.
    public var label: String?
    public var columns: [Column]
    /// Header of the explicit group column in CSV (e.g. "Dataset"); groups show as header rows elsewhere.
    public var groupTitle: String
    public var groups: [RowGroup]
    /// Lines printed under the table.
    public var notes: [String]
    public var provenance: Provenance

    public init(
        title: String? = nil, caption: String? = nil, label: String? = nil, columns: [Column],
        groupTitle: String = "Group", notes: [String] = [], provenance: Provenance = Provenance()
    ) {
        self.title = title
        self.caption = caption
        self.label = label
        self.columns = columns
        self.groupTitle = groupTitle
        self.groups = []
        self.notes = notes
        self.provenance = provenance
    }

    /// Starts a new row group; later `addRow` calls append to it.
    public mutating func addGroup(_ title: String) {
        groups.append(RowGroup(title: title))
    }

    /// Appends a row to the last group (an untitled group is created if there is none).
    public mutating func addRow(_ cells: [Cell]) {
        precondition(
            cells.count == columns.count,
            "row has \(cells.count) cells but the table has \(columns.count) columns")
        if groups.isEmpty { groups.append(RowGroup(title: nil)) }
        groups[groups.count - 1].rows.append(cells)
    }

    /// All rows in order, ignoring groups.
    public var rows: [[Cell]] { groups.flatMap(\.rows) }

    /// True when at least one group has a title (so writers show group headers / a group column).
    public var hasGroupTitles: Bool { groups.contains { $0.title != nil } }

    /// Checks shape: every row has one cell per column, at least one column.
    public func validate() throws {
        guard !columns.isEmpty else { throw ReportError.invalidTable("no columns") }
        for group in groups {
            for (i, row) in group.rows.enumerated() where row.count != columns.count {
                throw ReportError.invalidTable(
                    "row \(i + 1) of group \(group.title ?? "-") has \(row.count) cells, expected \(columns.count)")
            }
        }
    }

    /// The display text of one value in a column (no escaping).
    func display(_ value: CellValue, in column: Column) -> String {
        switch value {
        case .missing: return Cell.missingText
        case .text(let s): return s
        case .number(let v, let f): return (f ?? column.format).format(v)
        }
    }
}
