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
    private let lock = NSLock()
    private var recorded: [String: Double] = [:]

    public init(outputDirectory: URL, workDirectory: URL, threads: Int, inputDirectories: [StageID: URL],
                progress: @escaping (String, Double?) -> Void = { _, _ in },
                log: @escaping (String) -> Void = { _ in }) {
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
    public func progress(_ message: String, fraction: Double? = nil) { progressSink(message, fraction) }

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
