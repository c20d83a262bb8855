import Foundation
import Testing
@testable import Benchmarks
@testable import Models

/// `pipeline bench --json` is an interface scripts depend on: its keys and their meaning are tested on a tiny case
/// (the speed itself is measured by the command, never asserted here).
@Suite struct BenchTests {
    @Test func tinyCaseReportsEveryInterfaceKey() throws {
        var o = BenchOptions(name: "tiny", dim: 16, items: 60)
        o.depth = 1
        o.batch = 8
        o.threads = 1
        o.warmup = 1
        o.steps = 3
        o.sgemmRows = 64
        var lines = [String]()
        let r = BenchEngine.run(o) { lines.append($0) }
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any]
        let keys = [
            "case", "tokens_per_s", "gemm_share", "peak_rss_mib", "sgemm_gflops", "mfu", "threads",
            "seconds_per_epoch", "s_per_1m_tokens"
        ]
        for k in keys { #expect(json?[k] != nil, "missing key \(k)") }
        #expect(r.case == "tiny" && r.threads == 1 && r.steps == 3)
        #expect(r.tokens_per_s > 0 && r.tokens_per_s.isFinite)
        #expect(abs(r.s_per_1m_tokens * r.tokens_per_s - 1e6) < 1)
        #expect(r.gemm_share > 0 && r.gemm_share <= 1)
        #expect(r.mfu > 0 && r.mfu.isFinite && r.sgemm_gflops > 0 && r.peak_rss_mib > 0)
        // FLOPs per step from the GEMMs actually issued: 3 products (forward, two backward) per conv layer...
        // at least the 2 conv layers' 3 GEMMs of 2·N·3d·d FLOPs each.
        let N = Double(o.batch * (o.length - 1))
        #expect(r.gflop_per_step * 1e9 >= 2 * 3 * 2 * N * 3 * 16 * 16)
        #expect(lines.contains { $0.contains("gemm ") }, "the per-shape GEMM breakdown is printed")
    }

    @Test func sasrecCaseIsTheIssuesShapeAndReportsTheSameKeys() throws {
        let s = try #require(BenchOptions.preset("s"))
        #expect(
            s.kind == .sasrec && s.dim == 64 && s.depth == 2 && s.heads == 1 && s.length == 20 && s.batch == 256
                && s.items == 1682)
        var o = s
        o.dim = 16
        o.items = 60
        o.batch = 8
        o.threads = 1
        o.warmup = 1
        o.steps = 2
        o.sgemmRows = 64
        let r = BenchEngine.run(o) { _ in }
        let plain = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as? [String: Any]
        var n = BenchOptions(name: "tiny", dim: 16, items: 60)
        n.depth = 1; n.batch = 8; n.threads = 1; n.warmup = 1; n.steps = 1; n.sgemmRows = 64
        let reference =
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(BenchEngine.run(n) { _ in })) as? [String: Any]
        #expect(Set(plain?.keys ?? [:].keys) == Set(reference?.keys ?? [:].keys))
        #expect(r.case == "s" && r.tokens_per_s > 0 && r.depth == 2)
        // SASRec's layout, not NextItNet's: (d 16, 2 blocks, 50 positions, K 60) by the closed form.
        let cf = SASRec.closedFormParameterCounts(config: o.modelConfig, itemCount: 60)
        #expect(r.parameters == cf.input + cf.middle + cf.output)
    }
}
