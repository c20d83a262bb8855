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

    /// Fused forward + backward from logits: logits (N, V) become scale · (p − onehot) in place (masked rows
    /// zero); per-row losses (N) are written; returns their sum.
    public static func forwardBackwardInPlace(
        losses: FloatPtr, logits: FloatPtr, targets: UnsafePointer<Int32>, N: Int, V: Int, maskPadding: Bool,
        scale: Float
    ) -> Double {
        let ls = SendablePtr(losses), ps = SendablePtr(logits)
        Kernels.parallelRanges(N, costPerItem: 3 * V) { lo, hi in
            for n in lo..<hi {
                let row = ps.p + n * V
                let t = Int(targets[n])
                if maskPadding && t == 0 { row.update(repeating: 0, count: V); ls.p[n] = 0; continue }
                ls.p[n] = Kernels.softmaxCrossEntropyGradRow(row, V, target: t, scale: scale)
            }
        }
        var s = 0.0
        for n in 0..<N { s += Double(losses[n]) }
        return s
    }

    /// Row chunk for the fused linear softmax: ~2 MiB of logits (cache-resident between the GEMMs and the
    /// softmax passes) when that still gives ≥ 256 rows, else 64 MiB (large V: the dW GEMM wants tall chunks).
    public static func chunkRows(N: Int, V: Int) -> Int {
        let cached = 524_288 / max(V, 1)
        return max(1, min(N, cached >= 256 ? cached : max(256, 16_777_216 / max(V, 1))))
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
            total += forwardBackwardInPlace(
                losses: lossScratch, logits: scratch, targets: targets + start, N: rows,
                V: V, maskPadding: maskPadding, scale: scale)
            Linear.backward(
                dx: dx.map { $0 + start * D }, dw: dw, dbias: dbias, dout: scratch, x: xc, w: w,
                N: rows, C: D, O: V)
            start += rows
        }
        return total
    }
}
