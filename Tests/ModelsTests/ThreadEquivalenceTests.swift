import Foundation
import Kernels
import Testing
@testable import Models

/// Gradients at 4 engine threads against 1 thread, on a batch large enough for every split (GEMM rows, columns and
/// K; layer-norm slabs), with the default layer-norm epsilon and padded sequences.
///
/// The engine's thread count is process-wide and other suites run concurrently in this process, so the
/// comparison runs in a child process of this test binary that executes only the probe below.
@Suite struct ThreadEquivalenceTests {
    static let probeVariable = "CPREC_THREAD_PROBE"

    /// One model's gradients after one training step at `threads` engine threads.
    static func gradients(_ name: String, threads: Int) -> [Float] {
        Kernels.setThreads(threads)
        var c = NextItNetTests.config(name, dim: 64, dilations: [1, 4, 1, 4])
        c.blocks = [300, 900, 2000]
        c.maskPadding = true
        #expect(c.layerNormEps == ModelConfig(kind: .nextitnet).layerNormEps)
        let m = NextItNet(config: c, itemCount: 2000, seed: 21)
        var r = Rng(seed: 22)
        var ids = [Int32]()
        for _ in 0..<192 {
            let pad = r.int(below: 12)
            for t in 0..<20 { ids.append(t < pad ? 0 : Int32(1 + r.int(below: 1999))) }
        }
        m.parameters.zeroGrads()
        _ = m.trainStep(SequenceBatch(ids: ids, batchSize: 192, length: 20))
        return Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
    }

    /// Runs in the child only (the variable is set): compares and exits non-zero on a mismatch.
    @Test func probe() throws {
        guard ProcessInfo.processInfo.environment[Self.probeVariable] == "1" else { return }
        for name in ["NextItNet", "CpRec-Cb"] {
            let one = Self.gradients(name, threads: 1), four = Self.gradients(name, threads: 4)
            var worst = 0.0
            for (a, b) in zip(one, four) { worst = max(worst, Double(abs(a - b)) / (1e-6 + Double(abs(a)))) }
            let scale = one.map { abs($0) }.max() ?? 0
            print("thread-probe \(name): \(one.count) gradients, worst relative difference \(worst), max |g| \(scale)")
            #expect(one.count == four.count && scale > 0)
            // Summation order differs between 1 and 4 threads (split reductions), so rounding may; nothing else.
            #expect(zip(one, four).allSatisfy { abs($0 - $1) <= 1e-4 * scale + 1e-3 * abs($0) }, "\(name): worst \(worst)")
        }
    }

    @Test func fourThreadsGiveTheOneThreadGradients() throws {
        guard ProcessInfo.processInfo.environment[Self.probeVariable] == nil else { return }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let child = Process()
        child.executableURL = me
        child.arguments = ["--testing-library", "swift-testing", "--filter", "ThreadEquivalenceTests/probe"]
        var env = ProcessInfo.processInfo.environment
        env[Self.probeVariable] = "1"
        child.environment = env
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("thread-probe-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let handle = try FileHandle(forWritingTo: out)
        child.standardOutput = handle
        child.standardError = handle
        try child.run()
        child.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        #expect(child.terminationStatus == 0, "probe failed:\n\(text.suffix(2000))")
        #expect(text.contains("thread-probe NextItNet") && text.contains("thread-probe CpRec-Cb"), "probe did not run:\n\(text.suffix(2000))")
    }
}
