import Evaluation
import Foundation
import NeuralNet
import Reports

/// One (dataset, compared model) comparison of a claim, decided by the claim's declared test.
public struct ClaimPair: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable { case supports, contradicts, undecided }

    public var claim: String
    public var dataset: String
    public var datasetLabel: String
    public var group: String
    public var compared: String
    public var reference: String
    /// The quantity as printed (a difference, a ratio, a share); nil when it could not be measured.
    public var estimate: Double?
    /// The seed-paired Student-t interval and the hierarchical-bootstrap interval, when each exists.
    public var seedInterval: [Double]?
    public var bootstrapInterval: [Double]?
    /// Which one decided: "exact", "seed-t" or "bootstrap" (the larger p-value, i.e. the wider interval).
    public var decidedBy: String
    /// The bound of the declared test, on the printed scale.
    public var bound: Double
    public var seeds: Int
    public var pSupport: Double
    public var pContradict: Double
    public var adjustedSupport: Double = 1
    public var adjustedContradict: Double = 1
    public var outcome: Outcome = .undecided
    /// Why the pair was forced (did not learn, not smaller, reference did not learn), or "".
    public var note: String
    /// Seeds the observed effect and spread would need for the interval to leave the bound (inconclusive pairs).
    public var seedsNeeded: Int?
}

/// A claim's verdict in one dataset group.
public struct GroupVerdict: Sendable, Hashable, Codable {
    public var group: String
    public var verdict: Claim.Verdict
    /// The counts behind it, or why it cannot be measured.
    public var detail: String
}

/// Every claim of claims.yaml judged on a result set: pairs, group verdicts and the overall verdict.
public struct ClaimOutcome: Sendable {
    public var spec: ClaimSpecFile.ClaimSpec
    public var pairs: [ClaimPair]
    public var groups: [GroupVerdict]
    public var verdict: Claim.Verdict
    public var scope: String
}

/// Facts about a dataset that decide its group.
public struct DatasetFacts: Sendable, Hashable, Codable {
    public var synthetic: Bool
    public var items: Int
}

/// Turns claims.yaml into verdicts: one rule set for every claim and every dataset group.
enum ClaimEngine {
    /// `joining`: pairs measured by other profiles (their committed claim-pairs.csv); each joins its claim's family
    /// before the Holm correction and its group's aggregate, so one rule decides over every dataset of every profile.
    static func judge(_ spec: ClaimSpecFile, _ r: ResultSet, joining: [ClaimPair] = []) -> [ClaimOutcome] {
        spec.claims.map { c in
            judge(c, rules: spec.rules, groups: spec.groups, r, joining: joining.filter { $0.claim == c.id })
        }
    }

    static func group(of dataset: String, _ groups: [ClaimSpecFile.Group], _ r: ResultSet) -> ClaimSpecFile.Group? {
        guard let f = r.facts[dataset] else { return nil }
        return groups.first { $0.contains(synthetic: f.synthetic, items: f.items) }
    }

    static func judge(
        _ claim: ClaimSpecFile.ClaimSpec, rules: ClaimSpecFile.Rules, groups: [ClaimSpecFile.Group],
        _ r: ResultSet, joining: [ClaimPair] = []
    ) -> ClaimOutcome {
        var pairs =
            measure(claim, rules: rules, groups: groups, r)
            + joining.filter { p in groups.contains { $0.id == p.group } }
        decide(&pairs, rules: rules)
        var verdicts: [GroupVerdict] = []
        for g in groups {
            let mine = pairs.filter { $0.group == g.id }
            verdicts.append(aggregate(mine, claim.aggregate, group: g, r: r, claim: claim))
        }
        let (verdict, scope) = overall(verdicts, groups)
        return ClaimOutcome(spec: claim, pairs: pairs, groups: verdicts, verdict: verdict, scope: scope)
    }

    // MARK: the declared rule: Holm within the claim's family, then per pair the test's outcome

