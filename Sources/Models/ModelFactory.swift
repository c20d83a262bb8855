import Foundation

/// Why a config cannot be built into a model; each message names the field and what was expected.
public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let m): return "invalid model config: \(m)"
        }
    }
}

/// Builds any model of the paper from its config.
public enum ModelFactory {
    /// Checks `config` against `itemCount` and throws a `ModelConfigError` naming the first problem.
    public static func validate(_ c: ModelConfig, itemCount: Int) throws {
        func fail(_ m: String) throws -> Never { throw ModelConfigError.invalid(m) }
        if itemCount < 2 { try fail("itemCount \(itemCount) must be ≥ 2 (padding 0 plus at least one item)") }
        if c.kind == .mostpop { return }
        if c.dim < 1 { try fail("dim must be ≥ 1, got \(c.dim)") }
        if c.input == .blockwise || c.output == .blockwise {
            let b = c.blocks
            if b.isEmpty {
                try fail("blocks is empty; block-wise input/output needs frequency blocks ending at \(itemCount)")
            }
            if b.last != itemCount { try fail("blocks \(b) must end at the item count \(itemCount)") }
            if b[0] <= 0 || !zip(b, b.dropFirst()).allSatisfy({ $0 < $1 }) {
                try fail("blocks \(b) must be positive and strictly increasing")
            }
            if !c.blockWidths.isEmpty {
                if c.blockWidths.count != b.count {
                    try fail("blockWidths \(c.blockWidths) needs one width per block (\(b.count))")
                }
                if c.blockWidths.first != c.dim {
                    try fail("blockWidths[0] must equal dim \(c.dim) (the head is full width)")
                }
                if c.blockWidths.contains(where: { $0 < 1 }) { try fail("blockWidths must be ≥ 1") }
            } else if c.blockFactor < 1 {
                try fail("blockFactor must be ≥ 1, got \(c.blockFactor)")
            }
        }
        if c.input == .tied { try fail("input: tied is not a layer; tied is an output that reuses input: full") }
        if c.output == .tied && c.input != .full {
            try fail("output: tied reuses the input table, so it needs input: full, got \(c.input.rawValue)")
        }
        if (c.input == .lowrank || c.output == .lowrank) && c.lowRank < 1 {
            try fail("lowRank must be ≥ 1, got \(c.lowRank)")
        }
        if c.sharing == .allProjections && c.kind != .sasrec {
            try fail("sharing all-projections is SASRec's (on NextItNet, one conv for every layer is cross-layer)")
        }
        if c.kind != .nextitnet && c.kind != .sasrec && c.sharing != .none {
            try fail(
                "sharing \(c.sharing.rawValue) applies to NextItNet's and SASRec's blocks only, not \(c.kind.rawValue)")
        }
        if c.kind != .sasrec && (c.heads != nil || c.depth != nil || c.positions != nil || c.dropout != nil) {
            try fail("heads, depth, positions and dropout are SASRec keys, not \(c.kind.rawValue)'s")
        }
        switch c.kind {
        case .nextitnet:
            if c.dilations.isEmpty || c.dilations.contains(where: { $0 < 1 }) {
                try fail("dilations \(c.dilations) must be non-empty and ≥ 1")
            }
            if c.kernel < 1 { try fail("kernel must be ≥ 1, got \(c.kernel)") }
        case .gru4rec:
            if c.gruLayers < 1 { try fail("gruLayers must be ≥ 1, got \(c.gruLayers)") }
        case .caser:
            if c.caserWindow < 1 { try fail("caserWindow must be ≥ 1, got \(c.caserWindow)") }
            if c.caserHorizontal < 1 || c.caserVertical < 1 {
                try fail("caserHorizontal and caserVertical must be ≥ 1, got \(c.caserHorizontal), \(c.caserVertical)")
            }
        case .sasrec:
            let h = c.attentionHeads
            if h < 1 || c.dim % h != 0 { try fail("heads \(h) must be ≥ 1 and divide dim \(c.dim)") }
            if c.transformerBlocks < 1 { try fail("depth must be ≥ 1, got \(c.transformerBlocks)") }
            if c.positionCount < 1 { try fail("positions must be ≥ 1, got \(c.positionCount)") }
            if !(c.dropoutRate >= 0 && c.dropoutRate < 1) {
                try fail("dropout must be in [0, 1), got \(c.dropoutRate)")
            }
        case .mostpop: break
        }
    }

    /// A freshly initialised model (MostPop counts `trainSequences`, which it requires).
    public static func make(
        _ config: ModelConfig, itemCount: Int, seed: UInt64,
        trainSequences: SequenceSet? = nil
    ) throws -> any SequenceModel {
        try validate(config, itemCount: itemCount)
        switch config.kind {
        case .nextitnet: return NextItNet(config: config, itemCount: itemCount, seed: seed)
        case .gru4rec: return GRU4Rec(config: config, itemCount: itemCount, seed: seed)
        case .caser: return Caser(config: config, itemCount: itemCount, seed: seed)
        case .sasrec: return SASRec(config: config, itemCount: itemCount, seed: seed)
        case .mostpop:
            guard let train = trainSequences else {
                throw ModelConfigError.invalid("mostpop needs the training sequences to count popularity")
            }
            if let bad = train.ids.first(where: { $0 < 0 || Int($0) >= itemCount }) {
                throw ModelConfigError.invalid("training sequences hold item id \(bad) outside 0..<\(itemCount)")
            }
            return MostPop(itemCount: itemCount, trainSequences: train)
        }
    }

    /// Closed-form (input, middle, output) parameter counts of a config, independent of the layout table.
    public static func closedFormParameterCounts(
        _ c: ModelConfig, itemCount: Int
    ) -> (input: Int, middle: Int, output: Int) {
        switch c.kind {
        case .nextitnet: return NextItNet.closedFormParameterCounts(config: c, itemCount: itemCount)
        case .gru4rec: return GRU4Rec.closedFormParameterCounts(config: c, itemCount: itemCount)
        case .caser: return Caser.closedFormParameterCounts(config: c, itemCount: itemCount)
        case .sasrec: return SASRec.closedFormParameterCounts(config: c, itemCount: itemCount)
        case .mostpop: return (0, 0, 0)
        }
    }
}
