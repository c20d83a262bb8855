import Foundation

/// The few numbers the paper prints that could be recovered, and its claims (pipeline/paper-values.yaml).
struct PaperValues {
    struct Value {
        var table: String, dataset: String, model: String, column: String, value: Double, display: String?
    }
    struct ClaimText {
        var id: String, statement: String
    }
    var values: [Value]
    var claims: [ClaimText]

    static func load(_ url: URL) throws -> PaperValues {
        let root = try SpecNode.load(url)
        try root.checkKeys(["values", "claims"])
        var values: [Value] = []
        for node in try root["values"]?.list() ?? [] {
            try node.checkKeys(["table", "dataset", "model", "column", "value", "display"])
            values.append(Value(table: try node.required("table").string(), dataset: try node.required("dataset").string(),
                                model: try node.required("model").string(),
                                column: try node.required("column").oneOf(TableSpec.columnVocabulary),
                                value: try node.required("value").double(), display: try node["display"]?.string()))
        }
        var claims: [ClaimText] = []
        for node in try root["claims"]?.list() ?? [] {
            try node.checkKeys(["id", "statement"])
            claims.append(ClaimText(id: try node.required("id").string(), statement: try node.required("statement").string()))
        }
        return PaperValues(values: values, claims: claims)
    }

    /// The paper's value of one cell, if the paper's number was recovered.
    func value(table: String, paperDataset: String?, model: String, column: String) -> Double? {
        guard let paperDataset else { return nil }
        return values.first { $0.table == table && $0.dataset == paperDataset && $0.model == model && $0.column == column }?.value
    }
}
