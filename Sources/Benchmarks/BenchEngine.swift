import Dispatch
import Foundation
import Kernels
import Models
import NeuralNet

/// One `pipeline bench` case: a fixed NextItNet (or SASRec) trained for a fixed number of steps on synthetic data.
public struct BenchOptions: Sendable {
    public var name: String
    /// nextitnet or sasrec.
    public var kind: ModelConfig.Kind = .nextitnet
    public var dim: Int
    /// Residual blocks (dilations cycle 1, 4 → conv layers 1, 2, 4, 8, …); SASRec: transformer blocks.
    public var depth: Int = 4
    /// SASRec's attention heads.
    public var heads: Int = 1
    public var batch: Int = 256
    /// Sequence length t; a token is one predicted position (t − 1 per sequence).
    public var length: Int = 20
    public var items: Int
    public var blockwise: Bool = false
    /// Block bounds for block-wise cases (last is replaced by `items`).
    public var blocks: [Int] = []
    public var blockFactor: Int = 4
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    public var warmup: Int = 3
    public var steps: Int = 10
    /// Rows m of the m×1024×1024 sgemm rate measurement (the per-step probes use half).
    public var sgemmRows: Int = 2048
    /// Epoch size the seconds-per-epoch estimate is stated for (tokens).
    public var epochTokens: Int = 1_000_000

    /// The cases: (a) d 64, 1,682 items; (b) d 256, 20,000 items, full softmax; (c) (b) block-wise;
    /// (s) SASRec, d 64, 2 blocks, 1 head, 1,682 items.
    public static func preset(_ name: String) -> BenchOptions? {
        switch name {
        case "s": return BenchOptions(name: "s", kind: .sasrec, dim: 64, depth: 2, items: 1682)
        case "a": return BenchOptions(name: "a", dim: 64, items: 1682)
        case "b": return BenchOptions(name: "b", dim: 256, items: 20_000)
        case "c":
            return BenchOptions(name: "c", dim: 256, items: 20_000, blockwise: true, blocks: [2000, 8000, 20_000])
        default: return nil
        }
    }

    public var modelConfig: ModelConfig {
        var c = ModelConfig(kind: kind)
        c.dim = dim
        if kind == .sasrec {
            c.depth = depth
            c.heads = heads
        } else {
            c.dilations = (0..<depth).map { $0 % 2 == 0 ? 1 : 4 }
        }
        if blockwise {
            c.input = .blockwise
            c.output = .blockwise
            var b = blocks.filter { $0 < items }
            b.append(items)
            c.blocks = b
            c.blockFactor = blockFactor
        }
        return c
    }
}

/// What `pipeline bench --json` prints (snake_case keys are the scripts' interface).
public struct BenchResult: Codable, Sendable {
    public var `case`: String
    public var tokens_per_s: Double
    public var s_per_1m_tokens: Double
    public var seconds_per_epoch: Double
    public var epoch_tokens: Int
    /// Share of measured step time spent inside BLAS.gemm.
    public var gemm_share: Double
    public var peak_rss_mib: Double
    /// sgemm rate of this machine measured in the same run, same thread count: the median of one probe
    /// product after each measured step (a shared VM's speed drifts; a probe sees what its step saw).
    public var sgemm_gflops: Double
    /// Model FLOP utilisation: median over steps of GEMM FLOPs / step time / that step's sgemm probe.
    public var mfu: Double
    /// Best-of-6 sgemm rate measured once before the steps.
    public var sgemm_gflops_start: Double
    public var threads: Int
    public var openblas_core: String
    /// Instruction set of the engine's own C row kernels (softmax, layer norm, Adam).
    public var row_kernels: String
    public var step_ms_median: Double
    /// CPU seconds (all threads, user + system) per measured step: the cost without other processes' contention.
    public var cpu_s_per_step: Double
    public var step_ms_min: Double
    public var gflop_per_step: Double
    public var d: Int
    public var depth: Int
    public var batch: Int
    public var items: Int
    public var steps: Int
    public var parameters: Int
}

