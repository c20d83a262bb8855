import Foundation
import Random

/// Parameters of the embedded synthetic generator (every field optional in YAML).
public struct SyntheticSpec: Codable, Hashable, Sendable {
    /// Number of users (one history each).
    public var users: Int = 1000
    /// Number of source items.
    public var items: Int = 500
    /// Zipf exponent s of item popularity: weight of popularity rank r (1-based) is r^-s.
    public var zipfExponent: Double = 1.0
    /// History length: minLength + exponential with mean (meanLength - minLength), capped at maxLength.
    public var minLength: Int = 5
    public var meanLength: Double = 30
    public var maxLength: Int = 200
    /// Successors per item in the planted transition graph.
    public var successors: Int = 3
    /// Probability that the next item is one of the previous item's successors (uniformly).
    public var followProbability: Double = 0.5
    /// Successors are drawn from Zipf with exponent zipfExponent × successorBias (0 = uniform, 1 = as popular as
    /// items).
    public var successorBias: Double = 0.5
    /// Item clusters (topics); each user has a home cluster.
    public var clusters: Int = 16
    /// Probability that a non-transition draw comes from the home cluster (by popularity within it) instead of all
    /// items.
    public var clusterAffinity: Double = 0.5
    /// Target-domain items; 0 = no transfer pair (only used by the coldrec format).
    public var targetItems: Int = 0
    /// Target items per user.
    public var targetsPerUser: Int = 1
    /// Users that have target-domain items (the first ones; 0 = every user): a small target set next to a large
    /// source corpus is what makes pre-training pay.
    public var targetUsers: Int = 0
    /// Preferred target items per cluster.
    public var targetsPerCluster: Int = 2
    /// Probability that a target is a popularity draw instead of one of the dominant cluster's preferred targets.
    public var targetNoise: Double = 0.2
    /// Seed of every draw.
    public var seed: UInt64 = 1

    public init() {}

    public init(
        users: Int, items: Int, zipfExponent: Double = 1.0, minLength: Int = 5, meanLength: Double = 30,
        maxLength: Int = 200, successors: Int = 3, followProbability: Double = 0.5, successorBias: Double = 0.5,
        clusters: Int = 16, clusterAffinity: Double = 0.5, targetItems: Int = 0, targetsPerUser: Int = 1,
        targetsPerCluster: Int = 2, targetNoise: Double = 0.2, seed: UInt64 = 1
    ) {
        self.users = users; self.items = items; self.zipfExponent = zipfExponent; self.minLength = minLength
        self.meanLength = meanLength; self.maxLength = maxLength; self.successors = successors
        self.followProbability = followProbability; self.successorBias = successorBias; self.clusters = clusters
        self.clusterAffinity = clusterAffinity; self.targetItems = targetItems; self.targetsPerUser = targetsPerUser
        self.targetsPerCluster = targetsPerCluster; self.targetNoise = targetNoise; self.seed = seed
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case users, items, zipfExponent, minLength, meanLength, maxLength, successors, followProbability, successorBias
        case clusters, clusterAffinity, targetItems, targetsPerUser, targetUsers, targetsPerCluster, targetNoise, seed
    }

