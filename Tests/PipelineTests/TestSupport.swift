import Foundation
@testable import Pipeline

/// Thread-safe record of what test stages did.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var runs: [String: Int] = [:]
    private(set) var order: [String] = []
    private var intervals: [String: (Date, Date)] = [:]

    func started(_ id: String) {
        lock.lock(); defer { lock.unlock() }
        runs[id, default: 0] += 1
        order.append(id)
    }

    func count(_ id: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return runs[id] ?? 0
    }

    func interval(_ id: String, _ start: Date, _ end: Date) {
        lock.lock(); defer { lock.unlock() }
        intervals[id] = (start, end)
    }

    func interval(_ id: String) -> (Date, Date)? {
        lock.lock(); defer { lock.unlock() }
        return intervals[id]
    }

    var startOrder: [String] {
        lock.lock(); defer { lock.unlock() }
        return order
    }
}

/// A small real stage: writes `out.txt` from its parameters and the `out.txt` of each input.
struct TestStage: Stage {
    var id: StageID
    var version = 1
    var parameters: JSONValue = [:]
    var inputs: [StageID] = []
    var fileInputs: [URL] = []
    var outputs: [String] = ["out.txt"]
    var publishes: [String: String] = [:]
    var preferredThreads: Int? = nil
    var readsMeasurements = false
    /// Not declared: must not reach the key.
    var note = "undeclared"
    /// Whether the file content depends on the parameters (false lets early cutoff show).
    var outputIgnoresParameters = false
    var recorder: Recorder
    var body: (@Sendable (StageContext) throws -> Void)? = nil

    init(_ id: StageID, inputs: [StageID] = [], parameters: JSONValue = [:], recorder: Recorder) {
        self.id = id
        self.inputs = inputs
        self.parameters = parameters
        self.recorder = recorder
    }

    func run(_ context: StageContext) throws {
        recorder.started(id.raw)
        if let body { try body(context); return }
        var text = outputIgnoresParameters ? "\(id)\n" : "\(id) \(parameters.canonicalString)\n"
        for i in inputs.sorted() {
            text += try String(contentsOf: context.inputDirectory(i).appendingPathComponent("out.txt"), encoding: .utf8)
        }
        try text.write(
            to: context.outputDirectory.appendingPathComponent("out.txt"), atomically: false, encoding: .utf8)
    }
}

/// A fresh temporary folder per test.
func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Collects console output.
final class Captured: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    var text: String {
        lock.lock(); defer { lock.unlock() }
        return buffer
    }
    lazy var console = Console(isTerminal: false) { [unowned self] s in
        self.lock.lock(); self.buffer += s; self.lock.unlock()
    }
}

func engine(_ stages: [any Stage], _ root: URL, staleLockAfter: TimeInterval = 600) throws -> Engine {
    try Engine(
        stages: stages, store: CacheStore(root: root.appendingPathComponent("cache"), staleLockAfter: staleLockAfter))
}

func run(
    _ stages: [any Stage], _ root: URL, _ patterns: [String]? = nil, force: Bool = false, downstream: Bool = false,
    jobs: Int = 1, console: Console = .silent()
) throws -> RunSummary {
    try engine(stages, root).run(
        patterns,
        options: RunOptions(
            jobs: jobs, threads: 2, force: force, downstream: downstream,
            outputRoot: root.appendingPathComponent("results")),
        console: console)
}
