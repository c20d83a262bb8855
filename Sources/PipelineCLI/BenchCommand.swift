import ArgumentParser
import Benchmarks
import Foundation

/// `pipeline bench`: training throughput of fixed NextItNet and SASRec cases on synthetic data.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure engine training throughput (tokens/s, GEMM share, peak RSS, sgemm rate, MFU).",
        discussion: """
            Cases: a = d 64, 1,682 items; b = d 256, 20,000 items, full softmax; c = b with block-wise input and \
            softmax, blocks [2000, 8000, rest], f = 4. These use 4 residual blocks (dilations 1,2,4,8,1,2,4,8), \
            kernel 3. s = SASRec, d 64, 2 transformer blocks, 1 head, 1,682 items (not in the default set). All \
            use t = 20, batch 256. With --json, stdout holds exactly one JSON object (one case) or \
            {"cases": [...]} (several); human-readable progress goes to stderr.
            """)

    @Option(
        name: .customLong("case"), help: "Case to run (a, b, c or s); repeat or comma-separate. Default: a, b and c.")
    var cases: [String] = []

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    @Option(help: "Override the width d.")
    var dim: Int?

    @Option(help: "Override the number of residual blocks (SASRec: transformer blocks).")
    var depth: Int?

    @Option(help: "Override the batch size.")
    var batch: Int?

    @Option(help: "Override the number of items.")
    var items: Int?

    @Option(help: "Threads for BLAS and elementwise work (default: all cores).")
    var threads: Int?

    @Option(help: "Measured steps (after warm-up).")
    var steps: Int?

    @Option(help: "Warm-up steps (not measured).")
    var warmup: Int?

    @Option(help: "Epoch size in tokens for the seconds-per-epoch estimate.")
    var epochTokens: Int?

    func run() throws {
        let names = cases.isEmpty ? ["a", "b", "c"] : cases.flatMap { $0.split(separator: ",").map(String.init) }
        var results = [BenchResult]()
        for name in names {
            guard var o = BenchOptions.preset(name) else {
                throw ValidationError("unknown bench case \(name) (use a, b, c or s)")
            }
            if let dim { o.dim = dim }
            if let depth { o.depth = depth }
            if let batch { o.batch = batch }
            if let items { o.items = items }
            if let threads { o.threads = threads }
            if let steps { o.steps = steps }
            if let warmup { o.warmup = warmup }
            if let epochTokens { o.epochTokens = epochTokens }
            results.append(BenchEngine.run(o) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            let data: Data
            if results.count == 1 {
                data = try enc.encode(results[0])
            } else {
                data = try enc.encode(["cases": results])
            }
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
