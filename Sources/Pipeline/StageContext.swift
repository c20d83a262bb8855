import Foundation

/// What a running stage sees: where its inputs are, where to write, its thread budget, and a progress sink.
public final class StageContext: @unchecked Sendable {
    /// The entry being written (a temporary folder, renamed into place only when `run` returns normally).
    public let outputDirectory: URL
    /// Persistent scratch space for this key that survives a killed run (checkpoints for resume).
    public let workDirectory: URL
    /// Thread budget for this stage (BLAS and elementwise work).
    public let threads: Int
    private let inputDirectories: [StageID: URL]
    private let progressSink: (String, Double?) -> Void
    private let logSink: (String) -> Void
    /// The run's gate for timing sections (nil outside a runner, e.g. in unit tests: nothing runs beside them).
    private let quiet: QuietGate?
    private let lock = NSLock()
    private var recorded: [String: Double] = [:]
    private var quietDepth = 0

    public init(
        outputDirectory: URL, workDirectory: URL, threads: Int, inputDirectories: [StageID: URL],
        progress: @escaping (String, Double?) -> Void = { _, _ in },
        log: @escaping (String) -> Void = { _ in }, quiet: QuietGate? = nil
    ) {
        self.quiet = quiet
        self.outputDirectory = outputDirectory
        self.workDirectory = workDirectory
        self.threads = threads
        self.inputDirectories = inputDirectories
        self.progressSink = progress
        self.logSink = log
    }

    /// The completed output folder of a declared upstream stage.
    public func inputDirectory(_ id: StageID) throws -> URL {
        guard let url = inputDirectories[id] else {
            throw PipelineError.undeclaredInput(id)
        }
        return url
    }

    /// The manifest of a declared upstream stage's entry (its timing, host, commit), if readable.
    public func inputManifest(_ id: StageID) -> Manifest? {
        guard let out = inputDirectories[id] else { return nil }
        let url = out.deletingLastPathComponent().appendingPathComponent("manifest.json")
        return try? JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url))
    }

    /// A file inside a declared upstream stage's output folder.
    public func inputFile(_ id: StageID, _ name: String) throws -> URL {
        try inputDirectory(id).appendingPathComponent(name)
    }

    /// Where to write one declared output.
    public func outputFile(_ name: String) -> URL { outputDirectory.appendingPathComponent(name) }

    /// Records a measurement (a wall time, a throughput) in the entry's manifest rather than in an output file:
    /// timings differ between identical runs, and outputs must not, or early cutoff and hash comparisons break.
    public func record(_ name: String, _ value: Double) {
        lock.lock()
        recorded[name] = value
        lock.unlock()
    }

    /// Everything recorded so far (the runner writes it into the manifest).
    public var measurements: [String: Double] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    /// A measurement a declared upstream stage recorded, if any.
    public func inputMeasurement(_ id: StageID, _ name: String) -> Double? {
        inputManifest(id)?.measurements?[name]
    }

    /// Reports short progress (e.g. "epoch 3/20 loss 4.12") and the fraction done when known (for ETA).
    /// A progress report is also a safe point: the stage parks there while another stage times something.
    public func progress(_ message: String, fraction: Double? = nil) {
        if !inQuietSection { quiet?.yieldPoint() }  // a stage never waits on its own measurement
        progressSink(message, fraction)
    }

    private var inQuietSection: Bool {
        lock.lock()
        defer { lock.unlock() }
        return quietDepth > 0
    }

    /// Runs a timing section with no other stage of this run computing beside it (see `QuietGate`).
    public func quietly<T>(_ body: () throws -> T) rethrows -> T {
        guard let quiet else { return try body() }
        return try quiet.quietly {
            lock.lock(); quietDepth += 1; lock.unlock()
            defer { lock.lock(); quietDepth -= 1; lock.unlock() }
            return try body()
        }
    }

    /// Appends one line to the stage's log file in the cache.
    public func log(_ line: String) { logSink(line) }
}

/// Errors raised by the stage engine, each with a message that names what to fix.
public enum PipelineError: Error, CustomStringConvertible {
    case undeclaredInput(StageID)
    case message(String)
    public var description: String {
        switch self {
        case .undeclaredInput(let id): return "stage read input \(id) that it did not declare"
        case .message(let m): return m
        }
    }
}
