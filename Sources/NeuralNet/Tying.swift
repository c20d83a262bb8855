import Kernels

extension ParameterSet {
    /// Declares `name` on first use and returns the same ref afterwards: layers asking for one name are tied
    /// (they read one slice and, since backward adds, their gradients sum). Shapes must agree.
    public func shared(_ name: String, _ shape: [Int], _ group: ParameterGroup, _ initializer: Initializer) -> ParamRef
    {
        if let r = ref(named: name) {
            precondition(specs[r.index].shape == shape, "tied parameter \(name) reused with another shape")
            return r
        }
        return declare(name, shape, group, initializer)
    }

    /// Total number of scalar parameters over all groups.
    public var totalCount: Int { count }
}
