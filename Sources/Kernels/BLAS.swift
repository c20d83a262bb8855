import CBLAS
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Thin, row-major wrappers over OpenBLAS; every matrix product in the engine goes through here.
public enum BLAS {
    /// Sets the number of threads OpenBLAS itself uses per call (the engine keeps it at 1; see Kernels.setThreads).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// The profile the calling thread's `gemm` calls record into (nil: none); set only by `profiling(into:_:)`.
    static var currentProfile: GemmProfile? {
        pthread_getspecific(profileKey).map { Unmanaged<GemmProfile>.fromOpaque($0).takeUnretainedValue() }
    }

    static let profileKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `body` with the calling thread's `gemm` calls recording their time and FLOPs into `profile`; calls
    /// made by other threads (concurrent stages or tests) are not recorded.
    public static func profiling<T>(into profile: GemmProfile, _ body: () throws -> T) rethrows -> T {
        let previous = pthread_getspecific(profileKey)
        pthread_setspecific(profileKey, Unmanaged.passUnretained(profile).toOpaque())
        defer { pthread_setspecific(profileKey, previous) }
        return try withExtendedLifetime(profile) { try body() }
    }

    /// The kernel OpenBLAS chose for this CPU (e.g. "Haswell", "SkylakeX", "Zen").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS's generic x86 kernels: what it loads when it does not recognise the CPU model. Seen on VMs whose
    /// CPU reports a generic model: Prescott (SSE3) then runs sgemm at 32 GFLOP/s on a core that gives 150 with
    /// its AVX-512 kernel, and every training run takes about 2.5-3x as long.
    public static let genericKernels: Set<String> = [
        "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
        "Katmai", "Generic"
    ]

    /// The kernel to name in OPENBLAS_CORETYPE so that OpenBLAS uses what this CPU supports: SkylakeX for AVX-512,
    /// Haswell for AVX2+FMA (`isaLevel` as `Kernels.isaLevel`). Nil when OpenBLAS chose a specific kernel
    /// itself, when the user set the variable (their choice stands, even an empty one), or when the CPU has neither.
    public static func matchingKernel(loaded: String, isaLevel: Int, coretypeVariable: String?) -> String? {
        guard coretypeVariable == nil, genericKernels.contains(loaded) else { return nil }
        return isaLevel >= 2 ? "SkylakeX" : isaLevel == 1 ? "Haswell" : nil
    }

    /// The numerics a model stage's result depends on: OpenBLAS's kernel and the row kernels' instruction set. Part
    /// of every model stage's parameters, so a cache (a shared one on Slurm too) never mixes results of two kernels.
    public static var numericsIdentity: String { "OpenBLAS \(coreName), rows \(Kernels.rowKernelISA)" }

    /// C(m×n) = alpha · op(A) · op(B) + beta · C, all row-major.
    /// op(A) is m×k (A stored k×m when transA), op(B) is k×n (B stored n×k when transB).
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil, threads parts: Int = Kernels.threads
    ) {
        if m == 0 || n == 0 { return }
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        let profile = currentProfile
        let t0 = profile != nil ? DispatchTime.now().uptimeNanoseconds : 0
        let split = parts > 1 && 2 * m * n * k >= parallelFlops
        let ap = SendablePtr(UnsafeMutablePointer(mutating: a)), bp = SendablePtr(UnsafeMutablePointer(mutating: b))
        let cp = SendablePtr(c)
        if split && k >= 8 * max(m, n) && k >= 64 * parts {
            // A long reduction into a small output (a weight gradient): each thread reduces its own stretch of K
            // into a private partial, then the partials are added in thread order (deterministic for a thread
            // count). Splitting the small output instead would have every thread pack all of the long operand.
            let per = (k + parts - 1) / parts
            let partial = UnsafeMutablePointer<Float>.allocate(capacity: (parts - 1) * m * n)
            defer { partial.deallocate() }
            let pp = SendablePtr(partial)
            Kernels.parallelFor(parts) { s in
                let lo = s * per, len = min(per, k - lo)
                let aS = ap.p + (transA ? lo * lda : lo), bS = bp.p + (transB ? lo : lo * ldb)
                if s == 0 {
                    sgemm(transA, transB, m, n, len, alpha, aS, lda, bS, ldb, beta, cp.p, ldc)
                } else {
                    sgemm(transA, transB, m, n, len, alpha, aS, lda, bS, ldb, 0, pp.p + (s - 1) * m * n, n)
                }
            }
            for s in 1..<parts {
                for i in 0..<m { Kernels.addRow(c + i * ldc, partial + (s - 1) * m * n + i * n, n) }
            }
        } else if split && max(m, n) >= 32 {
            // Split the larger output dimension into one slab per thread (multiples of 16 keep the kernels'
            // full tiles); each slab is an independent single-threaded sgemm with the same K reduction.
            let splitRows = m >= n
            let extent = splitRows ? m : n
            let per = ((extent + parts - 1) / parts + 15) / 16 * 16
            let slabs = (extent + per - 1) / per
            Kernels.parallelFor(slabs) { s in
                let lo = s * per, len = min(per, extent - lo)
                if splitRows {
                    sgemm(
                        transA, transB, len, n, k, alpha, ap.p + (transA ? lo : lo * lda), lda, bp.p, ldb, beta,
                        cp.p + lo * ldc, ldc)
                } else {
                    sgemm(
                        transA, transB, m, len, k, alpha, ap.p, lda, bp.p + (transB ? lo * ldb : lo), ldb, beta,
                        cp.p + lo, ldc)
                }
            }
        } else {
            sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        if let profile {
            profile.add(
                shape: "\(transA ? "T" : "N")\(transB ? "T" : "N") \(m)×\(n)×\(k)",
                seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9,
                flops: 2 * Double(m) * Double(n) * Double(k))
        }
    }

    /// Products smaller than this (FLOPs) run on one thread: splitting them costs more than it saves.
    public static let parallelFlops = 1_000_000

    @inline(__always)
    static func sgemm(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>,
        _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y(n) = alpha · Aᵀ · x + beta · y for row-major A (m×n), x (m): column sums when x is all ones.
    public static func gemvT(
        m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil, x: UnsafePointer<Float>,
        beta: Float = 1, y: UnsafeMutablePointer<Float>
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), alpha, a, Int32(lda ?? n), x, 1, beta, y, 1)
    }
}

/// Wall time and FLOPs (2·m·n·k per call) of the matrix products made under `BLAS.profiling(into:)`, in all and
/// per shape ("NT m×n×k"): the bench's GEMM share. Owned by whoever measures; never shared process-wide.
public final class GemmProfile: @unchecked Sendable {
    public private(set) var seconds = 0.0
    public private(set) var flops = 0.0
    public private(set) var shapes: [String: (seconds: Double, flops: Double)] = [:]
    private let lock = NSLock()

    public init() {}

    func add(shape: String, seconds dt: Double, flops f: Double) {
        lock.lock()
        defer { lock.unlock() }
        seconds += dt
        flops += f
        let old = shapes[shape] ?? (0, 0)
        shapes[shape] = (old.seconds + dt, old.flops + f)
    }
}