    static func decide(_ pairs: inout [ClaimPair], rules: ClaimSpecFile.Rules) {
        let holm = rules.correction == "holm"
        let support = holm ? Statistics.holm(pairs.map(\.pSupport)) : pairs.map(\.pSupport)
        let contradict = holm ? Statistics.holm(pairs.map(\.pContradict)) : pairs.map(\.pContradict)
        for i in pairs.indices {
            pairs[i].adjustedSupport = support[i]
            pairs[i].adjustedContradict = contradict[i]
            if !pairs[i].note.isEmpty && pairs[i].pSupport == 1 && pairs[i].pContradict == 1 {
                pairs[i].outcome = .undecided
            } else if support[i] < rules.alpha {
                pairs[i].outcome = .supports
            } else if contradict[i] < rules.alpha {
                pairs[i].outcome = .contradicts
            } else {
                pairs[i].outcome = .undecided
            }
        }
    }

    static func aggregate(
        _ pairs: [ClaimPair], _ how: ClaimSpecFile.Aggregate, group: ClaimSpecFile.Group, r: ResultSet,
        claim: ClaimSpecFile.ClaimSpec
    ) -> GroupVerdict {
        if pairs.isEmpty {
            let inGroup = r.datasets.filter { ClaimEngine.group(of: $0.name, [group], r) != nil }
            let why =
                inGroup.isEmpty
                ? "no dataset of this profile is in this group"
                : "not measured on \(inGroup.map(\.label).joined(separator: ", ")): \(missingReason(claim))"
            return GroupVerdict(group: group.id, verdict: .notMeasurable, detail: why)
        }
        let s = pairs.filter { $0.outcome == .supports }.count
        let c = pairs.filter { $0.outcome == .contradicts }.count
        let n = pairs.count
        let v: Claim.Verdict
        switch how {
        case .most: v = s * 2 > n ? .holds : (c * 2 >= n ? .doesNotHold : .inconclusive)
        case .any: v = s > 0 ? .holds : (c == n ? .doesNotHold : .inconclusive)
        case .all: v = s == n ? .holds : (c > 0 ? .doesNotHold : .inconclusive)
        }
        return GroupVerdict(
            group: group.id, verdict: v, detail: "\(s) of \(n) support, \(c) contradict (\(how.rawValue))")
    }

    static func missingReason(_ claim: ClaimSpecFile.ClaimSpec) -> String {
        switch claim.quantity.kind {
        case .sweepGain:
            return
                "Figure 1's grid has no \(claim.quantity.axis) = \(claim.quantity.from) and \(claim.quantity.to) points here"
        case .transferDifference: return "Table 6 does not run on this dataset"
        case .topNAgreement: return "no tree-softmax run recorded the approximate rule"
        default:
            if let s = claim.quantity.sweepAxis, let v = claim.quantity.sweepValue {
                return "Figure 1 has no \(s) = \(v) run of these models here"
            }
            return "the claim's models do not run here (profile `perDataset` restricts them)"
        }
    }

    /// The declared overall rule (claims.yaml header): the paper's regime decides when it is measurable.
    static func overall(_ v: [GroupVerdict], _ groups: [ClaimSpecFile.Group]) -> (Claim.Verdict, String) {
        let regime = Set(groups.filter(\.paperRegime).map(\.id))
        let measurable = v.filter { $0.verdict != .notMeasurable }
        if measurable.isEmpty { return (.notMeasurable, "no group") }
        let inRegime = measurable.filter { regime.contains($0.group) }
        let judged = inRegime.isEmpty ? measurable : inRegime
        let scope = inRegime.isEmpty ? "outside the paper's regime" : "paper's regime"
        if judged.contains(where: { $0.verdict == .doesNotHold }) { return (.doesNotHold, scope) }
        if judged.allSatisfy({ $0.verdict == .holds }) {
            let against = measurable.filter { $0.verdict == .doesNotHold }.map(\.group)
            if against.isEmpty { return (.holds, scope) }
            return (.inconclusive, "\(scope); contradicted in \(against.joined(separator: " and "))")
        }
        return (.inconclusive, scope)
    }

    // MARK: measuring a claim's quantity, pair by pair

