import Foundation
import Reports

/// Everything the claims check reads, gathered from cached results (plain values, so tests can build fixtures).
struct ResultSet {
    /// Which models the claims compare (experiments.yaml `roles:`).
    var roles: Roles
    /// dataset -> model -> evaluation merged over seeds (`EvaluationRecord.merging`).
    var evaluations: [String: [String: EvaluationRecord]] = [:]
    /// Every seed's evaluation, in graph order (what `evaluations` merges).
    var runs: [EvaluationRecord] = []
    /// Datasets in table order with their labels.
    var datasets: [(name: String, label: String)] = []
    /// Figure 1's sweep over d: (d, evaluation merged over seeds).
    var dimSweep: [(dim: Int, record: EvaluationRecord)] = []
    /// Table 6 rows, one per (model, backbone, seed).
    var transfer: [TransferRecord] = []
    var profile: String = ""

    func record(_ dataset: String, _ model: String) -> EvaluationRecord? { evaluations[dataset]?[model] }

    /// `EvaluationRecord.learned` against the dataset's MostPop run (true for a model that was not run).
    func learned(_ dataset: String, _ model: String) -> Bool {
        record(dataset, model)?.learned(mostPop: record(dataset, roles.popularity)) ?? true
    }

    /// How tables print a model (its name when no run of it was loaded).
    func label(_ model: String) -> String {
        evaluations.values.lazy.compactMap { $0[model]?.label }.first ?? transfer.first { $0.model == model }?.label ?? model
    }

    /// The baseline's label, for evidence text.
    var baseline: String { label(roles.baseline) }
}

/// The paper's claims, each turned into a verdict by the rules of `Evidence`: paired comparisons over seeds
/// and non-inferiority margins, so that seed noise cannot flip a verdict; models that did not learn are left out.
enum ClaimChecks {
    /// "Matches" means: the 95 % interval of the paired MRR@5 difference stays above −5 % of the reference.
    static let tolerance = 0.05

    static func all(_ r: ResultSet, statements: [PaperValues.ClaimText]) -> [Claim] {
        let text = Dictionary(statements.map { ($0.id, $0.statement) }, uniquingKeysWith: { a, _ in a })
        func claim(_ id: String, _ source: String, _ result: (String, Claim.Verdict, String)) -> Claim {
            Claim(id: id, statement: text[id] ?? id, source: source, evidence: result.0, verdict: result.1,
                  measuredOn: "\(r.profile) / \(result.2)")
        }
        return [
            claim("compression", "abstract", compression(r)),
            claim("speed", "abstract; Table 2", speed(r)),
            claim("accuracy", "abstract; Table 2", accuracy(r)),
            claim("scaling", "introduction; Figure 1", scaling(r)),
            claim("blockwise", "Table 3", blockwise(r)),
            claim("sharing", "Table 4", sharing(r)),
            claim("transfer", "Table 6", transfer(r)),
            claim("self-attention", "beyond the paper; Table 7", selfAttention(r)),
        ]
    }

    private static func f(_ x: Double, _ places: Int = 4) -> String { String(format: "%.\(places)f", x) }
    /// The datasets a claim was measured on: those where one of `models` ran (every dataset when none did, so a
    /// "not measurable" verdict still names where it looked).
    static func names(_ r: ResultSet, running models: [String]) -> String {
        let ran = r.datasets.filter { ds in models.contains { r.record(ds.name, $0) != nil } }
        return (ran.isEmpty ? r.datasets : ran).map(\.label).joined(separator: ", ")
    }
    private static func pm(_ s: SampleSummary, _ places: Int = 4) -> String {
        s.n > 1 ? "\(f(s.mean, places)) ± \(f(s.sd, places))" : f(s.mean, places)
    }
    private static func interval(_ d: SampleSummary) -> String {
        d.n > 1 ? "\(f(d.mean, 4)) [\(f(d.lower, 4)), \(f(d.upper, 4))]" : f(d.mean, 4)
    }
    private static func seedNote(_ r: ResultSet) -> String {
        let n = r.evaluations.values.first?.values.first?.values(.mrr5).count ?? 1
        return "\(n) seed\(n == 1 ? "" : "s")"
    }

