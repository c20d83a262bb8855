import Foundation

/// xoshiro256** seeded by SplitMix64: the same algorithm and seeding as `Kernels.Rng`, kept local so the
/// Datasets module depends only on Foundation and Hashing (no OpenBLAS link for fetch/prep tools).
struct Rng {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    mutating func next() -> UInt64 {
        let result = Rng.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = Rng.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in 0..<n (Lemire's multiply-shift). Parenthesised on purpose: `>>` binds tighter than `&*`
    /// in Swift (without them the result is always 0, as in the first version of `Kernels.Rng`).
    mutating func int(below n: Int) -> Int {
        precondition(n > 0 && n <= Int(UInt32.max))
        return Int(((next() >> 32) &* UInt64(n)) >> 32)
    }

    /// Fisher-Yates shuffle, as Kernels.Rng.
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            a.swapAt(i, j)
        }
    }
}
