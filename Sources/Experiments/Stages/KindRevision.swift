import Kernels
import Models
import Pipeline

extension ModelConfig {
    /// What a model stage's result depends on beyond its parameters: OpenBLAS's kernel and the row kernels
    /// (`numerics`), and this kind's revision (`kindRevision`, only above 0, so that a bump of one architecture leaves
    /// every other kind's keys and cached results where they were). Every model stage's parameters include it.
    var numericsParameters: [String: JSONValue] {
        var p: [String: JSONValue] = ["numerics": .string(BLAS.numericsIdentity)]
        if kind.revision > 0 { p["kindRevision"] = .number(Double(kind.revision)) }
        return p
    }
}
