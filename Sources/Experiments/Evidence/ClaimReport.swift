import Foundation
import Reports

/// How REPORT.md and paper-tables/ show the judged claims: one row per claim, the claim × group grid, and every
/// pair with both intervals, raw and Holm-adjusted p-values.
enum ClaimReport {
    static func f(_ x: Double?, _ places: Int = 4) -> String {
        guard let x, x.isFinite else { return "n/a" }
        return String(format: "%.\(places)f", x)
    }

    /// A quantity on its printed scale: ratios as ×, shares and gains as %, differences signed.
    static func value(_ x: Double?, _ kind: ClaimSpecFile.QuantityKind) -> String {
        guard let x, x.isFinite else { return "n/a" }
        switch kind {
        case .paramsRatio, .timeRatio: return String(format: "%.2f×", x)
        case .ioShare, .topNAgreement, .sweepGain:
            return String(format: "%+.1f %%", x * 100).replacingOccurrences(
                of: "+", with: kind == .sweepGain ? "+" : "")
        case .metricDifference, .transferDifference: return String(format: "%+.4f", x)
        }
    }

    static func interval(_ i: [Double]?, _ kind: ClaimSpecFile.QuantityKind) -> String {
        guard let i, i.count == 2 else { return "—" }
        return "[\(value(i[0], kind)), \(value(i[1], kind))]"
    }

    static func p(_ x: Double) -> String { x < 0.0001 ? "<0.0001" : String(format: "%.4f", x) }

    /// The test in words, with its bound for this pair.
    static func rule(_ c: ClaimSpecFile.ClaimSpec, _ rules: ClaimSpecFile.Rules) -> String {
        let k = c.quantity.kind
        switch c.test.kind {
        case .superiority:
            return "superiority: interval above \(value(c.test.above ?? ((k == .timeRatio) ? 1 : 0), k))"
        case .nonInferiority:
            return
                "non-inferiority: interval above −\(Int(((c.test.margin ?? rules.margin) * 100).rounded())) % of the reference's mean"
        case .threshold:
            return "threshold: value ≥ \(value(c.test.above, k))"
        }
    }

    /// Claims for `ClaimsReport` (claims.md / claims.csv): the overall verdict with its evidence in words.
    static func claims(_ outcomes: [ClaimOutcome], spec: ClaimSpecFile, profile: String) -> [Claim] {
        outcomes.map { o in
            let labels = Dictionary(spec.groups.map { ($0.id, $0.label) }, uniquingKeysWith: { a, _ in a })
            let perGroup = o.groups.filter { $0.verdict != .notMeasurable }.map { g in
                "\(labels[g.group] ?? g.group): \(g.verdict.rawValue) (\(g.detail))"
            }
            let kind = o.spec.quantity.kind
            let pairs = o.pairs.map { pr -> String in
                let versus: String = pr.reference == "-" ? "" : " vs \(pr.reference)"
                var s: String = "\(pr.datasetLabel) \(pr.compared)\(versus) \(value(pr.estimate, kind))"
                let shown: [Double]? = pr.decidedBy == "bootstrap" ? pr.bootstrapInterval : pr.seedInterval
                if let i = shown { s += " " + interval(i, kind) }
                s += ": \(pr.outcome.rawValue)"
                if !pr.note.isEmpty { s += " (\(pr.note))" }
                return s
            }
            let listed: String = pairs.isEmpty ? "no pair measured" : pairs.joined(separator: "; ")
            let test: String = "Test: \(rule(o.spec, spec.rules)); \(o.spec.aggregate.rawValue) pairs per group."
            let grouped: String = perGroup.isEmpty ? "" : " Groups: " + perGroup.joined(separator: "; ") + "."
            let evidence: String = listed + ". " + test + grouped
            let groupsMeasured = o.groups.filter { $0.verdict != .notMeasurable }.map { labels[$0.group] ?? $0.group }
            let measured = Array(Set(o.pairs.map(\.datasetLabel))).sorted()
            return Claim(
                id: o.spec.id, statement: o.spec.statement, source: o.spec.source, evidence: evidence,
                verdict: o.verdict,
                measuredOn:
                    "\(profile) / \(measured.isEmpty ? "-" : measured.joined(separator: ", ")) [\(o.scope)\(groupsMeasured.isEmpty ? "" : "; groups: " + groupsMeasured.joined(separator: ", "))]"
            )
        }
    }

