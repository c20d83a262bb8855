import NeuralNet

/// Top-N selection over score rows, shared by the default `topN` and the evaluator.
public enum TopN {
    /// The `n` best item ids of one score row (padding 0 excluded), best first; ties by ascending id.
    public static func select(scores: UnsafePointer<Float>, itemCount: Int, n: Int) -> [Int32] {
        let n = min(n, itemCount - 1)
        guard n > 0 else { return [] }
        // Insertion into a small sorted buffer: O(K·n), cheap for n = 5 or 20.
        var best = [Int32]()
        var bestScores = [Float]()
        best.reserveCapacity(n + 1)
        bestScores.reserveCapacity(n + 1)
        for i in 1..<itemCount {
            let v = scores[i]
            if best.count == n && !(v > bestScores[n - 1]) { continue }
            var pos = best.count
            while pos > 0 && v > bestScores[pos - 1] { pos -= 1 }
            best.insert(Int32(i), at: pos)
            bestScores.insert(v, at: pos)
            if best.count > n { best.removeLast(); bestScores.removeLast() }
        }
        return best
    }

    /// Top-`n` lists of every row of a B×K score matrix: B×n ids.
    public static func select(scores: [Float], rows: Int, itemCount: Int, n: Int) -> [Int32] {
        precondition(scores.count == rows * itemCount)
        var out = [Int32]()
        out.reserveCapacity(rows * n)
        scores.withUnsafeBufferPointer { p in
            for b in 0..<rows {
                out.append(contentsOf: select(scores: p.baseAddress! + b * itemCount, itemCount: itemCount, n: n))
            }
        }
        return out
    }
}

extension TopN {
    /// Rows (of `n` ids each) on which two top-n lists agree exactly, order included.
    public static func matchingRows(_ a: [Int32], _ b: [Int32], n: Int) -> Int {
        precondition(a.count == b.count, "top-n lists of different sizes")
        guard n > 0 else { return 0 }
        return stride(from: 0, to: a.count, by: n).filter { a[$0..<($0 + n)] == b[$0..<($0 + n)] }.count
    }
}

/// A model assembled from an input and an output layer (NextItNet, GRU4Rec, Caser, SASRec and their CpRec
/// variants): scoring and top-N go through the output layer once, here, so a tree softmax's fast top-N (and its
/// report in evaluation) reaches every family alike.
public protocol LayeredSequenceModel: SequenceModel {
    var output: OutputLayer { get }
    /// B × d hidden vectors at the last position: what the output layer scores.
    func hiddenLast(_ batch: SequenceBatch) -> [Float]
}

extension LayeredSequenceModel {
    public func scoreLast(_ batch: SequenceBatch) -> [Float] {
        let h = hiddenLast(batch)
        return h.withUnsafeBufferPointer {
            ModelIO.score(output: output, h: $0.baseAddress!, B: batch.batchSize, itemCount: itemCount)
        }
    }

    public func topN(_ batch: SequenceBatch, n: Int) -> [Int32] {
        let h = hiddenLast(batch)
        return h.withUnsafeBufferPointer { output.topN(x: $0.baseAddress!, N: batch.batchSize, n: n) }
    }
}

extension NextItNet: LayeredSequenceModel {}
extension GRU4Rec: LayeredSequenceModel {}
extension Caser: LayeredSequenceModel {}
extension SASRec: LayeredSequenceModel {}

extension SequenceModel {
    /// Full scoring followed by selection. `topN` equals it except under the tree softmax's `.approximate` rule.
    public func topNByFullScoring(_ batch: SequenceBatch, n: Int) -> [Int32] {
        TopN.select(scores: scoreLast(batch), rows: batch.batchSize, itemCount: itemCount, n: n)
    }

    /// The block-wise (tree) softmax whose fast top-N rule can be switched; nil for models without one.
    public var treeSoftmax: TreeSoftmax? { ((self as? any LayeredSequenceModel)?.output) as? TreeSoftmax }
}
