import Foundation
import Kernels

/// Softmax cross-entropy over V classes, with an optional padding mask (target 0 ignored when masking).
public enum SoftmaxCrossEntropy {
    /// Turns logits (N, V) into probabilities in place and writes per-row losses (N): −log p[target],
    /// 0 for masked rows. Returns the sum of the losses (Double accumulation).
    public static func forward(
        losses: FloatPtr, probs: FloatPtr, targets: UnsafePointer<Int32>, N: Int, V: Int, maskPadding: Bool
    ) -> Double {
        let ls = SendablePtr(losses), ps = SendablePtr(probs)
        Kernels.parallelRanges(N, costPerItem: 4 * V) { lo, hi in
            for n in lo..<hi {
                let row = ps.p + n * V
                let t = Int(targets[n])
                let logit = row[t]
                let logZ = Kernels.softmaxRowInPlace(row, V)
                ls.p[n] = maskPadding && t == 0 ? 0 : logZ - logit
            }
        }
        var s = 0.0
        for n in 0..<N { s += Double(losses[n]) }
        return s
    }

    /// dlogits (N, V) += scale · (p − onehot(target)); masked rows add nothing.
    public static func backward(
        dlogits: FloatPtr, probs: ConstFloatPtr, targets: UnsafePointer<Int32>, N: Int, V: Int, maskPadding: Bool,
        scale: Float
    ) {
        for n in 0..<N {
            let t = Int(targets[n])
            if maskPadding && t == 0 { continue }
            Kernels.axpy(dlogits + n * V, scale, probs + n * V, V)
            dlogits[n * V + t] -= scale
        }
    }

    /// In place: probs (N, V) becomes scale · (p − onehot) (masked rows zero), ready to be the GEMM input of
    /// the backward pass.
    static func gradientInPlace(
        probs: FloatPtr, targets: UnsafePointer<Int32>, N: Int, V: Int, maskPadding: Bool, scale: Float
    ) {
        let ps = SendablePtr(probs)
        Kernels.parallelRanges(N, costPerItem: V) { lo, hi in
            for n in lo..<hi {
                let row = ps.p + n * V
                let t = Int(targets[n])
                if maskPadding && t == 0 { row.update(repeating: 0, count: V); continue }
                let sv = SIMD8<Float>(repeating: scale)
                var i = 0
                while i + 8 <= V {
                    let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) * sv
                    UnsafeMutableRawPointer(row + i).storeBytes(of: v, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < V { row[i] *= scale; i += 1 }
                row[t] -= scale
            }
        }
    }

    /// Fused linear + softmax + cross-entropy forward and backward, in row chunks so the N×V logits never
    /// exist at once. logits = x · w (+ bias). Returns the summed loss over counted rows; adds
    /// scale · gradient into dx (N, D) (when non-nil), dw (D, V), dbias (V) (when non-nil).
    /// - Parameters: x (N, D); w (D, V); bias (V) or nil; targets (N);
    ///   scratch (chunk, V) and lossScratch (chunk) are overwritten.
    public static func linearForwardBackward(
        dx: FloatPtr?, dw: FloatPtr, dbias: FloatPtr?,
        scratch: FloatPtr, lossScratch: FloatPtr, chunk: Int,
        x: ConstFloatPtr, w: ConstFloatPtr, bias: ConstFloatPtr?, targets: UnsafePointer<Int32>,
        N: Int, D: Int, V: Int, maskPadding: Bool, scale: Float
    ) -> Double {
        var total = 0.0
        var start = 0
        while start < N {
            let rows = min(chunk, N - start)
            let xc = x + start * D
            Linear.forward(out: scratch, x: xc, w: w, bias: bias, N: rows, C: D, O: V)
            total += forward(losses: lossScratch, probs: scratch, targets: targets + start, N: rows, V: V,
                             maskPadding: maskPadding)
            gradientInPlace(probs: scratch, targets: targets + start, N: rows, V: V, maskPadding: maskPadding,
                            scale: scale)
            Linear.backward(dx: dx.map { $0 + start * D }, dw: dw, dbias: dbias, dout: scratch, x: xc, w: w,
                            N: rows, C: D, O: V)
            start += rows
        }
        return total
    }
}
