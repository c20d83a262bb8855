import Foundation
import Kernels
import NeuralNet
import Testing
@testable import Evaluation
@testable import Models

/// NextItNet / CpRec as a fine-tunable transfer backbone: backward from the last hidden vector.
@Suite struct NextItNetBackboneTests {

    /// Gradient of Σ r·h (h = last hidden vectors, r fixed random) against central differences, on every tensor.
    /// "CpRec-Cb" = block-wise input and output with cross-block sharing; "B1" = low-rank input.
    @Test(arguments: ["NextItNet", "CpRec-Cb", "B1"])
    func backwardHiddenLastMatchesFiniteDifferences(name: String) {
        let m = NextItNetTests.gradientCheckModel(name)
        let p = m.parameters
        let B = 3, d = m.config.dim
        let batch = NextItNetTests.batch(B: B, T: 7, seed: 4, padding: true)
        var rng = Rng(seed: 5)
        let r = (0..<(B * d)).map { _ in rng.normal() }
        func loss() -> Double { zip(m.hiddenLast(batch), r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

        p.zeroGrads()
        let h = m.trainingHiddenLast(batch)
        // The training forward is the inference forward: same hidden vectors, bit for bit.
        #expect(h.map(\.bitPattern) == m.hiddenLast(batch).map(\.bitPattern))
        m.backwardHiddenLast(r)
        let analytic = Array(UnsafeBufferPointer(start: p.grads, count: p.count))

        var worst = (0.0, ""), checked = 0, kinks = 0, nonzero = 0
        for (spec, ref) in zip(p.specs, p.refs) {
            let g = analytic[ref.offset..<(ref.offset + ref.count)]
            if spec.group == .output {
                // The pre-training output layer is not on the path to the hidden vector.
                #expect(g.allSatisfy { $0 == 0 }, "\(spec.name) got a gradient")
                continue
            }
            if g.contains(where: { $0 != 0 }) { nonzero += 1 }
            for _ in 0..<6 {
                let i = ref.offset + rng.int(below: ref.count)
                let old = p.values[i], eps: Float = 3e-3
                let l0 = loss()
                p.values[i] = old + eps
                let lp = loss()
                p.values[i] = old - eps
                let lm = loss()
                p.values[i] = old
                // A ReLU kink inside ±eps makes the one-sided slopes disagree: such coordinates say nothing.
                let fwd = (lp - l0) / Double(eps), bwd = (l0 - lm) / Double(eps)
                if abs(fwd - bwd) > 0.1 * (abs(fwd) + abs(bwd)) + 2e-3 { kinks += 1; continue }
                checked += 1
                let num = (lp - lm) / (2 * Double(eps)), ana = Double(analytic[i])
                let v = abs(num - ana) / (2e-3 + 2e-2 * abs(ana))
                if v > worst.0 { worst = (v, "\(spec.name)[\(i - ref.offset)] num \(num) ana \(ana)") }
            }
        }
        let backboneTensors = zip(p.specs, p.refs).filter { $0.0.group != .output }.count
        #expect(nonzero == backboneTensors, "only \(nonzero) of \(backboneTensors) backbone tensors got a gradient")
        #expect(kinks * 5 < checked, "\(kinks) kinked coordinates of \(checked + kinks)")
        #expect(worst.0 < 1, "\(worst.1)")
    }

    /// trainStep and trainingHiddenLast share the training workspace when shapes match: nothing a trainStep
    /// leaves in it may leak into the next backwardHiddenLast.
    @Test func trainStepLeavesNoStateInBackwardHiddenLast() {
        let m = NextItNet(
            config: NextItNetTests.config("CpRec-Cb", dim: 8, dilations: [1, 2]),
            itemCount: NextItNetTests.K, seed: 3)
        let batch = NextItNetTests.batch(B: 2, T: 6, seed: 9, padding: true)
        let dh = [Float](repeating: 0.5, count: 2 * 8)
        func grads() -> [Float] {
            m.parameters.zeroGrads()
            _ = m.trainingHiddenLast(batch)
            m.backwardHiddenLast(dh)
            return Array(UnsafeBufferPointer(start: m.parameters.grads, count: m.parameters.count))
        }
        let a = grads()
        _ = m.trainStep(NextItNetTests.batch(B: 2, T: 7, seed: 10, padding: false))  // same workspace shape
        #expect(grads().map(\.bitPattern) == a.map(\.bitPattern))
    }
}