    public init(from decoder: Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: DatasetSpecKeys.synthetic)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SyntheticSpec()
        users = try c.decodeIfPresent(Int.self, forKey: .users) ?? d.users
        items = try c.decodeIfPresent(Int.self, forKey: .items) ?? d.items
        zipfExponent = try c.decodeIfPresent(Double.self, forKey: .zipfExponent) ?? d.zipfExponent
        minLength = try c.decodeIfPresent(Int.self, forKey: .minLength) ?? d.minLength
        meanLength = try c.decodeIfPresent(Double.self, forKey: .meanLength) ?? d.meanLength
        maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? d.maxLength
        successors = try c.decodeIfPresent(Int.self, forKey: .successors) ?? d.successors
        followProbability = try c.decodeIfPresent(Double.self, forKey: .followProbability) ?? d.followProbability
        successorBias = try c.decodeIfPresent(Double.self, forKey: .successorBias) ?? d.successorBias
        clusters = try c.decodeIfPresent(Int.self, forKey: .clusters) ?? d.clusters
        clusterAffinity = try c.decodeIfPresent(Double.self, forKey: .clusterAffinity) ?? d.clusterAffinity
        targetItems = try c.decodeIfPresent(Int.self, forKey: .targetItems) ?? d.targetItems
        targetsPerUser = try c.decodeIfPresent(Int.self, forKey: .targetsPerUser) ?? d.targetsPerUser
        targetUsers = try c.decodeIfPresent(Int.self, forKey: .targetUsers) ?? d.targetUsers
        targetsPerCluster = try c.decodeIfPresent(Int.self, forKey: .targetsPerCluster) ?? d.targetsPerCluster
        targetNoise = try c.decodeIfPresent(Double.self, forKey: .targetNoise) ?? d.targetNoise
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
    }

    /// A spec shaped like one of the paper's datasets at the given size (`weishi`, `ml-latest`, `tiktok`, `coldrec`);
    /// shapes are guesses (the paper's Table 1 numbers were not found): short-video data gets short histories and a
    /// steeper tail, ML-latest long histories (many chunks per user), ColdRec a target domain of items/10 items.
    public static func shaped(like dataset: String, users: Int, items: Int, seed: UInt64 = 1) -> SyntheticSpec {
        var s = SyntheticSpec(users: users, items: items, seed: seed)
        switch dataset {
        case "weishi": s.zipfExponent = 1.1; s.meanLength = 18; s.minLength = 4; s.maxLength = 100
        case "ml-latest": s.zipfExponent = 0.9; s.meanLength = 60; s.minLength = 10; s.maxLength = 400; s.successors = 4
        case "tiktok": s.zipfExponent = 1.2; s.meanLength = 30; s.minLength = 5; s.maxLength = 200
        case "coldrec":
            s.zipfExponent = 1.0; s.meanLength = 25; s.minLength = 5; s.maxLength = 100
            s.targetItems = max(2, items / 10); s.targetsPerUser = 1; s.targetsPerCluster = 2; s.targetNoise = 0.2
        default: break
        }
        return s
    }

    /// Rejects values the generator cannot honour, naming the field.
    public func validate() throws {
        func bad(_ f: String, _ e: String) -> DatasetError { .invalidParameter(field: "source.\(f)", expected: e) }
        if users < 1 { throw bad("users", ">= 1") }
        if items < 2 { throw bad("items", ">= 2") }
        if zipfExponent < 0 { throw bad("zipfExponent", ">= 0") }
        if minLength < 1 || maxLength < minLength { throw bad("minLength/maxLength", "1 <= minLength <= maxLength") }
        if meanLength < Double(minLength) { throw bad("meanLength", ">= minLength") }
        if successors < 1 || successors >= items { throw bad("successors", "1..<items") }
        if !(0...1).contains(followProbability) { throw bad("followProbability", "[0, 1]") }
        if successorBias < 0 { throw bad("successorBias", ">= 0") }
        if clusters < 1 || clusters > items { throw bad("clusters", "1...items") }
        if !(0...1).contains(clusterAffinity) { throw bad("clusterAffinity", "[0, 1]") }
        if targetItems < 0 { throw bad("targetItems", ">= 0") }
        if targetItems > 0 {
            if targetsPerUser < 1 || targetsPerUser > targetItems { throw bad("targetsPerUser", "1...targetItems") }
            if targetUsers < 0 || targetUsers > users { throw bad("targetUsers", "0...users (0 = every user)") }
            if targetsPerCluster < 1 || targetsPerCluster > targetItems {
                throw bad("targetsPerCluster", "1...targetItems")
            }
            if !(0...1).contains(targetNoise) { throw bad("targetNoise", "[0, 1]") }
        }
    }
}

