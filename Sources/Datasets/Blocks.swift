import Foundation

/// How to cut the frequency-ordered ids into contiguous blocks; encoded with a `rule` key.
public struct BlockRule: Codable, Hashable, Sendable {
    /// Which rule applies.
    public enum Kind: String, Codable, Hashable, Sendable {
        /// Explicit cumulative upper ids (`cutoffs`), clipped to K; K is appended when missing (authors: [7000, 15000,
        /// K]).
        case cutoffs
        /// Cumulative shares of the real items (`fractions`, e.g. [0.1, 0.4]).
        case itemFractions = "item-fractions"
        /// A block closes once it reaches a cumulative share of interactions (`fractions`, e.g. [0.6, 0.85]).
        case massFractions = "mass-fractions"
        /// Jiang (2013) head/tail breaks, at most `maxBlocks` blocks.
        case headTail = "head-tail"
    }

    public var rule: Kind
    /// For `cutoffs`: cumulative exclusive upper ids.
    public var cutoffs: [Int]
    /// For `item-fractions` and `mass-fractions`: increasing cumulative shares in (0, 1).
    public var fractions: [Double]
    /// For `head-tail`: maximum number of blocks.
    public var maxBlocks: Int
    /// For `head-tail`: stop splitting once the head holds more than this share of the items being split (Jiang: 0.4).
    public var headLimit: Double

    public init(rule: Kind, cutoffs: [Int] = [], fractions: [Double] = [], maxBlocks: Int = 3, headLimit: Double = 0.4)
    {
        self.rule = rule
        self.cutoffs = cutoffs
        self.fractions = fractions
        self.maxBlocks = maxBlocks
        self.headLimit = headLimit
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case rule, cutoffs, fractions, maxBlocks, headLimit }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: DatasetSpecKeys.blocks)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            rule: try c.decode(Kind.self, forKey: .rule),
            cutoffs: try c.decodeIfPresent([Int].self, forKey: .cutoffs) ?? [],
            fractions: try c.decodeIfPresent([Double].self, forKey: .fractions) ?? [],
            maxBlocks: try c.decodeIfPresent(Int.self, forKey: .maxBlocks) ?? 3,
            headLimit: try c.decodeIfPresent(Double.self, forKey: .headLimit) ?? 0.4)
    }

    /// The authors' default: head [0, 7000), middle [7000, 15000), tail [15000, K).
    public static let authorsDefault = BlockRule(rule: .cutoffs, cutoffs: [7000, 15000])
}

/// One contiguous id range of the frequency order.
public struct BlockInfo: Codable, Equatable, Sendable {
    /// First id (inclusive).
    public var lower: Int
    /// Last id + 1 (exclusive).
    public var upper: Int
    /// Real items in the block (id 0, padding, is not counted).
    public var items: Int
    /// Interactions on the block's items.
    public var interactions: Int
    /// Share of all interactions.
    public var share: Double
}

/// Frequency blocks: `boundaries` are cumulative exclusive upper ids (last = K), the head includes padding id 0.
public struct Blocks: Codable, Equatable, Sendable {
    public var rule: BlockRule
    /// Number of ids including padding (K).
    public var itemCount: Int
    /// Cumulative exclusive upper ids, strictly increasing, last = K (what `ModelConfig.blocks` takes).
    public var boundaries: [Int]
    /// Per-block statistics, head first.
    public var blocks: [BlockInfo]

    /// Pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}

/// Frequency blocking over ids sorted by descending count.
public enum Blocking {
    /// Computes blocks from `counts` (index = id, index 0 = padding, counts non-increasing from id 1).
    public static func compute(counts: [Int], rule: BlockRule) throws -> Blocks {
        let K = counts.count
        guard K >= 2 else { throw DatasetError.empty(dataset: "blocks", detail: "no items to block") }
        let items = K - 1
        let total = counts.dropFirst().reduce(0, +)
        var cuts: [Int]
        switch rule.rule {
        case .cutoffs:
            cuts = rule.cutoffs.map { min($0, K) }
            if cuts.contains(where: { $0 < 2 }) {
                throw DatasetError.invalidParameter(
                    field: "blocks.cutoffs",
                    expected: "upper ids >= 2 (the head must hold at least one item besides padding)")
            }
        case .itemFractions:
            try checkFractions(rule.fractions, field: "blocks.fractions")
            cuts = rule.fractions.map { 1 + max(1, Int((Double(items) * $0).rounded())) }
        case .massFractions:
            try checkFractions(rule.fractions, field: "blocks.fractions")
            var prefix = 0
            var id = 1
            cuts = []
            for f in rule.fractions {
                let goal = f * Double(total)
                while id < K && Double(prefix) < goal { prefix += counts[id]; id += 1 }
                cuts.append(max(id, 2))
            }
        case .headTail:
            guard rule.maxBlocks >= 1 else {
                throw DatasetError.invalidParameter(field: "blocks.maxBlocks", expected: "an integer >= 1")
            }
            cuts = headTailBreaks(counts: counts, maxBlocks: rule.maxBlocks, headLimit: rule.headLimit)
        }
        // Deduplicate after clipping, keep increasing order, close at K.
        var boundaries: [Int] = []
        for c in cuts.sorted() where c < K && (boundaries.last ?? 0) < c { boundaries.append(c) }
        boundaries.append(K)

        var infos: [BlockInfo] = []
        var lower = 0
        for upper in boundaries {
            let inter = counts[lower..<upper].reduce(0, +)
            infos.append(
                BlockInfo(
                    lower: lower, upper: upper, items: upper - max(lower, 1), interactions: inter,
                    share: total > 0 ? Double(inter) / Double(total) : 0))
            lower = upper
        }
        return Blocks(rule: rule, itemCount: K, boundaries: boundaries, blocks: infos)
    }

    /// Jiang (2013): split the items at the mean count into head (above the mean) and tail; recurse on the head while
    /// it is a minority (share of the items being split <= headLimit) and fewer than `maxBlocks` blocks exist.
    static func headTailBreaks(counts: [Int], maxBlocks: Int, headLimit: Double) -> [Int] {
        var cuts: [Int] = []
        var end = counts.count  // current range of real items: ids 1..<end
        while cuts.count + 1 < maxBlocks {
            let n = end - 1
            guard n >= 2 else { break }
            let mean = Double(counts[1..<end].reduce(0, +)) / Double(n)
            var head = 0
            while head < n && Double(counts[1 + head]) > mean { head += 1 }
            if head == 0 || head == n || Double(head) / Double(n) > headLimit { break }
            end = 1 + head
            cuts.append(end)
        }
        return cuts
    }

    private static func checkFractions(_ f: [Double], field: String) throws {
        guard !f.isEmpty, f.allSatisfy({ $0 > 0 && $0 < 1 }), zip(f, f.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw DatasetError.invalidParameter(
                field: field, expected: "increasing shares strictly between 0 and 1, e.g. [0.1, 0.4]")
        }
    }
}
