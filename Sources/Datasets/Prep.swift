import Foundation
import Random

/// Fixed-length rows of item ids, row-major (`rows × length`), 0 = padding.
public struct SequenceMatrix: Equatable, Sendable {
    /// Row length (t for sequences, t + 1 for transfer rows).
    public var length: Int
    /// Row-major ids.
    public var data: [Int32]

    public init(length: Int, data: [Int32] = []) {
        precondition(length > 0 && data.count % length == 0)
        self.length = length
        self.data = data
    }

    public var rows: Int { data.count / length }

    /// Row `i` as a slice into `data`.
    public func row(_ i: Int) -> ArraySlice<Int32> { data[(i * length)..<((i + 1) * length)] }

    /// Number of non-padding entries.
    public var nonPadding: Int { data.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
}

/// Fine-tuning data of the transfer task: rows of t source ids (left-padded) followed by one target id.
public struct TransferData: Equatable, Sendable {
    public var train: SequenceMatrix
    public var valid: SequenceMatrix
    public var test: SequenceMatrix
    /// Target id -> original token; index 0 is padding.
    public var targetVocab: [String]
    /// Target id -> number of (user, target) pairs; index 0 is 0.
    public var targetCounts: [Int]
    /// Number of target ids including padding id 0 (the target output layer's size).
    public var targetItemCount: Int { targetVocab.count }
}

/// Statistics of one prepared dataset, written as `stats.json` (Table 1 reads it).
public struct PrepStats: Codable, Equatable, Sendable {
    public var name: String
    /// Sequence length t.
    public var seqLength: Int
    /// Number of ids including padding id 0 (what models call itemCount / K).
    public var itemCount: Int
    /// Number of real items (itemCount - 1).
    public var items: Int
    /// Users (or input lines) with at least one interaction after filtering.
    public var users: Int
    /// Interactions after filtering, before chunking (the item counts sum to this).
    public var rawInteractions: Int
    /// Non-padding tokens over all splits.
    public var interactions: Int
    /// Fixed-length sequences over all splits.
    public var sequences: Int
    public var trainSequences: Int
    public var validSequences: Int
    public var testSequences: Int
    /// Sequences that needed left padding.
    public var paddedSequences: Int
    /// Chunks dropped for having fewer than `minSequenceItems` real items.
    public var droppedChunks: Int
    /// Distinct items removed by `minItemCount`.
    public var droppedItems: Int
    /// Users removed by `minUserCount`.
    public var droppedUsers: Int
    public var params: PrepParams
    /// Present for source/target (ColdRec) datasets.
    public var transfer: TransferStats?
}

/// Statistics of the fine-tuning (target) side of a transfer dataset.
public struct TransferStats: Codable, Equatable, Sendable {
    /// Users (target-file lines) kept.
    public var users: Int
    /// Number of target ids including padding id 0.
    public var targetItemCount: Int
    /// Real target items.
    public var targetItems: Int
    /// (user, target) pairs over all splits.
    public var pairs: Int
    public var trainPairs: Int
    public var validPairs: Int
    public var testPairs: Int
    /// Target-file lines dropped because no history item is in the source vocabulary.
    public var droppedUsers: Int
}

/// A dataset after prep: splits of fixed-length sequences, vocabulary and frequencies.
public struct PreparedDataset: Equatable, Sendable {
    public var train: SequenceMatrix
    public var valid: SequenceMatrix
    public var test: SequenceMatrix
    /// New id -> original token; index 0 is "<pad>".
    public var vocab: [String]
    /// New id -> interactions after filtering (descending from id 1); index 0 is 0.
    public var itemCounts: [Int]
    public var stats: PrepStats
    /// Fine-tuning data for source/target datasets.
    public var transfer: TransferData?

    /// Number of ids including padding id 0.
    public var itemCount: Int { vocab.count }
    public var seqLength: Int { stats.seqLength }
}

/// Turns parsed logs into fixed-length, frequency-indexed, split sequences (the paper's protocol).
public enum Prep {
    /// Token used for id 0 in `vocab.tsv`.
    public static let padToken = "<pad>"

    /// Reads the raw files a fetch produced (`fetch.json` in `fetchDirectory`) and prepares them.
    public static func prepare(spec: DatasetSpec, fetchDirectory: URL) throws -> PreparedDataset {
        let record = try FetchRecord.load(from: fetchDirectory)
        let files = record.files.map { fetchDirectory.appendingPathComponent($0.name) }
        return try prepare(name: spec.name, files: files, format: spec.format, params: spec.prep)
    }

