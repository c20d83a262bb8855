import Foundation
import Testing
@testable import Datasets

@Suite struct InputHardeningTests {
    @Test func leadingBOMIsNotPartOfTheFirstToken() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let seq = dir.appendingPathComponent("s.csv")
        try Data([0xEF, 0xBB, 0xBF] + Array("a,b,c\nb,c\n".utf8)).write(to: seq)
        let log = try Parsers.readLog(seq, format: FormatSpec(kind: .sessionCSV))
        #expect(log.itemTokens == ["a", "b", "c"])

        let rows = dir.appendingPathComponent("u.data")
        try Data([0xEF, 0xBB, 0xBF] + Array("1\t10\t5\t300\n1\t11\t3\t100\n".utf8)).write(to: rows)
        #expect(try Parsers.readLog(rows, format: FormatSpec(kind: .movielensRatings)).itemTokens == ["10", "11"])
    }

    @Test func controlCharactersAreRejectedWithLineAndColumn() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("s.csv")
        try Data(Array("a,b,c\nb,c".utf8) + [0x00] + Array("d\n".utf8)).write(to: f)
        let e = datasetError { _ = try Parsers.readLog(f, format: FormatSpec(kind: .sessionCSV)) }
        #expect(e?.description.hasPrefix("\(f.path):2:4:") == true, "\(String(describing: e))")
        #expect(e?.description.contains("U+0000") == true, "\(String(describing: e))")

        // A lone CR inside a line is not a line ending; tabs and CRLF endings stay fine.
        try Data(Array("u1\ti1\t5\r\nu1\ti\r2\t6\r\n".utf8)).write(to: f)
        let e2 = datasetError { _ = try Parsers.readLog(f, format: FormatSpec(kind: .userItemTime)) }
        #expect(e2?.description.hasPrefix("\(f.path):2:5:") == true, "\(String(describing: e2))")
        try Data(Array("u1\ti1\t5\r\nu1\ti2\t6\r\n".utf8)).write(to: f)
        #expect(try Parsers.readLog(f, format: FormatSpec(kind: .userItemTime)).itemTokens == ["i1", "i2"])
    }

    @Test func invalidUTF8IsRejected() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("s.txt")
        try Data(Array("é,b\nx,".utf8) + [0xC3, 0x28] + Array("\n".utf8)).write(to: f)
        let e = datasetError { _ = try Parsers.readLog(f, format: FormatSpec(kind: .sequenceLines)) }
        #expect(e?.description.hasPrefix("\(f.path):2:3:") == true, "\(String(describing: e))")
        #expect(e?.description.contains("UTF-8") == true)
    }

    @Test func randomBytesAreRejected() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("noise.csv")
        var g = SystemRandomNumberGenerator()
        try Data((0..<20000).map { _ in UInt8.random(in: 0...255, using: &g) }).write(to: f)
        let e = datasetError {
            _ = try Prep.prepare(
                name: "noise", files: [f], format: FormatSpec(kind: .sequenceLines), params: PrepParams())
        }
        #expect(e?.description.hasPrefix("\(f.path):") == true, "\(String(describing: e))")
    }

    @Test func tooShortSequencesNameTheFileAndAnExample() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try writeFile(dir, "short.csv", "0,0,a\n0,0,b\n0,c\n")
        let e = datasetError {
            _ = try Prep.prepare(name: "short", files: [f], format: FormatSpec(kind: .sessionCSV), params: PrepParams())
        }
        let text = e?.description ?? ""
        #expect(text.contains(f.path), "\(text)")
        #expect(text.contains("fewer than 2 items"), "\(text)")
        #expect(text.contains("line 1: '0,0,a'"), "\(text)")
    }
}
