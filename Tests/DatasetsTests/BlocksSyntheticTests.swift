import Foundation
import Random
import Testing
@testable import Datasets

@Suite struct BlockingTests {
    /// K = 8 (7 items + padding), 100 interactions.
    static let counts = [0, 50, 30, 10, 5, 3, 1, 1]

    @Test func explicitCutoffsAreClippedToK() throws {
        let b = try Blocking.compute(counts: Self.counts, rule: BlockRule(rule: .cutoffs, cutoffs: [3, 6, 100]))
        #expect(b.boundaries == [3, 6, 8])
        #expect(b.blocks.map(\.items) == [2, 3, 2])
        #expect(b.blocks.map(\.interactions) == [80, 18, 2])
        #expect(b.blocks.map(\.share) == [0.8, 0.18, 0.02])
        #expect(b.blocks.map(\.lower) == [0, 3, 6])
        // The authors' [7000, 15000, K] on a small vocabulary collapses to one block.
        #expect(try Blocking.compute(counts: Self.counts, rule: .authorsDefault).boundaries == [8])
        #expect(
            datasetError {
                _ = try Blocking.compute(counts: Self.counts, rule: BlockRule(rule: .cutoffs, cutoffs: [1]))
            } != nil)
    }

    @Test func itemFractions() throws {
        // 7 items: 1 + round(1.75) = 3, 1 + round(3.5) = 5.
        let b = try Blocking.compute(counts: Self.counts, rule: BlockRule(rule: .itemFractions, fractions: [0.25, 0.5]))
        #expect(b.boundaries == [3, 5, 8])
        #expect(
            datasetError {
                _ = try Blocking.compute(
                    counts: Self.counts, rule: BlockRule(rule: .itemFractions, fractions: [0.5, 0.25]))
            } != nil)
    }

    @Test func massFractions() throws {
        // Cumulative 50, 80, 90, 95: 60 % is reached with id 2 (upper 3), 85 % with id 3 (upper 4).
        let b = try Blocking.compute(counts: Self.counts, rule: BlockRule(rule: .massFractions, fractions: [0.6, 0.85]))
        #expect(b.boundaries == [3, 4, 8])
        #expect(b.blocks[0].share >= 0.6)
    }

    @Test func headTailBreaks() throws {
        // Mean 100/7 ≈ 14.3: head {50, 30} = 2/7 of items (≤ 0.4) → cut at 3; inside the head, mean 40 leaves
        // {50} = 1/2 > 0.4 → stop (Jiang's minority condition).
        let b = try Blocking.compute(counts: Self.counts, rule: BlockRule(rule: .headTail, maxBlocks: 3))
        #expect(b.boundaries == [3, 8])
        let loose = try Blocking.compute(
            counts: Self.counts, rule: BlockRule(rule: .headTail, maxBlocks: 3, headLimit: 0.6))
        #expect(loose.boundaries == [2, 3, 8])
        let two = try Blocking.compute(
            counts: Self.counts, rule: BlockRule(rule: .headTail, maxBlocks: 2, headLimit: 0.6))
        #expect(two.boundaries == [3, 8])
    }
}

@Suite struct SyntheticTests {
    static let spec = SyntheticSpec(
        users: 300, items: 200, zipfExponent: 1.0, minLength: 5, meanLength: 25, maxLength: 100,
        successors: 3, followProbability: 0.5, clusters: 8, clusterAffinity: 0.5,
        targetItems: 40, targetsPerUser: 1, targetsPerCluster: 2, targetNoise: 0.2, seed: 7)

    @Test func deterministicBySeed() throws {
        let a = try SyntheticGenerator.generate(Self.spec)
        let b = try SyntheticGenerator.generate(Self.spec)
        #expect(a.sequences == b.sequences && a.times == b.times && a.targets == b.targets)
        var other = Self.spec
        other.seed = 8
        #expect(try SyntheticGenerator.generate(other).sequences != a.sequences)
        #expect(a.times.allSatisfy { zip($0, $0.dropFirst()).allSatisfy { $0 < $1 } })
    }

