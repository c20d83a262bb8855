import Foundation
import Kernels

/// Optimiser settings; part of the train stage's cache key.
public struct AdamConfig: Codable, Hashable, Sendable {
    public var learningRate: Float = 1e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// Coefficient of the authors' regulariser: loss += l2 · mean over tensors of ½‖w‖² (0.001 in CpRec; 0 = off).
    public var l2: Float = 0
    /// Clip the global gradient norm to this value before the update (nil = no clipping).
    public var clipNorm: Float? = nil
    public init(learningRate: Float = 1e-3, l2: Float = 0, clipNorm: Float? = nil) {
        self.learningRate = learningRate
        self.l2 = l2
        self.clipNorm = clipNorm
    }
}

/// Adam over one ParameterSet, moments in the same flat layout. Uses TensorFlow's form (the authors' code):
/// lr_t = lr·√(1−β2^t)/(1−β1^t),  w −= lr_t · m / (√v + ε).
public final class Adam {
    public let config: AdamConfig
    public let parameters: ParameterSet
    /// First and second moments, same layout as `parameters.values`.
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    /// Number of updates taken so far.
    public var step: Int = 0

    public init(parameters: ParameterSet, config: AdamConfig = AdamConfig()) {
        self.parameters = parameters
        self.config = config
        let n = max(parameters.count, 1)
        m = .allocate(capacity: n)
        m.initialize(repeating: 0, count: n)
        v = .allocate(capacity: n)
        v.initialize(repeating: 0, count: n)
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    /// The regulariser's value for the current parameters (add it to the reported loss if wanted).
    public func l2Penalty() -> Double {
        guard config.l2 > 0, !parameters.refs.isEmpty else { return 0 }
        var s = 0.0
        for r in parameters.refs { s += 0.5 * Kernels.sumOfSquares(parameters.value(r), r.count) }
        return Double(config.l2) * s / Double(parameters.refs.count)
    }

    /// Adds the L2 gradient, clips, and takes one Adam step. Returns the gradient norm before clipping when
    /// clipping is on; nil otherwise (the extra pass over every gradient is skipped).
    @discardableResult
    public func update() -> Float? {
        let p = parameters
        let n = p.count
        if config.l2 > 0 && !p.refs.isEmpty {
            // d/dw of l2 · (1/T) Σ_tensors ½‖w‖² = (l2 / T) · w
            Kernels.axpy(p.grads, config.l2 / Float(p.refs.count), p.values, n)
        }
        var norm: Float? = nil
        var gscale: Float = 1
        if let c = config.clipNorm {
            let g = Float(Kernels.sumOfSquares(p.grads, n).squareRoot())
            norm = g
            if g > c, g > 0 { gscale = c / g }
        }
        step += 1
        let b1 = config.beta1, b2 = config.beta2, eps = config.epsilon
        let t = Double(step)
        let lrT = Float(Double(config.learningRate) * (1 - pow(Double(b2), t)).squareRoot() / (1 - pow(Double(b1), t)))
        let ws = SendablePtr(p.values), gs = SendablePtr(p.grads), ms = SendablePtr(m), vs = SendablePtr(v)
        Kernels.parallelRanges(n, costPerItem: 8) { lo, hi in
            ck_adam(ws.p + lo, gs.p + lo, ms.p + lo, vs.p + lo, hi - lo, gscale, b1, b2, lrT, eps)
        }
        return norm
    }
}
