import Foundation
import Kernels
import Testing
@testable import NeuralNet

/// The transfer task's target-item layer against finite differences (weights, bias and the backbone's input).
@Suite struct TargetItemHeadTests {
    @Test func gradientsMatchFiniteDifferences() {
        let d = 6, items = 9
        let head = TargetItemHead(items: items, dim: d, seed: 3)
        var rng = Rng(seed: 4)
        // Larger weights than the 0.01 initialisation, so the sigmoid is away from its linear middle.
        for i in 0..<head.parameters.count { head.parameters.values[i] = rng.normal() * 0.7 }
        var u = (0..<d).map { _ in rng.normal() }
        let list: [Int32] = [4, 1, 7, 8]
        let divisor: Float = 3
        func loss() -> Double {
            u.withUnsafeBufferPointer { p in
                list.enumerated().reduce(0.0) { acc, e in
                    let s = Double(head.score(p.baseAddress!, e.element)), y = e.offset == 0 ? 1.0 : 0.0
                    return acc + (max(s, 0) - s * y + log1p(exp(-abs(s)))) / Double(divisor)
                }
            }
        }
        head.parameters.zeroGrads()
        var du = [Float](repeating: 0, count: d)
        let total = u.withUnsafeBufferPointer { p in
            du.withUnsafeMutableBufferPointer {
                head.lossForwardBackward(u: p.baseAddress!, items: list, divisor: divisor, du: $0.baseAddress!)
            }
        }
        #expect(abs(total / Double(divisor) - loss()) < 1e-5)
        let eps: Float = 1e-2
        var worst = 0.0
        for i in 0..<head.parameters.count {
            let old = head.parameters.values[i]
            head.parameters.values[i] = old + eps; let lp = loss()
            head.parameters.values[i] = old - eps; let lm = loss()
            head.parameters.values[i] = old
            let num = (lp - lm) / (2 * Double(eps)), ana = Double(head.parameters.grads[i])
            worst = max(worst, abs(num - ana) / (1e-3 + 1e-2 * abs(ana)))
        }
        for q in 0..<d {
            let old = u[q]
            u[q] = old + eps; let lp = loss()
            u[q] = old - eps; let lm = loss()
            u[q] = old
            let num = (lp - lm) / (2 * Double(eps))
            worst = max(worst, abs(num - Double(du[q])) / (1e-3 + 1e-2 * abs(Double(du[q]))))
        }
        #expect(worst < 1, "worst relative gradient error \(worst)")
        // Items outside the list get no gradient.
        #expect((0..<d).allSatisfy { head.parameters.grad(head.w)[3 * d + $0] == 0 })
    }
}
