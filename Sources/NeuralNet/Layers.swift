import Kernels

// Layers as forward/backward pairs over flat row-major Float buffers (llm.c style).
// Letters: N = rows (B·T positions), B = batch, T = positions per sequence, C = input channels,
// O = output channels, D = width, V = vocabulary size, k = kernel, r = dilation.
// Rule: forward OVERWRITES its outputs; backward ADDS into every gradient buffer it receives.
// So residual branches and tied parameters (two uses of one ParamRef) need no special handling.

/// Item embedding lookup; id 0 is padding: it reads as the zero vector and receives no gradient.
public enum Embedding {
    /// - Parameters: out (N, D); ids (N); table (V, D).
    public static func forward(out: FloatPtr, ids: UnsafePointer<Int32>, table: ConstFloatPtr, N: Int, D: Int) {
        for n in 0..<N {
            let id = Int(ids[n])
            let o = out + n * D
            if id == 0 { o.update(repeating: 0, count: D) } else { o.update(from: table + id * D, count: D) }
        }
    }

    /// - Parameters: dtable (V, D) += scatter of dout (N, D) at ids (N), skipping id 0.
    public static func backward(dtable: FloatPtr, dout: ConstFloatPtr, ids: UnsafePointer<Int32>, N: Int, D: Int) {
        for n in 0..<N {
            let id = Int(ids[n])
            if id != 0 { Kernels.addInPlace(dtable + id * D, dout + n * D, D) }
        }
    }
}

/// Dilated causal 1-D convolution as one GEMM over an im2col buffer.
/// y[b,t] = bias + Σ_j x[b, t − (k−1−j)·r] · w[j]   (left zero padding (k−1)·r, so y[t] never sees x[>t]).
public enum CausalConv {
    /// Fills col (B·T, k·C): row (b,t), slot j holds x[b, t − (k−1−j)·r] or zeros before the sequence start.
    public static func im2col(col: FloatPtr, x: ConstFloatPtr, B: Int, T: Int, C: Int, k: Int, r: Int) {
        let cs = SendablePtr(col), xs = SendablePtr(UnsafeMutablePointer(mutating: x))
        Kernels.parallelRanges(B * T, costPerItem: k * C) { lo, hi in
            for n in lo..<hi {
                let t = n % T
                let row = cs.p + n * k * C
                for j in 0..<k {
                    let s = (k - 1 - j) * r
                    let dst = row + j * C
                    if t >= s {
                        dst.update(from: xs.p + (n - s) * C, count: C)
                    } else {
                        dst.update(repeating: 0, count: C)
                    }
                }
            }
        }
    }

    /// - Parameters: y (B, T, O) out; col (B·T, k·C) cache written for backward; x (B, T, C);
    ///   w (k, C, O) = (k·C, O); bias (O).
    public static func forward(
        y: FloatPtr, col: FloatPtr, x: ConstFloatPtr, w: ConstFloatPtr, bias: ConstFloatPtr,
        B: Int, T: Int, C: Int, O: Int, k: Int, r: Int
    ) {
        let N = B * T
        im2col(col: col, x: x, B: B, T: T, C: C, k: k, r: r)
        let ys = SendablePtr(y)
        Kernels.parallelRanges(N, costPerItem: O) { lo, hi in
            for n in lo..<hi { (ys.p + n * O).update(from: bias, count: O) }
        }
        BLAS.gemm(m: N, n: O, k: k * C, a: col, b: w, beta: 1, c: y)
    }

