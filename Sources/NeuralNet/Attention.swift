import Foundation
import Kernels

// Self-attention layers for SASRec, same conventions as Layers.swift (forward overwrites, backward adds).
// Letters: B = batch, T = positions, h = heads, e = head width (d / h), d = model width, ld = row stride of the
// Q, K, V buffers (≥ d: several projections may share one wide buffer).

/// Causal multi-head scaled dot-product attention over projected Q, K, V rows (B, T, ld).
/// The head split and merge are strides, not copies: head j reads columns j·e ..< (j+1)·e of Q, K, V and writes
/// the same columns of out (B, T, d), so the merged output is the heads side by side (the usual concatenation).
/// Position t attends to keys 0...t only (softmax over those keys; later keys get probability exactly 0).
public enum CausalSelfAttention {
    /// - Parameters: out (B, T, h·e) row stride h·e; probs (B, h, T, T) cache for backward;
    ///   q, k, v (B, T, ld) with head j at column offset j·e; keyIDs (B, T): when given, keys whose id is 0
    ///   (padding) get probability 0 for every query but their own position. Backward needs no mask: a zero
    ///   probability passes no gradient.
    public static func forward(
        out: FloatPtr, probs: FloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
        B: Int, T: Int, heads h: Int, headWidth e: Int, ld: Int, keyIDs: UnsafePointer<Int32>? = nil
    ) {
        let d = h * e, scale = 1 / Float(e).squareRoot()
        let os = SendablePtr(out), ps = SendablePtr(probs)
        let qs = SendablePtr(UnsafeMutablePointer(mutating: q)), ks = SendablePtr(UnsafeMutablePointer(mutating: k))
        let vs = SendablePtr(UnsafeMutablePointer(mutating: v))
        Kernels.parallelRanges(B * h, costPerItem: 4 * T * T * e) { lo, hi in
            for i in lo..<hi {
                let b = i / h, j = i % h
                let p = ps.p + i * T * T, row0 = b * T * ld + j * e
                // Matrices this small run on the calling thread: the pool already splits the (b, head) pairs.
                BLAS.gemm(
                    transB: true, m: T, n: T, k: e, alpha: scale, a: qs.p + row0, lda: ld, b: ks.p + row0,
                    ldb: ld, beta: 0, c: p, threads: 1)
                for t in 0..<T {
                    let r = p + t * T
                    if let ids = keyIDs {
                        for s in 0..<t where ids[b * T + s] == 0 { r[s] = -1e30 }
                    }
                    _ = Kernels.softmaxRowInPlace(r, t + 1)
                    // The exp kernel clamps at −87.3, which leaves a masked key a subnormal ~1e−38, not 0; every
                    // GEMM that later reads those rows would run on the CPU's slow subnormal path.
                    if let ids = keyIDs {
                        for s in 0..<t where ids[b * T + s] == 0 { r[s] = 0 }
                    }
                    if t + 1 < T { (r + t + 1).update(repeating: 0, count: T - t - 1) }
                }
                BLAS.gemm(
                    m: T, n: e, k: T, a: p, b: vs.p + row0, ldb: ld, beta: 0, c: os.p + b * T * d + j * e,
                    ldc: d, threads: 1)
            }
        }
    }

    /// Adds into dq, dk, dv (B, T, ld); dout (B, T, h·e); probs, q, k, v as the forward saw them.
    public static func backward(
        dq: FloatPtr, dk: FloatPtr, dv: FloatPtr, dout: ConstFloatPtr, probs: ConstFloatPtr,
        q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr, B: Int, T: Int, heads h: Int, headWidth e: Int, ld: Int
    ) {
        let d = h * e, scale = 1 / Float(e).squareRoot()
        let dqs = SendablePtr(dq), dks = SendablePtr(dk), dvs = SendablePtr(dv)
        let gs = SendablePtr(UnsafeMutablePointer(mutating: dout)),
            ps = SendablePtr(UnsafeMutablePointer(mutating: probs))
        let qs = SendablePtr(UnsafeMutablePointer(mutating: q)), ks = SendablePtr(UnsafeMutablePointer(mutating: k))
        let vs = SendablePtr(UnsafeMutablePointer(mutating: v))
        Kernels.parallelRanges(B * h, costPerItem: 8 * T * T * e) { lo, hi in
            let ds = FloatPtr.allocate(capacity: T * T)
            defer { ds.deallocate() }
            for i in lo..<hi {
                let b = i / h, j = i % h
                let p = ps.p + i * T * T, row0 = b * T * ld + j * e, g = gs.p + b * T * d + j * e
                // dV += Pᵀ · dO;  dP = dO · Vᵀ
                BLAS.gemm(
                    transA: true, m: T, n: e, k: T, a: p, b: g, ldb: d, beta: 1, c: dvs.p + row0, ldc: ld, threads: 1)
                BLAS.gemm(
                    transB: true, m: T, n: T, k: e, a: g, lda: d, b: vs.p + row0, ldb: ld, beta: 0, c: ds, threads: 1)
                // Softmax backward per row over its visible keys: dS = P ∘ (dP − Σ P·dP), times the 1/√e scale.
                for t in 0..<T {
                    let r = ds + t * T, pr = p + t * T
                    var dot: Float = 0
                    for s in 0...t { dot += pr[s] * r[s] }
                    for s in 0...t { r[s] = pr[s] * (r[s] - dot) * scale }
                    if t + 1 < T { (r + t + 1).update(repeating: 0, count: T - t - 1) }
                }
                // dQ += dS · K;  dK += dSᵀ · Q
                BLAS.gemm(
                    m: T, n: e, k: T, a: ds, b: ks.p + row0, ldb: ld, beta: 1, c: dqs.p + row0, ldc: ld, threads: 1)
                BLAS.gemm(
                    transA: true, m: T, n: e, k: T, a: ds, b: qs.p + row0, ldb: ld, beta: 1, c: dks.p + row0,
                    ldc: ld, threads: 1)
            }
        }
    }

