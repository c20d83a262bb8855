import Foundation
import Reports
import Testing
@testable import Experiments

/// Verdicts computed from hand-made results: one claim that holds, one that fails, one not measurable.
@Suite struct ClaimTests {
    func record(_ model: String, mrr5: Double, params: Int, secondsPerEpoch: Double = 10, full: Double = 1, fast: Double = 1,
                speedup: Double? = nil, middle: Int = 100, io: Int? = nil) -> EvaluationRecord {
        let inOut = io ?? (params - middle)
        return EvaluationRecord(dataset: "d", model: model, label: model, metrics: ["MRR@5": mrr5, "HR@5": mrr5 * 2],
                                params: ParamCounts(input: inOut / 2, middle: middle, output: inOut - inOut / 2),
                                secondsToBest: secondsPerEpoch * 3, secondsTotal: secondsPerEpoch * 5, bestEpoch: 3,
                                epochsTrained: 5, selection: "validation", inferenceFullSeconds: full, inferenceFastSeconds: fast, speedup: speedup,
                                testSequences: 10, inferenceBatch: 8, threads: 1)
    }

    func results(cprecMRR: Double, cprecParams: Int) -> ResultSet {
        var r = ResultSet()
        r.profile = "fixture"
        r.datasets = [("d", "D")]
        r.evaluations["d"] = ["nextitnet": record("nextitnet", mrr5: 0.10, params: 1_000_000, secondsPerEpoch: 10, full: 2, fast: 2)]
        for m in ClaimChecks.cprec {
            r.evaluations["d"]![m] = record(m, mrr5: cprecMRR, params: cprecParams, secondsPerEpoch: 4, full: 1.5, fast: 0.5, speedup: 4)
        }
        return r
    }

    @Test func compressionHoldsAtFiveTimesAndFailsAtTwo() {
        let holds = ClaimChecks.compression(results(cprecMRR: 0.1, cprecParams: 200_000))
        #expect(holds.1 == .holds)
        #expect(holds.0.contains("5.0×"))
        #expect(ClaimChecks.compression(results(cprecMRR: 0.1, cprecParams: 500_000)).1 == .doesNotHold)
    }

    @Test func accuracyCountsWinsAgainstTheUncompressedModel() {
        #expect(ClaimChecks.accuracy(results(cprecMRR: 0.11, cprecParams: 200_000)).1 == .holds)
        let fails = ClaimChecks.accuracy(results(cprecMRR: 0.09, cprecParams: 200_000))
        #expect(fails.1 == .doesNotHold)
        #expect(fails.0.contains("0 of 4"))
    }

    @Test func speedComparesPerEpochAndInferenceTime() {
        let r = ClaimChecks.speed(results(cprecMRR: 0.1, cprecParams: 200_000))
        #expect(r.1 == .holds)
        #expect(r.0.contains("training 2.50×"))
        #expect(r.0.contains("inference 4.00×"))
    }

    @Test func inferenceWithinTimingNoiseIsNotFaster() {
        var r = results(cprecMRR: 0.1, cprecParams: 200_000)
        for m in ClaimChecks.cprec { r.evaluations["d"]![m]!.speedup = 1.03 }
        let verdict = ClaimChecks.speed(r)
        #expect(verdict.1 == .doesNotHold)
        #expect(verdict.0.contains("in inference: 0 of 4"))
    }

    @Test func claimsWithoutEvidenceAreNotMeasurable() {
        let empty = ResultSet()
        #expect(ClaimChecks.compression(empty).1 == .notMeasurable)
        #expect(ClaimChecks.scaling(empty).1 == .notMeasurable)
        #expect(ClaimChecks.transfer(empty).1 == .notMeasurable)
        #expect(ClaimChecks.sharing(empty).1 == .notMeasurable)
    }

    @Test func scalingNeedsTwentyPercentGain() {
        var r = ResultSet()
        r.dimSweep = [(64, record("nextitnet", mrr5: 0.10, params: 100)), (512, record("nextitnet", mrr5: 0.125, params: 300))]
        let holds = ClaimChecks.scaling(r)
        #expect(holds.1 == .holds)
        #expect(holds.0.contains("25.0 %"))
        r.dimSweep[1] = (512, record("nextitnet", mrr5: 0.11, params: 300))
        #expect(ClaimChecks.scaling(r).1 == .doesNotHold)
    }

    @Test func everyClaimOfTheSpecGetsARow() throws {
        let paper = try PaperValues.load(repositorySpecs.appendingPathComponent("paper-values.yaml"))
        let claims = ClaimChecks.all(results(cprecMRR: 0.11, cprecParams: 200_000), statements: paper.claims)
        #expect(claims.map(\.id) == paper.claims.map(\.id))
        #expect(claims.allSatisfy { !$0.statement.isEmpty && !$0.evidence.isEmpty })
    }
}