    static func measure(
        _ claim: ClaimSpecFile.ClaimSpec, rules: ClaimSpecFile.Rules, groups: [ClaimSpecFile.Group],
        _ r: ResultSet
    ) -> [ClaimPair] {
        var out: [ClaimPair] = []
        let q = claim.quantity
        switch q.kind {
        case .transferDifference:
            guard let ref = claim.reference else { return [] }
            let dataset = r.transfer.first?.dataset
            guard let dataset, let g = group(of: dataset, groups, r) else { return [] }
            for m in claim.compared {
                if let p = transferPair(
                    claim, rules: rules, compared: m, reference: ref, dataset: dataset, group: g.id, r)
                {
                    out.append(p)
                }
            }
            return out
        case .sweepGain:
            for m in claim.compared {
                guard let lo = r.sweepRecord(m, axis: q.axis, value: q.from),
                    let hi = r.sweepRecord(m, axis: q.axis, value: q.to),
                    let g = group(of: lo.dataset, groups, r)
                else { continue }
                out.append(gainPair(claim, rules: rules, lo: lo, hi: hi, group: g.id, r))
            }
            return out
        default: break
        }
        for ds in r.datasets {
            guard let g = group(of: ds.name, groups, r) else { continue }
            func record(_ m: String) -> EvaluationRecord? {
                if let axis = q.sweepAxis, let value = q.sweepValue {
                    return r.sweepRecord(m, axis: axis, value: value, dataset: ds.name)
                }
                return r.record(ds.name, m)
            }
            var compared = claim.compared.filter { record($0) != nil }
            if q.select == "best-validation",
                let best = compared.max(by: { (record($0)?.validMRR5 ?? -1) < (record($1)?.validMRR5 ?? -1) })
            {
                compared = [best]
            }
            for m in compared {
                guard let c = record(m) else { continue }
                let ref = claim.reference.flatMap(record)
                if claim.reference != nil && ref == nil { continue }
                if let p = pair(claim, rules: rules, c: c, ref: ref, dataset: ds, group: g.id, r) { out.append(p) }
            }
        }
        return out
    }

    static func blank(
        _ claim: ClaimSpecFile.ClaimSpec, dataset: String, label: String, group: String, compared: String,
        reference: String, bound: Double
    ) -> ClaimPair {
        ClaimPair(
            claim: claim.id, dataset: dataset, datasetLabel: label, group: group, compared: compared,
            reference: reference,
            estimate: nil, seedInterval: nil, bootstrapInterval: nil, decidedBy: "exact", bound: bound, seeds: 0,
            pSupport: 1, pContradict: 1, note: "", seedsNeeded: nil)
    }

    static func part(_ p: ParamCounts, _ name: String) -> Int {
        switch name {
        case "io": return p.input + p.output
        case "middle": return p.middle
        default: return p.total
        }
    }

    static func pair(
        _ claim: ClaimSpecFile.ClaimSpec, rules: ClaimSpecFile.Rules, c: EvaluationRecord, ref: EvaluationRecord?,
        dataset ds: (name: String, label: String), group: String, _ r: ResultSet
    ) -> ClaimPair? {
        let q = claim.quantity
        let refLabel = ref?.label ?? "-"
        switch q.kind {
        case .paramsRatio:
            guard let ref else { return nil }
            let v = Double(part(ref.params, q.part)) / Double(max(1, part(c.params, q.part)))
            return exact(claim, v, ds: ds, group: group, compared: c.label, reference: refLabel)
        case .ioShare:
            let v = Double(c.params.input + c.params.output) / Double(max(1, c.params.total))
            return exact(claim, v, ds: ds, group: group, compared: c.label, reference: "-")
        case .topNAgreement:
            let agreements = c.seedFastTopN.compactMap {
                $0.first { $0.rule == TopNPruning.approximate.rawValue }?.agreement
            }
            guard !agreements.isEmpty else { return nil }
            // Exact quantity: the worst seed, so one seed's disagreement is not averaged away.
            var p = exact(claim, agreements.min()!, ds: ds, group: group, compared: c.label, reference: "full scoring")
            p.seeds = agreements.count
            return p
        case .timeRatio:
            guard let ref else { return nil }
            let (cs, rs) = aligned(c, ref)
            let ratios: [Double] = zip(cs, rs).compactMap { ci, ri in
                let (a, b) = timePair(q.time, c: c, ci: ci, ref: ref, ri: ri)
                return a.isFinite && b.isFinite && b > 0 && a > 0 ? a / b : nil
            }
            let bound = claim.test.above ?? 1
            var p = blank(
                claim, dataset: ds.name, label: ds.label, group: group, compared: c.label, reference: refLabel,
                bound: bound)
            guard !ratios.isEmpty else { p.note = "no timing"; return p }
            let logs = ratios.map(log)
            let s = SampleSummary(logs)
            p.estimate = exp(s.mean)
            p.seeds = s.n
            if s.n > 1 { p.seedInterval = [exp(s.lower), exp(s.upper)] }
            p.decidedBy = "seed-t"
            p.pSupport = Statistics.pAbove(logs, bound: log(bound))
            p.pContradict = Statistics.pAbove(logs.map { -$0 }, bound: -log(bound))
            if p.pSupport >= rules.alpha && p.pContradict >= rules.alpha {
                p.seedsNeeded = Statistics.seedsNeeded(mean: s.mean, sd: s.sd, bound: log(bound), level: rules.level)
            }
            return p
        case .metricDifference:
            guard let ref else { return nil }
            return differencePair(claim, rules: rules, c: c, ref: ref, ds: ds, group: group, r)
        case .sweepGain, .transferDifference:
            return nil
        }
    }