    /// Reference twin: explicit head split into (B, h, T, e) copies, direct loops, explicit merge. Tests only.
    public static func forwardNaive(
        out: FloatPtr, q: ConstFloatPtr, k: ConstFloatPtr, v: ConstFloatPtr,
        B: Int, T: Int, heads h: Int, headWidth e: Int, ld: Int
    ) {
        let d = h * e
        func split(_ x: ConstFloatPtr) -> [Float] {
            var o = [Float](repeating: 0, count: B * h * T * e)
            for b in 0..<B {
                for t in 0..<T {
                    for j in 0..<h {
                        for c in 0..<e {
                            o[((b * h + j) * T + t) * e + c] = x[(b * T + t) * ld + j * e + c]
                        }
                    }
                }
            }
            return o
        }
        let qh = split(q), kh = split(k), vh = split(v)
        var merged = [Float](repeating: 0, count: B * h * T * e)
        for bj in 0..<(B * h) {
            for t in 0..<T {
                var s = [Double](repeating: 0, count: t + 1)
                for u in 0...t {
                    var acc = 0.0
                    for c in 0..<e { acc += Double(qh[(bj * T + t) * e + c]) * Double(kh[(bj * T + u) * e + c]) }
                    s[u] = acc / Double(e).squareRoot()
                }
                let m = s.max()!
                let w = s.map { exp($0 - m) }
                let z = w.reduce(0, +)
                for c in 0..<e {
                    var acc = 0.0
                    for u in 0...t { acc += w[u] / z * Double(vh[(bj * T + u) * e + c]) }
                    merged[(bj * T + t) * e + c] = Float(acc)
                }
            }
        }
        for b in 0..<B {
            for t in 0..<T {
                for j in 0..<h {
                    for c in 0..<e {
                        out[(b * T + t) * d + j * e + c] = merged[((b * h + j) * T + t) * e + c]
                    }
                }
            }
        }
    }
}

/// Learned positional embedding added to the rows of a (B, T, d) stream. Position is counted from the END of the
/// sequence (row T−1 is position 0): the last input of a training window and of a scored sequence then share
/// one embedding even though training feeds T−1 ids and scoring T. Positions beyond the table share its last row.
public enum PositionalEmbedding {
    /// x (B, T, d) += table[min(T−1−t, P−1)] for every row (b, t); table (P, d).
    public static func addForward(x: FloatPtr, table: ConstFloatPtr, B: Int, T: Int, d: Int, positions P: Int) {
        for b in 0..<B {
            for t in 0..<T { Kernels.addInPlace(x + (b * T + t) * d, table + min(T - 1 - t, P - 1) * d, d) }
        }
    }

    /// dtable (P, d) += the sum over b of dout (B, T, d) at each row's position.
    public static func backward(dtable: FloatPtr, dout: ConstFloatPtr, B: Int, T: Int, d: Int, positions P: Int) {
        for b in 0..<B {
            for t in 0..<T { Kernels.addInPlace(dtable + min(T - 1 - t, P - 1) * d, dout + (b * T + t) * d, d) }
        }
    }
}

/// Inverted dropout with a stored keep mask (1/(1−p) or 0 per element); p = 0 is the identity and draws nothing.
public enum Dropout {
    /// x (n) *= mask, mask (n) drawn from `rng` with drop probability p.
    public static func forward(x: FloatPtr, mask: FloatPtr, n: Int, p: Float, rng: inout Rng) {
        if p == 0 { mask.update(repeating: 1, count: n); return }
        let keep = 1 / (1 - p)
        for i in 0..<n { mask[i] = rng.uniform() < p ? 0 : keep }
        for i in 0..<n { x[i] *= mask[i] }
    }

    /// dx (n) *= mask in place (the gradient of forward, applied to the buffer that holds it).
    public static func backward(dx: FloatPtr, mask: ConstFloatPtr, n: Int) {
        for i in 0..<n { dx[i] *= mask[i] }
    }
}
