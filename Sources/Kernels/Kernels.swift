@_exported import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Dimension letters used across Kernels and NeuralNet: N = rows (B·T positions), C/D = channels,
// V = vocabulary (items). All buffers are row-major flat Float arrays.

/// Mutable flat Float buffer (the engine's tensor type).
public typealias FloatPtr = UnsafeMutablePointer<Float>
/// Read-only flat Float buffer.
public typealias ConstFloatPtr = UnsafePointer<Float>

/// Holds a region's body for the C pool's trampoline.
final class TaskBox {
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}

/// Lets raw pointers cross into parallel-region closures; each chunk touches a disjoint range.
public struct SendablePtr<T>: @unchecked Sendable {
    public let p: UnsafeMutablePointer<T>
    @inlinable public init(_ p: UnsafeMutablePointer<T>) { self.p = p }
}

/// max(a, b) per lane; the stdlib's generic `pointwiseMax` compiles to an unspecialised call here.
@inlinable @inline(__always)
public func vmax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: a .< b) }

/// min(a, b) per lane.
@inlinable @inline(__always)
public func vmin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }

/// Elementwise, row-wise and reduction kernels, SIMD8 inner loops, split over the thread budget when big enough.
public enum Kernels {
    /// The calling thread's engine thread budget (elementwise work and matrix products): the `n` of the innermost
    /// `withThreads` around it, else 1. Confined to the thread so concurrent stages each keep their own count,
    /// which decides how reductions are split and so their rounding.
    public static var threads: Int {
        max(1, Int(bitPattern: pthread_getspecific(threadsKey)))
    }

