import Foundation
import Kernels
import Pipeline
import Reports

/// This machine and checkout (`HostFacts`) and the engine's BLAS, as every table, figure and the report print them.
enum RunFacts {
    static func provenance(profile: String?) -> Provenance {
        var p = Provenance(profile: profile ?? "-", gitCommit: HostFacts.gitCommit, host: HostFacts.host)
        if profile == nil { p.entries.removeFirst() }
        return p
    }

    static var blas: String {
        "OpenBLAS (kernel \(BLAS.coreName)); engine row kernels \(Kernels.rowKernelISA), numerics revision \(EngineRevision.numerics)"
    }

    /// The report's environment block.
    static var environment: [(key: String, value: String)] {
        HostFacts.machine + [("BLAS", blas), ("git commit", HostFacts.gitCommit ?? "unknown"), ("host", HostFacts.host)]
    }
}
