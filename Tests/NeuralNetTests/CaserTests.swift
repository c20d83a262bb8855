import Testing
@testable import NeuralNet
import Kernels

@Suite struct CaserTests {
    @Test func backwardMatchesFiniteDifferences() {
        BLAS.setThreads(1)
        let b = 2, l = 3, d = 4
        let params = ParameterSet()
        let layer = CaserConvolutions(params: params, name: "caser", window: l, dim: d, horizontal: 3, vertical: 2)
        var rng = Rng(seed: 5)
        params.allocate(rng: &rng)
        for i in 0..<params.count { params.values[i] += 0.2 * rng.normal() }
        var x = (0..<(b * l * d)).map { _ in rng.normal() }
        let width = layer.outputWidth
        let r = (0..<(b * width)).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: b * width)
        func loss() -> Double {
            layer.forward(x, batch: b, output: &y)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
            return s
        }
        _ = loss()
        params.zeroGrads()
        var dx = [Float](repeating: 0, count: x.count)
        layer.backward(dOutput: r, dInput: &dx)
        // Max-pool and ReLU are piecewise linear: a small step keeps the winners unless two positions nearly tie.
        let eps: Float = 1e-3
        let worst = worstRelativeError(
            count: params.count, eps: eps, get: { params.values[$0] },
            set: { params.values[$0] = $1 }, analytic: { params.grads[$0] }, loss: loss)
        #expect(worst < 1e-2, "worst parameter gradient error \(worst)")
        let worstX = worstRelativeError(
            count: x.count, eps: eps, get: { x[$0] }, set: { x[$0] = $1 },
            analytic: { dx[$0] }, loss: loss)
        #expect(worstX < 1e-2, "worst input gradient error \(worstX)")
    }

    @Test func forwardMatchesNaiveConvolution() {
        BLAS.setThreads(1)
        let l = 3, d = 2, nh = 2, nv = 1
        let params = ParameterSet()
        let layer = CaserConvolutions(params: params, name: "c", window: l, dim: d, horizontal: nh, vertical: nv)
        var rng = Rng(seed: 9)
        params.allocate(rng: &rng)
        let e = (0..<(l * d)).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: layer.outputWidth)
        layer.forward(e, batch: 1, output: &y)
        let wv = params.value(layer.wv), bv = params.value(layer.bv)[0]
        for j in 0..<d {
            let v = (0..<l).reduce(Float(0)) { $0 + wv[$1] * e[$1 * d + j] } + bv
            #expect(abs(y[j] - v) < 1e-5)
        }
        for h in 1...l {
            let w = params.value(layer.wh[h - 1]), bias = params.value(layer.bh[h - 1])
            for f in 0..<nh {
                var best: Float = 0
                for p in 0...(l - h) {
                    var s = bias[f]
                    for q in 0..<(h * d) { s += e[p * d + q] * w[q * nh + f] }
                    best = max(best, s)
                }
                #expect(abs(y[nv * d + (h - 1) * nh + f] - best) < 1e-5)
            }
        }
        #expect(params.count == CaserConvolutions.parameterCount(window: l, dim: d, horizontal: nh, vertical: nv))
    }
}
