import Foundation

/// The repository's `pipeline/` spec folder, found from this file's path (tests run from any directory).
let repositorySpecs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("pipeline")

/// A fresh temporary folder, removed by the caller's `defer`.
func temporaryDirectory(_ tag: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cprec-\(tag)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A copy of the shipped specs in a temp folder, with `edit` applied to one file's text.
func specsCopy(editing file: String? = nil, _ edit: (String) -> String = { $0 }) throws -> URL {
    let dir = try temporaryDirectory("specs")
    for name in try FileManager.default.contentsOfDirectory(atPath: repositorySpecs.path) where name.hasSuffix(".yaml")
    {
        var text = try String(contentsOf: repositorySpecs.appendingPathComponent(name), encoding: .utf8)
        if name == file { text = edit(text) }
        try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
    return dir
}
