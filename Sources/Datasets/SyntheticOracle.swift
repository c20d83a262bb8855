import Foundation

/// Expected ranking metrics of the Bayes-optimal predictor on a synthetic dataset's held-out rows.
public struct OracleMetrics: Codable, Equatable, Sendable {
    public var mrr5 = 0.0, hr5 = 0.0, ndcg5 = 0.0, mrr20 = 0.0, hr20 = 0.0, ndcg20 = 0.0
    /// Rows averaged over.
    public var rows = 0
    /// What the oracle conditions on, in words (for table notes).
    public var conditionsOn = SyntheticOracle.conditionsOn

    public init() {}
}

/// The generator's own next-item law, turned into the best achievable expected HR/MRR/NDCG of a test split.
///
/// Given a row's visible items, the next item's distribution under the generative process
/// (`SyntheticGenerator`) is Σ_h P(h | row) · P(next | previous item, h), where h is the user's hidden home
/// cluster (uniform prior) and P(next | prev, h) = f·[next ∈ S(prev)]/|S(prev)| + (1 − f)·(a·P_h(next) +
/// (1 − a)·P_pop(next)). The posterior P(h | row) multiplies the law along the row. A left-padded row is the
/// oldest chunk of a history, so its first item is a background draw; a full row's first item followed an
/// unseen item, and its likelihood uses f·P_pop + (1 − f)·background as a stand-in for the unseen transition.
/// Ranking items by this distribution maximises every expected metric at once, and its expected HR@N is the
/// mass of its top N (MRR and NDCG weight the same masses by rank). Items removed by prep's filters are
/// dropped and the rest renormalised.
public enum SyntheticOracle {
    public static let conditionsOn =
        "the previous item and the posterior of the user's hidden home cluster given the row's visible items"

    /// Expected metrics over `rows` (row-major, `length` ids per row, 0 = left padding, last id = target).
    /// `tokens[id]` is the generator's token (as a decimal string) of each prepared id; index 0 is padding.
    public static func evaluate(
        spec: SyntheticSpec, data: SyntheticData, tokens: [String], rows: [Int32],
        length: Int
    ) -> OracleMetrics {
        let law = Law(spec: spec, data: data)
        let tokenOf = tokenMap(tokens)
        var out = OracleMetrics()
        var sums = [Double](repeating: 0, count: 6)
        let count = length > 0 ? rows.count / length : 0
        for r in 0..<count {
            guard let probs = law.distribution(row: rows[(r * length)..<((r + 1) * length)], tokenOf: tokenOf) else {
                continue
            }
            let top = topMasses(probs, total: 1, n: 20)
            for (k, p) in top.enumerated() {
                if k < 5 { sums[0] += p / Double(k + 1); sums[1] += p; sums[2] += p / log2(Double(k + 2)) }
                sums[3] += p / Double(k + 1); sums[4] += p; sums[5] += p / log2(Double(k + 2))
            }
            out.rows += 1
        }
        guard out.rows > 0 else { return out }
        let n = Double(out.rows)
        out.mrr5 = sums[0] / n; out.hr5 = sums[1] / n; out.ndcg5 = sums[2] / n
        out.mrr20 = sums[3] / n; out.hr20 = sums[4] / n; out.ndcg20 = sums[5] / n
        return out
    }

    /// Prepared id → generator token (0 for padding and for tokens that are not integers).
    static func tokenMap(_ tokens: [String]) -> [Int] {
        var tokenOf = [Int](repeating: 0, count: tokens.count)
        for i in 1..<max(tokens.count, 1) { tokenOf[i] = Int(tokens[i]) ?? 0 }
        return tokenOf
    }

    /// The `n` largest of probs[1...] divided by `total`, largest first.
    static func topMasses(_ probs: [Double], total: Double, n: Int) -> [Double] {
        var best: [Double] = []
        for i in 1..<probs.count {
            let p = probs[i]
            if best.count < n { best.append(p); best.sort(by: >); continue }
            if p > best[n - 1] { best[n - 1] = p; best.sort(by: >) }
        }
        return total > 0 ? best.map { $0 / total } : best
    }

    /// The generative law over tokens 1...items.
    struct Law {
        let f: Double, a: Double
        let clusters: Int
        let successors: [[Int]]
        let cluster: [Int]
        /// P_pop(token) and P_h(token) for h = cluster(token) (P_pop where that cluster has no items).
        let pop: [Double]
        let inCluster: [Double]

        init(spec: SyntheticSpec, data: SyntheticData) {
            f = spec.followProbability
            a = spec.clusterAffinity
            clusters = spec.clusters
            successors = data.successors
            cluster = data.itemCluster
            let w = data.popularity
            let total = w.reduce(0, +)
            pop = w.map { $0 / total }
            var clusterTotal = [Double](repeating: 0, count: spec.clusters)
            for t in 1..<w.count { clusterTotal[cluster[t]] += w[t] }
            inCluster = (0..<w.count).map { t in t == 0 ? 0 : w[t] / clusterTotal[data.itemCluster[t]] }
        }

        func background(_ t: Int, _ h: Int) -> Double {
            a * (cluster[t] == h ? inCluster[t] : 0) + (1 - a) * pop[t]
        }

        func transition(_ t: Int, previous: Int) -> Double {
            let s = successors[previous]
            return s.contains(t) ? f / Double(s.count) : 0
        }

        /// The oracle's next-item distribution over prepared ids 0..<tokenOf.count (0 = padding, probability 0)
        /// for one row whose last id is the target; nil when the row has fewer than two items.
        func distribution(row: ArraySlice<Int32>, tokenOf: [Int]) -> [Double]? {
            let tokens = row.map { tokenOf[Int($0)] }
            let visible = tokens.filter { $0 > 0 }
            guard visible.count >= 2 else { return nil }
            let context = Array(visible.dropLast())
            let post = posterior(context, startsHistory: tokens.first == 0)
            var probs = [Double](repeating: 0, count: tokenOf.count)
            var total = 0.0
            for i in 1..<tokenOf.count {
                probs[i] = next(tokenOf[i], previous: context.last!, posterior: post)
                total += probs[i]
            }
            if total > 0 { for i in 1..<probs.count { probs[i] /= total } }
            return probs
        }

        /// P(h | context) for every cluster h.
        func posterior(_ context: [Int], startsHistory: Bool) -> [Double] {
            var logp = [Double](repeating: 0, count: clusters)
            for h in 0..<clusters {
                var l = 0.0
                for (i, t) in context.enumerated() {
                    let p: Double
                    if i == 0 {
                        p = startsHistory ? background(t, h) : f * pop[t] + (1 - f) * background(t, h)
                    } else {
                        p = transition(t, previous: context[i - 1]) + (1 - f) * background(t, h)
                    }
                    l += log(max(p, 1e-300))
                }
                logp[h] = l
            }
            let m = logp.max() ?? 0
            let e = logp.map { exp($0 - m) }
            let z = e.reduce(0, +)
            return e.map { $0 / z }
        }

        /// P(next = t | previous, posterior over h); 0 for tokens outside the generator (filtered ids map to 0).
        func next(_ t: Int, previous: Int, posterior: [Double]) -> Double {
            guard t > 0 && t < pop.count else { return 0 }
            return transition(t, previous: previous) + (1 - f)
                * (a * posterior[cluster[t]] * inCluster[t] + (1 - a) * pop[t])
        }
    }
}
