#if canImport(Glibc)
import Glibc
#endif
/// Revision of the numbers the engine computes. Bump it with any change that alters a trained model or a score
/// (kernels, layers, optimiser, rounding order): every model stage folds it into its version, so a cache filled by
/// an older engine is retrained rather than silently mixed with new results.
/// 1: first engine (Swift SIMD kernels). 2: C row kernels (AVX-512/AVX2), fused LayerNorm+ReLU, chunked tree head.
public enum EngineRevision {
    public static let numerics = 2

    /// `CPREC_NUMERICS=avx2` (or `baseline`): the row kernels' instruction set is capped and `pipeline` restarts
    /// itself with OpenBLAS on its Haswell kernel, so a regeneration on this machine takes another rounding order.
    /// Its model stages get other keys, so a shared cache never mixes the two.
    public static let numericsVariable = "CPREC_NUMERICS"
    public static var numericsPath: String? {
        guard let v = getenv(numericsVariable).map({ String(cString: $0) }), ["avx2", "baseline"].contains(v) else {
            return nil
        }
        return v
    }

    /// A model stage's version: the engine revision times 1,000 plus the stage's own revision (plus 100,000 per
    /// capped numerics path, so its results never share a key with the default path's).
    public static func stageVersion(_ own: Int) -> Int {
        numerics * 1000 + own + (numericsPath == "avx2" ? 100_000 : numericsPath == "baseline" ? 200_000 : 0)
    }
}
