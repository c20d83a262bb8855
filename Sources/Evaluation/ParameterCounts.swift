import Models
import NeuralNet

/// A model's parameter count split as the paper's tables need it (Table 3: input + output; Table 4: middle).
public struct ParameterCounts: Codable, Hashable, Sendable {
    public var input: Int
    public var middle: Int
    public var output: Int
    public var total: Int { input + middle + output }
    public var inputOutput: Int { input + output }

    public init(input: Int, middle: Int, output: Int) {
        self.input = input; self.middle = middle; self.output = output
    }

    /// Read from the model's layout table (tied tensors count once).
    public init(_ model: any SequenceModel) {
        let p = model.parameters
        self.init(input: p.count(in: .input), middle: p.count(in: .middle), output: p.count(in: .output))
    }
}
