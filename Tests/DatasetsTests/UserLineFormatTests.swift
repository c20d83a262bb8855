import Foundation
import Testing
@testable import Datasets

/// SASRec's `USER ITEM` and S3Rec's `USER ITEM ITEM …` files, and the leave-one-out split they are evaluated with.
@Suite struct UserLineFormatTests {
    static let pairs = FormatSpec(kind: .userItemLines)
    static let lines = FormatSpec(kind: .userSequenceLines)

    @Test func bothFormatsReadTheSameHistories() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try writeFile(dir, "Video.txt", "1 10\n1 11\n1 12\n2 11\n2\t13\r\n\n3 10\n")
        let b = try writeFile(dir, "Beauty.txt", "1 10 11 12\n2 11\t13\n3 10\n")
        let la = try Parsers.readLog(a, format: Self.pairs)
        let lb = try Parsers.readLog(b, format: Self.lines)
        #expect(la.itemTokens == ["10", "11", "12", "13"])
        #expect(la.sequences == [[0, 1, 2], [1, 3], [0]])
        #expect(lb.itemTokens == la.itemTokens && lb.sequences == la.sequences)
        // A BOM is no part of the first user id.
        let bom = dir.appendingPathComponent("bom.txt")
        try Data([0xEF, 0xBB, 0xBF] + Array("7 1 2\n".utf8)).write(to: bom)
        #expect(try Parsers.readLog(bom, format: Self.lines).sequences == [[0, 1]])
    }

    @Test func badInputNamesFileAndLine() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        func error(_ text: String, _ format: FormatSpec) throws -> String {
            let f = try writeFile(dir, "bad-\(UUID().uuidString).txt", text)
            let e = datasetError { _ = try Parsers.readLog(f, format: format) }
            return e.map { "\($0)" }.map { $0.replacingOccurrences(of: f.path, with: "F") } ?? "no error"
        }
        // Not contiguous: user 1 comes back after user 2.
        let split = try error("1 10\n2 11\n1 12\n", Self.pairs)
        #expect(split.hasPrefix("F:3:") && split.contains("user 1") && split.contains("line 1"), "\(split)")
        #expect(try error("1 10 11\n2 12\n1 13\n", Self.lines).hasPrefix("F:3:"))
        // Non-integer ids, user or item, name the field.
        let item = try error("1 10\n1 x7\n", Self.pairs)
        #expect(item.hasPrefix("F:2:") && item.contains("integer item id in field 2"), "\(item)")
        #expect(try error("u1 10 11\n", Self.lines).contains("integer user id in field 1"))
        // Wrong field counts.
        #expect(try error("1 10\n1 10 11\n", Self.pairs).hasPrefix("F:2: expected exactly 2 fields"))
        #expect(try error("1 10\n2\n", Self.lines).hasPrefix("F:2: expected a user id and at least one item"))
        #expect(try error("1 99999999999\n", Self.pairs).contains("does not fit"))
        // Binary content.
        let bin = dir.appendingPathComponent("bin.txt")
        try Data(Array("1 10\n1 1".utf8) + [0x00, 0x01] + Array("\n".utf8)).write(to: bin)
        let e = datasetError { _ = try Parsers.readLog(bin, format: Self.pairs) }
        #expect(e?.description.hasPrefix("\(bin.path):2:4:") == true, "\(String(describing: e))")
    }

    @Test func leaveOneOutPutsLastItemInTestAndCutsToT() throws {
        // Items are named by position so a row shows where it came from; user c has 2 items, d has 3.
        let log = RawLog(
            itemTokens: (0..<10).map { "i\($0)" },
            sequences: [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9], [0, 1], [2, 3, 4]])
        let p = try Prep.prepare(name: "loo", log: log, params: PrepParams(seqLength: 3, split: .leaveOneOut))
        func tokens(_ m: SequenceMatrix) -> [[String]] { (0..<m.rows).map { m.row($0).map { p.vocab[Int($0)] } } }
        let pad = Prep.padToken
        #expect(tokens(p.test) == [["i4", "i5", "i6"], ["i7", "i8", "i9"], ["i2", "i3", "i4"]])
        #expect(tokens(p.valid) == [["i3", "i4", "i5"], [pad, "i7", "i8"], [pad, "i2", "i3"]])
        // Training = items before the validation item, chunked from the recent end: a's i0…i4 -> [i0 i1], [i2 i3 i4];
        // b's single training item i7 and d's i2 are dropped (minSequenceItems 2); c (< 3 items) is training only.
        #expect(tokens(p.train) == [[pad, "i0", "i1"], ["i2", "i3", "i4"], [pad, "i0", "i1"]])
        #expect(p.stats.droppedChunks == 2 && p.stats.testSequences == 3)
        // The default stays the random split and encodes without a split key (stage keys of existing datasets).
        let json = String(decoding: try JSONEncoder().encode(PrepParams()), as: UTF8.self)
        #expect(!json.contains("split"))
        #expect(
            String(decoding: try JSONEncoder().encode(PrepParams(split: .leaveOneOut)), as: UTF8.self).contains(
                "leave-one-out"))
    }

    @Test func leaveOneOutOnASyntheticFileInEachFormat() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for format in [Self.pairs, Self.lines] {
            let spec = SyntheticSpec(users: 40, items: 30, meanLength: 8, seed: 3)
            let sub = dir.appendingPathComponent(format.kind.rawValue)
            let names = try SyntheticGenerator.write(spec, format: format, into: sub)
            let p = try Prep.prepare(
                name: "s", files: names.map { sub.appendingPathComponent($0) }, format: format,
                params: PrepParams(seqLength: 5, split: .leaveOneOut))
            #expect(p.test.rows == p.valid.rows && p.test.rows > 0)
            // A test row's first t-1 ids end with the validation row's target: the same user's history, one step on.
            for r in 0..<p.test.rows { #expect(p.test.row(r).dropLast().last == p.valid.row(r).last) }
        }
    }

    @Test func zipfFitRecoversAKnownExponentAndHeadShare() {
        for exponent in [0.6, 1.0, 1.3] {
            // Counts of an exact Zipf law over 5,000 items (rounded, so the tail is a staircase of small counts).
            let counts = [0] + (1...5000).map { r in max(1, Int((1e7 * pow(Double(r), -exponent)).rounded())) }
            let s = DatasetStatistics.zipfExponent(counts: counts)
            #expect(abs(s - exponent) < 0.02, "fitted \(s) for \(exponent)")
        }
        // Uniform popularity: exponent 0, the top 10 % hold 10 %.
        let flat = [0] + Array(repeating: 7, count: 100)
        #expect(abs(DatasetStatistics.zipfExponent(counts: flat)) < 1e-12)
        #expect(abs(DatasetStatistics.headShare(counts: flat, fraction: 0.1) - 0.1) < 1e-12)
    }
}
