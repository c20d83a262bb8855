import Foundation
import Reports
import Testing
@testable import Experiments

/// The roles of the shipped experiments.yaml: the fixtures below name its models.
let shippedRoles = try! SpecBundle.load(repositorySpecs).roles

/// A record merged from one run per value of `mrr5` (seeds 1, 2, …).
func seededRecord(_ model: String, mrr5: [Double], params: Int, secondsPerEpoch: Double = 10, speedup: Double? = nil,
                  middle: Int = 100, io: Int? = nil) -> EvaluationRecord {
    let inOut = io ?? (params - middle)
    return EvaluationRecord.merging(mrr5.enumerated().map { i, v in
        var r = EvaluationRecord(dataset: "d", model: model, label: model, metrics: ["MRR@5": v, "HR@5": v * 2],
                                 params: ParamCounts(input: inOut / 2, middle: middle, output: inOut - inOut / 2),
                                 secondsToBest: secondsPerEpoch * 3, secondsTotal: secondsPerEpoch * 5, bestEpoch: 3,
                                 epochsTrained: 5, selection: "validation", inferenceFullSeconds: 1, inferenceFastSeconds: 1,
                                 speedup: speedup, testSequences: 10, inferenceBatch: 8, threads: 1)
        r.seeds = [UInt64(i + 1)]
        r.speedupBatch1 = speedup
        return r
    })
}

/// Verdicts computed from hand-made results over three seeds: claims that hold, fail, are inconclusive or not measurable.
@Suite struct ClaimTests {
    static let base = [0.100, 0.104, 0.096]

    func record(_ model: String, mrr5: Double, params: Int, secondsPerEpoch: Double = 10, speedup: Double? = nil,
                middle: Int = 100, io: Int? = nil) -> EvaluationRecord {
        seededRecord(model, mrr5: [mrr5], params: params, secondsPerEpoch: secondsPerEpoch, speedup: speedup, middle: middle, io: io)
    }

    /// NextItNet at `base`; every CpRec variant at `base` shifted by `shift` (paired: the same seed noise).
    func results(shift: Double, cprecParams: Int, noise: [Double] = [0, 0, 0]) -> ResultSet {
        var r = ResultSet(roles: shippedRoles)
        r.profile = "fixture"
        r.datasets = [("d", "D")]
        r.evaluations["d"] = ["nextitnet": seededRecord("nextitnet", mrr5: Self.base, params: 1_000_000, secondsPerEpoch: 10),
                              "mostpop": seededRecord("mostpop", mrr5: [0.02, 0.02, 0.02], params: 0, middle: 0)]
        for m in shippedRoles.cprec {
            r.evaluations["d"]![m] = seededRecord(m, mrr5: zip(Self.base, noise).map { $0 + shift + $1 }, params: cprecParams,
                                                  secondsPerEpoch: 4, speedup: 4)
        }
        return r
    }

    func results(cprecMRR: Double, cprecParams: Int) -> ResultSet {
        results(shift: cprecMRR - 0.10, cprecParams: cprecParams)
    }

    @Test func compressionHoldsAtFiveTimesAndFailsAtTwo() {
        let holds = ClaimChecks.compression(results(cprecMRR: 0.1, cprecParams: 200_000))
        #expect(holds.1 == .holds)
        #expect(holds.0.contains("5.0×"))
        #expect(ClaimChecks.compression(results(cprecMRR: 0.1, cprecParams: 500_000)).1 == .doesNotHold)
    }

    @Test func accuracyUsesThePairedRule() {
        #expect(ClaimChecks.accuracy(results(cprecMRR: 0.11, cprecParams: 200_000)).1 == .holds)
        let fails = ClaimChecks.accuracy(results(cprecMRR: 0.09, cprecParams: 200_000))
        #expect(fails.1 == .doesNotHold)
        #expect(fails.0.contains("Better or tied in 0 of 4"))
        // A 0.01 gap buried in seed noise of ±0.02 is a tie, and a tie counts as "CpRec ≥ NextItNet".
        let noisy = ClaimChecks.accuracy(results(shift: -0.01, cprecParams: 200_000, noise: [0.02, -0.02, 0.0]))
        #expect(noisy.1 == .holds)
        #expect(noisy.0.contains(": tie"))
    }

