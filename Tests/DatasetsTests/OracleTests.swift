import Foundation
import Testing
@testable import Datasets

/// The synthetic oracle's expected metrics against a Monte-Carlo estimate: the realised hits of its own
/// ranking on targets drawn by the generator.
@Suite struct OracleTests {
    /// Every user's whole history as one left-padded row (the case where the oracle's posterior is exact).
    func rows(_ data: SyntheticData, length: Int) -> [Int32] {
        var out: [Int32] = []
        for s in data.sequences {
            out.append(0)
            out += s.prefix(length - 1).map { Int32($0) }
        }
        return out
    }

    @Test func expectedMetricsMatchMonteCarlo() throws {
        var spec = SyntheticSpec(
            users: 6000, items: 150, zipfExponent: 1.0, minLength: 8, meanLength: 8, maxLength: 8,
            successors: 3, followProbability: 0.5, clusters: 4, clusterAffinity: 0.6, seed: 5)
        spec.successorBias = 0.5
        let data = try SyntheticGenerator.generate(spec)
        let tokens = ["<pad>"] + (1...spec.items).map(String.init)
        let length = 9
        let matrix = rows(data, length: length)
        let expected = SyntheticOracle.evaluate(spec: spec, data: data, tokens: tokens, rows: matrix, length: length)
        #expect(expected.rows == spec.users)

        // Realised: rank each actual target in the oracle's own distribution (ties against the target).
        let law = SyntheticOracle.Law(spec: spec, data: data)
        let tokenOf = SyntheticOracle.tokenMap(tokens)
        var hits5 = 0.0, rr5 = 0.0, hits20 = 0.0
        for r in 0..<spec.users {
            let row = matrix[(r * length)..<((r + 1) * length)]
            let probs = try #require(law.distribution(row: row, tokenOf: tokenOf))
            let target = Int(row.last!)
            let rank = (1..<probs.count).filter { $0 != target && probs[$0] >= probs[target] }.count
            if rank < 5 { hits5 += 1; rr5 += 1 / Double(rank + 1) }
            if rank < 20 { hits20 += 1 }
        }
        let n = Double(spec.users)
        for (realised, exp) in [(hits5 / n, expected.hr5), (rr5 / n, expected.mrr5), (hits20 / n, expected.hr20)] {
            let se = (exp * (1 - exp) / n).squareRoot()
            #expect(abs(realised - exp) < 4 * se, "realised \(realised) vs expected \(exp) (SE \(se))")
        }
        // A ceiling worth the name: well above popularity, below certainty.
        #expect(expected.hr5 > 0.4 && expected.hr5 < 0.95)
    }

    @Test func filteredItemsAreDroppedAndTheRestRenormalised() throws {
        let spec = SyntheticSpec(users: 50, items: 30, minLength: 6, meanLength: 6, maxLength: 6, clusters: 2, seed: 2)
        let data = try SyntheticGenerator.generate(spec)
        // Prepared vocabulary with only the even tokens kept.
        let kept = (1...spec.items).filter { $0 % 2 == 0 }
        let tokens = ["<pad>"] + kept.map(String.init)
        let law = SyntheticOracle.Law(spec: spec, data: data)
        let row: ArraySlice<Int32> = [0, 1, 2, 3][...]
        let probs = try #require(law.distribution(row: row, tokenOf: SyntheticOracle.tokenMap(tokens)))
        #expect(probs.count == tokens.count && probs[0] == 0)
        #expect(abs(probs.reduce(0, +) - 1) < 1e-9)
    }
}