/// The generated data in memory; item and target "tokens" are the integers written to the raw files (1-based).
public struct SyntheticData: Sendable {
    /// Per user: item tokens, oldest first.
    public var sequences: [[Int]]
    /// Per user: strictly increasing Unix timestamps, parallel to `sequences`.
    public var times: [[Int64]]
    /// Item token -> its planted successors' tokens (index 0 unused).
    public var successors: [[Int]]
    /// Item token -> cluster (index 0 unused).
    public var itemCluster: [Int]
    /// Per user: the latent home cluster.
    public var homeCluster: [Int]
    /// Per user: target tokens (empty when `targetItems` is 0, and for users past `targetUsers`).
    public var targets: [[Int]]
    /// Cluster -> preferred target tokens.
    public var preferredTargets: [[Int]]
    /// Item token -> unnormalised popularity weight r^-s of its rank (index 0 unused): the oracle needs the law.
    public var popularity: [Double]
}

/// Seeded generator of long-tailed interaction data with learnable sequential structure and an optional target domain.
///
/// Generative process (all draws from one `Rng(seed)`):
/// 1. Items get popularity ranks by a random permutation of their tokens 1...items (so tokens carry no frequency
///    order); rank r (1-based) has weight r^-s (Zipf, s = `zipfExponent`). Each item gets a uniform random cluster.
/// 2. Transition graph: each item gets `successors` distinct successor items drawn from Zipf with exponent
///    s × `successorBias` (biased toward popular items, but less than plain popularity).
/// 3. Each user has a uniform home cluster h and a length L = minLength + ⌊Exp(meanLength − minLength)⌋ ≤ maxLength.
///    The first item is a background draw; each next item is, with probability `followProbability`, a uniform pick
///    among the previous item's successors, else a background draw. A background draw is, with probability
///    `clusterAffinity`, a popularity draw restricted to cluster h, else a popularity draw over all items.
///    Timestamps start at a random time and increase by 1 s … 1 h per step.
///    MostPop only sees the marginal popularity; a sequence model can learn the successor sets (up to
///    `followProbability` HR@successors) and the user's cluster.
/// 4. Transfer pair (`targetItems` > 0; only the first `targetUsers` users when set): each cluster gets
/// `targetsPerCluster` preferred target items (uniform). A
///    user's dominant cluster is the most frequent cluster among their *observed* source items (ties: lowest index).
///    Each of the user's `targetsPerUser` distinct targets is, with probability 1 − `targetNoise`, a uniform pick
///    among the dominant cluster's preferred targets, else a Zipf draw over all target items. So the target is a
///    noisy function of the source behaviour, which a pre-trained sequence encoder can summarise.
public enum SyntheticGenerator {
    /// Runs the generative process.
    public static func generate(_ spec: SyntheticSpec) throws -> SyntheticData {
        try spec.validate()
        var rng = Rng(seed: spec.seed)
        let n = spec.items
        // rank -> token
        var tokenOfRank = Array(1...n)
        rng.shuffle(&tokenOfRank)
        let popular = Sampler(weights: (0..<n).map { pow(Double($0 + 1), -spec.zipfExponent) })
        var itemCluster = [Int](repeating: 0, count: n + 1)
        for t in 1...n { itemCluster[t] = rng.int(below: spec.clusters) }
        // Per-cluster samplers over ranks (popularity within the cluster).
        var clusterRanks = [[Int]](repeating: [], count: spec.clusters)
        for r in 0..<n { clusterRanks[itemCluster[tokenOfRank[r]]].append(r) }
        let clusterSamplers = clusterRanks.map { ranks in
            ranks.isEmpty ? nil : Sampler(weights: ranks.map { pow(Double($0 + 1), -spec.zipfExponent) })
        }
        let succSampler = Sampler(weights: (0..<n).map { pow(Double($0 + 1), -spec.zipfExponent * spec.successorBias) })
        var successors = [[Int]](repeating: [], count: n + 1)
        for t in 1...n {
            var set: [Int] = []
            var tries = 0
            while set.count < spec.successors {
                let cand = tokenOfRank[succSampler.draw(&rng)]
                tries += 1
                if (cand != t || tries > 50) && !set.contains(cand) { set.append(cand) }
                if tries > 10_000 { break }
            }
            successors[t] = set
        }

        var sequences: [[Int]] = [], times: [[Int64]] = [], home: [Int] = []
        sequences.reserveCapacity(spec.users)
        for _ in 0..<spec.users {
            let h = rng.int(below: spec.clusters)
            let extra = -log(1 - rng.uniformDouble()) * (spec.meanLength - Double(spec.minLength))
            let length = min(spec.maxLength, spec.minLength + Int(extra))
            func background(_ rng: inout Rng) -> Int {
                if rng.uniformDouble() < spec.clusterAffinity, let s = clusterSamplers[h] {
                    return tokenOfRank[clusterRanks[h][s.draw(&rng)]]
                }
                return tokenOfRank[popular.draw(&rng)]
            }
            var seq = [background(&rng)]
            var ts: [Int64] = [1_500_000_000 + Int64(rng.int(below: 50_000_000))]
            while seq.count < length {
                let prev = seq[seq.count - 1]
                if rng.uniformDouble() < spec.followProbability {
                    seq.append(successors[prev][rng.int(below: successors[prev].count)])
                } else {
                    seq.append(background(&rng))
                }
                ts.append(ts[ts.count - 1] + 1 + Int64(rng.int(below: 3600)))
            }
            sequences.append(seq)
            times.append(ts)
            home.append(h)
        }

        var targets = [[Int]](repeating: [], count: spec.users)
        var preferred: [[Int]] = []
        if spec.targetItems > 0 {
            let m = spec.targetItems
            var targetOfRank = Array(1...m)
            rng.shuffle(&targetOfRank)
            let targetPopular = Sampler(weights: (0..<m).map { pow(Double($0 + 1), -spec.zipfExponent) })
            for _ in 0..<spec.clusters {
                var set: [Int] = []
                while set.count < spec.targetsPerCluster {
                    let t = 1 + rng.int(below: m)
                    if !set.contains(t) { set.append(t) }
                }
                preferred.append(set)
            }
            for u in 0..<(spec.targetUsers > 0 ? spec.targetUsers : spec.users) {
                var count = [Int](repeating: 0, count: spec.clusters)
                for t in sequences[u] { count[itemCluster[t]] += 1 }
                var dominant = 0
                for c in 1..<spec.clusters where count[c] > count[dominant] { dominant = c }
                var chosen: [Int] = []
                var tries = 0
                while chosen.count < spec.targetsPerUser {
                    tries += 1
                    let t: Int
                    if rng.uniformDouble() < spec.targetNoise || tries > 20 {
                        t = targetOfRank[targetPopular.draw(&rng)]
                    } else {
                        t = preferred[dominant][rng.int(below: preferred[dominant].count)]
                    }
                    if !chosen.contains(t) { chosen.append(t) }
                }
                targets[u] = chosen
            }
        }
        var popularity = [Double](repeating: 0, count: n + 1)
        for r in 0..<n { popularity[tokenOfRank[r]] = pow(Double(r + 1), -spec.zipfExponent) }
        return SyntheticData(
            sequences: sequences, times: times, successors: successors, itemCluster: itemCluster,
            homeCluster: home, targets: targets, preferredTargets: preferred, popularity: popularity)
    }