    /// Majority vote over units (datasets or pairs) that each say within / outside / inconclusive.
    private static func majority(_ within: Int, _ outside: Int, _ total: Int) -> Claim.Verdict {
        if total == 0 { return .notMeasurable }
        if within * 2 > total { return .holds }
        if outside * 2 > total { return .doesNotHold }
        return .inconclusive
    }

    /// Holds when some CpRec variant is at least 4x smaller than NextItNet on some dataset (parameter counts are exact).
    static func compression(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        var parts: [String] = []
        var best = 0.0
        for ds in r.datasets {
            guard let base = r.record(ds.name, r.roles.baseline) else { continue }
            let ratios = r.roles.cprec.compactMap { m in r.record(ds.name, m).map { (m, Double(base.params.total) / Double($0.params.total)) } }
            guard let top = ratios.max(by: { $0.1 < $1.1 }) else { continue }
            best = max(best, top.1)
            parts.append("\(ds.label): \(ratios.map { "\($0.0) \(f($0.1, 1))×" }.joined(separator: ", "))")
        }
        if parts.isEmpty { return ("no \(r.baseline)/CpRec pair evaluated", .notMeasurable, names(r, running: r.roles.cprec)) }
        let verdict: Claim.Verdict = best >= 4 ? .holds : .doesNotHold
        return ("\(r.baseline) params / CpRec params (Table 2): " + parts.joined(separator: "; ") + ". Threshold: best ≥ 4×.", verdict, names(r, running: r.roles.cprec))
    }

    /// A time ratio counts as "faster" only beyond this factor: single timings on a shared machine vary by a few percent.
    static let fasterBy = 1.1

    /// The paper's regime: item vocabularies of tens of thousands (its block cutoffs are [7000, 15000, K]).
    static let paperRegimeItems = 20_000

    /// Holds when most CpRec runs are faster than NextItNet both per training epoch and in top-5 inference at test
    /// batch 1 (mean over seeds of the per-seed ratios, each timed in its own stage), judged on the datasets of the
    /// paper's regime (K ≥ 20,000) when the profile has one; smaller datasets are shown beside them.
    static func speed(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        let regime = r.datasets.filter { ds in (r.record(ds.name, r.roles.baseline)?.items ?? 0) >= paperRegimeItems }
        var trainFaster = 0, inferFaster = 0, total = 0
        var parts: [String] = []
        for ds in r.datasets {
            guard let base = r.record(ds.name, r.roles.baseline) else { continue }
            let judged = regime.isEmpty || regime.contains { $0.name == ds.name }
            for m in r.roles.cprec {
                guard let c = r.record(ds.name, m) else { continue }
                // Per-epoch time: total time also depends on how many epochs early stopping allowed.
                let perSeed = zip(base.seedSecondsPerEpoch, c.seedSecondsPerEpoch).map { $0 / max($1, 1e-9) }
                let trainRatio = SampleSummary(perSeed.isEmpty ? [base.secondsPerEpoch / max(c.secondsPerEpoch, 1e-9)] : perSeed)
                // The paper's latency setting: top-5 generation at test batch 1 (batch 128 shown beside it).
                let throughput = SampleSummary(c.seedSpeedups.isEmpty ? [c.speedup ?? 0] : c.seedSpeedups)
                let batch1 = c.seedSpeedupsBatch1.isEmpty ? c.speedupBatch1.map { [$0] } : c.seedSpeedupsBatch1
                let inferRatio = batch1.map(SampleSummary.init) ?? throughput
                if judged {
                    total += 1
                    if trainRatio.mean >= fasterBy { trainFaster += 1 }
                    if inferRatio.mean >= fasterBy { inferFaster += 1 }
                }
                let k = c.items.map { " (K = \($0))" } ?? ""
                parts.append("\(ds.label)\(judged ? "" : k) \(m): training \(pm(trainRatio, 2))×, inference \(pm(inferRatio, 2))× (batch 128: \(pm(throughput, 2))×)")
            }
        }
        if total == 0 { return ("no CpRec run evaluated", .notMeasurable, names(r, running: r.roles.cprec)) }
        let verdict: Claim.Verdict = trainFaster * 2 > total && inferFaster * 2 > total ? .holds : .doesNotHold
        let scope = regime.isEmpty
            ? "No dataset of this profile is in the paper's regime (K ≥ \(paperRegimeItems) items), so the verdict uses every dataset; the scale map (figures/scalemap.png) measures where the speedup appears."
            : "Judged on the paper's regime, K ≥ \(paperRegimeItems) items: \(regime.map { ds in "\(ds.label) (K = \(r.record(ds.name, r.roles.baseline)?.items ?? 0))" }.joined(separator: ", ")); the smaller datasets (K shown) are listed for contrast, and the scale map (figures/scalemap.png) extends the picture to K = 1M without training."
        return ("\(r.baseline) time / CpRec time (mean ± sd over \(seedNote(r))), training per epoch and top-5 inference at test batch 1 (the paper's latency setting, exact fast top-N path): " + parts.joined(separator: "; ")
                + ". Faster (mean ≥ \(f(fasterBy, 1))×) in training: \(trainFaster) of \(total); in inference: \(inferFaster) of \(total). " + scope,
                verdict, regime.isEmpty ? names(r, running: r.roles.cprec) : regime.map(\.label).joined(separator: ", "))
    }

