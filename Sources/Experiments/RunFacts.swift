import Foundation
import Kernels
import Pipeline
import Reports

/// Facts about this machine and checkout that every table, figure and the report carry as provenance.
enum RunFacts {
    static func provenance(profile: String?) -> Provenance {
        var p = Provenance(profile: profile ?? "-", gitCommit: HostFacts.gitCommit, host: HostFacts.host)
        if profile == nil { p.entries.removeFirst() }
        return p
    }

    static var blas: String {
        "OpenBLAS (kernel \(BLAS.coreName)); engine row kernels \(Kernels.rowKernelISA), numerics revision \(EngineRevision.numerics)"
    }
}
