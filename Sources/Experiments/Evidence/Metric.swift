import Evaluation

/// The ranking metrics every evaluation records, by the names tables, CSV files and metrics.json use.
public enum Metric: String, CaseIterable, Codable, Sendable {
    case mrr5 = "MRR@5", hr5 = "HR@5", ndcg5 = "NDCG@5", mrr20 = "MRR@20", hr20 = "HR@20", ndcg20 = "NDCG@20"
    /// Last, so existing columns of runs.csv keep their positions.
    case hr10 = "HR@10", ndcg10 = "NDCG@10"

    /// This metric's value in an evaluator result.
    func value(_ m: RankingMetrics) -> Double {
        switch self {
        case .mrr5: return m.mrr5
        case .hr5: return m.hr5
        case .ndcg5: return m.ndcg5
        case .mrr20: return m.mrr20
        case .hr20: return m.hr20
        case .ndcg20: return m.ndcg20
        case .hr10: return m.hr10
        case .ndcg10: return m.ndcg10
        }
    }
}

/// A metric under the sampled protocol, kept in metrics.json beside the full-ranking ones as "<protocol> <metric>"
/// (e.g. "sampled-100-uniform HR@10"): the protocol names are literature.yaml's.
enum SampledMetric {
    static func protocolName(negatives: Int, _ weighting: NegativeSampler.Weighting) -> String {
        "sampled-\(negatives)-\(weighting.rawValue)"
    }
    static func key(negatives: Int, _ weighting: NegativeSampler.Weighting, _ metric: Metric) -> String {
        "\(protocolName(negatives: negatives, weighting)) \(metric.rawValue)"
    }
}

/// The column vocabulary of experiments.yaml tables (and of paper-values.yaml): a metric or a measured quantity.
public enum TableColumn: RawRepresentable, CaseIterable, Codable, Hashable, Sendable {
    case metric(Metric)
    /// Whole model, input + output matrices, middle layers.
    case params, paramsIO, paramsMiddle
    /// Training time to the selected epoch, minutes.
    case trainingTime
    /// Top-5 inference time of the table's reference over the model's, at the profile's batch and at batch 1.
    case speedup, speedupBatch1

    public static var allCases: [TableColumn] {
        Metric.allCases.map(TableColumn.metric) + [
            .params, .paramsIO, .paramsMiddle, .trainingTime, .speedup, .speedupBatch1
        ]
    }

    public init?(rawValue: String) {
        guard let c = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
        self = c
    }

    public var rawValue: String {
        switch self {
        case .metric(let m): return m.rawValue
        case .params: return "Params"
        case .paramsIO: return "Params(io)"
        case .paramsMiddle: return "Params(mid)"
        case .trainingTime: return "TT"
        case .speedup: return "Speedup"
        case .speedupBatch1: return "Speedup(b1)"
        }
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let c = TableColumn(rawValue: text) else { throw decoder.invalid("a table column, found '\(text)'") }
        self = c
    }

    /// Encoded by name, as the stage keys have always held it.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// Parameter counts are printed as counts (34M), everything else as decimals.
    var isCount: Bool { [.params, .paramsIO, .paramsMiddle].contains(self) }
}

extension TableColumn: SpecChoice {}
