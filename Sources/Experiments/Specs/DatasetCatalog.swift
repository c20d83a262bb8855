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

extension DatasetEntry: Decodable {
    private enum Keys: String, CodingKey, CaseIterable { case label, paperName, blocks, source, format, prep }

    /// One `datasets:` entry; its id (the mapping key above it) is the dataset's name.
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Keys.self)
        let name = decoder.codingPath.last?.stringValue ?? ""
        spec = DatasetSpec(
            name: name, source: try c.decode(DatasetSource.self, forKey: .source),
            format: try c.decode(FormatSpec.self, forKey: .format),
            prep: try c.decodeIfPresent(PrepParams.self, forKey: .prep) ?? PrepParams())
        // The whole spec (ranges, URL, checksums, file counts, confined paths), blamed on the field it names.
        do { try spec.validate() } catch DatasetError.invalidParameter(let field, let expected) {
            let keys = field.split(separator: ".").dropFirst().flatMap { part -> [CodingKey] in
                // "source.files[2]" → source, files, [2]
                let pieces = part.split(separator: "[")
                return [AnyKey(String(pieces[0]))]
                    + pieces.dropFirst().compactMap { Int($0.dropLast()).map(AnyKey.init(index:)) }
            }
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath + keys, debugDescription: "expected \(expected)"))
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
        label = try c.decodeIfPresent(Label.self, forKey: .label)?.text ?? name
        paperName = try c.decodeIfPresent(String.self, forKey: .paperName)
        blocks = try c.decodeIfPresent(BlockRule.self, forKey: .blocks) ?? SpecDefaults.blocks
    }
}

/// The datasets declared in pipeline/datasets.yaml, validated on load.
public struct DatasetCatalog: Sendable {
    public var entries: [String: DatasetEntry]
    public var order: [String]

    private struct File: Decodable {
        var datasets: IdMap<DatasetEntry>
        enum CodingKeys: String, CodingKey, CaseIterable { case datasets }
        init(from decoder: Decoder) throws {
            datasets = try decoder.strictContainer(CodingKeys.self).decode(IdMap<DatasetEntry>.self, forKey: .datasets)
        }
    }

    public static func load(_ directory: URL) throws -> DatasetCatalog {
        let file = try SpecFile.load(directory.appendingPathComponent("datasets.yaml")).decode(File.self)
        return DatasetCatalog(entries: file.datasets.dictionary, order: file.datasets.ids)
    }

    public func entry(_ name: String) throws -> DatasetEntry {
        guard let e = entries[name] else {
            throw SpecError(
                file: "datasets.yaml", line: nil, path: "datasets",
                message:
                    "unknown dataset '\(name)'\(didYouMean(name, order)); declared: \(order.joined(separator: ", "))")
        }
        return e
    }

    public func spec(_ name: String) throws -> DatasetSpec { try entry(name).spec }
}