    /// Generates and writes the raw file(s) of `format` into `directory`; returns the file names in read order.
    ///
    /// movielens-ratings: `ratings.dat` rows user, item, 5, time (delimiter as the spec, default tab);
    /// user-item-time: `interactions.tsv` with the spec's delimiter (default tab) and columns (header when asked);
    /// session-csv: `sessions.csv`, each history on one line left-padded with "0" to the longest (the authors' format);
    /// sequence-lines: `sequences.txt`, space-separated; user-item-lines: `pairs.txt`, `USER ITEM` per line;
    /// user-sequence-lines: `user-sequences.txt`, `USER ITEM ITEM …`; coldrec: `source.csv` (as session-csv) and
    /// `target.csv`
    /// (the user's last 50 source items, padded with "0" to a common width, then ",," and the targets).
    @discardableResult
    public static func write(_ spec: SyntheticSpec, format: FormatSpec, into directory: URL) throws -> [String] {
        let data = try generate(spec)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var out = ByteWriter()
        func save(_ name: String) throws {
            try Data(out.bytes).write(to: directory.appendingPathComponent(name))
            out = ByteWriter()
        }
        func paddedLines(_ seqs: [[Int]], width: Int) {
            for s in seqs {
                for _ in 0..<(width - s.count) { out.text("0,") }
                for (i, t) in s.enumerated() { if i > 0 { out.byte(0x2C) }; out.int(t) }
                out.byte(0x0A)
            }
        }
        switch format.kind {
        case .movielensRatings, .userItemTime:
            let delim = format.delimiter ?? "\t"
            let ml = format.kind == .movielensRatings
            let uc = format.userColumn, ic = format.itemColumn, tc = format.timeColumn
            let width = max(uc, ic, tc, ml ? 3 : 0) + 1
            if format.header == true {
                var names = (0..<width).map { "x\($0)" }
                names[uc] = "user"; names[ic] = "item"; if tc >= 0 { names[tc] = "timestamp" }
                out.text(names.joined(separator: delim)); out.byte(0x0A)
            }
            for (u, seq) in data.sequences.enumerated() {
                for (j, item) in seq.enumerated() {
                    for col in 0..<width {
                        if col > 0 { out.text(delim) }
                        if col == uc {
                            out.int(u + 1)
                        } else if col == ic {
                            out.int(item)
                        } else if col == tc {
                            out.int(Int(data.times[u][j]))
                        } else {
                            out.byte(0x35)
                        }  // "5" (rating)
                    }
                    out.byte(0x0A)
                }
            }
            let name = ml ? "ratings.dat" : "interactions.tsv"
            try save(name)
            return [name]
        case .sessionCSV:
            paddedLines(data.sequences, width: data.sequences.map(\.count).max() ?? 0)
            try save("sessions.csv")
            return ["sessions.csv"]
        case .sequenceLines:
            for s in data.sequences {
                for (i, t) in s.enumerated() { if i > 0 { out.byte(0x20) }; out.int(t) }
                out.byte(0x0A)
            }
            try save("sequences.txt")
            return ["sequences.txt"]
        case .userItemLines:
            for (u, seq) in data.sequences.enumerated() {
                for t in seq { out.int(u + 1); out.byte(0x20); out.int(t); out.byte(0x0A) }
            }
            try save("pairs.txt")
            return ["pairs.txt"]
        case .userSequenceLines:
            for (u, seq) in data.sequences.enumerated() where !seq.isEmpty {
                out.int(u + 1)
                for t in seq { out.byte(0x20); out.int(t) }
                out.byte(0x0A)
            }
            try save("user-sequences.txt")
            return ["user-sequences.txt"]
        case .coldrec:
            guard spec.targetItems > 0 else {
                throw DatasetError.invalidParameter(field: "source.targetItems", expected: "> 0 for the coldrec format")
            }
            paddedLines(data.sequences, width: data.sequences.map(\.count).max() ?? 0)
            try save("source.csv")
            let recent = data.sequences.map { Array($0.suffix(50)) }
            let width = recent.map(\.count).max() ?? 0
            for (u, s) in recent.enumerated() where !data.targets[u].isEmpty {
                for _ in 0..<(width - s.count) { out.text("0,") }
                for (i, t) in s.enumerated() { if i > 0 { out.byte(0x2C) }; out.int(t) }
                out.text(",,")
                for (i, t) in data.targets[u].enumerated() { if i > 0 { out.byte(0x2C) }; out.int(t) }
                out.byte(0x0A)
            }
            try save("target.csv")
            return ["source.csv", "target.csv"]
        }
    }
}

/// Inverse-CDF sampler over fixed weights (binary search on the cumulative sums).
struct Sampler {
    let cumulative: [Double]

    init(weights: [Double]) {
        var c: [Double] = []
        c.reserveCapacity(weights.count)
        var s = 0.0
        for w in weights { s += w; c.append(s) }
        cumulative = c
    }

    /// Index drawn with probability proportional to its weight.
    func draw(_ rng: inout Rng) -> Int {
        let u = rng.uniformDouble() * cumulative[cumulative.count - 1]
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

/// Appends ASCII text and decimal integers to a byte buffer (fast raw-file writing).
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func text(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func int(_ v: Int) {
        if v < 0 { bytes.append(0x2D); int(-v); return }
        if v >= 10 { int(v / 10) }
        bytes.append(UInt8(48 + v % 10))
    }
}
