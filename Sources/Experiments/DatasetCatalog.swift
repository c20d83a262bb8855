import Datasets
import Foundation
import Pipeline

/// One dataset of pipeline/datasets.yaml: the Datasets module's spec plus how tables name it and how it is blocked.
public struct DatasetEntry: Sendable {
    public var spec: DatasetSpec
    /// How tables print the dataset (e.g. "Weishi (synthetic)").
    public var label: String
    /// The paper's dataset this one stands for (paper values are looked up by it), if any.
    public var paperName: String?
    /// How the frequency blocks for CpRec are cut.
    public var blocks: BlockRule
}

/// The datasets declared in pipeline/datasets.yaml, validated on load.
public struct DatasetCatalog: Sendable {
    public var entries: [String: DatasetEntry]
    public var order: [String]

    static let ownKeys = ["label", "paperName", "blocks"]
    static let specKeys = ["source", "format", "prep"]

    public static func load(_ directory: URL) throws -> DatasetCatalog {
        let root = try SpecNode.load(directory.appendingPathComponent("datasets.yaml"))
        try root.checkKeys(["datasets"])
        var entries: [String: DatasetEntry] = [:]
        var order: [String] = []
        for (name, node) in try root.required("datasets").idEntries() {
            try node.checkKeys(ownKeys + specKeys)
            try checkPartKeys(node)
            guard var json = try node.json() as? [String: Any] else { throw node.fail("expected a mapping") }
            for k in ownKeys { json.removeValue(forKey: k) }
            json["name"] = name
            let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            let spec: DatasetSpec
            do { spec = try JSONDecoder().decode(DatasetSpec.self, from: data) } catch {
                throw node.fail("not a valid dataset spec: \(describe(error))")
            }
            // The whole spec (ranges, URL, checksums, file counts, confined paths), not only prep.
            do { try spec.validate() } catch { throw node.fail("\(error)") }
            let rule = try node["blocks"]?.decode(BlockRule.self) ?? BlockRule(rule: .massFractions, fractions: [0.6, 0.85])
            entries[name] = DatasetEntry(spec: spec, label: try node["label"]?.label() ?? name,
                                         paperName: try node["paperName"]?.string(), blocks: rule)
            order.append(name)
        }
        return DatasetCatalog(entries: entries, order: order)
    }

    /// Checks the keys of `source`, `format`, `prep` and `blocks` here, where lines are known; decoding would
    /// otherwise fill a misspelt key's default.
    static func checkPartKeys(_ node: SpecNode) throws {
        if let source = node["source"], let kind = try? source.required("kind").string(),
           let keys = DatasetSpecKeys.source(kind: kind) {
            try source.checkKeys(keys)
        }
        try node["format"]?.checkKeys(DatasetSpecKeys.format)
        try node["prep"]?.checkKeys(DatasetSpecKeys.prep)
        try node["blocks"]?.checkKeys(DatasetSpecKeys.blocks)
    }

    public func entry(_ name: String) throws -> DatasetEntry {
        guard let e = entries[name] else {
            let hint = order.min { editDistance($0, name) < editDistance($1, name) }.map { " (did you mean '\($0)'?)" } ?? ""
            throw SpecError(file: "datasets.yaml", line: nil, path: "datasets",
                            message: "unknown dataset '\(name)'\(hint); declared: \(order.joined(separator: ", "))")
        }
        return e
    }

    public func spec(_ name: String) throws -> DatasetSpec { try entry(name).spec }
}

/// A decoding error as one readable line (key path and reason).
func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let ctx):
        return "missing key '\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx):
        let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
        return path.isEmpty ? ctx.debugDescription : "\(path): \(ctx.debugDescription)"
    default:
        return "\(error)"
    }
}
