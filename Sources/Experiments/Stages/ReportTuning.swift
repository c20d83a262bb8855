import Foundation
import Pipeline
import Reports

/// A tuned model and its untuned twin: the evaluate stages of every final seed of each.
struct UntunedPair: Codable, Hashable {
    var dataset: String
    var model: String
    var tuned: [StageID]
    var untuned: [StageID]
}

/// REPORT.md's tuning section: per dataset and tuned model, the space, every trial, the budget and the choice. Kept
/// apart from the claims part of the report, which reads nothing from here.
enum TuningReport {
    static func section(
        _ doc: inout MarkdownDocument, tuning: TuningSpec, records: [TuneRecord], roles: Roles,
        datasets: [DatasetLabel], gains: [(UntunedPair, EvaluationRecord, EvaluationRecord)] = []
    ) {
        doc.heading("Hyperparameter tuning")
        func words(_ axes: [(key: String, values: [Double])]) -> String {
            axes.map { "\($0.key) ∈ {\($0.values.map(formatValue).joined(separator: ", "))}" }.joined(separator: " × ")
        }
        var space = words(tuning.space)
        let families = tuning.familySpace.keys.sorted()
        if !families.isEmpty {
            space +=
                "; \(families.map { "\($0) models also \(words(tuning.familySpace[$0]!))" }.joined(separator: "; ")), sampled down to the same number of trials"
        }
        let inherited = tuning.inherit.keys.sorted().map { "\($0) ← \(tuning.inherit[$0]!)" }
        var budgets = ["every dataset: \(tuning.trials) trials of at most \(tuning.maxEpochs) epochs"]
        for d in tuning.perDataset.keys.sorted() {
            let b = tuning.budget(on: d)
            budgets.append("\(d): \(b.trials) trials of at most \(b.maxEpochs) epochs")
        }
        doc.paragraph(
            """
            Each tuned model gets its own `tune/<dataset>/<model>` stage: the same space (\(space)), the same number \
            of trials and the same per-trial budget for every model on a dataset (\(budgets.joined(separator: "; "))), \
            trained on the tuning seed \(tuning.seed), which is none of the final seeds, with early stopping as in \
            final training. The trial with the best validation MRR@5 (the earlier one on a tie) is chosen and every \
            final seed trains with it. \(inherited.isEmpty ? "" : "Models that take another model's choice instead of their own search: \(inherited.joined(separator: ", ")).")
            """)
        let order = datasets.map(\.name)
        let sorted = records.sorted {
            (order.firstIndex(of: $0.dataset) ?? .max, tuning.models.firstIndex(of: $0.model) ?? .max)
                < (order.firstIndex(of: $1.dataset) ?? .max, tuning.models.firstIndex(of: $1.model) ?? .max)
        }
        var lines = [
            "| Dataset | Model | Trials (values → validation MRR@5, epochs) | Budget (core-min) | Chosen | Untuned → tuned (validation) |",
            "|:---|:---|:---|---:|:---|:---|"
        ]
        for r in sorted {
            let label = datasets.first { $0.name == r.dataset }?.label ?? r.dataset
            let trials = r.trials.map {
                String(format: "%@ → %.4f (%d/%d)", $0.values.description, $0.validMRR5, $0.bestEpoch, $0.epochs)
            }
            .joined(separator: "; ")
            let chosen = r.trials.first { $0.values == r.chosen }
            var gap = "untuned point not in the space"
            if let base = r.trials.first(where: { $0.values == r.untuned }), let chosen {
                gap = String(
                    format: "%.4f → %.4f (%+.4f)", base.validMRR5, chosen.validMRR5, chosen.validMRR5 - base.validMRR5)
            }
            lines.append(
                "| \(label) | \(r.label) | \(trials) | \(String(format: "%.2f", r.coreMinutes)) | \(r.chosen.description) | \(gap) |"
            )
        }
        doc.raw(lines.joined(separator: "\n") + "\n")
        let headline = [roles.baseline] + roles.cprec.filter { $0.hasSuffix("-cb") }
        var gaps: [String] = []
        for r in sorted where headline.contains(r.model) {
            guard let base = r.trials.first(where: { $0.values == r.untuned }),
                let chosen = r.trials.first(where: { $0.values == r.chosen })
            else { continue }
            gaps.append(String(format: "%@ on %@: %+.4f", r.label, r.dataset, chosen.validMRR5 - base.validMRR5))
        }
        let total = records.map(\.coreMinutes).reduce(0, +)
        doc.paragraph(
            "Tuning took \(String(format: "%.1f", total)) core-minutes in all. "
                + (gaps.isEmpty
                    ? ""
                    : "Gain of the chosen values over the untuned ones (validation MRR@5 on the tuning seed, same budget): \(gaps.joined(separator: "; ")).")
                + " Untuned = the values the spec gives the model without tuning; the gap is measured at the tuning budget, not at the final epochs."
        )
        guard !gains.isEmpty else { return }
        var rows = [
            "| Dataset | Model | Untuned MRR@5 (test) | Tuned MRR@5 (test) | Tuned − untuned, paired by seed |",
            "|:---|:---|---:|---:|---:|"
        ]
        for (p, tuned, untuned) in gains {
            let label = datasets.first { $0.name == p.dataset }?.label ?? p.dataset
            let a = tuned.values(.mrr5), b = untuned.values(.mrr5)
            let diffs = zip(a, b).map { $0 - $1 }
            let mean = diffs.isEmpty ? Double.nan : diffs.reduce(0, +) / Double(diffs.count)
            let sd =
                diffs.count > 1
                ? (diffs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(diffs.count - 1)).squareRoot() : .nan
            rows.append(
                String(
                    format: "| %@ | %@ | %.4f ± %.4f | %.4f ± %.4f | %+.4f ± %.4f (n = %d) |", label, tuned.label,
                    untuned.metric(.mrr5) ?? .nan, untuned.sd(.mrr5), tuned.metric(.mrr5) ?? .nan, tuned.sd(.mrr5),
                    mean, sd, diffs.count))
        }
        doc.paragraph(
            "Gain from tuning on the test split: the tuned model against the same model trained with its spec'd values (every final seed; mean ± sd over seeds)."
        )
        doc.raw(rows.joined(separator: "\n") + "\n")
    }
}