    /// Parses `files` (two for coldrec: source then target) with `format` and prepares them with `params`.
    public static func prepare(
        name: String, files: [URL], format: FormatSpec, params: PrepParams
    ) throws -> PreparedDataset {
        guard files.count == format.fileCount else {
            throw DatasetError.invalidParameter(
                field: "\(name).files",
                expected: "\(format.fileCount) file(s) for format \(format.kind.rawValue), got \(files.count)")
        }
        do {
            if format.kind == .coldrec {
                let raw = try Parsers.readColdRec(source: files[0], target: files[1], format: format)
                return try prepare(name: name, coldrec: raw, params: params)
            }
            return try prepare(name: name, log: try Parsers.readLog(files[0], format: format), params: params)
        } catch DatasetError.sequencesTooShort(let dataset, let minItems, let longest, nil, nil) {
            // Only here is the file known; one of its lines shows the user what was read as a sequence.
            var example: String?
            try? Parsers.forEachLine(files[0], maxLines: 1000) { line, number in
                if example == nil { example = "line \(number): '\(Parsers.preview(line))'" }
            }
            throw DatasetError.sequencesTooShort(
                dataset: dataset, minSequenceItems: minItems, longest: longest,
                file: files[0].path, example: example)
        }
    }

    /// The paper's protocol on a parsed log.
    ///
    /// 1. Filtering, one pass each (not iterated to a fixed point, so counts stay easy to explain): items with
    ///    fewer than `minItemCount` interactions are removed, then users with fewer than `minUserCount` remaining ones.
    /// 2. Ids by descending count over the filtered interactions: 1 = most frequent; ties by original token
    ///    (numerically when both are integers, else by string); 0 = padding, never an item.
    /// 3. Each user's history is cut into chunks of t from the most recent end, so only the oldest chunk can be short;
    ///    short chunks are left-padded with 0; chunks with fewer than `minSequenceItems` items are dropped.
    /// 4. The chunks are shuffled with `Rng(seed)`; the last floor(testFraction·N) are test, then the last
    ///    floor(validFraction·N_rest) of the rest are validation (chunks of one user may land in different splits,
    ///    as in the authors' random split of sequences).
    public static func prepare(name: String, log: RawLog, params: PrepParams) throws -> PreparedDataset {
        try params.validate()
        let t = params.seqLength
        let (filtered, droppedItems, droppedUsers) = filter(log, params: params)
        let kept = filtered.filter { !$0.isEmpty }
        let rawInteractions = kept.reduce(0) { $0 + $1.count }
        if rawInteractions == 0 {
            throw DatasetError.empty(
                dataset: name,
                detail: log.interactionCount == 0
                    ? "no interactions were read"
                    : "no interactions left after filtering (minItemCount \(params.minItemCount), minUserCount \(params.minUserCount))"
            )
        }
        let (newId, vocab, counts) = reindex(tokens: log.itemTokens, sequences: kept)

        if params.effectiveSplit == .leaveOneOut {
            return try leaveOneOut(
                name: name, kept: kept, newId: newId, vocab: vocab, counts: counts,
                rawInteractions: rawInteractions, droppedItems: droppedItems,
                droppedUsers: droppedUsers, params: params)
        }
        var rows: [Int32] = []
        var padded = 0, dropped = 0
        for seq in kept {
            // Chunk boundaries from the most recent end; emitted oldest first.
            var ends: [Int] = []
            var end = seq.count
            while end > 0 { ends.append(end); end -= t }
            for e in ends.reversed() {
                let s = max(0, e - t)
                let n = e - s
                if n < params.minSequenceItems { dropped += 1; continue }
                if n < t { padded += 1; rows.append(contentsOf: repeatElement(0, count: t - n)) }
                for i in s..<e { rows.append(newId[Int(seq[i])]) }
            }
        }
        let all = SequenceMatrix(length: t, data: rows)
        if all.rows == 0 {
            throw DatasetError.sequencesTooShort(
                dataset: name, minSequenceItems: params.minSequenceItems,
                longest: kept.map(\.count).max() ?? 0, file: nil, example: nil)
        }
        let (train, valid, test) = split(
            all, testFraction: params.testFraction, validFraction: params.validFraction,
            rng: Rng(seed: params.seed))
        let stats = PrepStats(
            name: name, seqLength: t, itemCount: vocab.count, items: vocab.count - 1, users: kept.count,
            rawInteractions: rawInteractions, interactions: all.nonPadding, sequences: all.rows,
            trainSequences: train.rows, validSequences: valid.rows, testSequences: test.rows,
            paddedSequences: padded, droppedChunks: dropped, droppedItems: droppedItems, droppedUsers: droppedUsers,
            params: params, transfer: nil)
        return PreparedDataset(
            train: train, valid: valid, test: test, vocab: vocab, itemCounts: counts, stats: stats, transfer: nil)
    }

