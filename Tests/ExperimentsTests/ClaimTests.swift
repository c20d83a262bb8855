import Foundation
import Reports
import Testing
@testable import Experiments

/// The roles of the shipped experiments.yaml: the fixtures below name its models.
let shippedRoles = try! SpecBundle.load(repositorySpecs).roles

/// A record merged from one run per value of `mrr5` (seeds 1, 2, …).
func seededRecord(
    _ model: String, mrr5: [Double], params: Int, secondsPerEpoch: Double = 10, speedup: Double? = nil,
    middle: Int = 100, io: Int? = nil
) -> EvaluationRecord {
    let inOut = io ?? (params - middle)
    return EvaluationRecord.merging(
        mrr5.enumerated().map { i, v in
            var r = EvaluationRecord(
                dataset: "d", model: model, label: model, metrics: ["MRR@5": v, "HR@5": v * 2],
                params: ParamCounts(input: inOut / 2, middle: middle, output: inOut - inOut / 2),
                secondsToBest: secondsPerEpoch * 3, secondsTotal: secondsPerEpoch * 5, bestEpoch: 3,
                epochsTrained: 5, selection: "validation", inferenceFullSeconds: 1, inferenceFastSeconds: 1,
                speedup: speedup, testSequences: 10, inferenceBatch: 8, threads: 1)
            r.seeds = [UInt64(i + 1)]
            r.speedupBatch1 = speedup
            return r
        })
}

/// The shipped claims.yaml, judged on hand-made results.
let shippedClaims = try! ClaimSpecFile.load(repositorySpecs.appendingPathComponent("claims.yaml"))

func judge(_ id: String, _ r: ResultSet, spec: ClaimSpecFile = shippedClaims) -> ClaimOutcome {
    let claim = spec.claims.first { $0.id == id }!
    return ClaimEngine.judge(claim, rules: spec.rules, groups: spec.groups, r)
}

/// Verdicts by the declared rule set (claims.yaml) on hand-made results over three seeds.
@Suite struct ClaimTests {
    static let base = [0.100, 0.104, 0.096]

    /// NextItNet at `base`; every CpRec variant at `base` shifted by `shift` plus `noise` (paired seeds).
    func results(shift: Double, cprecParams: Int, noise: [Double] = [0, 0, 0], items: Int = 2000) -> ResultSet {
        var r = ResultSet(roles: shippedRoles)
        r.profile = "fixture"
        r.datasets = [("d", "D")]
        r.facts["d"] = DatasetFacts(synthetic: true, items: items)
        r.evaluations["d"] = [
            "nextitnet": seededRecord("nextitnet", mrr5: Self.base, params: 1_000_000, secondsPerEpoch: 10),
            "mostpop": seededRecord("mostpop", mrr5: [0.02, 0.02, 0.02], params: 0, middle: 0)
        ]
        for m in shippedRoles.cprec {
            r.evaluations["d"]![m] = seededRecord(
                m, mrr5: zip(Self.base, noise).map { $0 + shift + $1 }, params: cprecParams,
                secondsPerEpoch: 4, speedup: 4)
        }
        return r
    }

    @Test func compressionIsAThresholdOnExactCounts() {
        #expect(judge("compression", results(shift: 0, cprecParams: 200_000)).verdict == .holds)
        let fails = judge("compression", results(shift: 0, cprecParams: 500_000))
        #expect(fails.verdict == .doesNotHold)
        #expect(fails.pairs.allSatisfy { $0.outcome == .contradicts && $0.decidedBy == "exact" })
    }

    /// The old rule said "holds" for a CpRec 10 % worse inside seed noise (a tie counted as support).
    @Test func aTieInsideSeedNoiseNeverSupportsOutperforms() {
        let r = results(shift: -0.01, cprecParams: 200_000, noise: [0.02, -0.02, 0.0])
        let outperforms = judge("accuracy-outperforms", r)
        #expect(outperforms.verdict != .holds)
        #expect(outperforms.pairs.allSatisfy { $0.outcome != .supports })
        #expect(judge("accuracy-matches", r).verdict != .holds)
    }

