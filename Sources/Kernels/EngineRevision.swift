/// Revision of the numbers the engine computes. Bump it with any change that alters a trained model or a score
/// (kernels, layers, optimiser, rounding order): every model stage folds it into its version, so a cache filled by
/// an older engine is retrained rather than silently mixed with new results.
/// 1: first engine (Swift SIMD kernels). 2: C row kernels (AVX-512/AVX2), fused LayerNorm+ReLU, chunked tree head.
public enum EngineRevision {
    public static let numerics = 2

    /// A model stage's version: the engine revision times 1,000 plus the stage's own revision.
    public static func stageVersion(_ own: Int) -> Int { numerics * 1000 + own }
}
