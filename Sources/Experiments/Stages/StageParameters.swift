import Kernels
import Models
import Pipeline

/// A stage whose key parameters are one `Encodable` value, hashed whole: a field added to `Parameters` is in the key
/// by construction, with no hand-built dictionary to leave it out of (`StageParametersTests` checks every stage of a
/// graph).
protocol TypedParameters: Stage {
    associatedtype Parameters: Encodable
    var typedParameters: Parameters { get }
}

extension TypedParameters {
    var parameters: JSONValue { .encoded(typedParameters) }
}

/// An optional that stays in the key as null when absent rather than being left out (the keys written before typed
/// parameters had it so; leaving it out would move them).
struct Nullable<Wrapped: Encodable>: Encodable {
    var value: Wrapped?
    init(_ value: Wrapped?) { self.value = value }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

extension ModelConfig {
    /// What a model stage's result depends on beyond its parameters: OpenBLAS's kernel and the row kernels.
    var numericsIdentity: String { BLAS.numericsIdentity }
    /// This kind's revision, only above 0, so that a bump of one architecture leaves every other kind's keys and
    /// cached results where they were. Every model stage's parameters carry it beside `numerics`.
    var kindRevisionInKey: Int? { kind.revision > 0 ? kind.revision : nil }
}
