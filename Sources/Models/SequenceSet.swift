/// A set of equal-length, left-padded item sequences stored row-major (N×T, 0 = padding).
public struct SequenceSet: Sendable, Equatable {
    public var ids: [Int32]
    public var length: Int
    public var count: Int { length == 0 ? 0 : ids.count / length }

    public init(ids: [Int32], length: Int) {
        precondition(length > 0 && ids.count % length == 0, "ids.count must be a multiple of length")
        self.ids = ids
        self.length = length
    }

    /// Builds from ragged rows, left-padding (or keeping the last `length` items of) each row.
    public init(rows: [[Int32]], length: Int) {
        var ids = [Int32](repeating: 0, count: rows.count * length)
        for (r, row) in rows.enumerated() {
            let tail = row.suffix(length)
            let start = r * length + (length - tail.count)
            for (j, v) in tail.enumerated() { ids[start + j] = v }
        }
        self.init(ids: ids, length: length)
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> ArraySlice<Int32> { ids[(i * length)..<((i + 1) * length)] }

    /// The batch of rows `indices` (whole rows, length T).
    public func batch(_ indices: some Collection<Int>) -> SequenceBatch {
        var out = [Int32]()
        out.reserveCapacity(indices.count * length)
        for i in indices { out.append(contentsOf: row(i)) }
        return SequenceBatch(ids: out, batchSize: indices.count, length: length)
    }

    /// The evaluation split of rows `indices`: context = all but the last item, target = the last item.
    public func contextAndTargets(_ indices: some Collection<Int>) -> (context: SequenceBatch, targets: [Int32]) {
        var ctx = [Int32]()
        var targets = [Int32]()
        ctx.reserveCapacity(indices.count * (length - 1))
        for i in indices {
            let r = row(i)
            ctx.append(contentsOf: r.dropLast())
            targets.append(r.last!)
        }
        return (SequenceBatch(ids: ctx, batchSize: indices.count, length: length - 1), targets)
    }
}