    /// Source side as `prepare(log:)`; target lines become rows of the user's last t source ids (new ids, left-padded)
    /// plus one target id per (user, target) pair. Target ids are by descending pair count (1 = most frequent); pairs
    /// are split like sequences with `Rng(seed + 1)`. History tokens absent from the source vocabulary are skipped.
    public static func prepare(name: String, coldrec: RawColdRec, params: PrepParams) throws -> PreparedDataset {
        var source = try prepare(name: name, log: coldrec.source, params: params)
        let t = params.seqLength
        var tokenToNew: [String: Int32] = [:]
        for (id, token) in source.vocab.enumerated() where id > 0 { tokenToNew[token] = Int32(id) }
        let rawToNew: [Int32] = coldrec.source.itemTokens.map { tokenToNew[$0] ?? 0 }

        var histories: [[Int32]] = []
        var targetLists: [[Int32]] = []
        var droppedUsers = 0
        for ex in coldrec.examples {
            let h = ex.history.map { rawToNew[Int($0)] }.filter { $0 != 0 }
            if h.isEmpty { droppedUsers += 1; continue }
            histories.append(Array(h.suffix(t)))
            targetLists.append(ex.targets)
        }
        if histories.isEmpty {
            throw DatasetError.empty(
                dataset: name, detail: "no target-file line has a history item in the source vocabulary")
        }
        let (targetNew, targetVocab, targetCounts) = reindex(tokens: coldrec.targetTokens, sequences: targetLists)
        var rows: [Int32] = []
        for (h, ts) in zip(histories, targetLists) {
            for target in ts {
                rows.append(contentsOf: repeatElement(0, count: t - h.count))
                rows.append(contentsOf: h)
                rows.append(targetNew[Int(target)])
            }
        }
        let all = SequenceMatrix(length: t + 1, data: rows)
        let (train, valid, test) = split(
            all, testFraction: params.testFraction, validFraction: params.validFraction,
            rng: Rng(seed: params.seed &+ 1))
        source.transfer = TransferData(
            train: train, valid: valid, test: test, targetVocab: targetVocab, targetCounts: targetCounts)
        source.stats.transfer = TransferStats(
            users: histories.count, targetItemCount: targetVocab.count, targetItems: targetVocab.count - 1,
            pairs: all.rows, trainPairs: train.rows, validPairs: valid.rows, testPairs: test.rows,
            droppedUsers: droppedUsers)
        return source
    }

    // MARK: - steps

    /// One-pass item filter then user filter; returns the filtered sequences (empty ones kept in place) and drop
    /// counts.
    static func filter(_ log: RawLog, params: PrepParams) -> ([[Int32]], droppedItems: Int, droppedUsers: Int) {
        var counts = [Int](repeating: 0, count: log.itemTokens.count)
        for seq in log.sequences { for i in seq { counts[Int(i)] += 1 } }
        let droppedItems = counts.reduce(0) { $0 + ($1 > 0 && $1 < params.minItemCount ? 1 : 0) }
        var droppedUsers = 0
        var out: [[Int32]] = []
        out.reserveCapacity(log.sequences.count)
        for seq in log.sequences {
            var s = seq
            if params.minItemCount > 1 { s = s.filter { counts[Int($0)] >= params.minItemCount } }
            if !seq.isEmpty && s.count < params.minUserCount { droppedUsers += 1; s = [] }
            out.append(s)
        }
        return (out, droppedItems, droppedUsers)
    }

    /// Frequency re-indexing: returns raw id -> new id (0 for unused raw ids), new id -> token, new id -> count.
    static func reindex(tokens: [String], sequences: [[Int32]]) -> (newId: [Int32], vocab: [String], counts: [Int]) {
        var counts = [Int](repeating: 0, count: tokens.count)
        for seq in sequences { for i in seq { counts[Int(i)] += 1 } }
        let numeric: [Int64?] = tokens.map { Parsers.parseInt($0) }
        var order = (0..<tokens.count).filter { counts[$0] > 0 }
        order.sort { a, b in
            if counts[a] != counts[b] { return counts[a] > counts[b] }
            if let x = numeric[a], let y = numeric[b], x != y { return x < y }
            if tokens[a] != tokens[b] { return tokens[a] < tokens[b] }
            return a < b
        }
        var newId = [Int32](repeating: 0, count: tokens.count)
        var vocab = [padToken]
        var newCounts = [0]
        vocab.reserveCapacity(order.count + 1)
        for (rank, raw) in order.enumerated() {
            newId[raw] = Int32(rank + 1)
            vocab.append(tokens[raw])
            newCounts.append(counts[raw])
        }
        return (newId, vocab, newCounts)
    }

