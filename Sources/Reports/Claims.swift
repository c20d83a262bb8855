import Foundation

/// One claim of the paper checked against our numbers (the verdict is computed by the caller from results).
public struct Claim: Codable, Sendable, Hashable {
    /// Outcome of the check.
    public enum Verdict: String, Codable, Sendable, Hashable, CaseIterable {
        case holds = "holds"
        case doesNotHold = "does not hold"
        /// The seeds cannot tell: the interval straddles the criterion.
        case inconclusive = "inconclusive"
        case notMeasurable = "not measurable"
    }

    /// Short stable id, e.g. "compression-4-8x".
    public var id: String
    /// The paper's words.
    public var statement: String
    /// Where the paper says it (e.g. "abstract", "Table 3 caption").
    public var source: String
    /// The measured numbers and the table they come from, or why it cannot be measured.
    public var evidence: String
    public var verdict: Verdict
    /// Profile and dataset(s) the evidence was measured on, e.g. "default / ml-latest-synth".
    public var measuredOn: String

    public init(
        id: String, statement: String, source: String, evidence: String, verdict: Verdict,
        measuredOn: String
    ) {
        self.id = id
        self.statement = statement
        self.source = source
        self.evidence = evidence
        self.verdict = verdict
        self.measuredOn = measuredOn
    }
}

/// Renders the claims check as a table (Markdown / CSV / LaTeX through `Table`) and a one-line summary.
public enum ClaimsReport {
    /// One row per claim, in the given order.
    public static func table(_ claims: [Claim], provenance: Provenance = Provenance()) -> Table {
        var table = Table(
            title: "Claims of the paper checked against our results",
            caption:
                "Verdicts are computed from cached results by rules over seeds: holds, does not hold, inconclusive (the seeds cannot tell), or not measurable with this data.",
            columns: [
                .label("Claim"), .label("Paper says"), .label("Source"), .label("Evidence (ours)"),
                .label("Verdict"), .label("Measured on")
            ],
            provenance: provenance)
        for c in claims {
            table.addRow([
                .text(c.id), .text(c.statement), .text(c.source), .text(c.evidence),
                .text(c.verdict.rawValue, bold: true), .text(c.measuredOn)
            ])
        }
        table.notes = [summary(claims)]
        return table
    }

    /// "5 claims: holds 2, does not hold 1, not measurable 2."
    public static func summary(_ claims: [Claim]) -> String {
        let parts = Claim.Verdict.allCases.map { v in "\(v.rawValue) \(claims.filter { $0.verdict == v }.count)" }
        return "\(claims.count) claim\(claims.count == 1 ? "" : "s"): " + parts.joined(separator: ", ") + "."
    }

    /// Markdown for REPORT.md and `paper-tables/claims.md`.
    public static func markdown(_ claims: [Claim], provenance: Provenance = Provenance()) -> String {
        table(claims, provenance: provenance).markdown()
    }

    /// CSV with columns id, statement, source, evidence, verdict, measured_on.
    public static func csv(_ claims: [Claim]) -> String {
        var lines = ["id,statement,source,evidence,verdict,measured_on"]
        for c in claims {
            lines.append(
                [c.id, c.statement, c.source, c.evidence, c.verdict.rawValue, c.measuredOn]
                    .map(Escape.csv).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `name.md` and `name.csv` into `directory` atomically.
    public static func write(
        _ claims: [Claim], to directory: URL, name: String = "claims",
        provenance: Provenance = Provenance()
    ) throws {
        try AtomicFile.write(
            markdown(claims, provenance: provenance),
            to: directory.appendingPathComponent("\(name).md"))
        try AtomicFile.write(csv(claims), to: directory.appendingPathComponent("\(name).csv"))
    }
}

/// One cell compared with the paper: which table, row and metric, our value and the paper's.
public struct PaperComparison: Sendable, Hashable {
    public var table: String
    public var row: String
    public var metric: String
    public var ours: Double?
    public var paper: Double
    public var format: NumberFormat
    /// False when ours was measured on other data than the paper's (a synthetic stand-in): no difference is printed.
    public var comparable = true

    public init(
        table: String, row: String, metric: String, ours: Double?, paper: Double,
        format: NumberFormat = .decimal(4)
    ) {
        self.table = table
        self.row = row
        self.metric = metric
        self.ours = ours
        self.paper = paper
        self.format = format
    }

    /// ours − paper.
    public var absoluteDifference: Double? { comparable ? ours.map { $0 - paper } : nil }
    /// (ours − paper) / |paper|; nil when the paper's value is 0.
    public var relativeDifference: Double? {
        guard let d = absoluteDifference, paper != 0 else { return nil }
        return d / abs(paper)
    }

    /// Paper vs ours side by side with absolute and relative differences, grouped by paper table.
    public static func table(_ items: [PaperComparison], provenance: Provenance = Provenance()) -> Table {
        var table = Table(
            title: "Paper vs ours", caption: "Every cell whose value in the paper is known.",
            columns: [
                .label("Row"), .label("Metric"), Column("Paper"), Column("Ours"),
                Column("Δ abs"), Column("Δ rel", format: .signedPercent(1))
            ],
            groupTitle: "Table", provenance: provenance)
        var current: String?
        for item in items {
            if item.table != current {
                table.addGroup(item.table)
                current = item.table
            }
            let signedFormat: NumberFormat
            switch item.format {
            case .decimal(let p), .signedDecimal(let p): signedFormat = .signedDecimal(p)
            default: signedFormat = item.format
            }
            table.addRow([
                .text(item.row), .text(item.metric), .number(item.paper, item.format),
                .optional(item.ours, item.format), .optional(item.absoluteDifference, signedFormat),
                .optional(item.relativeDifference)
            ])
        }
        return table
    }
}
