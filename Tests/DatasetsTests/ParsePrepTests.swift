import Foundation
import Testing
@testable import Datasets

@Suite struct ParserTests {
    @Test func movielensVariantsAreDetected() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let udata = try writeFile(dir, "u.data", "1\t10\t5\t300\n1\t11\t3\t100\n2\t10\t4\t200\n")
        let dat = try writeFile(dir, "ratings.dat", "1::10::5::300\n1::11::3::100\n2::10::4::200\n")
        let csv = try writeFile(
            dir, "ratings.csv", "userId,movieId,rating,timestamp\n1,10,5.0,300\n1,11,3.5,100\n2,10,4.0,200\n")
        for f in [udata, dat, csv] {
            let log = try Parsers.readLog(f, format: FormatSpec(kind: .movielensRatings))
            #expect(log.itemTokens == ["10", "11"])
            // User 1's events sorted by time: 11 (t=100) before 10 (t=300).
            #expect(log.sequences == [[1, 0], [0]])
        }
    }

    @Test func malformedLineReportsFileAndLine() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try writeFile(dir, "u.data", "1\t10\t5\t300\n1\t11\t3\t100\n2\t10\n")
        let err = datasetError { _ = try Parsers.readLog(f, format: FormatSpec(kind: .movielensRatings)) }
        guard case .malformedLine(let file, 3, let expected, _)? = err else {
            Issue.record("got \(String(describing: err))"); return
        }
        #expect(file == f.path)
        #expect(expected.contains("at least 4 fields"))
        #expect(err!.description.hasPrefix("\(f.path):3: expected"))

        let s = try writeFile(dir, "s.csv", "0,a,b\na,,b\n")
        let e2 = datasetError { _ = try Parsers.readLog(s, format: FormatSpec(kind: .sessionCSV)) }
        #expect(e2?.description.hasPrefix("\(s.path):2:") == true)

        let t = try writeFile(dir, "t.tsv", "u1\ti1\t5\nu1\ti2\tyesterday\n")
        let e3 = datasetError { _ = try Parsers.readLog(t, format: FormatSpec(kind: .userItemTime)) }
        guard case .malformedLine(_, 2, _, "yesterday")? = e3 else {
            Issue.record("got \(String(describing: e3))"); return
        }
    }

    @Test func itemIdOverflowIsReported() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try writeFile(dir, "u.data", "1\t10\t5\t300\n1\t2147483648\t3\t100\n")
        #expect(
            datasetError { _ = try Parsers.readLog(f, format: FormatSpec(kind: .movielensRatings)) }
                == .idOverflow(file: f.path, line: 2, value: "2147483648"))
        let ok = try writeFile(dir, "ok.data", "1\t2147483647\t3\t100\n")
        #expect(try Parsers.readLog(ok, format: FormatSpec(kind: .movielensRatings)).itemTokens == ["2147483647"])
    }

    @Test func sequenceFormatsSkipPadding() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let s = try writeFile(dir, "s.csv", "0,0,a,b\r\nc,a,b,d\n\n")
        let log = try Parsers.readLog(s, format: FormatSpec(kind: .sessionCSV))
        #expect(log.sequences.map { $0.map { log.itemTokens[Int($0)] } } == [["a", "b"], ["c", "a", "b", "d"]])
        let l = try writeFile(dir, "l.txt", "0 0 3 4\n5, 3  4\n")
        let log2 = try Parsers.readLog(l, format: FormatSpec(kind: .sequenceLines))
        #expect(log2.sequences.map { $0.map { log2.itemTokens[Int($0)] } } == [["3", "4"], ["5", "3", "4"]])
    }

    @Test func headerAndTimeTiesKeepFileOrder() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try writeFile(
            dir, "x.inter", "user_id:token\titem_id:token\ttimestamp:float\nu\tb\t5\nu\ta\t5\nu\tc\t1\n")
        let log = try Parsers.readLog(f, format: FormatSpec(kind: .userItemTime))
        #expect(log.sequences[0].map { log.itemTokens[Int($0)] } == ["c", "b", "a"])
    }
}

