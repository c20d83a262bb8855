import Foundation
import Kernels
@testable import NeuralNet

/// Seeded random Float array.
func randn(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var r = Rng(seed: seed)
    return (0..<n).map { _ in r.normal() * scale }
}

/// L = Σ w_i · y_i in Double: the scalar whose gradient w.r.t. y is w (the `dout` passed to backward).
func project(_ y: UnsafePointer<Float>, _ w: [Float]) -> Double {
    var s = 0.0
    for i in 0..<w.count { s += Double(w[i]) * Double(y[i]) }
    return s
}

/// Worst violation of |numeric − analytic| ≤ atol + rtol·|analytic| over sampled coordinates of x, divided by
/// the allowed error (so < 1 passes). Central differences with step eps; the loss is accumulated in Double.
/// With eps = 1e-2 the truncation error is O(eps²) and Float rounding noise ~1e-5, far below any real bug
/// (a wrong sign, a missing term or an off-by-one tap changes gradients by O(|g|)).
func gradientViolation(
    _ x: UnsafeMutablePointer<Float>, count: Int, analytic: UnsafePointer<Float>, samples: Int = 40,
    eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2, seed: UInt64 = 99, loss: () -> Double
) -> Double {
    var rng = Rng(seed: seed)
    let idx = count <= samples ? Array(0..<count) : (0..<samples).map { _ in rng.int(below: count) }
    var worst = 0.0
    for i in idx {
        let old = x[i]
        x[i] = old + eps
        let lp = loss()
        x[i] = old - eps
        let lm = loss()
        x[i] = old
        let num = (lp - lm) / (2 * Double(eps))
        let ana = Double(analytic[i])
        worst = max(worst, abs(num - ana) / (atol + rtol * abs(ana)))
    }
    return worst
}

/// A heap Float buffer for tests: stable pointer, so loss closures can read it while a check perturbs it.
final class Buf {
    let p: UnsafeMutablePointer<Float>
    let n: Int
    init(_ a: [Float]) {
        n = a.count
        p = .allocate(capacity: max(n, 1))
        p.initialize(from: a, count: n)
    }
    convenience init(zeros n: Int) { self.init([Float](repeating: 0, count: n)) }
    deinit { p.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: n)) }
    func zero() { p.update(repeating: 0, count: n) }
    /// Violation of the analytic gradient `g` against finite differences of `loss` w.r.t. this buffer.
    func check(
        _ g: Buf, samples: Int = 40, eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2,
        loss: () -> Double
    ) -> Double {
        gradientViolation(p, count: n, analytic: g.p, samples: samples, eps: eps, atol: atol, rtol: rtol, loss: loss)
    }
}

/// Checks every tensor of a ParameterSet against finite differences; returns the worst violation and its tensor.
func parameterViolation(
    _ p: ParameterSet, samples: Int = 25, eps: Float = 1e-2, atol: Double = 2e-3,
    rtol: Double = 1e-2, loss: () -> Double
) -> (Double, String) {
    var worst = (0.0, "")
    for (spec, ref) in zip(p.specs, p.refs) {
        let v = gradientViolation(
            p.value(ref), count: ref.count, analytic: p.grad(ref), samples: samples, eps: eps,
            atol: atol, rtol: rtol, loss: loss)
        if v > worst.0 { worst = (v, spec.name) }
    }
    return worst
}

/// Worst |numeric − analytic| / max(1, |numeric|) over every coordinate, central differences with step eps, for
/// values reached through accessors (a Swift array the loss reads, or a parameter buffer).
func worstRelativeError(
    count: Int, eps: Float, get: (Int) -> Float, set: (Int, Float) -> Void,
    analytic: (Int) -> Float, loss: () -> Double
) -> Float {
    var worst: Float = 0
    for i in 0..<count {
        let old = get(i)
        set(i, old + eps); let lp = loss()
        set(i, old - eps); let lm = loss()
        set(i, old)
        let fd = Float((lp - lm) / Double(2 * eps))
        worst = max(worst, abs(fd - analytic(i)) / max(1, abs(fd)))
    }
    return worst
}