    /// Holds when CpRec is better than or tied with NextItNet (paired rule) in most (dataset, variant) pairs.
    static func accuracy(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        var betterOrTie = 0, worse = 0, undecided = 0, total = 0
        var parts: [String] = [], skipped: [String] = []
        for ds in r.datasets {
            guard let base = r.record(ds.name, r.roles.baseline) else { continue }
            if !r.learned(ds.name, r.roles.baseline) { skipped.append("\(ds.label) \(r.baseline)"); continue }
            for m in r.roles.cprec {
                guard let c = r.record(ds.name, m) else { continue }
                if !r.learned(ds.name, m) { skipped.append("\(ds.label) \(m)"); continue }
                let (d, verdict) = Evidence.compare(c.values(.mrr5), base.values(.mrr5))
                total += 1
                switch verdict {
                case .better, .tie: betterOrTie += 1
                case .worse: worse += 1
                case .undecided: undecided += 1
                }
                parts.append("\(ds.label) \(m) − \(r.baseline) = \(interval(d)): \(verdict.rawValue)")
            }
        }
        if total == 0 { return ("no CpRec/\(r.baseline) pair that learned" + (skipped.isEmpty ? "" : " (did not learn: \(skipped.joined(separator: ", ")))"), .notMeasurable, names(r, running: r.roles.cprec)) }
        var evidence = "MRR@5 difference, mean [95 % interval] over \(seedNote(r)) (Table 2): " + parts.joined(separator: "; ")
            + ". Better or tied in \(betterOrTie) of \(total), worse in \(worse). Rule: \(Evidence.pairedRule); holds when better or tied in most pairs."
        if !skipped.isEmpty { evidence += " Left out (did not learn): \(skipped.joined(separator: ", "))." }
        let verdict: Claim.Verdict = undecided * 2 >= total ? .inconclusive : (betterOrTie * 2 > total ? .holds : .doesNotHold)
        return (evidence, verdict, names(r, running: r.roles.cprec))
    }