    @Test func longTailedAfterPrep() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let format = FormatSpec(kind: .userItemTime)
        let names = try SyntheticGenerator.write(Self.spec, format: format, into: dir)
        let p = try Prep.prepare(
            name: "syn", files: names.map { dir.appendingPathComponent($0) }, format: format, params: PrepParams())
        #expect(DatasetStatistics.headShare(counts: p.itemCounts, fraction: 0.2) > 0.5)
        // Frequencies are non-increasing in id order (the re-indexing held).
        #expect(zip(p.itemCounts.dropFirst(), p.itemCounts.dropFirst(2)).allSatisfy { $0 >= $1 })
    }

    @Test func plantedTransitionsArePresent() throws {
        let d = try SyntheticGenerator.generate(Self.spec)
        var follow = 0, pairs = 0, control = 0
        for seq in d.sequences {
            for (a, b) in zip(seq, seq.dropFirst()) {
                pairs += 1
                if d.successors[a].contains(b) { follow += 1 }
            }
            // Control: the same items paired at distance 3 hit the successor sets far less often.
            for (a, b) in zip(seq, seq.dropFirst(3)) where d.successors[a].contains(b) { control += 1 }
        }
        let rate = Double(follow) / Double(pairs)
        #expect(rate > 0.5 && rate < 0.7)
        #expect(Double(control) / Double(pairs) < 0.2)
    }

    @Test func targetsDependOnSourceBehaviour() throws {
        let d = try SyntheticGenerator.generate(Self.spec)
        var hits = 0
        for u in 0..<d.sequences.count {
            var count = [Int](repeating: 0, count: Self.spec.clusters)
            for t in d.sequences[u] { count[d.itemCluster[t]] += 1 }
            let dominant = count.indices.max { count[$0] < count[$1] || (count[$0] == count[$1] && $0 > $1) }!
            if d.preferredTargets[dominant].contains(d.targets[u][0]) { hits += 1 }
        }
        #expect(Double(hits) / Double(d.sequences.count) > 0.75)
    }

    @Test func syntheticSpecGoesThroughFetchPrepBlocks() throws {
        let out = try makeTempDir(), prep = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: prep) }
        let spec = DatasetSpec(
            name: "coldrec-syn", source: .synthetic(Self.spec), format: FormatSpec(kind: .coldrec),
            prep: PrepParams(seqLength: 10))
        let record = try Fetcher.fetch(spec, into: out, options: FetchOptions(downloadDirectory: out))
        #expect(record.files.map(\.name) == ["source.csv", "target.csv"])
        let p = try Prep.prepare(spec: spec, fetchDirectory: out)
        try p.write(to: prep)
        let tr = try #require(p.transfer)
        #expect(tr.train.rows + tr.valid.rows + tr.test.rows == 300)
        #expect(tr.targetItemCount <= 41)
        let row = DatasetStatistics.table1Row(p.stats)
        #expect(row.target?.sequences == 300)
        #expect(row.formatted.t == "10 / 1")
        let blocks = try Blocking.compute(
            counts: try PreparedDataset.loadItemCounts(from: prep),
            rule: BlockRule(rule: .massFractions, fractions: [0.5, 0.8]))
        #expect(blocks.boundaries.last == p.itemCount && blocks.boundaries.count == 3)
    }
}

@Suite struct EndToEndTests {
    /// A user-placed file in the authors' format (left-padded with "0", comma-separated) goes fetch → prep → blocks.
    @Test func authorsSessionCSVThroughFetchPrepBlocks() throws {
        let cwd = try makeTempDir(), out = try makeTempDir(), prepDir = try makeTempDir()
        defer { for d in [cwd, out, prepDir] { try? FileManager.default.removeItem(at: d) } }
        var lines: [String] = []
        var rng = Rng(seed: 3)
        for _ in 0..<200 {
            let n = 2 + rng.int(below: 9)
            let items = (0..<n).map { _ in "v\(Int(pow(Double(1 + rng.int(below: 40)), 1.6)))" }
            lines.append((Array(repeating: "0", count: 10 - n) + items).joined(separator: ","))
        }
        try writeFile(cwd, "data/weishi/weishi.csv", lines.joined(separator: "\n") + "\n")
        let spec = DatasetSpec(
            name: "weishi",
            source: .userPlaced(UserPlacedSource(files: ["data/weishi/weishi.csv"], help: "no public link")),
            format: FormatSpec(kind: .sessionCSV), prep: PrepParams(seqLength: 8))
        let record = try Fetcher.fetch(
            spec, into: out, options: FetchOptions(downloadDirectory: out, workingDirectory: cwd))
        #expect(record.files.count == 1)
        let p = try Prep.prepare(spec: spec, fetchDirectory: out)
        try p.write(to: prepDir)
        #expect(p.stats.rawInteractions == lines.reduce(0) { $0 + $1.split(separator: ",").filter { $0 != "0" }.count })
        #expect(!p.vocab.contains("0"))
        let b = try Blocking.compute(
            counts: try PreparedDataset.loadItemCounts(from: prepDir),
            rule: BlockRule(rule: .itemFractions, fractions: [0.2]))
        #expect(b.blocks.map(\.items).reduce(0, +) == p.itemCount - 1)
        #expect(abs(b.blocks.map(\.share).reduce(0, +) - 1) < 1e-9)
    }