    /// (reference time, compared time) for one seed of each: the ratio reference / compared is the speedup.
    static func timePair(
        _ time: String, c: EvaluationRecord, ci: Int, ref: EvaluationRecord, ri: Int
    ) -> (Double, Double) {
        func at(_ xs: [Double], _ i: Int) -> Double { i < xs.count ? xs[i] : .nan }
        switch time {
        case "inference-batch1": return (at(c.seedSpeedupsBatch1, ci), 1)
        case "inference-batch128": return (at(c.seedSpeedups, ci), 1)
        default: return (at(ref.seedSecondsPerEpoch, ri), at(c.seedSecondsPerEpoch, ci))
        }
    }

    static func exact(
        _ claim: ClaimSpecFile.ClaimSpec, _ v: Double, ds: (name: String, label: String), group: String,
        compared: String, reference: String
    ) -> ClaimPair {
        let bound = claim.test.above ?? 0
        var p = blank(
            claim, dataset: ds.name, label: ds.label, group: group, compared: compared, reference: reference,
            bound: bound)
        p.estimate = v
        p.seeds = 1
        p.pSupport = v >= bound ? 0 : 1
        p.pContradict = v >= bound ? 1 : 0
        return p
    }

    /// Indices of the seeds both records share, in seed order.
    static func aligned(_ a: EvaluationRecord, _ b: EvaluationRecord) -> ([Int], [Int]) {
        var ia: [Int] = [], ib: [Int] = []
        for (i, s) in a.seeds.enumerated() { if let j = b.seeds.firstIndex(of: s) { ia.append(i); ib.append(j) } }
        return (ia, ib)
    }

    /// Per-row values of `metric` from one run's ranks.
    static func rowValues(_ ranks: [Int32], _ metric: Metric) -> [Double] {
        let (cutoff, pick): (Int, (Double, Double, Double) -> Double) = {
            switch metric {
            case .mrr5: return (5, { m, _, _ in m })
            case .hr5: return (5, { _, h, _ in h })
            case .ndcg5: return (5, { _, _, n in n })
            case .mrr20: return (20, { m, _, _ in m })
            case .hr20: return (20, { _, h, _ in h })
            case .ndcg20: return (20, { _, _, n in n })
            case .hr10: return (10, { _, h, _ in h })
            case .ndcg10: return (10, { _, _, n in n })
            }
        }()
        return ranks.map { r in
            let c = Ranking.contributions(rank: Int(r), cutoff: cutoff)
            return pick(c.mrr, c.hr, c.ndcg)
        }
    }

    /// The test's bound and whether the pair's model failed (did not learn / NaN) or is not smaller.
    static func guardNotes(
        _ claim: ClaimSpecFile.ClaimSpec, c: EvaluationRecord, ref: EvaluationRecord, dataset: String,
        _ r: ResultSet
    ) -> (failed: String?, refFailed: Bool) {
        let mean = c.summary(claim.quantity.metric).mean
        if !mean.isFinite { return ("NaN metric", false) }
        if !r.learned(dataset, c.model) { return ("did not learn", false) }
        if let part = claim.smaller, ClaimEngine.part(c.params, part) >= ClaimEngine.part(ref.params, part) {
            return ("not smaller in \(part) params", false)
        }
        return (nil, !r.learned(dataset, ref.model))
    }