    /// Claim × group: each cell the group's verdict and its counts; the last column the overall verdict.
    static func grid(_ outcomes: [ClaimOutcome], spec: ClaimSpecFile, provenance: Provenance) -> Table {
        var t = Table(
            title: "Verdict grid: every claim in every dataset group",
            caption:
                "Each cell: the group's verdict by the claim's declared test and aggregate, with supporting / contradicting pairs. A group where the claim's models or runs do not exist says not measurable. Overall: holds only when it holds in every measurable group of the paper's regime (K ≥ 20K) and no group says it does not hold; without a measurable paper's-regime group the same rule runs over every group. Pairs measured by the companion profiles (their committed claim-pairs.csv, marked [profile] in the pairs table) join each claim's family and their group, raw p-values kept, Holm redone over the whole family.",
            columns: [.label("Claim")] + spec.groups.map { .label($0.label) } + [.label("Overall")],
            provenance: provenance)
        for o in outcomes {
            var row: [Cell] = [.text(o.spec.id)]
            for g in spec.groups {
                let v = o.groups.first { $0.group == g.id }
                if let v, v.verdict != .notMeasurable {
                    row.append(.text("\(v.verdict.rawValue) — \(v.detail)"))
                } else {
                    row.append(.text("not measurable"))
                }
            }
            row.append(.text("\(o.verdict.rawValue) (\(o.scope))", bold: true))
            t.addRow(row)
        }
        let reasons = outcomes.flatMap { o in
            o.groups.filter { $0.verdict == .notMeasurable && !$0.detail.hasPrefix("no dataset") }
                .map { g in "\(o.spec.id) in \(spec.groups.first { $0.id == g.group }?.label ?? g.group): \(g.detail)" }
        }
        if !reasons.isEmpty { t.notes = ["Not measurable: " + reasons.joined(separator: "; ") + "."] }
        return t
    }

    /// Every pair: estimate, seed-t and bootstrap intervals, the bound, raw and Holm-adjusted p-values, outcome.
    static func pairs(_ outcomes: [ClaimOutcome], spec: ClaimSpecFile, provenance: Provenance) -> Table {
        var t = Table(
            title: "Claim pairs: intervals from both noise sources, raw and Holm-adjusted p-values",
            caption:
                "Per pair: the estimate; the \(Int(spec.rules.level * 100)) % seed-paired Student-t interval (training seeds) and the paired hierarchical bootstrap interval (seeds, then test sequences; \(spec.rules.resamples) resamples); the test's bound; which of the two decided (the larger one-sided p-value, i.e. the wider interval); one-sided p-values that the pair supports / contradicts the claim, raw and Holm-adjusted within the claim; the outcome at \(f(spec.rules.alpha, 3)) one-sided. For undecided pairs, the seeds the observed mean and spread would need.",
            columns: [
                .label("Claim"), .label("Dataset"), .label("Compared"), .label("Estimate"), .label("Seeds"),
                .label("Seed-t interval"), .label("Bootstrap interval"), .label("Bound"), .label("Decided by"),
                .label("p support (raw / Holm)"), .label("p contradict (raw / Holm)"), .label("Outcome"),
                .label("Seeds needed")
            ],
            provenance: provenance)
        for o in outcomes {
            let k = o.spec.quantity.kind
            for pr in o.pairs {
                let needed =
                    pr.outcome == .undecided && pr.note.isEmpty ? (pr.seedsNeeded.map(String.init) ?? "> 1000") : ""
                t.addRow([
                    .text(o.spec.id), .text(pr.datasetLabel),
                    .text(pr.reference == "-" ? pr.compared : "\(pr.compared) vs \(pr.reference)"),
                    .text(value(pr.estimate, k)), .text("\(pr.seeds)"), .text(interval(pr.seedInterval, k)),
                    .text(interval(pr.bootstrapInterval, k)), .text(value(pr.bound, k)), .text(pr.decidedBy),
                    .text("\(p(pr.pSupport)) / \(p(pr.adjustedSupport))"),
                    .text("\(p(pr.pContradict)) / \(p(pr.adjustedContradict))"),
                    .text(
                        pr.outcome.rawValue + (pr.note.isEmpty ? "" : " (\(pr.note))"), bold: pr.outcome != .undecided),
                    .text(needed)
                ])
            }
        }
        return t
    }

