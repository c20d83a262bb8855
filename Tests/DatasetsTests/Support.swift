import Foundation
@testable import Datasets

/// A fresh temporary folder, removed by the caller's `defer`.
func makeTempDir(_ label: String = "ds") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cprec-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `text` to `dir/name` and returns its URL.
@discardableResult
func writeFile(_ dir: URL, _ name: String, _ text: String) throws -> URL {
    let url = dir.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
    return url
}

/// The error a throwing closure raised, as a DatasetError (nil when it did not throw one).
func datasetError(_ body: () throws -> Void) -> DatasetError? {
    do { try body(); return nil } catch let e as DatasetError { return e } catch { return nil }
}
