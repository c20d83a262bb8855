import NeuralNet

/// A batch of fixed-length sequences: `ids` is B×T row-major item ids, 0 = padding.
public struct SequenceBatch {
    public var ids: [Int32]
    public var batchSize: Int
    public var length: Int
    public init(ids: [Int32], batchSize: Int, length: Int) {
        precondition(ids.count == batchSize * length)
        self.ids = ids
        self.batchSize = batchSize
        self.length = length
    }
}

/// What the trainer and evaluator need from every trainable next-item model.
public protocol SequenceModel: AnyObject {
    /// The model's single parameter layout table (values, grads; Adam and checkpoints use it).
    var parameters: ParameterSet { get }
    /// Number of items K including padding id 0 (valid item ids are 1..<K).
    var itemCount: Int { get }
    /// Forward + backward on one batch: input ids[:, :-1], targets ids[:, 1:]; adds into `parameters.grads`
    /// (caller zeroes them) and returns the mean loss over the predicted positions that count.
    func trainStep(_ batch: SequenceBatch) -> Float
    /// Full next-item distribution after the last position of each sequence: B×K probabilities, row sums 1.
    func scoreLast(_ batch: SequenceBatch) -> [Float]
    /// Top-`n` item ids (best first) after the last position of each sequence: B×n.
    /// Block-wise softmax models override the default (full scoring) with the fast path.
    func topN(_ batch: SequenceBatch, n: Int) -> [Int32]
}
