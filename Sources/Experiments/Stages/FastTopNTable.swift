import Evaluation
import Foundation
import Reports

/// The tree softmax's fast top-5 paths against full scoring, per dataset and model: how often each rule's top-5
/// equals the full ranking's, how many (row, tail block) evaluations it skipped, and its time (mean over seeds).
enum FastTopNTable {
    static func table(_ results: ResultSet, provenance: Provenance) -> Table? {
        var models: [String] = []
        for r in results.runs where !models.contains(r.model) { models.append(r.model) }
        var table = Table(
            title: "Fast top-5 generation of the block-wise softmax",
            caption:
                "Each pruning rule against full scoring over the test set (batch as in Table 2): rows whose top-5 list equals the full ranking's (order included), share of (row, tail block) evaluations skipped, and seconds.",
            columns: [
                .label("Model"), .label("Rule"), Column("Top-5 = full", format: .percent(1), spread: true),
                Column("Tail blocks skipped", format: .percent(1), spread: true),
                Column("Time", unit: "s", format: .decimal(3), spread: true)
            ],
            groupTitle: "Dataset", provenance: provenance)
        var any = false
        for ds in results.datasets {
            let rows = models.compactMap { m in
                results.record(ds.name, m).flatMap { $0.seedFastTopN.isEmpty ? nil : $0 }
            }
            guard !rows.isEmpty else { continue }
            table.addGroup(ds.label + (rows[0].items.map { " (K = \($0))" } ?? ""))
            for r in rows {
                for rule in r.seedFastTopN[0].map(\.rule) {
                    let per = r.seedFastTopN.compactMap { $0.first { $0.rule == rule } }
                    func cell(_ xs: [Double]) -> Cell {
                        let s = SampleSummary(xs)
                        return .number(s.mean, paper: nil, std: s.n > 1 ? s.sd : nil)
                    }
                    table.addRow([
                        .text(r.label), .text(rule), cell(per.map(\.agreement)), cell(per.map(\.skippedShare)),
                        cell(per.compactMap(\.seconds))
                    ])
                    any = true
                }
            }
        }
        table.notes = [
            "exact: a tail block is skipped only when its cluster probability is below the current 5th-best item probability (no item in it can enter the top 5), so its lists equal full scoring's; approximate: the authors' rule, a tail block is scored only when its cluster token is in the head's top 5.",
            "Mean ± sd over seeds."
        ]
        return any ? table : nil
    }
}