/// Runs bench cases; the logic behind `pipeline bench`.
public enum BenchEngine {
    /// Peak resident set size of this process (VmHWM), MiB.
    public static func peakRSSMiB() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
            return kb / 1024
        }
        return 0
    }

    /// Resets VmHWM to the current RSS (Linux ≥ 4.0), so each case reports its own peak; false if refused.
    @discardableResult
    public static func resetPeakRSS() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)); return true } catch { return false }
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// CPU time of this process (user + system, all threads), seconds.
    static func cpuTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Best-of-`repeats` sgemm rate (GFLOP/s) on an m×1024×1024 product at the current thread setting.
    public static func measureSGEMM(m: Int = 2048, repeats: Int = 6) -> Double {
        SGEMMProbe(m: m).rate(repeats: repeats)
    }

    /// Operands of the sgemm rate measurement, filled once (the per-step probes reuse them).
    final class SGEMMProbe {
        let m: Int, n = 1024, k = 1024
        let a: [Float], b: [Float]
        var c: [Float]
        init(m: Int) {
            self.m = m
            var rng = Rng(seed: 1)
            a = (0..<(m * k)).map { _ in rng.uniform() - 0.5 }
            b = (0..<(k * n)).map { _ in rng.uniform() - 0.5 }
            c = [Float](repeating: 0, count: m * n)
        }
        /// Best-of-`repeats` GFLOP/s.
        func rate(repeats: Int) -> Double {
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = BenchEngine.now()
                BLAS.gemm(m: m, n: n, k: k, a: a, b: b, c: &c)
                best = min(best, BenchEngine.now() - t0)
            }
            return 2 * Double(m * n * k) / best / 1e9
        }
    }

    /// Zipf(1) item ids in 1..<items (frequency-sorted like real data, so block-wise cases see realistic tails).
    static func syntheticBatches(_ o: BenchOptions, count: Int) -> [SequenceBatch] {
        var cdf = [Double](repeating: 0, count: o.items)
        var s = 0.0
        for i in 1..<o.items { s += 1 / Double(i); cdf[i] = s }
        var rng = Rng(seed: 2020)
        return (0..<count).map { _ in
            var ids = [Int32]()
            ids.reserveCapacity(o.batch * o.length)
            for _ in 0..<(o.batch * o.length) {
                let u = rng.uniformDouble() * s
                var lo = 1, hi = o.items - 1
                while lo < hi { let mid = (lo + hi) / 2; if cdf[mid] < u { lo = mid + 1 } else { hi = mid } }
                ids.append(Int32(lo))
            }
            return SequenceBatch(ids: ids, batchSize: o.batch, length: o.length)
        }
    }

    /// Trains the case's model for warmup + steps Adam steps and measures it.
    public static func run(_ o: BenchOptions, log: (String) -> Void) -> BenchResult {
        Kernels.withThreads(o.threads) { measure(o, log: log) }
    }

    static func measure(_ o: BenchOptions, log: (String) -> Void) -> BenchResult {
        let sgemm = measureSGEMM(m: o.sgemmRows)
        let probe = SGEMMProbe(m: max(o.sgemmRows / 2, 1))
        log(
            "case \(o.name): sgemm " + String(format: "%.1f", sgemm) + " GFLOP/s on \(o.threads) thread(s), "
                + "OpenBLAS core \(BLAS.coreName), row kernels \(Kernels.rowKernelISA)")
        if BLAS.genericKernels.contains(BLAS.coreName) {
            // `pipeline` restarts itself with the matching kernel unless OPENBLAS_CORETYPE is set; here it was set.
            log(
                "warning: OpenBLAS runs its generic \(BLAS.coreName) kernel (OPENBLAS_CORETYPE is set); on an AVX2/AVX-512 "
                    + "CPU Haswell or SkylakeX is 2-5x faster")
        }
        resetPeakRSS()
        let gemm = GemmProfile()
        let model: any SequenceModel =
            o.kind == .sasrec
            ? SASRec(config: o.modelConfig, itemCount: o.items, seed: 1)
            : NextItNet(config: o.modelConfig, itemCount: o.items, seed: 1)
        let adam = Adam(parameters: model.parameters)
        let batches = syntheticBatches(o, count: 4)
        var times = [Double](), probes = [Double](), mfus = [Double]()
        var gemmSeconds = 0.0, gemmFlops = 0.0, cpu = 0.0
        for s in 0..<(o.warmup + o.steps) {
            let measured = s >= o.warmup
            // Warm-up steps record into a profile that is thrown away.
            let step = measured ? gemm : GemmProfile()
            let before = (seconds: step.seconds, flops: step.flops)
            let t0 = now(), c0 = cpuTime()
            let loss = BLAS.profiling(into: step) { () -> Float in
                model.parameters.zeroGrads()
                let loss = model.trainStep(batches[s % batches.count])
                adam.update()
                return loss
            }
            let dt = now() - t0
            if measured {
                cpu += cpuTime() - c0
                times.append(dt)
                gemmSeconds += step.seconds - before.seconds
                gemmFlops += step.flops - before.flops
                let rate = probe.rate(repeats: 1)
                probes.append(rate)
                mfus.append((step.flops - before.flops) / dt / (rate * 1e9))
            }
            log(
                String(format: "  step %2d", s) + (measured ? " " : "w")
                    + String(format: " %7.1f ms  loss %.4f", dt * 1000, loss))
        }
        // Where the GEMM time goes: the costliest shapes (per measured step) and the rate each ran at.
        for (shape, v) in gemm.shapes.sorted(by: { $0.value.seconds > $1.value.seconds }).prefix(8) {
            log(
                "  gemm " + shape.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + String(
                        format: "%7.2f ms/step  %5.0f GFLOP/s", v.seconds * 1000 / Double(max(times.count, 1)),
                        v.flops / v.seconds / 1e9))
        }
        func medianOf(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.sorted()[xs.count / 2] }
        let sorted = times.sorted()
        let median = medianOf(times)
        let tokens = Double(o.batch * (o.length - 1))
        let tps = tokens / median
        let flopsPerStep = gemmFlops / Double(max(times.count, 1))
        let total = times.reduce(0, +)
        let r = BenchResult(
            case: o.name, tokens_per_s: tps, s_per_1m_tokens: 1e6 / tps,
            seconds_per_epoch: Double(o.epochTokens) / tps, epoch_tokens: o.epochTokens,
            gemm_share: total > 0 ? gemmSeconds / total : 0, peak_rss_mib: peakRSSMiB(),
            sgemm_gflops: medianOf(probes), mfu: medianOf(mfus), sgemm_gflops_start: sgemm,
            threads: o.threads, openblas_core: BLAS.coreName,
            row_kernels: Kernels.rowKernelISA,
            step_ms_median: median * 1000, cpu_s_per_step: cpu / Double(max(times.count, 1)),
            step_ms_min: (sorted.first ?? .nan) * 1000,
            gflop_per_step: flopsPerStep / 1e9, d: o.dim, depth: o.depth, batch: o.batch, items: o.items,
            steps: o.steps, parameters: model.parameters.count)
        log(
            "case \(o.name): "
                + String(
                    format: "%.0f tokens/s (%.1f s per 1M tokens), step %.1f ms median, GEMM share %.0f%%, "
                        + "MFU %.0f%% of sgemm %.0f GFLOP/s, %.1f GFLOP/step, %.3f CPU s/step, peak RSS %.0f MiB",
                    r.tokens_per_s, r.s_per_1m_tokens, r.step_ms_median, r.gemm_share * 100, r.mfu * 100,
                    r.sgemm_gflops,
                    r.gflop_per_step, r.cpu_s_per_step, r.peak_rss_mib))
        return r
    }
}
