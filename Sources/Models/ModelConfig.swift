/// Everything that defines one model; decoded from the `pipeline/` specs, hashed into the train stage's key.
public struct ModelConfig: Codable, Hashable, Sendable {
    /// Model family.
    public enum Kind: String, Codable, Sendable {
        case nextitnet, gru4rec, caser, mostpop, sasrec

        /// Bumped when a change moves this architecture's numbers and no other's, so that only its model stages get
        /// new cache keys (`EngineRevision.numerics` moves every kind's). SASRec 1: a masked padding key gets
        /// probability exactly 0, no longer a subnormal e^−87.3/Σ (losses move in the 8th digit; 7-12x faster).
        public var revision: Int { self == .sasrec ? 1 : 0 }
    }
    /// How the input embedding / output softmax matrix is represented.
    public enum Factorization: String, Codable, Sendable {
        /// One K×d table (input) or d×K matrix + bias (output).
        case full
        /// CpRec block-wise adaptive decomposition over frequency blocks (tree softmax on the output side).
        case blockwise
        /// One block low-rank factorisation K×e · e×d (B1-NextItNet, ALBERT-style).
        case lowrank
        /// Output only: scores with the input embedding table (logits = h · Eᵀ, no bias), as the published SASRec.
        case tied
    }
    /// Layer-wise parameter sharing of the residual blocks' convolutions (layer norms are never shared).
    /// On SASRec a "layer" is one d×d projection (Q, K, V, O, FFN in, FFN out) and a "block" one transformer
    /// block; the mapping is `SASRec.projectionName`'s comment.
    public enum Sharing: String, Codable, Sendable {
        case none
        case crossLayer = "cross-layer"  // Cl: one conv for every layer
        case crossBlock = "cross-block"  // Cb: every residual block uses block 0's two convs
        case adjacentLayer = "adjacent-layer"  // Al: the two convs inside a block share
        case adjacentBlock = "adjacent-block"  // Ab: blocks 2m and 2m+1 share both convs
        /// SASRec only: one d×d projection for Q, K, V, O and both FFN layers of every block, the paper's Cl (one
        /// conv for every layer) carried to a transformer; on NextItNet that is cross-layer itself.
        case allProjections = "all-projections"
    }

    public var kind: Kind
    /// Embedding = hidden = output width d.
    public var dim: Int = 64
    /// Residual-block dilations r (each block has convs with r and 2r): [1,4,1,4] = layers 1,2,4,8,1,2,4,8.
    public var dilations: [Int] = [1, 4, 1, 4]
    public var kernel: Int = 3
    public var input: Factorization = .full
    public var output: Factorization = .full
    public var sharing: Sharing = .none
    /// Block boundaries as cumulative exclusive upper item ids over the frequency order, last = K
    /// (filled from the `blocks/<dataset>` stage when a spec leaves it empty).
    public var blocks: [Int] = []
    /// Tail block i has width dim / factor^i (CpRec default 4).
    public var blockFactor: Int = 4
    /// Explicit per-block widths (overrides blockFactor when non-empty; first = dim).
    public var blockWidths: [Int] = []
    /// Rank e of the low-rank factorisation (B1).
    public var lowRank: Int = 16
    /// GRU4Rec: number of GRU layers.
    public var gruLayers: Int = 1
    /// Caser: window L, horizontal filters per height, vertical filters.
    public var caserWindow: Int = 5
    public var caserHorizontal: Int = 16
    public var caserVertical: Int = 4
    /// Layer-norm epsilon (the authors' code uses 1e-8).
    public var layerNormEps: Float = 1e-8
    /// Mask padding targets out of the loss (false reproduces the authors' unmasked loss).
    public var maskPadding: Bool = true
    // SASRec's keys are optional so that configs of the other kinds encode (and hash into stage keys) exactly as
    // before they existed; read them through the effective values below.
    /// SASRec: attention heads (must divide dim); nil = 1.
    public var heads: Int?
    /// SASRec: transformer blocks (attention + feed-forward each); nil = 2.
    public var depth: Int?
    /// SASRec: rows of the learned positional embedding; nil = 50 (the original's default maximum length).
    public var positions: Int?
    /// SASRec: dropout rate on the embedding and on both residual branches of every block; nil = 0.
    public var dropout: Double?
    /// SASRec: item embeddings times √d before the positions are added (Kang & McAuley); nil = off.
    public var scaleEmbedding: Bool?
    /// SASRec: padding positions are never attended to as keys (each position still sees itself, so a row of
    /// padding stays defined); nil = off, as NextItNet's convolutions see padding.
    public var maskPaddingKeys: Bool?

    /// Effective SASRec settings.
    public var attentionHeads: Int { heads ?? 1 }
    public var transformerBlocks: Int { depth ?? 2 }
    public var positionCount: Int { positions ?? 50 }
    public var dropoutRate: Float { Float(dropout ?? 0) }

    public init(kind: Kind) { self.kind = kind }
}

// Listed so spec readers can name every allowed value (and suggest the closest to a typo).
extension ModelConfig.Kind: CaseIterable {}
extension ModelConfig.Factorization: CaseIterable {}
extension ModelConfig.Sharing: CaseIterable {}