    @Test func oneSeedGivesNoAccuracyVerdict() {
        var r = ResultSet(roles: shippedRoles)
        r.datasets = [("d", "D")]
        r.evaluations["d"] = ["nextitnet": record("nextitnet", mrr5: 0.1, params: 1_000)]
        for m in shippedRoles.cprec { r.evaluations["d"]![m] = record(m, mrr5: 0.2, params: 100) }
        #expect(ClaimChecks.accuracy(r).1 == .inconclusive)
    }

    @Test func modelsThatDidNotLearnAreLeftOut() {
        var r = results(cprecMRR: 0.11, cprecParams: 200_000)
        r.evaluations["d"]!["mostpop"] = seededRecord("mostpop", mrr5: [0.2, 0.2, 0.2], params: 0, middle: 0)
        let verdict = ClaimChecks.accuracy(r)
        #expect(verdict.1 == .notMeasurable)
        #expect(verdict.0.contains("did not learn"))
        #expect(!r.learned("d", "nextitnet") && r.learned("d", "mostpop"))
    }

    @Test func sharingNamesAWinnerOnlyWhenSeparated() {
        var r = results(cprecMRR: 0.1, cprecParams: 200_000)
        for (i, m) in shippedRoles.sharing.enumerated() {
            r.evaluations["d"]![m] = seededRecord(m, mrr5: Self.base.map { $0 + 0.001 * Double(i) }, params: 900_000)
        }
        // Constant paired gaps of 0.001: the top scheme is better than each other one.
        #expect(ClaimChecks.sharing(r).0.contains("winner ab-nextitnet"))
        r.evaluations["d"]!["al-nextitnet"] = seededRecord("al-nextitnet", mrr5: [0.106, 0.098, 0.103], params: 900_000)
        let unclear = ClaimChecks.sharing(r)
        #expect(unclear.0.contains("no clear winner"))
        #expect(unclear.1 == .holds)
    }

    @Test func transferWithoutAPretrainingGainHasNoVerdict() {
        func t(_ model: String, _ pretrained: Bool, _ mrr: Double, seed: UInt64, params: Int) -> TransferRecord {
            TransferRecord(dataset: "c", datasetLabel: "C", model: model, label: model, pretrained: pretrained, mrr5: mrr, hr5: mrr,
                           negatives: 99, testUsers: 10, backboneFrozen: false, seed: seed,
                           params: ParamCounts(input: params, middle: 0, output: 0))
        }
        var r = ResultSet(roles: shippedRoles)
        for (i, noise) in [0.0, 0.01, -0.01].enumerated() {
            let s = UInt64(i + 1)
            r.transfer += [t("nextitnet", true, 0.30 + noise, seed: s, params: 1000), t("cprec-cb", true, 0.30 + noise, seed: s, params: 300),
                           t("nextitnet", false, 0.20 + noise, seed: s, params: 1000)]
        }
        #expect(ClaimChecks.transfer(r).1 == .holds)
        r.transfer = r.transfer.map { var x = $0; if !x.pretrained { x.mrr5 += 0.1 }; return x }
        let vacuous = ClaimChecks.transfer(r)
        #expect(vacuous.1 == .notMeasurable)
        #expect(vacuous.0.contains("does not measurably help"))
    }

    @Test func speedComparesPerEpochAndInferenceTime() {
        let r = ClaimChecks.speed(results(cprecMRR: 0.1, cprecParams: 200_000))
        #expect(r.1 == .holds)
        #expect(r.0.contains("training 2.50 ± 0.00×"))
        #expect(r.0.contains("inference 4.00 ± 0.00×"))
    }

    @Test func inferenceWithinTimingNoiseIsNotFaster() {
        var r = results(cprecMRR: 0.1, cprecParams: 200_000)
        for m in shippedRoles.cprec { r.evaluations["d"]![m]!.seedSpeedupsBatch1 = [1.03, 1.02, 1.04] }
        let verdict = ClaimChecks.speed(r)
        #expect(verdict.1 == .doesNotHold)
        #expect(verdict.0.contains("in inference: 0 of 4"))
    }

