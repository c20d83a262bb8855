import Foundation
import Testing
@testable import Pipeline

@Suite struct KeyTests {
    struct Params: Codable {
        var lr: Double
        var dims: [Int]
        var name: String
        var nested: [String: Int]
    }

    @Test func canonicalJSONIsSortedAndCompact() throws {
        let v: JSONValue = ["b": [1, 0.5, "x\"y"], "a": ["z": nil, "c": true], "é": -0.0, "big": 1e21, "small": 1e-7]
        #expect(v.canonicalString == #"{"a":{"c":true,"z":null},"b":[1,0.5,"x\"y"],"big":1e+21,"small":1e-07,"é":0}"#)
    }

    @Test func sameInputsSameKeyWhateverDictionaryOrder() throws {
        var first: [String: JSONValue] = [:]
        var second: [String: JSONValue] = [:]
        let keys = (0..<50).map { "k\($0)" }
        for k in keys { first[k] = .number(Double(k.count)) }
        for k in keys.reversed() { second[k] = .number(Double(k.count)) }
        let a = KeyMaterial(
            id: "train/x", version: 3, parameters: .object(first),
            inputs: [.init(id: "b/x", outputHash: "2"), .init(id: "a/x", outputHash: "1")], files: [])
        let b = KeyMaterial(
            id: "train/x", version: 3, parameters: .object(second),
            inputs: [.init(id: "a/x", outputHash: "1"), .init(id: "b/x", outputHash: "2")], files: [])
        #expect(a.key == b.key)
        #expect(a.key.count == 64)

        // A Codable struct and a hand-built dictionary with the same content give the same parameters.
        let p = Params(lr: 0.001, dims: [1, 2, 4], name: "cprec", nested: ["z": 1, "a": 2])
        let fromStruct = try JSONValue(encoding: p)
        let literal: JSONValue = ["nested": ["a": 2, "z": 1], "name": "cprec", "lr": 0.001, "dims": [1, 2, 4]]
        #expect(fromStruct == literal)
        #expect(fromStruct.canonicalString == literal.canonicalString)
        let back: Params = try fromStruct.decode()
        #expect(back.dims == [1, 2, 4] && back.lr == 0.001)
        // The key is a pure function of the canonical text: pinned so a change in hashing or formatting shows.
        let pinned = KeyMaterial(id: "k/a", version: 1, parameters: ["x": 1], inputs: [], files: [])
        #expect(
            pinned.canonicalString
                == #"{"files":[],"id":"k/a","inputs":[],"kind":"k","parameters":{"x":1},"version":1}"#)
    }

    @Test func keyChangesWithEachDeclaredInputButNotUndeclaredFields() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("data.txt")
        try "one".write(to: file, atomically: true, encoding: .utf8)
        let rec = Recorder()
        var s = TestStage("train/a", inputs: ["prep/x"], parameters: ["lr": 0.001, "layers": [1, 2]], recorder: rec)
        s.fileInputs = [file]
        let hashes: [StageID: String] = ["prep/x": "abc"]
        let base = try KeyMaterial.of(s, inputHashes: hashes).key

        var undeclared = s
        undeclared.note = "something else"
        undeclared.outputIgnoresParameters = true
        #expect(try KeyMaterial.of(undeclared, inputHashes: hashes).key == base)

        var param = s
        param.parameters = ["lr": 0.002, "layers": [1, 2]]
        #expect(try KeyMaterial.of(param, inputHashes: hashes).key != base)

        var nestedParam = s
        nestedParam.parameters = ["lr": 0.001, "layers": [1, 3]]
        #expect(try KeyMaterial.of(nestedParam, inputHashes: hashes).key != base)

        var version = s
        version.version = 2
        #expect(try KeyMaterial.of(version, inputHashes: hashes).key != base)

        #expect(try KeyMaterial.of(s, inputHashes: ["prep/x": "abd"]).key != base)

        try "two".write(to: file, atomically: true, encoding: .utf8)
        #expect(try KeyMaterial.of(s, inputHashes: hashes).key != base)
        try "one".write(to: file, atomically: true, encoding: .utf8)
        #expect(try KeyMaterial.of(s, inputHashes: hashes).key == base)
    }

    @Test func differencesNameTheParameterPath() {
        let old = KeyMaterial(
            id: "train/x", version: 1, parameters: ["model": ["dilations": [1, 2, 4]], "lr": 0.001],
            inputs: [.init(id: "prep/a", outputHash: "1")], files: [.init(name: "d.csv", sha256: "f")])
        let new = KeyMaterial(
            id: "train/x", version: 2, parameters: ["model": ["dilations": [1, 2, 8]], "lr": 0.001, "seed": 3],
            inputs: [.init(id: "prep/a", outputHash: "2")], files: [.init(name: "d.csv", sha256: "g")])
        let d = new.differences(from: old)
        #expect(d.contains("version changed: 1 -> 2"))
        #expect(d.contains("parameter model.dilations[2]: 4 -> 8"))
        #expect(d.contains("parameter seed added (= 3)"))
        #expect(d.contains("input prep/a produced different outputs"))
        #expect(d.contains("input file d.csv changed"))
        #expect(new.differences(from: new).isEmpty)
    }

    @Test func folderHashCoversNamesAndContent() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("d")
        try FileManager.default.createDirectory(at: sub.appendingPathComponent("x"), withIntermediateDirectories: true)
        try "a".write(to: sub.appendingPathComponent("x/1.txt"), atomically: true, encoding: .utf8)
        let h1 = try ContentHash.of(sub)
        try "a".write(to: sub.appendingPathComponent("x/2.txt"), atomically: true, encoding: .utf8)
        let h2 = try ContentHash.of(sub)
        try "b".write(to: sub.appendingPathComponent("x/2.txt"), atomically: true, encoding: .utf8)
        let h3 = try ContentHash.of(sub)
        #expect(Set([h1, h2, h3]).count == 3)
    }
}
