import Foundation

/// Seeded xoshiro256** generator: every random draw in the project goes through one of these.
public struct Rng {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the four state words from SplitMix64, as the xoshiro authors recommend.
    public init(seed: UInt64) {
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

    @inlinable static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
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

    /// Uniform in [0, 1) with 24 bits of precision.
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 bits of precision.
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in 0..<n (Lemire's multiply-shift; bias is below 2^-32 for our n).
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0)
        // Parenthesised: `>>` binds tighter than `&*` in Swift, which made this always 0.
        return Int(((next() >> 32) &* UInt64(n)) >> 32)
    }

    /// Standard normal draw (Box-Muller on 53-bit uniforms).
    public mutating func normal() -> Float {
        var u1 = uniformDouble()
        while u1 <= 0 { u1 = uniformDouble() }
        let u2 = uniformDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// Normal with standard deviation `std`, redrawn until within two standard deviations (TF's truncated normal).
    public mutating func truncatedNormal(std: Float) -> Float {
        while true {
            let z = normal()
            if abs(z) <= 2 { return z * std }
        }
    }

    /// Fisher-Yates shuffle driven by this generator.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            a.swapAt(i, j)
        }
    }
}
