import Kernels

/// Which part of the "sandwich" a parameter belongs to; the tables' Params columns are split by it.
public enum ParameterGroup: String, Codable, CaseIterable, Sendable {
    case input, middle, output
}

/// How a parameter tensor is filled before training.
public enum Initializer: Codable, Hashable, Sendable {
    case zeros
    case constant(Float)
    case normal(std: Float)
    case truncatedNormal(std: Float)
    case uniform(limit: Float)
    /// Glorot/Xavier uniform over the last two dimensions (fan-in = shape[-2], fan-out = shape[-1]).
    case glorotUniform
}

/// One row of the layout table: a named tensor with its shape and group.
public struct ParameterSpec: Codable, Hashable, Sendable {
    public var name: String
    public var shape: [Int]
    public var group: ParameterGroup
    public var initializer: Initializer
    public var count: Int { shape.reduce(1, *) }

    public init(name: String, shape: [Int], group: ParameterGroup, initializer: Initializer) {
        self.name = name
        self.shape = shape
        self.group = group
        self.initializer = initializer
    }
}

/// A tensor's place in the flat buffers. Tying = two layers holding the same ref.
public struct ParamRef: Hashable, Sendable {
    public let index: Int
    public let offset: Int
    public let count: Int
}

/// The one layout table of a model: parameters, gradients and optimiser moments all share it.
public final class ParameterSet {
    public private(set) var specs: [ParameterSpec] = []
    public private(set) var refs: [ParamRef] = []
    public private(set) var count = 0
    /// Flat parameter values; valid after `allocate`.
    public private(set) var values: UnsafeMutablePointer<Float>
    /// Flat gradients, same layout as `values`; backward passes add into them.
    public private(set) var grads: UnsafeMutablePointer<Float>
    private var allocated = false

    public init() {
        values = .allocate(capacity: 1)
        grads = .allocate(capacity: 1)
    }

    deinit {
        values.deallocate()
        grads.deallocate()
    }

    /// Declares a new tensor. Names must be unique; declare everything before `allocate`.
    @discardableResult
    public func declare(_ spec: ParameterSpec) -> ParamRef {
        precondition(!allocated, "declare after allocate")
        precondition(!specs.contains { $0.name == spec.name }, "duplicate parameter \(spec.name)")
        let ref = ParamRef(index: specs.count, offset: count, count: spec.count)
        specs.append(spec)
        refs.append(ref)
        count += spec.count
        return ref
    }

    @discardableResult
    public func declare(_ name: String, _ shape: [Int], _ group: ParameterGroup, _ initializer: Initializer) -> ParamRef
    {
        declare(ParameterSpec(name: name, shape: shape, group: group, initializer: initializer))
    }

    /// Allocates the flat buffers, fills values by each spec's initializer in declaration order, zeroes grads.
    public func allocate(rng: inout Rng) {
        precondition(!allocated)
        values.deallocate()
        grads.deallocate()
        values = .allocate(capacity: max(count, 1))
        grads = .allocate(capacity: max(count, 1))
        grads.initialize(repeating: 0, count: max(count, 1))
        values.initialize(repeating: 0, count: max(count, 1))
        for (spec, ref) in zip(specs, refs) {
            let p = values + ref.offset
            switch spec.initializer {
            case .zeros: break
            case .constant(let c): p.update(repeating: c, count: ref.count)
            case .normal(let std): for i in 0..<ref.count { p[i] = rng.normal() * std }
            case .truncatedNormal(let std): for i in 0..<ref.count { p[i] = rng.truncatedNormal(std: std) }
            case .uniform(let limit): for i in 0..<ref.count { p[i] = (rng.uniform() * 2 - 1) * limit }
            case .glorotUniform:
                let fanIn = spec.shape.count >= 2 ? spec.shape[spec.shape.count - 2] : spec.shape[0]
                let fanOut = spec.shape.last ?? 1
                let limit = (6 / Float(fanIn + fanOut)).squareRoot()
                for i in 0..<ref.count { p[i] = (rng.uniform() * 2 - 1) * limit }
            }
        }
        allocated = true
    }

    public func value(_ r: ParamRef) -> UnsafeMutablePointer<Float> { values + r.offset }
    public func grad(_ r: ParamRef) -> UnsafeMutablePointer<Float> { grads + r.offset }
    public func ref(named name: String) -> ParamRef? { specs.firstIndex { $0.name == name }.map { refs[$0] } }

    /// Name of the first tensor holding a NaN or infinity, nil when every value is finite.
    public func firstNonFinite() -> String? {
        for (spec, ref) in zip(specs, refs) {
            let p = values + ref.offset
            var bad = false
            for i in 0..<ref.count where !p[i].isFinite { bad = true; break }
            if bad { return spec.name }
        }
        return nil
    }

    /// Zeroes every gradient; called once per training step (backward passes only add).
    public func zeroGrads() { grads.update(repeating: 0, count: max(count, 1)) }

    /// Number of scalar parameters in a group (tied tensors count once: they are one row of the table).
    public func count(in group: ParameterGroup) -> Int {
        specs.filter { $0.group == group }.reduce(0) { $0 + $1.count }
    }
}