    static func pairsCSV(_ outcomes: [ClaimOutcome]) -> String {
        var lines = [
            "claim,dataset,group,compared,reference,estimate,seeds,seed_lower,seed_upper,boot_lower,boot_upper,bound,decided_by,p_support,p_support_holm,p_contradict,p_contradict_holm,outcome,note,seeds_needed"
        ]
        func n(_ x: Double?) -> String { x.map { String($0) } ?? "" }
        for o in outcomes {
            for pr in o.pairs {
                lines.append(
                    [
                        pr.claim, pr.dataset, pr.group, pr.compared, pr.reference, n(pr.estimate), "\(pr.seeds)",
                        n(pr.seedInterval?[0]), n(pr.seedInterval?[1]), n(pr.bootstrapInterval?[0]),
                        n(pr.bootstrapInterval?[1]),
                        n(pr.bound), pr.decidedBy, n(pr.pSupport), n(pr.adjustedSupport), n(pr.pContradict),
                        n(pr.adjustedContradict),
                        pr.outcome.rawValue, pr.note, pr.seedsNeeded.map(String.init) ?? ""
                    ].map(Escape.csv).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads back `pairsCSV` as another profile wrote it: its pairs, labelled with that profile, to join this
    /// profile's claims (`ClaimEngine.judge(joining:)`). Raw p-values are kept; Holm and outcomes are redone here.
    static func pairs(fromCSV text: String, file: String, profile: String) throws -> [ClaimPair] {
        try CSVReader.records(text, file: file).enumerated().map { i, f in
            func need(_ key: String) throws -> String {
                guard let v = f[key] else {
                    throw CSVReader.Malformed(file: file, line: i + 2, detail: "no '\(key)' column")
                }
                return v
            }
            func number(_ key: String) throws -> Double? {
                let v = try need(key)
                if v.isEmpty { return nil }
                guard let x = Double(v) else {
                    throw CSVReader.Malformed(file: file, line: i + 2, detail: "\(key) '\(v)' is not a number")
                }
                return x
            }
            func interval(_ lo: String, _ hi: String) throws -> [Double]? {
                guard let a = try number(lo), let b = try number(hi) else { return nil }
                return [a, b]
            }
            guard let pS = try number("p_support"), let pC = try number("p_contradict"),
                let bound = try number("bound"),
                let seeds = Int(try need("seeds"))
            else {
                throw CSVReader.Malformed(
                    file: file, line: i + 2, detail: "p_support, p_contradict, bound and seeds are required")
            }
            let dataset = try need("dataset")
            return ClaimPair(
                claim: try need("claim"), dataset: dataset, datasetLabel: "\(dataset) [\(profile)]",
                group: try need("group"), compared: try need("compared"), reference: try need("reference"),
                estimate: try number("estimate"), seedInterval: try interval("seed_lower", "seed_upper"),
                bootstrapInterval: try interval("boot_lower", "boot_upper"), decidedBy: try need("decided_by"),
                bound: bound, seeds: seeds, pSupport: pS, pContradict: pC, note: try need("note"),
                seedsNeeded: try number("seeds_needed").map { Int($0) })
        }
    }

    static func gridCSV(_ outcomes: [ClaimOutcome], spec: ClaimSpecFile) -> String {
        var lines = ["claim," + spec.groups.map(\.id).joined(separator: ",") + ",overall,scope"]
        for o in outcomes {
            let cells = spec.groups.map { g in o.groups.first { $0.group == g.id }?.verdict.rawValue ?? "not measurable"
            }
            lines.append(([o.spec.id] + cells + [o.verdict.rawValue, o.scope]).map(Escape.csv).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The declared rules in words, for REPORT.md.
    static func rulesText(_ spec: ClaimSpecFile) -> String {
        """
        Rules (pipeline/claims.yaml, declared before the results): every claim names its quantity and its test. \
        **Superiority** ("outperforms", "faster", "gains more than 20 %") supports a pair only when the \
        \(Int(spec.rules.level * 100)) % interval lies above the bound, and contradicts it when the interval lies \
        below; a tie supports nothing. **Non-inferiority** ("keeps accuracy", "matches") supports when the interval of \
        compared − reference lies above −\(Int((spec.rules.margin * 100).rounded())) % of the reference's mean. \
        **Thresholds** apply to exact quantities (parameter counts). Two noise sources are counted: a seed-paired \
        Student-t interval (training seeds) and a paired hierarchical bootstrap (seeds, then test sequences, the same \
        draw for both models, \(spec.rules.resamples) resamples); the one with the larger p-value decides. p-values \
        are Holm-adjusted within each claim's family of pairs (\(spec.rules.correction)). A compared model that did \
        not learn (\(Evidence.learnRule)) or has a NaN metric contradicts its pair; a reference that did not learn \
        leaves its pair undecided; nothing is dropped. The same rule set runs on every dataset group where the claim \
        can be measured.
        """
    }
}

/// pipeline/deviations.yaml: where the replication departs from the authors, printed as REPORT.md's table.
struct Deviations: Decodable {
    struct Row: Decodable {
        var aspect: String, authors: String, ours: String, why: String
        enum Key: String, CodingKey, CaseIterable { case aspect, authors, ours, why }
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(Key.self)
            aspect = try c.decode(Label.self, forKey: .aspect).text
            authors = try c.decode(Label.self, forKey: .authors).text
            ours = try c.decode(Label.self, forKey: .ours).text
            why = try c.decode(Label.self, forKey: .why).text
        }
    }
    var rows: [Row]
    enum Key: String, CodingKey, CaseIterable { case deviations }
    init(from decoder: Decoder) throws {
        rows = try decoder.strictContainer(Key.self).decode([Row].self, forKey: .deviations)
    }

    static func load(_ url: URL) throws -> Deviations { try SpecFile.load(url).decode(Deviations.self) }

    func table() -> Table {
        var t = Table(
            title: "Deviations from the authors",
            caption:
                "What the paper and its released code do, what this replication does, and why (pipeline/deviations.yaml).",
            columns: [.label("Aspect"), .label("Authors"), .label("Ours"), .label("Why")])
        for r in rows { t.addRow([.text(r.aspect), .text(r.authors), .text(r.ours), .text(r.why)]) }
        return t
    }
}