    /// Adds into dw (k·C, O) and dbias (O) (nil: the caller sums dy itself, e.g. fused into the next layer's
    /// backward); adds into dx (B, T, C) when `accumulate`, else overwrites it. dcol (B·T, k·C) is scratch.
    public static func backward(
        dx: FloatPtr, dw: FloatPtr, dbias: FloatPtr?, dcol: FloatPtr,
        dy: ConstFloatPtr, col: ConstFloatPtr, w: ConstFloatPtr,
        B: Int, T: Int, C: Int, O: Int, k: Int, r: Int, accumulate: Bool = true
    ) {
        let N = B * T
        BLAS.gemm(transA: true, m: k * C, n: O, k: N, a: col, b: dy, beta: 1, c: dw)
        if let dbias { Kernels.addColumnSums(dbias, dy, rows: N, cols: O) }
        BLAS.gemm(transB: true, m: N, n: k * C, k: O, a: dy, b: w, beta: 0, c: dcol)
        // col2im: slot j of row (b,t) flows back to x[b, t − s_j]; rows are split by sequence to stay disjoint.
        let ds = SendablePtr(dx), cs = SendablePtr(dcol)
        Kernels.parallelRanges(B, costPerItem: T * k * C) { lo, hi in
            for b in lo..<hi {
                // Overwrite mode: the unshifted slot (j = k−1) reaches every row, so it initialises dx.
                if !accumulate {
                    for t in 0..<T {
                        (ds.p + (b * T + t) * C).update(from: cs.p + ((b * T + t) * k + k - 1) * C, count: C)
                    }
                }
                for t in 0..<T {
                    let n = b * T + t
                    for j in 0..<(accumulate ? k : k - 1) {
                        let s = (k - 1 - j) * r
                        if t >= s { Kernels.addRow(ds.p + (n - s) * C, cs.p + n * k * C + j * C, C) }
                    }
                }
            }
        }
    }

    /// Reference twin: direct loops, used only by tests.
    public static func forwardNaive(
        y: FloatPtr, x: ConstFloatPtr, w: ConstFloatPtr, bias: ConstFloatPtr,
        B: Int, T: Int, C: Int, O: Int, k: Int, r: Int
    ) {
        for b in 0..<B {
            for t in 0..<T {
                for o in 0..<O {
                    var s = Double(bias[o])
                    for j in 0..<k {
                        let ts = t - (k - 1 - j) * r
                        if ts < 0 { continue }
                        for c in 0..<C { s += Double(x[(b * T + ts) * C + c]) * Double(w[(j * C + c) * O + o]) }
                    }
                    y[(b * T + t) * O + o] = Float(s)
                }
            }
        }
    }
}

/// Layer normalisation over the channels of each row, learned gain γ and shift β, optionally followed by a
/// ReLU (fused: NextItNet's every conv is conv → LN → ReLU, and one pass beats two).
public enum LayerNorm {
    /// Rows per slab: the unit of parallel work and of the dγ/dβ partial sums (fixed, so results do not
    /// depend on the thread count).
    static let slab = 128

    /// - Parameters: out (N, C); mean, rstd (N) caches for backward; x (N, C); gamma, beta (C).
    ///   With `relu`, out = max(0, LN(x)).
    public static func forward(
        out: FloatPtr, mean: FloatPtr, rstd: FloatPtr, x: ConstFloatPtr, gamma: ConstFloatPtr, beta: ConstFloatPtr,
        N: Int, C: Int, eps: Float, relu: Bool = false
    ) {
        let os = SendablePtr(out), ms = SendablePtr(mean), rs = SendablePtr(rstd)
        let xs = SendablePtr(UnsafeMutablePointer(mutating: x))
        Kernels.parallelRanges(N, costPerItem: 4 * C) { lo, hi in
            ck_layernorm_forward(
                os.p + lo * C, ms.p + lo, rs.p + lo, xs.p + lo * C, gamma, beta, hi - lo, C, eps,
                relu ? 1 : 0)
        }
    }