    static let threadsKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with a budget of `n` threads for the kernels the calling thread issues. The pool grows to the
    /// largest budget asked for; a smaller budget still splits work into exactly `n` parts, so results depend
    /// on `n` only. OpenBLAS itself stays single-threaded so its idle threads never spin against ours.
    public static func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
        let n = max(1, n)
        if n > 1 { ck_pool_grow(Int32(n)) }
        BLAS.setThreads(1)
        let previous = pthread_getspecific(threadsKey)
        pthread_setspecific(threadsKey, UnsafeRawPointer(bitPattern: n))
        defer { pthread_setspecific(threadsKey, previous) }
        return try body()
    }

    /// Work (in float operations) below which a chunk is not worth a thread: a few microseconds.
    public static let parallelGrain = 16_384

    /// Calls `body(lo, hi)` over disjoint ranges covering 0..<count; splits across threads only when
    /// count × costPerItem is large enough that dispatch pays off. Ranges depend only on count and threads.
    @inlinable
    public static func parallelRanges(
        _ count: Int, costPerItem: Int = 1, threads t: Int = Kernels.threads, _ body: (Int, Int) -> Void
    ) {
        if t <= 1 || count * max(costPerItem, 1) < 2 * parallelGrain || count < 2 {
            body(0, count)
            return
        }
        let chunks = min(t, count)
        let per = (count + chunks - 1) / chunks
        parallelFor(chunks) { c in
            let lo = c * per
            let hi = min(count, lo + per)
            if lo < hi { body(lo, hi) }
        }
    }

    /// Runs body(i) for i in 0..<count on the pool (the calling thread takes part); returns when all are done.
    public static func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escaping in
            let box = TaskBox(escaping)
            withExtendedLifetime(box) {
                ck_pool_run(
                    count,
                    { ctx, i in
                        Unmanaged<TaskBox>.fromOpaque(ctx!).takeUnretainedValue().body(i)
                    }, Unmanaged.passUnretained(box).toOpaque())
            }
        }
    }

    // MARK: elementwise

    /// p[i] = value.
    public static func fill(_ p: FloatPtr, _ n: Int, _ value: Float) { p.update(repeating: value, count: n) }

    /// y[i] += x[i].
    public static func addInPlace(_ y: FloatPtr, _ x: ConstFloatPtr, _ n: Int) {
        let ys = SendablePtr(y), xs = SendablePtr(UnsafeMutablePointer(mutating: x))
        parallelRanges(n) { lo, hi in addRow(ys.p + lo, xs.p + lo, hi - lo) }
    }

    /// y[i] += x[i] on the calling thread: for the many short rows of gathers and scatters, where even the
    /// check for a parallel split costs more than the add.
    @inlinable @inline(__always)
    public static func addRow(_ y: FloatPtr, _ x: ConstFloatPtr, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let v =
                UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                + UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// out[i] = a[i] + b[i] (out may alias a or b).
    public static func add(_ out: FloatPtr, _ a: ConstFloatPtr, _ b: ConstFloatPtr, _ n: Int) {
        let os = SendablePtr(out), as_ = SendablePtr(UnsafeMutablePointer(mutating: a))
        let bs = SendablePtr(UnsafeMutablePointer(mutating: b))
        parallelRanges(n) { lo, hi in
            let o = os.p, a = as_.p, b = bs.p
            var i = lo
            while i + 8 <= hi {
                let v =
                    UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
                    + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(o + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { o[i] = a[i] + b[i]; i += 1 }
        }
    }

    /// y[i] += alpha · x[i].
    public static func axpy(_ y: FloatPtr, _ alpha: Float, _ x: ConstFloatPtr, _ n: Int) {
        let ys = SendablePtr(y), xs = SendablePtr(UnsafeMutablePointer(mutating: x))
        parallelRanges(n) { lo, hi in
            let y = ys.p, x = xs.p
            let av = SIMD8<Float>(repeating: alpha)
            var i = lo
            while i + 8 <= hi {
                let v =
                    UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                    + av * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { y[i] += alpha * x[i]; i += 1 }
        }
    }

    /// p[i] *= alpha.
    public static func scale(_ p: FloatPtr, _ alpha: Float, _ n: Int) {
        let ps = SendablePtr(p)
        parallelRanges(n) { lo, hi in
            let p = ps.p
            let av = SIMD8<Float>(repeating: alpha)
            var i = lo
            while i + 8 <= hi {
                let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) * av
                UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { p[i] *= alpha; i += 1 }
        }
    }

    /// out[i] = max(x[i], 0) (out may alias x).
    public static func relu(_ out: FloatPtr, _ x: ConstFloatPtr, _ n: Int) {
        let os = SendablePtr(out), xs = SendablePtr(UnsafeMutablePointer(mutating: x))
        parallelRanges(n) { lo, hi in
            let o = os.p, x = xs.p
            let z = SIMD8<Float>(repeating: 0)
            var i = lo
            while i + 8 <= hi {
                let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(o + i).storeBytes(of: vmax(v, z), as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { o[i] = max(x[i], 0); i += 1 }
        }
    }

    /// dx[i] += out[i] > 0 ? dout[i] : 0 (ReLU backward from its output).
    public static func reluBackward(_ dx: FloatPtr, _ dout: ConstFloatPtr, _ out: ConstFloatPtr, _ n: Int) {
        let ds = SendablePtr(dx), gs = SendablePtr(UnsafeMutablePointer(mutating: dout))
        let os = SendablePtr(UnsafeMutablePointer(mutating: out))
        parallelRanges(n) { lo, hi in
            let dx = ds.p, g = gs.p, o = os.p
            let z = SIMD8<Float>(repeating: 0)
            var i = lo
            while i + 8 <= hi {
                let ov = UnsafeRawPointer(o + i).loadUnaligned(as: SIMD8<Float>.self)
                let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                let v =
                    UnsafeRawPointer(dx + i).loadUnaligned(as: SIMD8<Float>.self)
                    + gv.replacing(with: z, where: ov .<= z)
                UnsafeMutableRawPointer(dx + i).storeBytes(of: v, as: SIMD8<Float>.self)
                i += 8
            }
            while i < hi { if o[i] > 0 { dx[i] += g[i] }; i += 1 }
        }
    }

    // MARK: reductions (Double accumulation, serial: results never depend on the thread count)

    /// Σ p[i].
    public static func sum(_ p: ConstFloatPtr, _ n: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            acc += SIMD8<Double>(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        var s = acc.sum()
        while i < n { s += Double(p[i]); i += 1 }
        return s
    }

    /// Σ p[i]².
    public static func sumOfSquares(_ p: ConstFloatPtr, _ n: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let v = SIMD8<Double>(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self))
            acc += v * v
            i += 8
        }
        var s = acc.sum()
        while i < n { s += Double(p[i]) * Double(p[i]); i += 1 }
        return s
    }

    /// Σ a[i]·b[i].
    public static func dot(_ a: ConstFloatPtr, _ b: ConstFloatPtr, _ n: Int) -> Double {
        var acc = SIMD8<Double>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            let x = SIMD8<Double>(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self))
            let y = SIMD8<Double>(UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
            acc += x * y
            i += 8
        }
        var s = acc.sum()
        while i < n { s += Double(a[i]) * Double(b[i]); i += 1 }
        return s
    }

    /// max_i p[i] (−∞ for n = 0).
    public static func maxValue(_ p: ConstFloatPtr, _ n: Int) -> Float {
        var m = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i + 8 <= n {
            m = vmax(m, UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self))
            i += 8
        }
        var s = m.max()
        while i < n { s = max(s, p[i]); i += 1 }
        return s
    }

    /// 4,096 ones: the x of the column-sum GEMVs (immutable, so safe to share across threads).
    static let ones: UnsafeMutablePointer<Float> = {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 4096)
        p.initialize(repeating: 1, count: 4096)
        return p
    }()

    /// db[j] += Σ_n x[n, j] for x (N, C): the bias gradient of a layer (BLAS gemv over 4,096-row slabs).
    public static func addColumnSums(_ db: FloatPtr, _ x: ConstFloatPtr, rows: Int, cols: Int) {
        var r = 0
        while r < rows {
            let m = min(4096, rows - r)
            BLAS.gemvT(m: m, n: cols, a: x + r * cols, x: ones, beta: 1, y: db)
            r += m
        }
    }

    /// Naive twin of `addColumnSums` (tests).
    public static func addColumnSumsNaive(_ db: FloatPtr, _ x: ConstFloatPtr, rows: Int, cols: Int) {
        for r in 0..<rows { for j in 0..<cols { db[j] += x[r * cols + j] } }
    }

    // MARK: exp and row softmax

    /// e^x for 8 lanes: Cephes-style range reduction + degree-6 polynomial (rel. error ~2e-7), no libm calls;
    /// clamped to [−87.3, 88.3].
    @inlinable @inline(__always)
    public static func exp8(_ x0: SIMD8<Float>) -> SIMD8<Float> {
        let x = vmin(vmax(x0, SIMD8(repeating: -87.3)), SIMD8(repeating: 88.3))
        // Round x·log2(e) to the nearest integer with the 1.5·2^23 trick (keeps everything in SIMD).
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let t = x * SIMD8(repeating: 1.442_695_04) + magic
        let n = t - magic
        var r = x - n * SIMD8(repeating: 0.693_359_375)
        r = r - n * SIMD8(repeating: -2.121_944_4e-4)
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + SIMD8(repeating: 1.398_199_95e-3)
        p = p * r + SIMD8(repeating: 8.333_451_9e-3)
        p = p * r + SIMD8(repeating: 4.166_579_6e-2)
        p = p * r + SIMD8(repeating: 1.666_666_55e-1)
        p = p * r + SIMD8(repeating: 5.000_000_1e-1)
        p = p * (r * r) + r + SIMD8(repeating: 1)
        let ti = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((ti &+ 127) &<< 23, to: SIMD8<Float>.self)
        // Inputs below −87.3 give e^−87.3 ≈ 1e-38 rather than 0: a per-lane select here compiles to a scalar loop.
        return p * scale
    }

    /// Scalar e^x with the same polynomial as `exp8` (for row tails).
    @inlinable
    public static func exp1(_ x: Float) -> Float { exp8(SIMD8(repeating: x))[0] }

    /// Softmax of one row in place; returns log Σ exp(x − max) + max (the log-partition).
    @inlinable
    public static func softmaxRowInPlace(_ p: FloatPtr, _ n: Int) -> Float { ck_softmax_row(p, n) }

    /// One row of fused softmax cross-entropy: turns logits into scale · (softmax − onehot(t)) in place
    /// (three passes: max, exp + sum, scale) and returns the loss −log softmax[t].
    @inlinable
    public static func softmaxCrossEntropyGradRow(_ p: FloatPtr, _ n: Int, target t: Int, scale: Float) -> Float {
        ck_softmax_xent_row(p, n, t, scale)
    }

    /// The instruction set of the C row kernels on this CPU ("AVX-512", "AVX2+FMA" or "baseline").
    public static var rowKernelISA: String { ["baseline", "AVX2+FMA", "AVX-512"][isaLevel] }
    /// The row kernels' level (2 = AVX-512, 1 = AVX2+FMA, 0 = baseline), capped by CPREC_NUMERICS.
    public static var isaLevel: Int { Int(ck_isa_level()) }

    /// out (rows, cols) = softmax of each row of x (out may alias x).
    public static func softmaxRows(_ out: FloatPtr, _ x: ConstFloatPtr, rows: Int, cols: Int) {
        if UnsafePointer(out) != x { out.update(from: x, count: rows * cols) }
        let os = SendablePtr(out)
        parallelRanges(rows, costPerItem: cols * 4) { lo, hi in
            for r in lo..<hi { _ = softmaxRowInPlace(os.p + r * cols, cols) }
        }
    }

    /// out (rows, cols) = log-softmax of each row of x (out may alias x).
    public static func logSoftmaxRows(_ out: FloatPtr, _ x: ConstFloatPtr, rows: Int, cols: Int) {
        if UnsafePointer(out) != x { out.update(from: x, count: rows * cols) }
        let os = SendablePtr(out)
        parallelRanges(rows, costPerItem: cols * 4) { lo, hi in
            for r in lo..<hi {
                let p = os.p + r * cols
                let m = maxValue(p, cols)
                var s = 0.0
                for j in 0..<cols { s += Double(exp1(p[j] - m)) }
                let lz = m + Float(Foundation.log(s))
                for j in 0..<cols { p[j] -= lz }
            }
        }
    }

    // MARK: top-k

    /// Indices of the k largest values of p[0..<n], best first; ties go to the lower index.
    /// Indices in `excluding` are skipped (e.g. the padding id 0).
    public static func topK(_ p: ConstFloatPtr, _ n: Int, k: Int, excluding: Int? = nil) -> [Int32] {
        let k = min(k, n - (excluding.map { $0 >= 0 && $0 < n ? 1 : 0 } ?? 0))
        if k <= 0 { return [] }
        var idx = [Int32](repeating: -1, count: k)
        var val = [Float](repeating: -.infinity, count: k)
        var filled = 0
        for i in 0..<n {
            if i == excluding { continue }
            let v = p[i]
            if filled == k && !(v > val[k - 1]) { continue }
            // Insert keeping descending order; strict `>` keeps the earlier index ahead on ties.
            var j = filled == k ? k - 1 : filled
            while j > 0 && v > val[j - 1] {
                val[j] = val[j - 1]
                idx[j] = idx[j - 1]
                j -= 1
            }
            val[j] = v
            idx[j] = Int32(i)
            if filled < k { filled += 1 }
        }
        return idx
    }
}