    /// The paper: > 20 % MRR@5 from d = 64 to 512. Holds when the 95 % interval of the paired relative gain from
    /// d = 64 to 512 (else the smallest to the largest d of Figure 1) lies above 20 %, does not hold when it lies below.
    static func scaling(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        let sweep = r.dimSweep.sorted { $0.dim < $1.dim }
        // The paper's comparison is d = 64 against d = 512; other sweeps compare their ends.
        let paperLo = sweep.first { $0.dim == 64 }, paperHi = sweep.first { $0.dim == 512 }
        let ends = paperLo != nil && paperHi != nil ? (paperLo, paperHi) : (sweep.first, sweep.last)
        guard let lo = ends.0, let hi = ends.1, lo.dim != hi.dim,
              lo.record.values(.mrr5).count == hi.record.values(.mrr5).count,
              lo.record.values(.mrr5).allSatisfy({ $0 > 0 }) else {
            return ("Figure 1's d sweep has fewer than two points", .notMeasurable, r.dimSweep.first?.record.dataset ?? "-")
        }
        let gain = SampleSummary(zip(hi.record.values(.mrr5), lo.record.values(.mrr5)).map { $0 / $1 - 1 })
        let paramRatio = Double(hi.record.params.total) / Double(lo.record.params.total)
        let verdict: Claim.Verdict
        if gain.n < 2 { verdict = gain.mean > 0.2 ? .holds : .doesNotHold }
        else if gain.lower > 0.2 { verdict = .holds }
        else if gain.upper < 0.2 { verdict = .doesNotHold }
        else { verdict = .inconclusive }
        let evidence = "\(lo.record.label) MRR@5 \(pm(lo.record.summary(.mrr5))) at d = \(lo.dim) → \(pm(hi.record.summary(.mrr5))) at d = \(hi.dim); paired gain \(f(gain.mean * 100, 1)) %"
            + (gain.n > 1 ? " [95 % interval \(f(gain.lower * 100, 1)) %, \(f(gain.upper * 100, 1)) %]" : "")
            + ", params ×\(f(paramRatio, 1)) (Figure 1). Holds when the interval lies above 20 %."
            + (lo.dim == 64 && hi.dim == 512 ? "" : " The paper's range is d = 64 → 512; this profile sweeps \(lo.dim) → \(hi.dim).")
        return (evidence, verdict, lo.record.dataset)
    }

    /// Holds when Bio-NextItNet matches NextItNet (non-inferiority within 5 %) with fewer in+out parameters on most datasets.
    static func blockwise(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        var within = 0, outside = 0, total = 0
        var parts: [String] = [], skipped: [String] = []
        for ds in r.datasets {
            guard let base = r.record(ds.name, r.roles.baseline) else { continue }
            for m in r.roles.blockwise {
                guard let c = r.record(ds.name, m) else { continue }
                let io = Double(c.params.input + c.params.output) / Double(base.params.input + base.params.output)
                if !r.learned(ds.name, m) || !r.learned(ds.name, r.roles.baseline) { skipped.append("\(ds.label) \(m)"); continue }
                let (d, verdict) = Evidence.withinMargin(c.values(.mrr5), base.values(.mrr5), margin: tolerance)
                parts.append("\(ds.label) \(m) MRR@5 \(pm(c.summary(.mrr5))) − \(r.baseline) = \(interval(d)) (\(verdict.rawValue)), in+out params ×\(f(io, 2))")
                if m == r.roles.blockwiseJudged {
                    total += 1
                    if verdict == .within && io < 1 { within += 1 }
                    if verdict == .outside || io >= 1 { outside += 1 }
                }
            }
        }
        if total == 0 { return ("no \(r.label(r.roles.blockwiseJudged)) run that learned", .notMeasurable, names(r, running: [r.roles.blockwiseJudged])) }
        var evidence = "Table 3, over \(seedNote(r)): " + parts.joined(separator: "; ")
            + ". Criterion: \(r.label(r.roles.blockwiseJudged))'s paired MRR@5 difference to \(r.baseline) has its 95 % interval above −\(Int(tolerance * 100)) % of \(r.baseline)'s mean, with fewer in+out params, on most datasets (within on \(within) of \(total), outside on \(outside))."
        if !skipped.isEmpty { evidence += " Left out (did not learn): \(skipped.joined(separator: ", "))." }
        return (evidence, majority(within, outside, total), names(r, running: [r.roles.blockwiseJudged]))
    }

