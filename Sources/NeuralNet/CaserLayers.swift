import Foundation
import Kernels

/// Caser's convolution stage (Tang & Wang, WSDM 2018) over the L×d embedding "image" of the last L items.
///
/// Vertical: nv filters of shape L×1, out_v[f, j] = Σ_l wv[f, l]·E[l, j] + bv[f] (no activation, as in Caser).
/// Horizontal: for each height h = 1…L, nh filters of shape h×d, ReLU, max-pooled over the L − h + 1 positions.
/// Output per row: [out_v (nv·d) | out_h(h=1) (nh) | … | out_h(h=L) (nh)], width nv·d + L·nh.
/// `forward` overwrites its output; `backward` adds into parameter gradients and into dInput.
public final class CaserConvolutions {
    public let window: Int, dim: Int, horizontal: Int, vertical: Int
    public let wv: ParamRef, bv: ParamRef
    /// Per height h (index h − 1): weights [h·d, nh] and bias [nh].
    public let wh: [ParamRef], bh: [ParamRef]
    private unowned let params: ParameterSet
    private let cols = ScratchBuffer(), conv = ScratchBuffer(), dconv = ScratchBuffer(), dcols = ScratchBuffer()
    private var argmax = [[Int32]]()  // per height: B×nh winning position, −1 when the ReLU output is 0
    private var input: UnsafePointer<Float>?
    private var batch = 0

    public var outputWidth: Int { vertical * dim + window * horizontal }

    public init(
        params: ParameterSet, name: String, window: Int, dim: Int, horizontal: Int, vertical: Int,
        group: ParameterGroup = .middle
    ) {
        self.params = params
        self.window = window; self.dim = dim; self.horizontal = horizontal; self.vertical = vertical
        wv = params.declare(
            "\(name).vertical.w", [vertical, window], group, .uniform(limit: 1 / Float(window).squareRoot()))
        bv = params.declare("\(name).vertical.b", [vertical], group, .zeros)
        var w = [ParamRef](), b = [ParamRef]()
        for h in 1...window {
            w.append(params.declare("\(name).horizontal\(h).w", [h * dim, horizontal], group, .glorotUniform))
            b.append(params.declare("\(name).horizontal\(h).b", [horizontal], group, .zeros))
        }
        wh = w; bh = b
    }

    /// Closed-form parameter count: nv·L + nv + Σ_h (h·d·nh + nh).
    public static func parameterCount(window l: Int, dim d: Int, horizontal nh: Int, vertical nv: Int) -> Int {
        nv * l + nv + (1...l).reduce(0) { $0 + $1 * d * nh + nh }
    }

    /// e: B×L×d; out: B×outputWidth. `e` must stay valid until `backward`.
    public func forward(_ e: UnsafePointer<Float>, batch b: Int, output out: UnsafeMutablePointer<Float>) {
        input = e; batch = b
        let l = window, d = dim, nh = horizontal, nv = vertical, width = outputWidth
        let wvP = params.value(wv), bvP = params.value(bv)
        for i in 0..<b {
            let o = out + i * width
            BLAS.gemm(m: nv, n: d, k: l, a: wvP, b: e + i * l * d, c: o)
            for f in 0..<nv { for j in 0..<d { o[f * d + j] += bvP[f] } }
        }
        argmax = []
        for h in 1...l {
            let pos = l - h + 1, k = h * d
            let colsP = cols.reserve(b * pos * k), convP = conv.reserve(b * pos * nh)
            for i in 0..<b {
                for p in 0..<pos { (colsP + (i * pos + p) * k).update(from: e + (i * l + p) * d, count: k) }
            }
            let biasP = params.value(bh[h - 1])
            for r in 0..<(b * pos) { (convP + r * nh).update(from: biasP, count: nh) }
            BLAS.gemm(m: b * pos, n: nh, k: k, a: colsP, b: params.value(wh[h - 1]), beta: 1, c: convP)
            var am = [Int32](repeating: -1, count: b * nh)
            let base = nv * d + (h - 1) * nh
            for i in 0..<b {
                for f in 0..<nh {
                    var best: Float = 0, arg: Int32 = -1
                    for p in 0..<pos {
                        let v = convP[(i * pos + p) * nh + f]
                        if v > best { best = v; arg = Int32(p) }
                    }
                    am[i * nh + f] = arg
                    out[i * width + base + f] = best
                }
            }
            argmax.append(am)
        }
    }

    /// dOut: B×outputWidth. Adds into all parameter gradients and into dInput (B×L×d) when given.
    public func backward(dOutput dOut: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?) {
        guard let e = input else { preconditionFailure("backward before forward") }
        let b = batch, l = window, d = dim, nh = horizontal, nv = vertical, width = outputWidth
        let dwv = params.grad(wv), dbv = params.grad(bv), wvP = params.value(wv)
        for i in 0..<b {
            let g = dOut + i * width
            BLAS.gemm(transB: true, m: nv, n: l, k: d, a: g, b: e + i * l * d, beta: 1, c: dwv)
            for f in 0..<nv { var s: Float = 0; for j in 0..<d { s += g[f * d + j] }; dbv[f] += s }
            if let dx = dInput {
                BLAS.gemm(transA: true, m: l, n: d, k: nv, a: wvP, b: g, beta: 1, c: dx + i * l * d)
            }
        }
        for h in 1...l {
            let pos = l - h + 1, k = h * d
            let colsP = cols.reserve(b * pos * k)
            let dconvP = dconv.reserve(b * pos * nh)
            dconvP.update(repeating: 0, count: b * pos * nh)
            let am = argmax[h - 1]
            let base = nv * d + (h - 1) * nh
            let dbP = params.grad(bh[h - 1])
            for i in 0..<b {
                for f in 0..<nh where am[i * nh + f] >= 0 {
                    let g = dOut[i * width + base + f]
                    dconvP[(i * pos + Int(am[i * nh + f])) * nh + f] = g
                    dbP[f] += g
                }
            }
            for i in 0..<b {
                for p in 0..<pos { (colsP + (i * pos + p) * k).update(from: e + (i * l + p) * d, count: k) }
            }
            BLAS.gemm(transA: true, m: k, n: nh, k: b * pos, a: colsP, b: dconvP, beta: 1, c: params.grad(wh[h - 1]))
            if let dx = dInput {
                let dcolsP = dcols.reserve(b * pos * k)
                BLAS.gemm(transB: true, m: b * pos, n: k, k: nh, a: dconvP, b: params.value(wh[h - 1]), c: dcolsP)
                for i in 0..<b {
                    for p in 0..<pos {
                        let src = dcolsP + (i * pos + p) * k, dst = dx + (i * l + p) * d
                        for j in 0..<k { dst[j] += src[j] }
                    }
                }
            }
        }
    }
}