    static func differencePair(
        _ claim: ClaimSpecFile.ClaimSpec, rules: ClaimSpecFile.Rules, c: EvaluationRecord,
        ref: EvaluationRecord, ds: (name: String, label: String), group: String, _ r: ResultSet
    ) -> ClaimPair {
        let metric = claim.quantity.metric
        let (ic, ir) = aligned(c, ref)
        let cv = ic.map { c.values(metric)[$0] }, rv = ir.map { ref.values(metric)[$0] }
        let bound: Double =
            claim.test.kind == .nonInferiority
            ? -(claim.test.margin ?? rules.margin) * SampleSummary(rv).mean : (claim.test.above ?? 0)
        var p = blank(
            claim, dataset: ds.name, label: ds.label, group: group, compared: c.label, reference: ref.label,
            bound: bound)
        let diffs = zip(cv, rv).map { $0 - $1 }
        let s = SampleSummary(diffs)
        p.estimate = s.mean
        p.seeds = s.n
        if s.n > 1 { p.seedInterval = [s.lower, s.upper] }
        let (failed, refFailed) = guardNotes(claim, c: c, ref: ref, dataset: ds.name, r)
        if let failed { p.note = failed; p.pSupport = 1; p.pContradict = 0; return p }
        if refFailed { p.note = "reference did not learn"; return p }
        let seedP = (Statistics.pAbove(diffs, bound: bound), Statistics.pAbove(diffs.map { -$0 }, bound: -bound))
        p.decidedBy = "seed-t"
        (p.pSupport, p.pContradict) = seedP
        // Test-set noise: the paired hierarchical bootstrap over the same seeds' per-row values.
        bootstrap(
            &p, a: ic.compactMap { r.ranks(ds.name, c.model, seed: c.seeds[$0]) },
            b: ir.compactMap { r.ranks(ds.name, ref.model, seed: ref.seeds[$0]) }, metric: metric, rules: rules,
            statistic: -)
        if p.pSupport >= rules.alpha && p.pContradict >= rules.alpha {
            p.seedsNeeded = Statistics.seedsNeeded(mean: s.mean, sd: s.sd, bound: bound, level: rules.level)
        }
        return p
    }

    static func gainPair(
        _ claim: ClaimSpecFile.ClaimSpec, rules: ClaimSpecFile.Rules, lo: EvaluationRecord, hi: EvaluationRecord,
        group: String, _ r: ResultSet
    ) -> ClaimPair {
        let q = claim.quantity
        let bound = claim.test.above ?? 0
        let label = r.datasets.first { $0.name == lo.dataset }?.label ?? r.sweepDatasetLabel ?? lo.dataset
        let axisName = q.axis == "dim" ? "d" : "r"
        var p = blank(
            claim, dataset: lo.dataset, label: label, group: group,
            compared: "\(lo.label.split(separator: " ").first ?? "") \(axisName) = \(q.to)",
            reference: "\(axisName) = \(q.from)", bound: bound)
        let (ih, il) = aligned(hi, lo)
        let hv = ih.map { hi.values(q.metric)[$0] }, lv = il.map { lo.values(q.metric)[$0] }
        let gains = zip(hv, lv).map { $1 > 0 ? $0 / $1 - 1 : .nan }
        let s = SampleSummary(gains)
        p.estimate = s.mean
        p.seeds = s.n
        if s.n > 1 { p.seedInterval = [s.lower, s.upper] }
        guard s.mean.isFinite else { p.note = "NaN metric"; p.pContradict = 0; return p }
        p.decidedBy = "seed-t"
        let seedP = (Statistics.pAbove(gains, bound: bound), Statistics.pAbove(gains.map { -$0 }, bound: -bound))
        (p.pSupport, p.pContradict) = seedP
        bootstrap(
            &p, a: ih.compactMap { r.ranks(hi.dataset, hi.model, seed: hi.seeds[$0]) },
            b: il.compactMap { r.ranks(lo.dataset, lo.model, seed: lo.seeds[$0]) }, metric: q.metric, rules: rules
        ) {
            $1 > 0 ? $0 / $1 - 1 : .nan
        }
        if p.pSupport >= rules.alpha && p.pContradict >= rules.alpha {
            p.seedsNeeded = Statistics.seedsNeeded(mean: s.mean, sd: s.sd, bound: bound, level: rules.level)
        }
        return p
    }

