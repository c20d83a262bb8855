import Datasets
import Foundation

/// pipeline/claims.yaml: every claim, the quantity it is about and its declared test, the dataset groups and the
/// one rule set that turns pairs into verdicts (the file's header documents each key).
public struct ClaimSpecFile: Decodable, Sendable {
    public struct Rules: Sendable, Hashable, Codable {
        public var level: Double
        public var margin: Double
        public var resamples: Int
        public var bootstrapSeed: UInt64
        public var correction: String
        /// One-sided level of every test: (1 − level) / 2.
        public var alpha: Double { (1 - level) / 2 }
    }

    public struct Group: Sendable, Hashable, Codable {
        public var id: String
        public var label: String
        public var synthetic: Bool
        public var minItems: Int
        public var maxItems: Int
        public var paperRegime: Bool

        public func contains(synthetic s: Bool, items: Int) -> Bool {
            s == synthetic && items >= minItems && items <= maxItems
        }
    }

    public enum QuantityKind: String, Sendable, Hashable, Codable, CaseIterable {
        case metricDifference = "metric-difference", paramsRatio = "params-ratio", timeRatio = "time-ratio"
        case sweepGain = "sweep-gain", transferDifference = "transfer-difference", ioShare = "io-share"
        case topNAgreement = "topn-agreement"
    }
    public enum TestKind: String, Sendable, Hashable, Codable, CaseIterable {
        case superiority, nonInferiority = "non-inferiority", threshold
    }
    public enum Aggregate: String, Sendable, Hashable, Codable, CaseIterable { case most, any, all }

    public struct Quantity: Sendable, Hashable, Codable {
        public var kind: QuantityKind
        public var metric: Metric = .mrr5
        /// params-ratio: total | io | middle.
        public var part: String = "total"
        /// time-ratio: train-epoch | inference-batch1 | inference-batch128.
        public var time: String = "train-epoch"
        /// metric-difference at one point of Figure 1's sweep.
        public var sweepAxis: String?
        public var sweepValue: Int?
        /// best-validation, or nil (every compared model).
        public var select: String?
        /// sweep-gain.
        public var axis: String = "dim"
        public var from: Int = 0
        public var to: Int = 0
        /// transfer-difference: the row kind of each side.
        public var comparedRow: String = "pretrained"
        public var referenceRow: String = "pretrained"
    }

    public struct Test: Sendable, Hashable, Codable {
        public var kind: TestKind
        /// superiority / threshold bound; nil = 0 for differences, 1 for ratios.
        public var above: Double?
        /// non-inferiority margin (nil = the rules' margin).
        public var margin: Double?
    }

    public struct ClaimSpec: Sendable, Hashable, Codable {
        public var id: String
        public var source: String
        public var statement: String
        public var quantity: Quantity
        public var reference: String?
        public var compared: [String]
        public var test: Test
        public var smaller: String?
        public var aggregate: Aggregate
    }

    public var rules: Rules
    public var groups: [Group]
    public var claims: [ClaimSpec]

    static func load(_ url: URL) throws -> ClaimSpecFile { try SpecFile.load(url).decode(ClaimSpecFile.self) }

    /// Every model a claim names, for checks against models.yaml.
    var models: [String] { claims.flatMap { $0.compared + ($0.reference.map { [$0] } ?? []) } }
}

extension ClaimSpecFile.QuantityKind: SpecChoice {}
extension ClaimSpecFile.TestKind: SpecChoice {}
extension ClaimSpecFile.Aggregate: SpecChoice {}
extension Metric: SpecChoice {}

extension ClaimSpecFile {
    private enum Key: String, CodingKey, CaseIterable { case rules, groups, claims }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        rules = try c.decode(Rules.self, forKey: .rules)
        groups = try c.decode([Group].self, forKey: .groups)
        claims = try c.decode([ClaimSpec].self, forKey: .claims)
        var seen = Set<String>()
        for (i, claim) in claims.enumerated() where !seen.insert(claim.id).inserted {
            throw try c.superDecoder(forKey: .claims).unkeyedContainerAt(i).invalid(
                "a claim id used once, found '\(claim.id)' again")
        }
    }
}

private extension Decoder {
    /// The decoder of item `i` of this list (to blame an item after the list was decoded).
    func unkeyedContainerAt(_ i: Int) throws -> Decoder {
        var u = try unkeyedContainer()
        for _ in 0..<i { _ = try u.superDecoder() }
        return try u.superDecoder()
    }
}

extension ClaimSpecFile.Rules {
    private enum Key: String, CodingKey, CaseIterable { case level, margin, bootstrap, correction }
    private enum BootKey: String, CodingKey, CaseIterable { case resamples, seed }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        level = try c.decode(Double.self, forKey: .level)
        if !(level > 0.5 && level < 1) { throw c.invalid(.level, "a confidence level in (0.5, 1)", found: level) }
        margin = try c.decode(Double.self, forKey: .margin)
        if !(margin >= 0 && margin < 1) { throw c.invalid(.margin, "a relative margin in [0, 1)", found: margin) }
        try rejectUnknownKeys(try c.superDecoder(forKey: .bootstrap), allowed: BootKey.allCases.map(\.rawValue))
        let b = try c.nestedContainer(keyedBy: BootKey.self, forKey: .bootstrap)
        resamples = try b.decode(Int.self, forKey: .resamples)
        if resamples < 100 { throw b.invalid(.resamples, "at least 100 resamples", found: resamples) }
        bootstrapSeed = try b.decode(UInt64.self, forKey: .seed)
        correction = try c.decodeChoice(.correction, ["holm", "none"]) ?? "holm"
    }
}