    /// Per dataset: the best sharing scheme is named only when it is paired-better than every other scheme;
    /// the claim holds when the best scheme matches NextItNet (non-inferiority within 5 %) on most datasets.
    static func sharing(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        var within = 0, outside = 0, total = 0
        var parts: [String] = []
        for ds in r.datasets {
            guard let base = r.record(ds.name, r.roles.baseline), r.learned(ds.name, r.roles.baseline) else { continue }
            let schemes = r.roles.sharing.compactMap { m in r.record(ds.name, m).map { (m, $0) } }.filter { r.learned(ds.name, $0.0) }
            guard let best = schemes.max(by: { ($0.1.metric(.mrr5) ?? 0) < ($1.1.metric(.mrr5) ?? 0) }) else { continue }
            let separated = schemes.filter { $0.0 != best.0 }.allSatisfy {
                Evidence.compare(best.1.values(.mrr5), $0.1.values(.mrr5)).verdict == .better
            }
            let (d, verdict) = Evidence.withinMargin(best.1.values(.mrr5), base.values(.mrr5), margin: tolerance)
            total += 1
            if verdict == .within { within += 1 }
            if verdict == .outside { outside += 1 }
            parts.append("\(ds.label): " + (separated ? "winner \(best.0)" : "no clear winner (highest mean \(best.0))")
                         + " MRR@5 \(pm(best.1.summary(.mrr5))) − \(r.baseline) = \(interval(d)) (\(verdict.rawValue)); middle params \(best.1.params.middle) vs \(base.params.middle)")
        }
        if total == 0 { return ("no sharing variant that learned", .notMeasurable, names(r, running: r.roles.sharing)) }
        return ("Table 4, over \(seedNote(r)): " + parts.joined(separator: "; ") + ". A winner is named only when it is better than every other scheme by the paired rule. Criterion: the best scheme's 95 % interval of the paired difference stays above −\(Int(tolerance * 100)) % of \(r.baseline)'s MRR@5, on most datasets (\(within) within, \(outside) outside of \(total)).",
                majority(within, outside, total), names(r, running: r.roles.sharing))
    }

    /// Holds when pre-trained CpRec matches pre-trained NextItNet after fine-tuning (non-inferiority within 5 %) with
    /// fewer parameters; not measurable when pre-training does not beat random initialisation (the task does not need it).
    static func transfer(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        func values(_ model: (TransferRecord) -> Bool, pretrained: Bool) -> [TransferRecord] {
            r.transfer.filter { model($0) && $0.rowKind == (pretrained ? "pretrained" : "scratch") }.sorted { $0.seed < $1.seed }
        }
        let n = values({ $0.model == r.roles.baseline }, pretrained: true)
        let c = values({ r.roles.cprec.contains($0.model) }, pretrained: true)
        let scratch = values({ $0.model == r.roles.baseline }, pretrained: false)
        guard !n.isEmpty, c.count == n.count, let c0 = c.first, let n0 = n.first else {
            return ("Table 6 was not run", .notMeasurable, r.transfer.first?.dataset ?? "-")
        }
        let (d, margin) = Evidence.withinMargin(c.map(\.mrr5), n.map(\.mrr5), margin: tolerance)
        var evidence = "Fine-tuned MRR@5 over \(n.count) seed\(n.count == 1 ? "" : "s"): \(c0.label) \(pm(SampleSummary(c.map(\.mrr5)))) vs \(n0.label) \(pm(SampleSummary(n.map(\.mrr5)))), difference \(interval(d)) (\(margin.rawValue)); pre-trained params \(c0.params.total) vs \(n0.params.total) (Table 6)."
        var verdict: Claim.Verdict = margin == .within && c0.params.total < n0.params.total ? .holds
            : (margin == .outside ? .doesNotHold : .inconclusive)
        if scratch.count == n.count {
            let (gain, buys) = Evidence.compare(n.map(\.mrr5), scratch.map(\.mrr5))
            evidence += " Pre-trained − random-init \(n0.label) = \(interval(gain)): \(buys.rawValue)."
            let fullN = n.compactMap(\.fullMRR5), fullS = scratch.compactMap(\.fullMRR5)
            if fullN.count == n.count, fullS.count == n.count {
                let (fullGain, fullBuys) = Evidence.compare(fullN, fullS)
                evidence += " Ranked against every target item: MRR@5 \(pm(SampleSummary(fullN))) vs \(pm(SampleSummary(fullS))), difference \(interval(fullGain)): \(fullBuys.rawValue)."
            }
            let frozen = r.transfer.filter { $0.model == r.roles.baseline && $0.rowKind == "frozen" }.sorted { $0.seed < $1.seed }
            if frozen.count == n.count {
                evidence += " Frozen pre-trained backbone: MRR@5 \(pm(SampleSummary(frozen.map(\.mrr5))))."
            }
            if buys != .better {
                evidence += " Pre-training does not measurably help on this source/target pair, so matching \(n0.label) after fine-tuning says nothing about transfer: no verdict."
                verdict = .notMeasurable
            }
        }
        return (evidence, verdict, n0.dataset)
    }

