import Models
import Pipeline

extension ModelConfig {
    /// The stage-parameter entry naming this kind's revision: none at revision 0, so that a bump of one
    /// architecture leaves every other kind's keys (and cached results) where they were.
    var kindRevisionParameter: [String: JSONValue] {
        kind.revision > 0 ? ["kindRevision": .number(Double(kind.revision))] : [:]
    }
}
