/// A table or figure a profile can produce: its name, the profile key it draws from, and the step that adds its
/// stage to the graph. A new kind is one file (its stage and this conformance) plus its line in `Registry`; a
/// profile drops a figure by leaving it out of `figures:`.
protocol GraphOutput {
    /// The name a profile's `figures:` uses (for a table kind, its stage's name).
    static var kindName: String { get }
    /// The profile key that says what it shows (`figure1:` for fig1), when it needs one.
    static var profileKey: String? { get }
    /// Whether `profile` declares what this kind needs (its `profileKey`).
    static func declared(in profile: ProfileSpec) -> Bool
    /// Adds its stage(s) to `graph`; returns the names of the tables or figures added (none when the profile has
    /// nothing for it to show).
    static func add(to graph: inout GraphBuilder) throws -> [String]
}

extension GraphOutput {
    static var profileKey: String? { nil }
    static func declared(in profile: ProfileSpec) -> Bool { true }
}

/// Every table and figure kind, in the order the report lists them.
enum Registry {
    static let tables: [any GraphOutput.Type] = [
        Table1Stage.self, TableStage.self, Table6Stage.self, LiteratureStage.self,
    ]
    static let figures: [any GraphOutput.Type] = [
        LongTailFigureStage.self, Figure1Stage.self, ParetoFigureStage.self, ConvergenceFigureStage.self,
        ScaleMapStage.self,
    ]
    static var figureNames: [String] { figures.map { $0.kindName } }
    static func figure(_ name: String) -> (any GraphOutput.Type)? { figures.first { $0.kindName == name } }
}
