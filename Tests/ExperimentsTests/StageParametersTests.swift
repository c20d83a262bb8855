import Foundation
import Pipeline
import Testing
@testable import Experiments

/// Every stage's key parameters are one Encodable value hashed whole: no stage builds its key by hand, and every
/// field of that value reaches the key (a `CodingKeys` that dropped one would leave a setting out of the cache key).
@Suite struct StageParametersTests {
    private func isNil(_ value: Any) -> Bool {
        let m = Mirror(reflecting: value)
        return m.displayStyle == .optional && m.children.isEmpty
    }

    @Test func everyFieldOfEveryStagesParametersIsInItsKey() throws {
        // smoke has every table and figure; default adds tune stages.
        var stages: [any Stage] = []
        for profile in ["smoke", "default"] {
            let options = ExperimentOptions(
                profile: profile, specDirectory: repositorySpecs, outputRoot: repositorySpecs)
            stages += try Paper.graph(options)
        }
        var kinds: Set<String> = []
        for stage in stages {
            let typed = try #require(stage as? any TypedParameters, "\(stage.id.raw) builds its key by hand")
            guard case .object(let key) = stage.parameters else {
                Issue.record("\(stage.id.raw): parameters are not an object")
                continue
            }
            let fields = Mirror(reflecting: typed.typedParameters).children
            #expect(!fields.isEmpty, "\(stage.id.raw)")
            for field in fields where !isNil(field.value) {
                let name = try #require(field.label)
                #expect(key[name] != nil, "\(stage.id.raw): field \(name) is not in the key")
            }
            // Nothing in the key that the parameters value does not hold.
            #expect(Set(key.keys).isSubset(of: Set(fields.compactMap(\.label))), "\(stage.id.raw)")
            kinds.insert(stage.id.kind)
        }
        #expect(
            kinds == ["fetch", "prep", "blocks", "oracle", "tune", "train", "evaluate", "finetune", "table", "figure", "report"])
    }

    /// An absent optional is left out of the key (so a key written before the field existed stays), except where
    /// `Nullable` keeps it as null (an evaluate stage without a speedup reference).
    @Test func absentOptionalsAreLeftOutUnlessNullable() throws {
        struct P: Encodable {
            var a: Int
            var b: Int?
            var c: Nullable<Int>
        }
        #expect(JSONValue.encoded(P(a: 1, b: nil, c: Nullable(nil))) == .object(["a": .number(1), "c": .null]))
        #expect(
            JSONValue.encoded(P(a: 1, b: 2, c: Nullable(3)))
                == .object(["a": .number(1), "b": .number(2), "c": .number(3)]))
    }
}