    @Test func specDecodesFromJSONWithDefaults() throws {
        let json = """
            {"name": "ml-100k",
             "source": {"kind": "download", "url": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
                        "archive": "zip", "members": ["ml-100k/u.data"]},
             "format": {"kind": "movielens-ratings"},
             "prep": {"seqLength": 20, "minItemCount": 5}}
            """
        let spec = try JSONDecoder().decode(DatasetSpec.self, from: Data(json.utf8))
        guard case .download(let d) = spec.source else { Issue.record("expected a download source"); return }
        #expect(d.archive == .zip && d.sha256.isEmpty && d.members == ["ml-100k/u.data"])
        #expect(spec.prep.minItemCount == 5 && spec.prep.testFraction == 0.2 && spec.prep.seed == 10)
        #expect(spec.format.timeColumn == 3)
        let again = try JSONDecoder().decode(DatasetSpec.self, from: JSONEncoder().encode(spec))
        #expect(again == spec)
        let syn = try JSONDecoder().decode(
            DatasetSource.self, from: Data(#"{"kind": "synthetic", "users": 50, "seed": 4}"#.utf8))
        #expect(
            syn
                == .synthetic(
                    {
                        var s = SyntheticSpec(); s.users = 50; s.seed = 4; return s
                    }()))
        try spec.validate()
        var wrong = spec
        wrong.source = .download(DownloadSource(url: "ftp://x/y.zip", archive: .zip, members: ["a"]))
        #expect(
            datasetError { try wrong.validate() }
                == .invalidParameter(field: "ml-100k.source.url", expected: "an http(s) URL"))
        for url in ["http://127.0.0.1:/ml-1m.zip", "https:///ml-1m.zip", "http://:8080/x.zip"] {
            wrong.source = .download(DownloadSource(url: url, archive: .zip, members: ["a"]))
            #expect(
                datasetError { try wrong.validate() }
                    == .invalidParameter(field: "ml-100k.source.url", expected: "an http(s) URL"), "\(url)")
        }
        wrong.source = .download(DownloadSource(url: "http://127.0.0.1:8765/ml-1m.zip", archive: .zip, members: ["a"]))
        #expect(datasetError { try wrong.validate() } == nil)
        wrong.source = .download(DownloadSource(url: "https://x/y.zip", sha256: "abc", archive: .zip, members: ["a"]))
        #expect(datasetError { try wrong.validate() }?.description.contains("ml-100k.source.sha256") == true)
        wrong = spec
        wrong.prep.testFraction = 1.5
        #expect(datasetError { try wrong.validate() }?.description.contains("ml-100k.prep.testFraction") == true)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(DatasetSource.self, from: Data(#"{"kind": "ftp"}"#.utf8))
        }
    }
}

@Suite struct RealSampleTests {
    /// The shared ml-100k copy (never in the repo): ../shared/datasets/ml-100k next to the checkout, if present.
    static let folder: URL? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let shared = root.appendingPathComponent("../shared/datasets/ml-100k").standardizedFileURL
        return FileManager.default.fileExists(atPath: shared.appendingPathComponent("ml-100k.inter").path)
            ? shared : nil
    }()

    @Test(.enabled(if: folder != nil, "the shared ml-100k sample is absent"))
    func ml100kMatchesTheReferenceConversion() throws {
        let dir = try #require(Self.folder)
        let p = try Prep.prepare(
            name: "ml-100k", files: [dir.appendingPathComponent("ml-100k.inter")],
            format: FormatSpec(kind: .movielensRatings),
            params: PrepParams(seqLength: 20, testFraction: 0.2, validFraction: 0))
        // The sample's stats.json: 5,421 sequences, 817 padded, 61 chunks dropped, 99,939 real items, 1,683 ids.
        #expect(p.stats.rawInteractions == 100_000 && p.stats.users == 943)
        #expect(p.stats.sequences == 5421 && p.stats.paddedSequences == 817 && p.stats.droppedChunks == 61)
        #expect(p.stats.interactions == 99_939 && p.itemCount == 1683)
        #expect(p.test.rows == 1084 && p.train.rows == 4337)
        // Same frequency re-indexing as item_map.tsv (ties by smaller original id).
        let map = try String(contentsOf: dir.appendingPathComponent("item_map.tsv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        #expect(map.map { $0[1] } == Array(p.vocab.dropFirst()))
        #expect(map.map { Int($0[2])! } == Array(p.itemCounts.dropFirst()))
        // Same multiset of sequences as train.txt + test.txt.
        var reference: [[Int32]] = []
        for name in ["train.txt", "test.txt"] {
            for line in try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8).split(separator: "\n")
            {
                reference.append(line.split(separator: " ").map { Int32($0)! })
            }
        }
        let ours = (0..<p.train.rows).map { Array(p.train.row($0)) } + (0..<p.test.rows).map { Array(p.test.row($0)) }
        #expect(
            ours.sorted { $0.lexicographicallyPrecedes($1) } == reference.sorted { $0.lexicographicallyPrecedes($1) })
    }
}