    /// Leave-one-out, as SASRec's and S3Rec's code split these benchmarks, in rows of width t whose last id is the
    /// target:
    /// - test row: the user's last t items (the test item and the t-1 before it);
    /// - validation row: the last t items ending at the second-to-last item;
    /// - training rows: everything before the validation item, cut into chunks of t from the most recent end, exactly
    /// as
    ///   the random split cuts whole histories. Chunks, not only the last t+1 items (SASRec) nor sliding windows: every
    /// training interaction is used once, as in the paper's protocol, and the models already learn from every position
    ///   of a row, so overlapping windows would only repeat targets;
    /// - users with fewer than 3 items have no validation or test row; their items are training chunks (SASRec's code
    ///   does the same), so every user counts once in test at most and test rows = users with >= 3 items.
    /// With t = 51 the test history is 50 items, SASRec's maximum length. `minSequenceItems` applies to training chunks
    /// only.
    static func leaveOneOut(
        name: String, kept: [[Int32]], newId: [Int32], vocab: [String], counts: [Int],
        rawInteractions: Int, droppedItems: Int, droppedUsers: Int, params: PrepParams
    ) throws -> PreparedDataset {
        let t = params.seqLength
        var train: [Int32] = [], valid: [Int32] = [], test: [Int32] = []
        var padded = 0, dropped = 0
        func emit(_ seq: [Int32], _ s: Int, _ e: Int, into out: inout [Int32]) {
            if e - s < t { padded += 1; out.append(contentsOf: repeatElement(0, count: t - (e - s))) }
            for i in s..<e { out.append(newId[Int(seq[i])]) }
        }
        for seq in kept {
            let n = seq.count
            let trainEnd = n >= 3 ? n - 2 : n
            if n >= 3 {
                emit(seq, max(0, n - t), n, into: &test)
                emit(seq, max(0, n - 1 - t), n - 1, into: &valid)
            }
            var ends: [Int] = []
            var end = trainEnd
            while end > 0 { ends.append(end); end -= t }
            for e in ends.reversed() {
                let s = max(0, e - t)
                if e - s < params.minSequenceItems { dropped += 1; continue }
                emit(seq, s, e, into: &train)
            }
        }
        let trainM = SequenceMatrix(length: t, data: train)
        let validM = SequenceMatrix(length: t, data: valid)
        let testM = SequenceMatrix(length: t, data: test)
        if testM.rows == 0 || trainM.rows == 0 {
            throw DatasetError.empty(
                dataset: name,
                detail:
                    "leave-one-out needs users with at least 3 items; \(testM.rows) test and \(trainM.rows) training rows"
            )
        }
        let rows = trainM.rows + validM.rows + testM.rows
        let stats = PrepStats(
            name: name, seqLength: t, itemCount: vocab.count, items: vocab.count - 1, users: kept.count,
            // Validation and test rows repeat the training history; each adds one interaction, its target.
            rawInteractions: rawInteractions, interactions: trainM.nonPadding + validM.rows + testM.rows,
            sequences: rows, trainSequences: trainM.rows, validSequences: validM.rows, testSequences: testM.rows,
            paddedSequences: padded, droppedChunks: dropped, droppedItems: droppedItems, droppedUsers: droppedUsers,
            params: params, transfer: nil)
        return PreparedDataset(
            train: trainM, valid: validM, test: testM, vocab: vocab, itemCounts: counts, stats: stats, transfer: nil)
    }

    /// Seeded shuffle, then test = last floor(f_test·N), validation = last floor(f_valid·rest) of the rest.
    static func split(
        _ all: SequenceMatrix, testFraction: Double, validFraction: Double, rng: Rng
    )
        -> (SequenceMatrix, SequenceMatrix, SequenceMatrix)
    {
        var rng = rng
        var order = Array(0..<all.rows)
        rng.shuffle(&order)
        let nTest = Int((testFraction * Double(all.rows)).rounded(.down))
        let nRest = all.rows - nTest
        let nValid = Int((validFraction * Double(nRest)).rounded(.down))
        let nTrain = nRest - nValid
        func gather(_ idx: ArraySlice<Int>) -> SequenceMatrix {
            var d: [Int32] = []
            d.reserveCapacity(idx.count * all.length)
            for i in idx { d.append(contentsOf: all.row(i)) }
            return SequenceMatrix(length: all.length, data: d)
        }
        return (gather(order[0..<nTrain]), gather(order[nTrain..<nRest]), gather(order[nRest...]))
    }
}