    static func transferPair(
        _ claim: ClaimSpecFile.ClaimSpec, rules: ClaimSpecFile.Rules, compared: String, reference: String,
        dataset: String, group: String, _ r: ResultSet
    ) -> ClaimPair? {
        let q = claim.quantity
        func rows(_ model: String, _ kind: String) -> [TransferRecord] {
            r.transfer.filter { $0.model == model && $0.rowKind == kind }.sorted { $0.seed < $1.seed }
        }
        let c = rows(compared, q.comparedRow), ref = rows(reference, q.referenceRow)
        guard let c0 = c.first, let r0 = ref.first else { return nil }
        let seeds = c.map(\.seed).filter { s in ref.contains { $0.seed == s } }
        let cv = seeds.map { s in c.first { $0.seed == s }!.mrr5 },
            rv = seeds.map { s in ref.first { $0.seed == s }!.mrr5 }
        let bound: Double =
            claim.test.kind == .nonInferiority
            ? -(claim.test.margin ?? rules.margin) * SampleSummary(rv).mean : (claim.test.above ?? 0)
        var p = blank(
            claim, dataset: dataset, label: c0.datasetLabel, group: group, compared: "\(c0.label) (\(q.comparedRow))",
            reference: "\(r0.label) (\(q.referenceRow))", bound: bound)
        let diffs = zip(cv, rv).map { $0 - $1 }
        let s = SampleSummary(diffs)
        p.estimate = s.mean
        p.seeds = s.n
        if s.n > 1 { p.seedInterval = [s.lower, s.upper] }
        if !s.mean.isFinite { p.note = "NaN metric"; p.pContradict = 0; return p }
        if let part = claim.smaller, ClaimEngine.part(c0.params, part) >= ClaimEngine.part(r0.params, part),
            compared != reference
        {
            p.note = "not smaller in \(part) params"; p.pContradict = 0; return p
        }
        p.decidedBy = "seed-t"
        p.pSupport = Statistics.pAbove(diffs, bound: bound)
        p.pContradict = Statistics.pAbove(diffs.map { -$0 }, bound: -bound)
        bootstrap(
            &p, a: seeds.compactMap { s in c.first { $0.seed == s }!.ranks },
            b: seeds.compactMap { s in ref.first { $0.seed == s }!.ranks }, metric: .mrr5, rules: rules, statistic: -)
        if p.pSupport >= rules.alpha && p.pContradict >= rules.alpha {
            p.seedsNeeded = Statistics.seedsNeeded(mean: s.mean, sd: s.sd, bound: bound, level: rules.level)
        }
        return p
    }

    /// Widens a seed-t decided pair by the paired hierarchical bootstrap when every seed of both sides has per-row
    /// ranks on the same rows: the interval is printed, and the larger p-value of the two decides (the wider interval).
    static func bootstrap(
        _ p: inout ClaimPair, a: [[Int32]], b: [[Int32]], metric: Metric, rules: ClaimSpecFile.Rules,
        statistic: (Double, Double) -> Double
    ) {
        guard p.seeds > 0, a.count == p.seeds, b.count == p.seeds, let rows = a.first?.count, rows > 0,
            (a + b).allSatisfy({ $0.count == rows })
        else { return }
        let reps = Statistics.hierarchicalBootstrap(
            a: a.map { rowValues($0, metric) }, b: b.map { rowValues($0, metric) },
            resamples: rules.resamples, seed: rules.bootstrapSeed, statistic: statistic)
        let ci = Statistics.percentileInterval(reps, level: rules.level)
        p.bootstrapInterval = [ci.lower, ci.upper]
        let support = Statistics.bootstrapPAbove(reps, bound: p.bound)
        let contradict = Statistics.bootstrapPAbove(reps.map { -$0 }, bound: -p.bound)
        if support > p.pSupport || p.seeds < 2 { p.decidedBy = "bootstrap" }
        p.pSupport = max(p.pSupport, support)
        p.pContradict = max(p.pContradict, contradict)
    }
}
