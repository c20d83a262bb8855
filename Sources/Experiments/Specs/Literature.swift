import Foundation

/// Published numbers on the real benchmarks with their source and protocol (pipeline/literature.yaml). Validated when
/// the graph is built, like paper-values.yaml, so a typo fails before any stage runs.
struct LiteratureValues: Decodable {
    /// How the published number ranked the positive; only the same protocol of ours may sit beside it.
    enum RankingProtocol: String, Decodable, CaseIterable, SpecChoice {
        case full
        case sampled100Uniform = "sampled-100-uniform"
        case sampled99Uniform = "sampled-99-uniform"
        case sampled99Popularity = "sampled-99-popularity"

        init(from decoder: Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let p = Self(rawValue: text) else {
                throw decoder.invalid(
                    "one of \(Self.allCases.map(\.rawValue).joined(separator: " | ")), found '\(text)'")
            }
            self = p
        }
    }

    struct Source: Decodable {
        var paper: String, table: String, read: String
        enum CodingKeys: String, CodingKey, CaseIterable { case paper, table, read }
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(CodingKeys.self)
            paper = try c.decode(String.self, forKey: .paper)
            table = try c.decode(String.self, forKey: .table)
            read = try c.decode(String.self, forKey: .read)
            for (k, v) in [(CodingKeys.paper, paper), (.table, table), (.read, read)] where v.isEmpty {
                throw c.invalid(k, "a non-empty text", found: "''")
            }
        }
    }

    struct Value: Decodable {
        var dataset: String, model: String, metric: TableColumn, value: Double, rankingProtocol: RankingProtocol,
            source: Source
        enum CodingKeys: String, CodingKey, CaseIterable { case dataset, model, metric, value, `protocol`, source }
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(CodingKeys.self)
            dataset = try c.decode(String.self, forKey: .dataset)
            model = try c.decode(String.self, forKey: .model)
            metric = try c.decode(TableColumn.self, forKey: .metric)
            guard case .metric = metric else {
                throw c.invalid(.metric, "a ranking metric (HR@10, NDCG@10, ...)", found: metric.rawValue)
            }
            value = try c.decode(Double.self, forKey: .value)
            // Every metric in the vocabulary is a share of test rows or an average of values in [0, 1].
            guard value >= 0 && value <= 1 else { throw c.invalid(.value, "a number in [0, 1]", found: value) }
            rankingProtocol = try c.decode(RankingProtocol.self, forKey: .protocol)
            source = try c.decode(Source.self, forKey: .source)
        }
    }

    var values: [Value]

    enum CodingKeys: String, CodingKey, CaseIterable { case values }
    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(CodingKeys.self)
        values = try c.decodeIfPresent([Value].self, forKey: .values) ?? []
    }

    static let fileName = "literature.yaml"

    /// The spec in `directory`, or none when the file is absent (spec folders older than it keep working).
    static func load(in directory: URL) throws -> LiteratureValues? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try SpecFile.load(url).decode(LiteratureValues.self)
    }

    /// Published values for one of our (dataset, model) pairs.
    func values(dataset: String, model: String) -> [Value] {
        values.filter { $0.dataset == dataset && $0.model == model }
    }
}
