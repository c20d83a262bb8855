import Foundation

/// The few numbers the paper prints that could be recovered (pipeline/paper-values.yaml; its claims are in
/// claims.yaml).
struct PaperValues: Decodable {
    struct Value: Decodable {
        var table: String, dataset: String, model: String, column: TableColumn, value: Double, display: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case table, dataset, model, column, value, display }
        init(from decoder: Decoder) throws {
            let c = try decoder.strictContainer(CodingKeys.self)
            table = try c.decode(String.self, forKey: .table)
            dataset = try c.decode(String.self, forKey: .dataset)
            model = try c.decode(String.self, forKey: .model)
            column = try c.decode(TableColumn.self, forKey: .column)
            value = try c.decode(Double.self, forKey: .value)
            display = try c.decodeIfPresent(String.self, forKey: .display)
        }
    }
    var values: [Value]

    enum CodingKeys: String, CodingKey, CaseIterable { case values }
    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(CodingKeys.self)
        values = try c.decodeIfPresent([Value].self, forKey: .values) ?? []
    }

    static func load(_ url: URL) throws -> PaperValues { try SpecFile.load(url).decode(PaperValues.self) }

    /// The paper's value of one cell, if the paper's number was recovered.
    func value(table: String, paperDataset: String?, model: String, column: TableColumn) -> Double? {
        guard let paperDataset else { return nil }
        return values.first {
            $0.table == table && $0.dataset == paperDataset && $0.model == model && $0.column == column
        }?.value
    }

    /// The recovered cells as one phrase ("Table 3, Weishi, Bo-NextItNet"), for the report.
    func provenance(label: (String) -> String) -> String {
        var seen: [String] = []
        for v in values {
            let s = "\(v.table.replacingOccurrences(of: "table", with: "Table ")), \(v.dataset), \(label(v.model))"
            if !seen.contains(s) { seen.append(s) }
        }
        return seen.joined(separator: "; ")
    }
}
