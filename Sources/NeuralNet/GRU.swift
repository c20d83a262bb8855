import Foundation
import Kernels

/// One GRU layer run over all time steps (Cho et al. 2014, PyTorch/cuDNN gate form):
///
///     r = σ(x·Wx_r + bx_r + h·Wh_r + bh_r)      z = σ(x·Wx_z + bx_z + h·Wh_z + bh_z)
///     n = tanh(x·Wx_n + bx_n + r ⊙ (h·Wh_n + bh_n))      h' = (1 − z) ⊙ n + z ⊙ h,   h₀ = 0
///
/// Parameters: Wx [in, 3H], Wh [H, 3H], bx [3H], bh [3H] (gate order r, z, n) = 3H(in + H + 2) scalars.
/// The input projection of all B·T steps is one GEMM; each step adds one B×H·H×3H recurrent GEMM.
/// `forward` overwrites its output and keeps what `backward` needs; `backward` (full backpropagation through
/// time) adds into the parameter gradients and into `dInput`.
public final class GRULayer {
    public let inputSize: Int
    public let hiddenSize: Int
    public let wx: ParamRef, wh: ParamRef, bx: ParamRef, bh: ParamRef
    private unowned let params: ParameterSet

    // Saved by forward (time-major for the per-step GEMMs): hs [(T+1), B, H] with hs[0] = 0,
    // gates [T, B, 4H] = r, z, n, (h·Wh_n + bh_n).
    private let hs = ScratchBuffer(), gates = ScratchBuffer(), gx = ScratchBuffer(), gh = ScratchBuffer()
    private let dgx = ScratchBuffer(), dgh = ScratchBuffer(), dh = ScratchBuffer()
    private var input: UnsafePointer<Float>?
    private var batch = 0, steps = 0

    /// Declares the layer's tensors in `params` under `name` (call before `params.allocate`).
    public init(params: ParameterSet, name: String, inputSize: Int, hiddenSize: Int, group: ParameterGroup = .middle) {
        self.params = params
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        let h3 = 3 * hiddenSize
        let std = 1 / Float(hiddenSize).squareRoot()
        wx = params.declare("\(name).wx", [inputSize, h3], group, .uniform(limit: std))
        wh = params.declare("\(name).wh", [hiddenSize, h3], group, .uniform(limit: std))
        bx = params.declare("\(name).bx", [h3], group, .zeros)
        bh = params.declare("\(name).bh", [h3], group, .zeros)
    }

    /// Closed-form parameter count.
    public static func parameterCount(inputSize: Int, hiddenSize: Int) -> Int {
        3 * hiddenSize * (inputSize + hiddenSize + 2)
    }

    @inline(__always) private static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

    /// x: B×T×in (batch-major); output: B×T×H. `x` must stay valid until `backward`.
    public func forward(_ x: UnsafePointer<Float>, batch b: Int, steps t: Int, output y: UnsafeMutablePointer<Float>) {
        let h = hiddenSize, h3 = 3 * h
        input = x; batch = b; steps = t
        let hsP = hs.reserve((t + 1) * b * h)
        let gP = gates.reserve(t * b * 4 * h)
        let gxP = gx.reserve(b * t * h3)
        let ghP = gh.reserve(b * h3)
        hsP.update(repeating: 0, count: b * h)
        // All input projections at once: (B·T)×in · in×3H.
        BLAS.gemm(m: b * t, n: h3, k: inputSize, a: x, b: params.value(wx), c: gxP)
        let bxP = params.value(bx), bhP = params.value(bh), whP = params.value(wh)
        for s in 0..<t {
            let hPrev = hsP + s * b * h, hNext = hsP + (s + 1) * b * h
            for i in 0..<b { (ghP + i * h3).update(from: bhP, count: h3) }
            BLAS.gemm(m: b, n: h3, k: h, a: hPrev, b: whP, beta: 1, c: ghP)
            for i in 0..<b {
                let gxr = gxP + (i * t + s) * h3, ghr = ghP + i * h3
                let g = gP + (s * b + i) * 4 * h
                let hp = hPrev + i * h, hn = hNext + i * h
                for j in 0..<h {
                    let r = GRULayer.sigmoid(gxr[j] + bxP[j] + ghr[j])
                    let z = GRULayer.sigmoid(gxr[h + j] + bxP[h + j] + ghr[h + j])
                    let ghn = ghr[2 * h + j]
                    let n = tanhf(gxr[2 * h + j] + bxP[2 * h + j] + r * ghn)
                    g[j] = r; g[h + j] = z; g[2 * h + j] = n; g[3 * h + j] = ghn
                    let out = (1 - z) * n + z * hp[j]
                    hn[j] = out
                    y[(i * t + s) * h + j] = out
                }
            }
        }
    }

    /// The final hidden state h_T of row i after `forward` (H floats).
    public func lastHidden(row i: Int) -> UnsafePointer<Float> {
        UnsafePointer(hs.pointer + (steps * batch + i) * hiddenSize)
    }

    /// dY: B×T×H. Adds into Wx, Wh, bx, bh gradients and into dInput (B×T×in) when given.
    public func backward(dOutput dy: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?) {
        guard let x = input else { preconditionFailure("backward before forward") }
        let b = batch, t = steps, h = hiddenSize, h3 = 3 * h
        let hsP = hs.pointer, gP = gates.pointer
        let dgxP = dgx.reserve(b * t * h3)
        let dghP = dgh.reserve(b * h3)
        let dhP = dh.reserve(b * h)
        dhP.update(repeating: 0, count: b * h)
        let dWh = params.grad(wh), dbh = params.grad(bh), whP = params.value(wh)
        for s in stride(from: t - 1, through: 0, by: -1) {
            let hPrev = hsP + s * b * h
            for i in 0..<b {
                let g = gP + (s * b + i) * 4 * h
                let hp = hPrev + i * h
                let dhi = dhP + i * h
                let dyi = dy + (i * t + s) * h
                let dgxr = dgxP + (i * t + s) * h3, dghr = dghP + i * h3
                for j in 0..<h {
                    let r = g[j], z = g[h + j], n = g[2 * h + j], ghn = g[3 * h + j]
                    let d = dhi[j] + dyi[j]
                    let dnPre = d * (1 - z) * (1 - n * n)
                    let dzPre = d * (hp[j] - n) * z * (1 - z)
                    let drPre = dnPre * ghn * r * (1 - r)
                    dgxr[j] = drPre; dgxr[h + j] = dzPre; dgxr[2 * h + j] = dnPre
                    dghr[j] = drPre; dghr[h + j] = dzPre; dghr[2 * h + j] = dnPre * r
                    dhi[j] = d * z  // direct path; the recurrent GEMM below adds the gate paths
                }
            }
            BLAS.gemm(transA: true, m: h, n: h3, k: b, a: hPrev, b: dghP, beta: 1, c: dWh)
            for i in 0..<b {
                let row = dghP + i * h3
                for j in 0..<h3 { dbh[j] += row[j] }
            }
            BLAS.gemm(transB: true, m: b, n: h, k: h3, a: dghP, b: whP, beta: 1, c: dhP)
        }
        BLAS.gemm(transA: true, m: inputSize, n: h3, k: b * t, a: x, b: dgxP, beta: 1, c: params.grad(wx))
        let dbx = params.grad(bx)
        for r in 0..<(b * t) {
            let row = dgxP + r * h3
            for j in 0..<h3 { dbx[j] += row[j] }
        }
        if let dx = dInput {
            BLAS.gemm(transB: true, m: b * t, n: inputSize, k: h3, a: dgxP, b: params.value(wx), beta: 1, c: dx)
        }
    }
}
