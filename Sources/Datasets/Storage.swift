import Foundation

/// On-disk layout of a prepared dataset: raw little-endian Int32 rows plus small text/JSON side files.
public enum PreparedFiles {
    public static let train = "train.bin"
    public static let valid = "valid.bin"
    public static let test = "test.bin"
    /// Int32 per id (index 0 = padding = 0).
    public static let itemCounts = "item_counts.bin"
    /// `id<TAB>token<TAB>count`, header line first, one row per id including 0.
    public static let vocab = "vocab.tsv"
    public static let stats = "stats.json"
    /// Transfer rows (t source ids + 1 target id).
    public static let targetTrain = "target_train.bin"
    public static let targetValid = "target_valid.bin"
    public static let targetTest = "target_test.bin"
    public static let targetCounts = "target_counts.bin"
    public static let targetVocab = "target_vocab.tsv"

    /// Every file `write` produces for a dataset (with or without the transfer part), for a stage's `outputs`.
    public static func all(transfer: Bool) -> [String] {
        let base = [train, valid, test, itemCounts, vocab, stats]
        return transfer ? base + [targetTrain, targetValid, targetTest, targetCounts, targetVocab] : base
    }
}

extension PreparedDataset {
    /// Writes every file of `PreparedFiles` into `directory` (created if needed).
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        func put(_ name: String, _ data: Data) throws { try data.write(to: directory.appendingPathComponent(name)) }
        try put(PreparedFiles.train, Int32IO.encode(train.data))
        try put(PreparedFiles.valid, Int32IO.encode(valid.data))
        try put(PreparedFiles.test, Int32IO.encode(test.data))
        try put(PreparedFiles.itemCounts, Int32IO.encode(itemCounts.map { Int32(clamping: $0) }))
        try put(PreparedFiles.vocab, Data(vocabTSV(vocab, itemCounts).utf8))
        try put(PreparedFiles.stats, try stats.jsonData())
        if let tr = transfer {
            try put(PreparedFiles.targetTrain, Int32IO.encode(tr.train.data))
            try put(PreparedFiles.targetValid, Int32IO.encode(tr.valid.data))
            try put(PreparedFiles.targetTest, Int32IO.encode(tr.test.data))
            try put(PreparedFiles.targetCounts, Int32IO.encode(tr.targetCounts.map { Int32(clamping: $0) }))
            try put(PreparedFiles.targetVocab, Data(vocabTSV(tr.targetVocab, tr.targetCounts).utf8))
        }
    }

    /// Reads a directory written by `write`, checking every file's size against `stats.json`.
    public static func load(from directory: URL) throws -> PreparedDataset {
        let statsURL = directory.appendingPathComponent(PreparedFiles.stats)
        let stats: PrepStats
        do { stats = try JSONDecoder().decode(PrepStats.self, from: Data(contentsOf: statsURL)) } catch {
            throw DatasetError.corruptPrepared(path: statsURL.path, detail: "cannot decode: \(error)")
        }
        let t = stats.seqLength
        func matrix(_ name: String, _ length: Int, rows: Int) throws -> SequenceMatrix {
            let d = try Int32IO.read(directory.appendingPathComponent(name), count: rows * length)
            return SequenceMatrix(length: length, data: d)
        }
        let train = try matrix(PreparedFiles.train, t, rows: stats.trainSequences)
        let valid = try matrix(PreparedFiles.valid, t, rows: stats.validSequences)
        let test = try matrix(PreparedFiles.test, t, rows: stats.testSequences)
        let counts = try Int32IO.read(
            directory.appendingPathComponent(PreparedFiles.itemCounts), count: stats.itemCount
        ).map(Int.init)
        let vocab = try readVocab(directory.appendingPathComponent(PreparedFiles.vocab), count: stats.itemCount)
        var transfer: TransferData?
        if let ts = stats.transfer {
            let tcounts = try Int32IO.read(
                directory.appendingPathComponent(PreparedFiles.targetCounts), count: ts.targetItemCount
            ).map(Int.init)
            transfer = TransferData(
                train: try matrix(PreparedFiles.targetTrain, t + 1, rows: ts.trainPairs),
                valid: try matrix(PreparedFiles.targetValid, t + 1, rows: ts.validPairs),
                test: try matrix(PreparedFiles.targetTest, t + 1, rows: ts.testPairs),
                targetVocab: try readVocab(
                    directory.appendingPathComponent(PreparedFiles.targetVocab), count: ts.targetItemCount),
                targetCounts: tcounts)
        }
        return PreparedDataset(
            train: train, valid: valid, test: test, vocab: vocab, itemCounts: counts, stats: stats, transfer: transfer)
    }

    /// Only the item counts (index = id), without reading the sequences; what `blocks` needs.
    public static func loadItemCounts(from directory: URL) throws -> [Int] {
        let statsURL = directory.appendingPathComponent(PreparedFiles.stats)
        let stats = try JSONDecoder().decode(PrepStats.self, from: Data(contentsOf: statsURL))
        return try Int32IO.read(directory.appendingPathComponent(PreparedFiles.itemCounts), count: stats.itemCount).map(
            Int.init)
    }

    private func vocabTSV(_ tokens: [String], _ counts: [Int]) -> String {
        var s = "id\ttoken\tcount\n"
        for (i, tok) in tokens.enumerated() {
            let clean = tok.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
            s += "\(i)\t\(clean)\t\(counts[i])\n"
        }
        return s
    }

    private static func readVocab(_ url: URL, count: Int) throws -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw DatasetError.corruptPrepared(path: url.path, detail: "missing or not UTF-8")
        }
        var out: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).dropFirst() {
            let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else {
                throw DatasetError.corruptPrepared(
                    path: url.path, detail: "line '\(line)' is not id<TAB>token<TAB>count")
            }
            out.append(String(f[1]))
        }
        guard out.count == count else {
            throw DatasetError.corruptPrepared(path: url.path, detail: "\(out.count) ids, stats.json says \(count)")
        }
        return out
    }
}

extension PrepStats {
    /// Pretty, key-sorted JSON (stable bytes for the cache's early cutoff).
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}

/// Raw little-endian Int32 arrays.
public enum Int32IO {
    /// Little-endian bytes of `values`.
    public static func encode(_ values: [Int32]) -> Data {
        var le = values.map { $0.littleEndian }
        return Data(bytes: &le, count: le.count * 4)
    }

    /// Reads a file through a memory map; `count` (when given) must match exactly.
    public static func read(_ url: URL, count: Int? = nil) throws -> [Int32] {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw DatasetError.corruptPrepared(path: url.path, detail: "cannot read")
        }
        guard data.count % 4 == 0 else {
            throw DatasetError.corruptPrepared(path: url.path, detail: "size \(data.count) is not a multiple of 4")
        }
        if let c = count, c * 4 != data.count {
            throw DatasetError.corruptPrepared(path: url.path, detail: "\(data.count / 4) Int32 values, expected \(c)")
        }
        var out = [Int32](repeating: 0, count: data.count / 4)
        _ = out.withUnsafeMutableBytes { data.copyBytes(to: $0) }
        return out.map { Int32(littleEndian: $0) }
    }
}
