import Testing
@testable import NeuralNet
import Kernels

/// Finite-difference checks: loss = Σ Y ⊙ R for a fixed random R, so dY = R.
@Suite struct GRUTests {
    @Test func backwardMatchesFiniteDifferences() {
        BLAS.setThreads(1)
        let b = 2, t = 4, n = 3, h = 5
        let params = ParameterSet()
        let layer = GRULayer(params: params, name: "gru", inputSize: n, hiddenSize: h)
        var rng = Rng(seed: 11)
        params.allocate(rng: &rng)
        // Non-zero biases so every gate path is exercised.
        for i in 0..<params.count { params.values[i] += 0.3 * rng.normal() }
        var x = (0..<(b * t * n)).map { _ in rng.normal() }
        let r = (0..<(b * t * h)).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: b * t * h)
        func loss() -> Double {
            layer.forward(x, batch: b, steps: t, output: &y)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
            return s
        }
        _ = loss()
        params.zeroGrads()
        var dx = [Float](repeating: 0, count: x.count)
        layer.backward(dOutput: r, dInput: &dx)
        let eps: Float = 1e-2
        let worst = worstRelativeError(
            count: params.count, eps: eps, get: { params.values[$0] },
            set: { params.values[$0] = $1 }, analytic: { params.grads[$0] }, loss: loss)
        #expect(worst < 2e-3, "worst parameter gradient error \(worst)")
        let worstX = worstRelativeError(
            count: x.count, eps: eps, get: { x[$0] }, set: { x[$0] = $1 },
            analytic: { dx[$0] }, loss: loss)
        #expect(worstX < 2e-3, "worst input gradient error \(worstX)")
    }

    @Test func parameterCountIsClosedForm() {
        let params = ParameterSet()
        _ = GRULayer(params: params, name: "g", inputSize: 7, hiddenSize: 4)
        #expect(params.count == GRULayer.parameterCount(inputSize: 7, hiddenSize: 4))
        #expect(params.count == 3 * 4 * (7 + 4 + 2))
    }

    @Test func lastHiddenEqualsLastOutput() {
        BLAS.setThreads(1)
        let params = ParameterSet()
        let layer = GRULayer(params: params, name: "g", inputSize: 2, hiddenSize: 3)
        var rng = Rng(seed: 3)
        params.allocate(rng: &rng)
        let x = (0..<(2 * 5 * 2)).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: 2 * 5 * 3)
        layer.forward(x, batch: 2, steps: 5, output: &y)
        for i in 0..<2 { for j in 0..<3 { #expect(layer.lastHidden(row: i)[j] == y[(i * 5 + 4) * 3 + j]) } }
    }
}