@Suite struct PrepTests {
    /// a..g (7 items) for u1, x y for u2, z for u3; t = 4; every count 1, so ids follow the token order.
    @Test func chunkingPaddingAndDroppingOnAHandMadeExample() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try writeFile(dir, "seq.txt", "a b c d e f g\nx y\nz\n")
        let params = PrepParams(seqLength: 4, testFraction: 0, validFraction: 0)
        let p = try Prep.prepare(name: "hand", files: [f], format: FormatSpec(kind: .sequenceLines), params: params)
        #expect(p.vocab == ["<pad>", "a", "b", "c", "d", "e", "f", "g", "x", "y", "z"])
        #expect(p.itemCount == 11)
        let rows = (0..<p.train.rows).map { Array(p.train.row($0)) }.sorted { $0.lexicographicallyPrecedes($1) }
        #expect(rows == [[0, 0, 8, 9], [0, 1, 2, 3], [4, 5, 6, 7]])
        #expect(p.stats.droppedChunks == 1)
        #expect(p.stats.paddedSequences == 2)
        #expect(p.stats.interactions == 9)
        #expect(p.stats.rawInteractions == 10)
        #expect(p.valid.rows == 0 && p.test.rows == 0)
    }

    @Test func idsFollowDescendingFrequencyWithDeterministicTies() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // counts: 10 ×3, 9 ×2, 100 ×2, x ×1 → 10 = 1; numeric tie 9 < 100 (a string order would put "100" first); then
        // x.
        let rows = [
            "u1\t100\t1", "u1\t10\t2", "u2\t10\t1", "u2\t9\t2", "u3\tx\t1", "u3\t10\t2", "u3\t9\t3", "u4\t100\t1"
        ]
        let f = try writeFile(dir, "r.tsv", rows.joined(separator: "\n") + "\n")
        let p = try Prep.prepare(
            name: "freq", files: [f], format: FormatSpec(kind: .userItemTime),
            params: PrepParams(seqLength: 3, testFraction: 0, validFraction: 0))
        #expect(p.vocab == ["<pad>", "10", "9", "100", "x"])
        #expect(p.itemCounts == [0, 3, 2, 2, 1])
        #expect(!p.train.data.contains { $0 < 0 || $0 >= Int32(p.itemCount) })
    }

    @Test func splitSizesAndSeedDeterminism() throws {
        var log = RawLog()
        log.itemTokens = (0..<50).map { "i\($0)" }
        for u in 0..<100 { log.sequences.append((0..<5).map { (j: Int) -> Int32 in Int32((u + j) % 50) }) }
        let params = PrepParams(seqLength: 5, testFraction: 0.2, validFraction: 0.1, seed: 10)
        let a = try Prep.prepare(name: "s", log: log, params: params)
        let b = try Prep.prepare(name: "s", log: log, params: params)
        #expect(a.test.rows == 20 && a.valid.rows == 8 && a.train.rows == 72)
        #expect(a == b)
        var other = params
        other.seed = 11
        let c = try Prep.prepare(name: "s", log: log, params: other)
        #expect(c.test != a.test)
        // The three splits partition the sequences.
        func rows(_ m: SequenceMatrix) -> [[Int32]] { (0..<m.rows).map { Array(m.row($0)) } }
        let union = (rows(a.train) + rows(a.valid) + rows(a.test)).sorted { $0.lexicographicallyPrecedes($1) }
        let all = (rows(c.train) + rows(c.valid) + rows(c.test)).sorted { $0.lexicographicallyPrecedes($1) }
        #expect(union == all && union.count == 100)
    }

    @Test func emptyAfterFilteringIsAnError() throws {
        var log = RawLog()
        log.itemTokens = ["a", "b"]
        log.sequences = [[0, 1], [0]]
        let err = datasetError { _ = try Prep.prepare(name: "tiny", log: log, params: PrepParams(minItemCount: 5)) }
        guard case .empty("tiny", let detail)? = err else { Issue.record("got \(String(describing: err))"); return }
        #expect(detail.contains("minItemCount 5"))
        // Filters are one pass: item filter first (b has 1 < 2), then users with < 2 remaining items.
        let p = try Prep.prepare(
            name: "tiny", log: RawLog(itemTokens: ["a", "b"], sequences: [[0, 0, 1], [0]]),
            params: PrepParams(
                seqLength: 3, minItemCount: 2, minUserCount: 2, minSequenceItems: 1, testFraction: 0, validFraction: 0))
        #expect(p.stats.droppedItems == 1 && p.stats.droppedUsers == 1 && p.stats.users == 1)
        #expect(Array(p.train.row(0)) == [0, 1, 1])
    }

    @Test func writeAndLoadRoundTrip() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var log = RawLog(itemTokens: (0..<30).map { "tok \($0)" }, sequences: [])
        for u in 0..<40 {
            var seq: [Int32] = []
            for j in 0..<(3 + u % 9) { seq.append(Int32((j * 7 + u) % 30)) }
            log.sequences.append(seq)
        }
        let p = try Prep.prepare(name: "rt", log: log, params: PrepParams(seqLength: 6))
        try p.write(to: dir)
        #expect(try PreparedDataset.load(from: dir) == p)
        #expect(try PreparedDataset.loadItemCounts(from: dir) == p.itemCounts)
        let bytes = try Data(contentsOf: dir.appendingPathComponent(PreparedFiles.train))
        #expect(bytes.count == p.train.rows * 6 * 4)
        // Little-endian Int32: the first id's low byte comes first.
        #expect(Int32(bytes[0]) | Int32(bytes[1]) << 8 == p.train.data[0])
        try Data([1, 2, 3]).write(to: dir.appendingPathComponent(PreparedFiles.test))
        #expect(datasetError { _ = try PreparedDataset.load(from: dir) } != nil)
    }

    @Test func coldrecPairBecomesSourceSequencesAndTargetRows() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = try writeFile(dir, "pre.csv", "0,5,6,7\n5,6,8,5\n0,0,6,5\n")
        let tgt = try writeFile(dir, "fine.csv", "0,5,6,7,,100,101\n0,0,9,6,,101\n0,0,0,99,,100\n")
        let format = FormatSpec(kind: .coldrec)
        let p = try Prep.prepare(
            name: "cold", files: [src, tgt], format: format,
            params: PrepParams(seqLength: 3, testFraction: 0, validFraction: 0))
        // Source ids: 5 (×4) = 1, 6 (×3) = 2, then 7 and 8 (×1) by token.
        #expect(p.vocab == ["<pad>", "5", "6", "7", "8"])
        let tr = try #require(p.transfer)
        // Target ids by pair count: 101 (×2) = 1, 100 (×1) = 2.
        #expect(tr.targetVocab == ["<pad>", "101", "100"])
        #expect(tr.targetCounts == [0, 2, 1])
        // Line 3's only history item (99) is not in the source vocabulary: the user is dropped.
        #expect(p.stats.transfer?.droppedUsers == 1)
        #expect(tr.train.length == 4 && tr.train.rows == 3)
        let rows = (0..<tr.train.rows).map { Array(tr.train.row($0)) }.sorted { $0.lexicographicallyPrecedes($1) }
        let t100 = Int32(tr.targetVocab.firstIndex(of: "100")!), t101 = Int32(tr.targetVocab.firstIndex(of: "101")!)
        #expect(rows == [[0, 0, 2, t101], [1, 2, 3, t100], [1, 2, 3, t101]].sorted { $0.lexicographicallyPrecedes($1) })
        let bad = try writeFile(dir, "bad.csv", "1,2,3\n")
        let err = datasetError {
            _ = try Prep.prepare(name: "cold", files: [src, bad], format: format, params: PrepParams())
        }
        #expect(err?.description.hasPrefix("\(bad.path):1:") == true)
    }
}