    /// Beyond the paper. The compression and accuracy claims' rules on the SASRec backbone: a (dataset, variant)
    /// pair supports the claim when CpRec-SASRec is compressed (fewer parameters than SASRec) and non-inferior
    /// (95 % interval of the paired MRR@5 difference above −5 % of SASRec's mean); majority over pairs.
    static func selfAttention(_ r: ResultSet) -> (String, Claim.Verdict, String) {
        let b = r.roles.selfAttention.map { r.label($0.baseline) } ?? "the baseline"
        var within = 0, outside = 0, total = 0
        var parts: [String] = [], skipped: [String] = []
        for ds in r.datasets {
            guard let family = r.roles.selfAttention, let base = r.record(ds.name, family.baseline) else { continue }
            if !r.learned(ds.name, family.baseline) { skipped.append("\(ds.label) \(base.label)"); continue }
            for m in family.cprec {
                guard let c = r.record(ds.name, m) else { continue }
                if !r.learned(ds.name, m) { skipped.append("\(ds.label) \(m)"); continue }
                let ratio = Double(base.params.total) / Double(c.params.total)
                let (d, verdict) = Evidence.withinMargin(c.values(.mrr5), base.values(.mrr5), margin: tolerance)
                total += 1
                if verdict == .within && ratio > 1 { within += 1 }
                if verdict == .outside || ratio <= 1 { outside += 1 }
                parts.append("\(ds.label) \(m) MRR@5 \(pm(c.summary(.mrr5))) − \(b) = \(interval(d)) (\(verdict.rawValue)), compression \(f(ratio, 1))×")
            }
        }
        if total == 0 {
            return ("no CpRec-\(b)/\(b) pair that learned" + (skipped.isEmpty ? "" : " (did not learn: \(skipped.joined(separator: ", ")))"),
                    .notMeasurable, names(r, running: r.roles.selfAttention?.cprec ?? []))
        }
        var evidence = "Table 7, over \(seedNote(r)): " + parts.joined(separator: "; ")
            + ". Criterion: compressed (\(b) params / CpRec-\(b) params > 1) and the 95 % interval of the paired MRR@5 difference above −\(Int(tolerance * 100)) % of \(b)'s mean, in most (dataset, variant) pairs (\(within) within, \(outside) outside of \(total))."
        if !skipped.isEmpty { evidence += " Left out (did not learn): \(skipped.joined(separator: ", "))." }
        return (evidence, majority(within, outside, total), names(r, running: r.roles.selfAttention?.cprec ?? []))
    }
}
