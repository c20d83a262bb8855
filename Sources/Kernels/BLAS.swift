import CBLAS
import Dispatch

/// Thin, row-major wrappers over OpenBLAS; every matrix product in the engine goes through here.
public enum BLAS {
    /// Sets the number of threads OpenBLAS uses for each call (the engine's one thread setting).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// When true, `gemm` accumulates its wall time and FLOPs below (the bench's GEMM share); off by default.
    nonisolated(unsafe) public static var profiling = false
    /// Seconds spent inside `gemm` while `profiling` was on.
    nonisolated(unsafe) public static var profiledSeconds: Double = 0
    /// Floating-point operations (2·m·n·k per call) issued while `profiling` was on.
    nonisolated(unsafe) public static var profiledFlops: Double = 0

    /// Clears the profiling accumulators.
    public static func resetProfile() {
        profiledSeconds = 0
        profiledFlops = 0
    }

    /// The kernel OpenBLAS chose for this CPU (e.g. "Haswell", "SkylakeX", "Zen").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// C(m×n) = alpha · op(A) · op(B) + beta · C, all row-major.
    /// op(A) is m×k (A stored k×m when transA), op(B) is k×n (B stored n×k when transB).
    @inlinable
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
    ) {
        if m == 0 || n == 0 { return }
        let lda = lda ?? (transA ? m : k)
        let ldb = ldb ?? (transB ? k : n)
        let ldc = ldc ?? n
        if profiling {
            let t0 = DispatchTime.now().uptimeNanoseconds
            cblas_sgemm(
                CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            profiledSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            profiledFlops += 2 * Double(m) * Double(n) * Double(k)
            return
        }
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
