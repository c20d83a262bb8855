import Foundation
import Reports
import Testing
@testable import Experiments

/// Another profile's committed pairs join this profile's claims: the default report judges real data too.
@Suite struct CompanionPairsTests {
    func fixture(cprecParams: Int) -> ResultSet {
        var r = ResultSet(roles: shippedRoles)
        r.profile = "fixture"
        r.datasets = [("d", "D")]
        r.facts["d"] = DatasetFacts(synthetic: true, items: 2000)
        r.evaluations["d"] = ["nextitnet": seededRecord("nextitnet", mrr5: [0.1, 0.104, 0.096], params: 1_000_000)]
        for m in shippedRoles.cprec {
            r.evaluations["d"]![m] = seededRecord(
                m, mrr5: [0.1, 0.104, 0.096], params: cprecParams, secondsPerEpoch: 4, speedup: 4)
        }
        return r
    }

    @Test func csvReaderReadsBackWhatEscapeWrites() throws {
        let fields = ["plain", "a, comma", "a \"quote\"", "two\nlines", ""]
        let text = fields.map(Escape.csv).joined(separator: ",") + "\n" + "x,y,z,w,v\n"
        let rows = try CSVReader.rows(text, file: "t.csv")
        #expect(rows == [fields, ["x", "y", "z", "w", "v"]])
        #expect(try CSVReader.rows("a,b,\n", file: "t.csv") == [["a", "b", ""]])
        #expect(throws: CSVReader.Malformed.self) { try CSVReader.rows("a,\"open\n", file: "t.csv") }
        #expect { try CSVReader.records("a,b\n1\n", file: "t.csv") } throws: { "\($0)".contains("t.csv:2") }
    }

    @Test func pairsSurviveTheirOwnCSV() throws {
        let outcomes = ClaimEngine.judge(shippedClaims, fixture(cprecParams: 200_000))
        let written = outcomes.flatMap(\.pairs)
        let read = try ClaimReport.pairs(fromCSV: ClaimReport.pairsCSV(outcomes), file: "p.csv", profile: "other")
        #expect(read.count == written.count && !read.isEmpty)
        for (a, b) in zip(written, read) {
            #expect(a.claim == b.claim && a.dataset == b.dataset && a.group == b.group && a.compared == b.compared)
            #expect(a.pSupport == b.pSupport && a.pContradict == b.pContradict && a.estimate == b.estimate)
            #expect(a.seedInterval == b.seedInterval && a.note == b.note)
        }
        #expect(read.allSatisfy { $0.datasetLabel.hasSuffix("[other]") })
    }

    /// Compression holds on the fixture's small synthetic dataset; a real paper's-regime pair that contradicts it
    /// (from a companion) decides the overall verdict, as the declared overall rule says.
    @Test func aCompanionsRegimePairDecidesTheOverallVerdict() throws {
        let r = fixture(cprecParams: 200_000)
        #expect(ClaimEngine.judge(shippedClaims, r).first { $0.spec.id == "compression" }?.verdict == .holds)
        let real = ClaimPair(
            claim: "compression", dataset: "amazon-video", datasetLabel: "amazon-video [amazon-video]",
            group: "real-regime", compared: "CpRec-Cb", reference: "NextItNet", estimate: 2.0,
            seedInterval: nil, bootstrapInterval: nil, decidedBy: "exact", bound: 4, seeds: 1,
            pSupport: 1, pContradict: 0, note: "")
        let o = try #require(ClaimEngine.judge(shippedClaims, r, joining: [real]).first { $0.spec.id == "compression" })
        #expect(o.verdict == .doesNotHold && o.scope == "paper's regime")
        #expect(o.groups.first { $0.group == "real-regime" }?.verdict == .doesNotHold)
        #expect(o.pairs.contains { $0.dataset == "amazon-video" })
    }

    /// Joined pairs enter the claim's Holm family: more pairs, larger adjusted p-values for this profile's own.
    @Test func joinedPairsWidenTheHolmFamily() throws {
        let r = fixture(cprecParams: 200_000)
        let alone = try #require(ClaimEngine.judge(shippedClaims, r).first { $0.spec.id == "accuracy-matches" })
        var extra = try #require(alone.pairs.first)
        extra.dataset = "elsewhere"; extra.group = "real-small"; extra.pSupport = 0.5; extra.pContradict = 0.5
        let joined = try #require(
            ClaimEngine.judge(shippedClaims, r, joining: [extra]).first { $0.spec.id == "accuracy-matches" })
        #expect(joined.pairs.count == alone.pairs.count + 1)
        let before = alone.pairs.map(\.adjustedSupport).max()!,
            after = joined.pairs.filter { $0.dataset == "d" }.map(\.adjustedSupport).max()!
        #expect(after >= before)
        #expect(joined.groups.first { $0.group == "real-small" }?.verdict != .notMeasurable)
    }
}
