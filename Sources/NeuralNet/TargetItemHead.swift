import Foundation
import Kernels

/// PeterRec's target-item layer for transfer learning: score(u, i) = w_i · u + b_i over a backbone's hidden
/// vector u, trained with sigmoid cross-entropy on one positive item and sampled negatives.
public final class TargetItemHead {
    public let parameters = ParameterSet()
    public let dim: Int
    public let items: Int
    /// Row i of w is item i's weight vector (contiguous dot products).
    public let w: ParamRef, b: ParamRef

    public init(items: Int, dim: Int, seed: UInt64) {
        self.items = items
        self.dim = dim
        w = parameters.declare("target.w", [items, dim], .output, .normal(std: 0.01))
        b = parameters.declare("target.b", [items], .output, .zeros)
        var rng = Rng(seed: seed)
        parameters.allocate(rng: &rng)
    }

    /// w_item · u + b_item for one hidden vector u (dim floats).
    public func score(_ u: UnsafePointer<Float>, _ item: Int32) -> Float {
        let wi = parameters.value(w) + Int(item) * dim
        var s = parameters.value(b)[Int(item)]
        for j in 0..<dim { s += u[j] * wi[j] }
        return s
    }

    /// Sigmoid cross-entropy of `items` (the first is the positive, label 1; the rest label 0) for one u.
    /// Adds its gradient divided by `divisor` (the batch's pair count: the loss is a mean) into w, b and, when
    /// given, into du (dim floats); returns the undivided loss sum.
    @discardableResult
    public func lossForwardBackward(
        u: UnsafePointer<Float>, items list: [Int32], divisor: Float,
        du: UnsafeMutablePointer<Float>?
    ) -> Double {
        let dw = parameters.grad(w), db = parameters.grad(b), wv = parameters.value(w)
        var loss = 0.0
        for (j, item) in list.enumerated() {
            let y: Float = j == 0 ? 1 : 0
            let s = score(u, item)
            // Stable log(1 + e^-|s|) form of the sigmoid cross-entropy.
            loss += Double(max(s, 0) - s * y + log1pf(expf(-abs(s))))
            let g = (1 / (1 + expf(-s)) - y) / divisor
            let dwi = dw + Int(item) * dim, wi = wv + Int(item) * dim
            for q in 0..<dim { dwi[q] += g * u[q] }
            if let du { for q in 0..<dim { du[q] += g * wi[q] } }
            db[Int(item)] += g
        }
        return loss
    }
}