extension ClaimSpecFile.Group {
    private enum Key: String, CodingKey, CaseIterable { case id, label, synthetic, minItems, maxItems, paperRegime }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        id = try c.decode(String.self, forKey: .id)
        label = try c.decode(Label.self, forKey: .label).text
        synthetic = try c.decode(Bool.self, forKey: .synthetic)
        minItems = try c.decodeIfPresent(Int.self, forKey: .minItems) ?? 0
        maxItems = try c.decodeIfPresent(Int.self, forKey: .maxItems) ?? Int.max
        if maxItems < minItems { throw c.invalid(.maxItems, "maxItems ≥ minItems (\(minItems))", found: maxItems) }
        paperRegime = try c.decodeIfPresent(Bool.self, forKey: .paperRegime) ?? false
    }
}

extension ClaimSpecFile.ClaimSpec {
    private enum Key: String, CodingKey, CaseIterable {
        case id, source, statement, quantity, reference, compared, test, smaller, aggregate
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        id = try c.decode(String.self, forKey: .id)
        if !SpecID.isValid(id) { throw c.invalid(.id, "an id (\(SpecID.rule))", found: id) }
        source = try c.decode(Label.self, forKey: .source).text
        statement = try c.decode(Label.self, forKey: .statement).text
        quantity = try c.decode(ClaimSpecFile.Quantity.self, forKey: .quantity)
        reference = try c.decodeIfPresent(String.self, forKey: .reference)
        compared = try c.decode([String].self, forKey: .compared)
        if compared.isEmpty { throw c.invalid(.compared, "at least one model", found: "[]") }
        test = try c.decode(ClaimSpecFile.Test.self, forKey: .test)
        smaller = try c.decodeChoice(.smaller, ["io", "middle", "total"])
        aggregate = try c.decode(ClaimSpecFile.Aggregate.self, forKey: .aggregate)
        let needsReference: Set<ClaimSpecFile.QuantityKind> = [
            .metricDifference, .paramsRatio, .timeRatio, .transferDifference
        ]
        if needsReference.contains(quantity.kind) && reference == nil {
            throw c.invalid(.reference, "a reference model for quantity \(quantity.kind.rawValue)", found: "nothing")
        }
        let exact: Set<ClaimSpecFile.QuantityKind> = [.paramsRatio, .ioShare, .topNAgreement]
        if exact.contains(quantity.kind) != (test.kind == .threshold) {
            throw c.invalid(
                .test,
                exact.contains(quantity.kind)
                    ? "test kind threshold for the exact quantity \(quantity.kind.rawValue)"
                    : "superiority or non-inferiority for the measured quantity \(quantity.kind.rawValue)",
                found: test.kind.rawValue)
        }
    }
}

extension ClaimSpecFile.Quantity {
    private enum Key: String, CodingKey, CaseIterable {
        case kind, metric, part, time, sweep, select, axis, from, to, compared, reference
    }
    private enum SweepKey: String, CodingKey, CaseIterable { case axis, value }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        kind = try c.decode(ClaimSpecFile.QuantityKind.self, forKey: .kind)
        metric = try c.decodeIfPresent(Metric.self, forKey: .metric) ?? .mrr5
        part = try c.decodeChoice(.part, ["total", "io", "middle"]) ?? "total"
        time = try c.decodeChoice(.time, ["train-epoch", "inference-batch1", "inference-batch128"]) ?? "train-epoch"
        select = try c.decodeChoice(.select, ["best-validation"])
        if c.contains(.sweep) {
            try rejectUnknownKeys(try c.superDecoder(forKey: .sweep), allowed: SweepKey.allCases.map(\.rawValue))
            let s = try c.nestedContainer(keyedBy: SweepKey.self, forKey: .sweep)
            sweepAxis = try s.decodeChoice(.axis, ["dim", "depth"])
            sweepValue = try s.decode(Int.self, forKey: .value)
        }
        axis = try c.decodeChoice(.axis, ["dim", "depth"]) ?? "dim"
        from = try c.decodeIfPresent(Int.self, forKey: .from) ?? 0
        to = try c.decodeIfPresent(Int.self, forKey: .to) ?? 0
        if kind == .sweepGain && !(from > 0 && to > from) {
            throw c.invalid(.to, "sweep-gain points with 0 < from < to", found: "\(from) → \(to)")
        }
        comparedRow = try c.decodeChoice(.compared, ["pretrained", "scratch", "frozen"]) ?? "pretrained"
        referenceRow = try c.decodeChoice(.reference, ["pretrained", "scratch", "frozen"]) ?? "pretrained"
    }
}

extension ClaimSpecFile.Test {
    private enum Key: String, CodingKey, CaseIterable { case kind, above, margin }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        kind = try c.decode(ClaimSpecFile.TestKind.self, forKey: .kind)
        above = try c.decodeIfPresent(Double.self, forKey: .above)
        margin = try c.decodeIfPresent(Double.self, forKey: .margin)
        if kind == .threshold && above == nil {
            throw c.invalid(.above, "a threshold value for test kind threshold", found: "nothing")
        }
        if kind != .nonInferiority && margin != nil {
            throw c.invalid(.margin, "margin only with test kind non-inferiority", found: margin!)
        }
    }
}
