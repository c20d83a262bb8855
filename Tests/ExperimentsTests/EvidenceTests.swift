import Testing
@testable import Experiments

/// The paired-difference rule and the learning guard on hand-computed fixtures.
@Suite struct EvidenceTests {
    @Test func summaryMatchesHandComputedValues() {
        let s = SampleSummary([1, 2, 3])
        #expect(s.mean == 2 && s.sd == 1)
        // t(0.975, 2) = 4.303: half-width 4.303 / √3.
        #expect(abs(s.halfWidth - 4.303 / 3.0.squareRoot()) < 1e-12)
        #expect(SampleSummary([5]).halfWidth == .infinity)
    }

    @Test func pairedRuleDecidesByTheIntervalOfDifferences() {
        // Differences 2, 3, 4: mean 3, sd 1, interval 3 ± 2.484 > 0.
        #expect(Evidence.compare([2, 3, 4], [0, 0, 0]).verdict == .better)
        // Differences 1, 2, 3: interval 2 ± 2.484 straddles 0.
        #expect(Evidence.compare([1, 2, 3], [0, 0, 0]).verdict == .tie)
        #expect(Evidence.compare([0, 0, 0], [2, 3, 4]).verdict == .worse)
        #expect(Evidence.compare([0.2], [0.1]).verdict == .undecided)
    }

    @Test func pairingRemovesSharedSeedNoise() {
        // Large seed-to-seed spread shared by both models; the paired gap is a constant 0.1.
        let a = [1.0, 5.0, 9.0], b = [0.9, 4.9, 8.9]
        #expect(Evidence.compare(a, b).verdict == .better)
        // Unpaired, the two means' intervals overlap completely.
        #expect(SampleSummary(a).lower < SampleSummary(b).upper)
    }

    @Test func marginIsNonInferiority() {
        // b's mean is 1.0, margin 5 %: the bound is −0.05.
        #expect(Evidence.withinMargin([0.99, 1.0, 1.01], [1, 1, 1], margin: 0.05).verdict == .within)
        #expect(Evidence.withinMargin([0.8, 0.81, 0.79], [1, 1, 1], margin: 0.05).verdict == .outside)
        #expect(Evidence.withinMargin([0.9, 1.0, 1.05], [1, 1, 1], margin: 0.05).verdict == .inconclusive)
    }

    @Test func learningGuard() {
        #expect(Evidence.learned([0.20, 0.21, 0.19], mostPop: 0.1))
        #expect(!Evidence.learned([0.105, 0.106, 0.104], mostPop: 0.1))  // below 1.1 × MostPop
        #expect(!Evidence.learned([0.30, 0.05, 0.12], mostPop: 0.1))  // mean clears it, the interval does not
        #expect(!Evidence.learned([.nan, 0.2, 0.2], mostPop: 0.1))
    }
}

/// A table's "mean ± sd over N seeds" names the rows that have more (the headline said "3 seeds" where every row
/// had 5).
@Suite struct SeedPhraseTests {
    @Test func namesTheCountOfTheRows() {
        #expect(ResultColumns.seedPhrase([("NextItNet", 5), ("CpRec-Cl", 5)], default: 3) == "5 seeds")
        #expect(ResultColumns.seedPhrase([], default: 3) == "3 seeds")
        #expect(ResultColumns.seedPhrase([("MostPop", 1)], default: 3) == "1 seed")
    }

    @Test func rowsWithOtherCountsAreNamedOnce() {
        let rows = [("GRU4Rec", 3), ("NextItNet", 5), ("Caser", 3), ("NextItNet", 5), ("SASRec", 3), ("X", 2)]
        #expect(
            ResultColumns.seedPhrase(rows.map { (label: $0.0, seeds: $0.1) }, default: 3)
                == "3 seeds (2 for X; 5 for NextItNet)")
    }
}
