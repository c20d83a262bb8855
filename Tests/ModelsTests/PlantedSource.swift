import Kernels
@testable import Models

/// A tiny planted sequence source: with probability `follow` the next item is i → i+1 (wrapping over
/// 1..<K), otherwise a popularity draw from the few most popular ids. A sequence model can learn the
/// transition; MostPop cannot.
enum PlantedSource {
    static func make(rows: Int, length: Int, itemCount k: Int, follow: Float = 0.8, seed: UInt64) -> SequenceSet {
        var rng = Rng(seed: seed)
        func popular() -> Int32 {
            // Skewed over ids 1...6: P(id) ∝ 1/id.
            let weights: [Float] = (1...6).map { 1 / Float($0) }
            var u = rng.uniform() * weights.reduce(0, +)
            for (i, w) in weights.enumerated() { if u < w { return Int32(i + 1) }; u -= w }
            return 6
        }
        var ids = [Int32]()
        ids.reserveCapacity(rows * length)
        for _ in 0..<rows {
            // Some rows are left-padded so padding handling is exercised.
            let pad = rng.int(below: 4) == 0 ? rng.int(below: length / 2) : 0
            ids.append(contentsOf: [Int32](repeating: 0, count: pad))
            var x = Int32(1 + rng.int(below: k - 1))
            ids.append(x)
            for _ in 1..<(length - pad) {
                x = rng.uniform() < follow ? Int32(Int(x) % (k - 1) + 1) : popular()
                ids.append(x)
            }
        }
        return SequenceSet(ids: ids, length: length)
    }
}
