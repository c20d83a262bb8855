import Foundation
import Pipeline
import Testing
@testable import Experiments

/// Inference is timed only where a table column or a claim reads it: the timing needs the machine to itself, so
/// timing the ablations, Figure 1's sweep, the untuned twins or Table 6's pre-training buys wall time for nothing.
@Suite struct TimingPlanTests {
    private func graph(_ dir: URL = repositorySpecs) throws -> [String: any Stage] {
        let stages = try Paper.graph(ExperimentOptions(profile: "smoke", specDirectory: dir, outputRoot: dir))
        return Dictionary(uniqueKeysWithValues: stages.map { ($0.id.raw, $0) })
    }

    private func key(_ s: any Stage, _ name: String) -> JSONValue? {
        guard case .object(let p) = s.parameters else { return nil }
        return p[name]
    }

    private func evaluate(_ g: [String: any Stage], _ id: String) throws -> EvaluateStage {
        try #require(g[id] as? EvaluateStage, "\(id)")
    }

    @Test func onlyWhatATableOrClaimReadsIsTimed() throws {
        let g = try graph()
        // Table 2 shows Speedup and Speedup(b1), Table 7 Speedup(b1): their rows are timed against the reference.
        let cprec = try evaluate(g, "evaluate/weishi-smoke/cprec-cb/seed10")
        #expect(cprec.timed && cprec.baseline?.name == "nextitnet")
        #expect(cprec.inputs.contains("train/weishi-smoke/nextitnet/seed10"))
        #expect(try evaluate(g, "evaluate/weishi-smoke/cprec-sasrec-cb/seed10").timed)
        // Table 3's ablation, Figure 1's sweep and Table 6's pre-training runs are not, and do not wait for the
        // reference's training; their key says so.
        for id in [
            "evaluate/weishi-smoke/bi-nextitnet/seed10", "evaluate/mllatest-smoke/nextitnet-d8/seed10",
            "evaluate/coldrec-smoke/cprec-cb/seed10",
        ] {
            let e = try evaluate(g, id)
            #expect(!e.timed && e.baseline == nil, "\(id)")
            #expect(!e.inputs.contains { $0.raw.hasPrefix("train/") && $0.raw.contains("/nextitnet/") }, "\(id)")
            #expect(key(e, "timed") == .bool(false), "\(id)")
        }
        // A timed stage's key has no `timed` entry: adding the plan left every timed stage's key where it was.
        #expect(key(cprec, "timed") == nil)
    }

    @Test func aSpeedColumnIsASpecEditAway() throws {
        let dir = try specsCopy(editing: "experiments.yaml") {
            $0.replacingOccurrences(
                of: "    columns: [MRR@5, HR@5, TT, Params(io)]",
                with: "    columns: [MRR@5, HR@5, TT, Params(io), Speedup(b1)]")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        let bi = try evaluate(try graph(dir), "evaluate/weishi-smoke/bi-nextitnet/seed10")
        #expect(bi.timed && bi.baseline?.name == "nextitnet")
    }
}