    @Test func aConsistentGainIsSuperiorAndAConsistentLossIsNot() {
        #expect(judge("accuracy-outperforms", results(shift: 0.01, cprecParams: 200_000)).verdict == .holds)
        let worse = judge("accuracy-outperforms", results(shift: -0.01, cprecParams: 200_000))
        #expect(worse.verdict == .doesNotHold)
        // 10 % below with no noise: outside the 5 % non-inferiority margin.
        #expect(judge("accuracy-matches", results(shift: -0.01, cprecParams: 200_000)).verdict == .doesNotHold)
        // 1 % below: within it.
        #expect(judge("accuracy-matches", results(shift: -0.001, cprecParams: 200_000)).verdict == .holds)
        // Within the margin but not smaller: the pair contradicts "keeps accuracy while compressing".
        let big = judge("accuracy-matches", results(shift: -0.001, cprecParams: 2_000_000))
        #expect(big.verdict == .doesNotHold && big.pairs.allSatisfy { $0.note == "not smaller in total params" })
    }

    /// A model that did not learn fails its pair instead of leaving the claim.
    @Test func aModelThatDidNotLearnContradictsItsPair() {
        var r = results(shift: 0.01, cprecParams: 200_000)
        r.evaluations["d"]!["cprec-cl"] = seededRecord("cprec-cl", mrr5: [0.021, 0.02, 0.019], params: 200_000)
        let o = judge("accuracy-outperforms", r)
        let failed = o.pairs.first { $0.compared == "cprec-cl" }!
        #expect(failed.outcome == .contradicts && failed.note == "did not learn")
        #expect(o.pairs.count == 4)
        // A NaN metric is worst, not a tie.
        r.evaluations["d"]!["cprec-cb"] = seededRecord("cprec-cb", mrr5: [.nan, 0.1, 0.1], params: 200_000)
        #expect(judge("accuracy-outperforms", r).pairs.first { $0.compared == "cprec-cb" }!.outcome == .contradicts)
        // A reference that did not learn leaves its pairs undecided.
        r.evaluations["d"]!["nextitnet"] = seededRecord("nextitnet", mrr5: [0.021, 0.02, 0.019], params: 1_000_000)
        let ref = judge("accuracy-outperforms", r).pairs.first { $0.compared == "cprec-ab" }!
        #expect(ref.outcome == .undecided && ref.note == "reference did not learn")
    }

    @Test func holmAdjustsAHandComputedFamily() {
        // Sorted 0.005, 0.01, 0.03, 0.04: × 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06.
        let adjusted = Statistics.holm([0.01, 0.04, 0.03, 0.005])
        #expect(zip(adjusted, [0.03, 0.06, 0.06, 0.02]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(Statistics.holm([0.6, 0.7]) == [1, 1])
    }

    @Test func studentTMatchesTables() {
        #expect(abs(Statistics.tCDF(2.776, df: 4) - 0.975) < 1e-4)
        #expect(abs(Statistics.tCDF(-4.303, df: 2) - 0.025) < 1e-4)
        #expect(abs(Statistics.tCDF(0, df: 7) - 0.5) < 1e-12)
        #expect(abs(Statistics.tQuantile(0.975, df: 2) - 4.303) < 1e-3)
        // One-sided p of mean 3, sd 1, n 3 above 0: t = 5.196, df 2 → 0.0176.
        #expect(abs(Statistics.pAbove([2, 3, 4], bound: 0) - 0.01756) < 1e-4)
    }

    /// Rows alternate 1, 0 (difference mean 0.5, sd 0.5) on every seed: all the bootstrap's spread is test-set
    /// noise, whose standard error is 0.5 / √1000 = 0.0158, so the 95 % interval is about ±0.031.
    @Test func bootstrapIntervalHasTheTestSetsKnownWidth() {
        let a = [(0..<1000).map { Double($0 % 2) }, (0..<1000).map { Double($0 % 2) }]
        let b = [[Double](repeating: 0, count: 1000), [Double](repeating: 0, count: 1000)]
        let reps = Statistics.hierarchicalBootstrap(a: a, b: b, resamples: 2000, seed: 1, statistic: -)
        let ci = Statistics.percentileInterval(reps, level: 0.95)
        let half = (ci.upper - ci.lower) / 2
        #expect(abs(half - 1.96 * 0.5 / 1000.0.squareRoot()) < 0.004, "half-width \(half)")
        #expect(abs((ci.upper + ci.lower) / 2 - 0.5) < 0.005)
        // Seeds that differ add their spread: seed 2 shifted by 0.2 widens the interval.
        let shifted = [a[0], a[1].map { $0 + 0.2 }]
        let wide = Statistics.percentileInterval(
            Statistics.hierarchicalBootstrap(a: shifted, b: b, resamples: 2000, seed: 1, statistic: -), level: 0.95)
        #expect(wide.upper - wide.lower > 2 * half + 0.1)
    }

