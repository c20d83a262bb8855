import Datasets
import Foundation
import Pipeline

/// `fetch/<dataset>`: raw files by download (verified, resumable), from a user-placed file, or generated.
struct FetchStage: TypedParameters {
    let dataset: DatasetSpec
    let source: URL?
    /// Not part of the key: a mirror only changes where the same file comes from (its checksum, when the spec pins
    /// one, is still verified), so switching mirrors reuses a fetched dataset.
    var mirror: String? = nil
    var id: StageID { StageID("fetch/\(dataset.name)") }
    var version: Int { 1 }
    /// The spec's source and format decide the raw bytes; prep parameters do not, so they stay out of this key.
    struct Parameters: Encodable {
        var source: DatasetSource
        var format: FormatSpec
        var override: Nullable<String>
    }
    var typedParameters: Parameters {
        Parameters(source: dataset.source, format: dataset.format, override: Nullable(source?.path))
    }
    var inputs: [StageID] { [] }
    var fileInputs: [URL] {
        if let source { return [source] }
        if case .userPlaced(let u) = dataset.source {
            let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            return u.files.map { cwd.appendingPathComponent($0) }.filter {
                FileManager.default.fileExists(atPath: $0.path)
            }
        }
        return []
    }
    /// Raw files get fixed names (raw-0, raw-1, in the order the format reads them) so the outputs can be declared
    /// whatever the source calls them; fetch.json keeps each file's origin.
    var outputs: [String] { [FetchRecord.fileName] + (0..<dataset.format.fileCount).map { "raw-\($0)" } }

    func run(_ context: StageContext) throws {
        let options = FetchOptions(
            downloadDirectory: context.workDirectory.appendingPathComponent("downloads"),
            overrides: source.map { [$0] } ?? [], mirror: mirror,
            log: { line in
                context.log(line); context.progress(line)
            })
        let staging = context.workDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: staging) }
        var record = try Fetcher.fetch(dataset, into: staging, options: options)
        for i in record.files.indices {
            let name = "raw-\(i)"
            try FileManager.default.moveItem(
                at: staging.appendingPathComponent(record.files[i].name),
                to: context.outputDirectory.appendingPathComponent(name))
            record.files[i].name = name
        }
        try record.write(to: context.outputDirectory)
        context.log("fetched \(record.files.map(\.origin).joined(separator: ", ")) [\(record.checksum)]")
    }
}

/// `prep/<dataset>`: fixed-length, frequency-indexed sequences split into train / valid / test.
struct PrepStage: TypedParameters {
    let dataset: DatasetSpec
    let fetch: StageID
    var id: StageID { StageID("prep/\(dataset.name)") }
    var version: Int { 1 }
    struct Parameters: Encodable {
        var format: FormatSpec
        var prep: PrepParams
    }
    var typedParameters: Parameters { Parameters(format: dataset.format, prep: dataset.prep) }
    var inputs: [StageID] { [fetch] }
    var outputs: [String] { PreparedFiles.all(transfer: dataset.format.kind == .coldrec) }

    func run(_ context: StageContext) throws {
        context.progress("parsing and preparing")
        let prepared = try Prep.prepare(spec: dataset, fetchDirectory: try context.inputDirectory(fetch))
        try prepared.write(to: context.outputDirectory)
        let s = prepared.stats
        context.log(
            "prepared \(s.sequences) sequences (train \(s.trainSequences), valid \(s.validSequences), test \(s.testSequences)), \(s.items) items, \(s.interactions) interactions, t = \(s.seqLength)"
        )
    }
}

/// `blocks/<dataset>`: CpRec's frequency blocks (contiguous id ranges over the frequency order).
struct BlocksStage: TypedParameters {
    static let fileName = "blocks.json"
    let dataset: DatasetSpec
    let rule: BlockRule
    let prep: StageID
    var id: StageID { StageID("blocks/\(dataset.name)") }
    var version: Int { 1 }
    struct Parameters: Encodable { var rule: BlockRule }
    var typedParameters: Parameters { Parameters(rule: rule) }
    var inputs: [StageID] { [prep] }
    var outputs: [String] { [Self.fileName] }

    func run(_ context: StageContext) throws {
        let counts = try PreparedDataset.loadItemCounts(from: try context.inputDirectory(prep))
        let blocks = try Blocking.compute(counts: counts, rule: rule)
        try blocks.jsonData().write(to: context.outputDirectory.appendingPathComponent(Self.fileName), options: .atomic)
        context.log("blocks \(blocks.boundaries) shares \(blocks.blocks.map { String(format: "%.3f", $0.share) })")
    }

    static func load(_ directory: URL) throws -> Blocks {
        try JSONDecoder().decode(Blocks.self, from: Data(contentsOf: directory.appendingPathComponent(fileName)))
    }
}

extension JSONValue {
    /// Any Encodable as a JSONValue (for stage parameters); encoding our own Codable specs cannot fail.
    static func encoded<T: Encodable>(_ value: T) -> JSONValue {
        do { return try JSONValue(encoding: value) } catch { preconditionFailure("cannot encode \(T.self): \(error)") }
    }
}

/// `oracle/<dataset>`: the Bayes-optimal expected metrics of a synthetic dataset's test split, from the
/// generator's own law (`SyntheticOracle`): the ceiling any model's numbers are read against.
struct OracleStage: TypedParameters {
    static let fileName = "oracle.json"
    let dataset: String
    let spec: SyntheticSpec
    let prep: StageID
    var id: StageID { StageID("oracle/\(dataset)") }
    var version: Int { 1 }
    struct Parameters: Encodable { var source: SyntheticSpec }
    var typedParameters: Parameters { Parameters(source: spec) }
    var inputs: [StageID] { [prep] }
    var outputs: [String] { [Self.fileName] }

    func run(_ context: StageContext) throws {
        let data = try PreparedDataset.load(from: try context.inputDirectory(prep))
        context.progress("scoring \(data.test.rows) test rows under the generator's law")
        let oracle = SyntheticOracle.evaluate(
            spec: spec, data: try SyntheticGenerator.generate(spec), tokens: data.vocab,
            rows: data.test.data, length: data.test.length)
        try JSONFiles.write(oracle, to: context.outputDirectory.appendingPathComponent(Self.fileName))
        context.log(
            String(
                format: "oracle MRR@5 %.4f HR@5 %.4f HR@20 %.4f over %d test rows", oracle.mrr5, oracle.hr5,
                oracle.hr20, oracle.rows))
    }

    static func load(_ context: StageContext, _ id: StageID) throws -> OracleMetrics {
        try JSONFiles.read(OracleMetrics.self, from: try context.inputDirectory(id).appendingPathComponent(fileName))
    }
}