    /// Adds into dgamma, dbeta (C); writes dx (N, C), or adds into it when `accumulate`. dout (N, C);
    /// x, mean, rstd as saved by forward; with `relu`, `out` is the forward's output (the ReLU mask).
    /// `dxColumnSums` (C), when given, gets the column sums of this call's dx added: the bias gradient of the
    /// layer that produced x, for free while dx is in registers.
    public static func backward(
        dx: FloatPtr, dgamma: FloatPtr, dbeta: FloatPtr, dout: ConstFloatPtr,
        x: ConstFloatPtr, mean: ConstFloatPtr, rstd: ConstFloatPtr, gamma: ConstFloatPtr, N: Int, C: Int,
        relu: Bool = false, out: ConstFloatPtr? = nil, accumulate: Bool = true, dxColumnSums: FloatPtr? = nil
    ) {
        precondition(!relu || out != nil, "LayerNorm.backward with relu needs the forward output")
        let slabs = (N + slab - 1) / slab
        // Per-slab dγ/dβ partials, summed in slab order afterwards.
        let parts = dxColumnSums == nil ? 2 : 3
        let partial = FloatPtr.allocate(capacity: max(slabs * parts * C, 1))
        partial.initialize(repeating: 0, count: max(slabs * parts * C, 1))
        defer { partial.deallocate() }
        let ds = SendablePtr(dx), ps = SendablePtr(partial), gs = SendablePtr(UnsafeMutablePointer(mutating: dout))
        let xs = SendablePtr(UnsafeMutablePointer(mutating: x))
        let os = SendablePtr(UnsafeMutablePointer(mutating: out ?? x))
        let m = SendablePtr(UnsafeMutablePointer(mutating: mean)), r = SendablePtr(UnsafeMutablePointer(mutating: rstd))
        let ga = SendablePtr(UnsafeMutablePointer(mutating: gamma))
        Kernels.parallelRanges(slabs, costPerItem: 8 * C * slab) { lo, hi in
            for s in lo..<hi {
                let r0 = s * slab, rows = min(slab, N - r0)
                let mine = ps.p + s * parts * C
                ck_layernorm_backward(
                    ds.p + r0 * C, mine, mine + C, parts == 3 ? mine + 2 * C : nil, gs.p + r0 * C,
                    os.p + r0 * C, xs.p + r0 * C, m.p + r0, r.p + r0, ga.p, rows, C,
                    relu ? 1 : 0, accumulate ? 1 : 0)
            }
        }
        for s in 0..<slabs {
            Kernels.addInPlace(dgamma, partial + s * parts * C, C)
            Kernels.addInPlace(dbeta, partial + s * parts * C + C, C)
            if let dxColumnSums { Kernels.addInPlace(dxColumnSums, partial + s * parts * C + 2 * C, C) }
        }
    }
}

/// Fully connected layer y = x · W (+ b).
public enum Linear {
    /// - Parameters: out (N, O); x (N, C); w (C, O); bias (O) or nil.
    public static func forward(
        out: FloatPtr, x: ConstFloatPtr, w: ConstFloatPtr, bias: ConstFloatPtr?, N: Int, C: Int, O: Int
    ) {
        if let bias {
            for n in 0..<N { (out + n * O).update(from: bias, count: O) }
            BLAS.gemm(m: N, n: O, k: C, a: x, b: w, beta: 1, c: out)
        } else {
            BLAS.gemm(m: N, n: O, k: C, a: x, b: w, beta: 0, c: out)
        }
    }

    /// Adds into dx (N, C) (skipped when nil), dw (C, O), dbias (O) (when non-nil).
    public static func backward(
        dx: FloatPtr?, dw: FloatPtr, dbias: FloatPtr?, dout: ConstFloatPtr, x: ConstFloatPtr, w: ConstFloatPtr,
        N: Int, C: Int, O: Int
    ) {
        BLAS.gemm(transA: true, m: C, n: O, k: N, a: x, b: dout, beta: 1, c: dw)
        if let dbias { Kernels.addColumnSums(dbias, dout, rows: N, cols: O) }
        if let dx { BLAS.gemm(transB: true, m: N, n: C, k: O, a: dout, b: w, beta: 1, c: dx) }
    }
}

/// ReLU and residual add (thin names over Kernels so a model reads as a list of layers).
public enum Activation {
    /// out (n) = max(x, 0); out may alias x.
    public static func reluForward(out: FloatPtr, x: ConstFloatPtr, n: Int) { Kernels.relu(out, x, n) }
    /// dx (n) += dout where out > 0.
    public static func reluBackward(dx: FloatPtr, dout: ConstFloatPtr, out: ConstFloatPtr, n: Int) {
        Kernels.reluBackward(dx, dout, out, n)
    }
    /// out (n) = a + b.
    public static func residualForward(out: FloatPtr, a: ConstFloatPtr, b: ConstFloatPtr, n: Int) {
        Kernels.add(out, a, b, n)
    }
    /// da += dout, db += dout.
    public static func residualBackward(da: FloatPtr, db: FloatPtr, dout: ConstFloatPtr, n: Int) {
        Kernels.addInPlace(da, dout, n)
        Kernels.addInPlace(db, dout, n)
    }
}