    /// Test-set noise the seeds cannot see: identical seed gaps (seed-t says "better") on a tiny, noisy test set.
    @Test func theWiderOfTheTwoIntervalsDecides() {
        var r = results(shift: 0.004, cprecParams: 200_000)
        // 20 test rows: CpRec ranks the target first on 11, NextItNet on 10 (MRR@5 0.55 vs 0.50 per seed).
        for seed in UInt64(1)...3 {
            r.rowRanks[ResultSet.rankKey("d", "nextitnet", seed)] = (0..<20).map { $0 < 10 ? 0 : 9 }
            for m in shippedRoles.cprec {
                r.rowRanks[ResultSet.rankKey("d", m, seed)] = (0..<20).map { $0 < 11 ? 0 : 9 }
            }
        }
        let o = judge("accuracy-outperforms", r)
        #expect(
            o.pairs.allSatisfy {
                $0.decidedBy == "bootstrap" && $0.bootstrapInterval != nil && $0.outcome == .undecided
            })
        #expect(o.verdict == .inconclusive)
    }

    @Test func seedsNeededForAnObservedEffect() {
        // mean 1, sd 1, bound 0: t(0.975, 5)·1/√6 = 1.05 > 1, t(0.975, 6)·1/√7 = 0.925 < 1.
        #expect(Statistics.seedsNeeded(mean: 1, sd: 1, bound: 0) == 7)
        #expect(Statistics.seedsNeeded(mean: 0, sd: 1, bound: 0) == nil)
    }

    @Test func timeWithinNoiseIsNotFaster() {
        var r = results(shift: 0, cprecParams: 200_000)
        #expect(judge("training-speed", r).verdict == .holds)
        #expect(judge("inference-speed", r).verdict == .holds)
        for m in shippedRoles.cprec { r.evaluations["d"]![m]!.seedSpeedupsBatch1 = [1.03, 1.02, 1.04] }
        #expect(judge("inference-speed", r).verdict == .doesNotHold)
    }

    /// The overall rule: the paper's regime decides; a group that contradicts it keeps "holds" from being said.
    @Test func theRegimeDecidesAndNoGroupMayContradict() {
        var r = results(shift: 0, cprecParams: 200_000)
        r.datasets.append(("large", "Large"))
        r.facts["large"] = DatasetFacts(synthetic: true, items: 25_000)
        r.evaluations["large"] = r.evaluations["d"]
        #expect(judge("inference-speed", r).verdict == .holds)
        for m in shippedRoles.cprec { r.evaluations["d"]![m]!.seedSpeedupsBatch1 = [1.0, 1.01, 0.99] }
        let mixed = judge("inference-speed", r)
        #expect(mixed.verdict == .inconclusive && mixed.scope.contains("contradicted in synthetic-small"))
        for m in shippedRoles.cprec { r.evaluations["large"]![m]!.seedSpeedupsBatch1 = [1.0, 1.01, 0.99] }
        #expect(judge("inference-speed", r).verdict == .doesNotHold)
    }

    @Test func scalingNeedsTwentyPercentBeyondNoise() {
        var r = results(shift: 0, cprecParams: 200_000)
        func point(_ d: Int, _ v: [Double]) -> SweepRecord {
            var rec = seededRecord("nextitnet", mrr5: v, params: d * 10)
            rec.dataset = "d"
            return SweepRecord(axis: "dim", value: d, model: "nextitnet", record: rec)
        }
        r.sweep = [point(64, [0.10, 0.11, 0.09]), point(512, [0.13, 0.143, 0.117])]
        #expect(judge("scaling-width", r).verdict == .holds)
        r.sweep[1] = point(512, [0.11, 0.121, 0.099])
        #expect(judge("scaling-width", r).verdict == .doesNotHold)
        r.sweep = []
        let none = judge("scaling-width", r)
        #expect(
            none.verdict == .notMeasurable
                && none.groups.contains { $0.detail.contains("Figure 1's grid has no dim = 64 and 512") })
    }

    @Test func transferNeedsMatchingAfterFinetuningAndAPretrainingGain() {
        func t(_ model: String, _ row: String, _ mrr: Double, seed: UInt64, params: Int) -> TransferRecord {
            TransferRecord(
                dataset: "c", datasetLabel: "C", model: model, label: model, pretrained: row != "scratch", mrr5: mrr,
                hr5: mrr,
                negatives: 99, testUsers: 10, backboneFrozen: false, seed: seed,
                params: ParamCounts(input: params, middle: 0, output: 0), row: row)
        }
        var r = ResultSet(roles: shippedRoles)
        r.facts["c"] = DatasetFacts(synthetic: true, items: 0)
        for (i, noise) in [0.0, 0.01, -0.01].enumerated() {
            let s = UInt64(i + 1)
            r.transfer += [
                t("nextitnet", "pretrained", 0.30 + noise, seed: s, params: 1000),
                t("cprec-cb", "pretrained", 0.30 + noise, seed: s, params: 300),
                t("nextitnet", "scratch", 0.20 + noise, seed: s, params: 1000)
            ]
        }
        #expect(judge("transfer", r).verdict == .holds)
        #expect(judge("transfer-pretraining", r).verdict == .holds)
        r.transfer = r.transfer.map {
            var x = $0; if x.rowKind == "scratch" { x.mrr5 += 0.1 }; return x
        }
        #expect(judge("transfer-pretraining", r).verdict != .holds)
    }

    @Test func claimsWithoutEvidenceAreNotMeasurable() {
        var empty = ResultSet(roles: shippedRoles)
        empty.datasets = [("d", "D")]
        empty.facts["d"] = DatasetFacts(synthetic: true, items: 2000)
        for claim in shippedClaims.claims {
            let o = judge(claim.id, empty)
            #expect(o.verdict == .notMeasurable, "\(claim.id)")
            #expect(o.groups.first { $0.group == "synthetic-small" }!.detail.hasPrefix("not measured on D"))
        }
    }

    /// A claim added only in claims.yaml reaches the report's tables: no Swift names it.
    @Test func aClaimAddedInTheSpecReachesTheReport() throws {
        let dir = try specsCopy(editing: "claims.yaml") {
            $0 + """

                  - id: extra-claim
                    source: a test
                    statement: "CpRec is at least twice as small."
                    quantity: {kind: params-ratio, part: total}
                    reference: nextitnet
                    compared: [cprec-cb]
                    test: {kind: threshold, above: 2}
                    aggregate: all

                """
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = try ClaimSpecFile.load(dir.appendingPathComponent("claims.yaml"))
        let outcomes = ClaimEngine.judge(spec, results(shift: 0, cprecParams: 200_000))
        let claims = ClaimReport.claims(outcomes, spec: spec, profile: "fixture")
        #expect(claims.last?.id == "extra-claim" && claims.last?.verdict == .holds)
        #expect(ClaimReport.grid(outcomes, spec: spec, provenance: Provenance()).markdown().contains("extra-claim"))
        #expect(ClaimReport.pairsCSV(outcomes).contains("extra-claim,d,synthetic-small,cprec-cb"))
    }

    @Test func aBadClaimSpecNamesFileLineAndKey() throws {
        let dir = try specsCopy(editing: "claims.yaml") {
            $0.replacingOccurrences(of: "quantity: {kind: io-share}", with: "quantity: {kind: io-shares}")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect {
            _ = try ClaimSpecFile.load(dir.appendingPathComponent("claims.yaml"))
        } throws: { error in
            let text = "\(error)"
            return text.contains("claims.yaml:") && text.contains("quantity.kind") && text.contains("io-share")
        }
    }
}
