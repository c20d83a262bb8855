import Models

extension Evaluator {
    /// The 0-based rank of the target (last item) of every row of `sequences` among all items, by
    /// `Ranking.rank`'s rule; rows whose target is padding are skipped. Metrics follow from these by
    /// `MetricAccumulator.add(rank:)`, and the report's bootstrap resamples them row by row.
    public static func ranks(_ model: any SequenceModel, on sequences: SequenceSet, batchSize: Int) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(sequences.count)
        let k = model.itemCount
        scoreBatches(model, on: sequences, batchSize: batchSize) { _, scores, targets in
            scores.withUnsafeBufferPointer { p in
                for (b, t) in targets.enumerated() where t != 0 {
                    out.append(Int32(Ranking.rank(scores: p.baseAddress! + b * k, itemCount: k, target: Int(t))))
                }
            }
        }
        return out
    }

    /// Scores the last position of every row of `sequences`, `batchSize` rows at a time: `body` gets the batch's
    /// first row index, its B × K scores and its targets (the rows' last ids).
    static func scoreBatches(
        _ model: any SequenceModel, on sequences: SequenceSet, batchSize: Int,
        _ body: (_ start: Int, _ scores: [Float], _ targets: [Int32]) -> Void
    ) {
        precondition(sequences.length >= 2, "evaluation needs sequences of at least 2 ids (context + target)")
        var start = 0
        while start < sequences.count {
            let end = min(sequences.count, start + batchSize)
            let (ctx, targets) = sequences.contextAndTargets(start..<end)
            body(start, model.scoreLast(ctx), targets)
            start = end
        }
    }
}