    @Test func claimsWithoutEvidenceAreNotMeasurable() {
        let empty = ResultSet(roles: shippedRoles)
        #expect(ClaimChecks.compression(empty).1 == .notMeasurable)
        #expect(ClaimChecks.scaling(empty).1 == .notMeasurable)
        #expect(ClaimChecks.transfer(empty).1 == .notMeasurable)
        #expect(ClaimChecks.sharing(empty).1 == .notMeasurable)
    }

    @Test func scalingNeedsTwentyPercentGainBeyondNoise() {
        var r = ResultSet(roles: shippedRoles)
        r.dimSweep = [(64, seededRecord("nextitnet", mrr5: [0.10, 0.11, 0.09], params: 100)),
                      (512, seededRecord("nextitnet", mrr5: [0.13, 0.143, 0.117], params: 300))]
        let holds = ClaimChecks.scaling(r)
        #expect(holds.1 == .holds)
        #expect(holds.0.contains("30.0 %"))
        r.dimSweep[1] = (512, seededRecord("nextitnet", mrr5: [0.11, 0.121, 0.099], params: 300))
        #expect(ClaimChecks.scaling(r).1 == .doesNotHold)
        r.dimSweep[1] = (512, seededRecord("nextitnet", mrr5: [0.14, 0.12, 0.105], params: 300))
        #expect(ClaimChecks.scaling(r).1 == .inconclusive)
        // With d = 64 and 512 in a wider sweep, the paper's pair is compared, not the sweep's ends.
        r.dimSweep = [(16, seededRecord("nextitnet", mrr5: [0.05, 0.05, 0.05], params: 10)),
                      (64, seededRecord("nextitnet", mrr5: [0.10, 0.11, 0.09], params: 100)),
                      (512, seededRecord("nextitnet", mrr5: [0.11, 0.121, 0.099], params: 300))]
        #expect(ClaimChecks.scaling(r).1 == .doesNotHold)
        #expect(ClaimChecks.scaling(r).0.contains("at d = 64 →"))
    }

    @Test func everyClaimOfTheSpecGetsARow() throws {
        let paper = try PaperValues.load(repositorySpecs.appendingPathComponent("paper-values.yaml"))
        let claims = ClaimChecks.all(results(cprecMRR: 0.11, cprecParams: 200_000), statements: paper.claims)
        #expect(claims.map(\.id) == paper.claims.map(\.id))
        #expect(claims.allSatisfy { !$0.statement.isEmpty && !$0.evidence.isEmpty })
    }

    /// SASRec at `base`; the CpRec-SASRec variants shifted by `shift` with `params` parameters.
    func sasrecResults(shift: Double, params: Int) -> ResultSet {
        var r = results(cprecMRR: 0.1, cprecParams: 200_000)
        r.evaluations["d"]!["sasrec"] = seededRecord("sasrec", mrr5: Self.base, params: 1_000_000)
        for m in shippedRoles.selfAttention!.cprec {
            r.evaluations["d"]![m] = seededRecord(m, mrr5: Self.base.map { $0 + shift }, params: params)
        }
        return r
    }

    @Test func selfAttentionNeedsNonInferiorityAndCompression() {
        let holds = ClaimChecks.selfAttention(sasrecResults(shift: -0.001, params: 300_000))
        #expect(holds.1 == .holds, "\(holds.0)")
        #expect(holds.0.contains("3 within, 0 outside of 3"))
        // 8 % below SASRec: outside the 5 % margin.
        #expect(ClaimChecks.selfAttention(sasrecResults(shift: -0.008, params: 300_000)).1 == .doesNotHold)
        // As accurate but not smaller: no compression, so it does not support the claim.
        #expect(ClaimChecks.selfAttention(sasrecResults(shift: 0, params: 1_000_000)).1 == .doesNotHold)
        // Without SASRec runs (a profile without Table 7) there is nothing to judge.
        #expect(ClaimChecks.selfAttention(results(cprecMRR: 0.1, cprecParams: 200_000)).1 == .notMeasurable)
        // A SASRec that did not learn leaves every pair out.
        var r = sasrecResults(shift: 0, params: 300_000)
        r.evaluations["d"]!["sasrec"] = seededRecord("sasrec", mrr5: [0.02, 0.021, 0.019], params: 1_000_000)
        #expect(ClaimChecks.selfAttention(r).1 == .notMeasurable)
    }
}
