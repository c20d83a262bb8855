import Foundation
import Reports

/// The verdicts of the last committed report (pipeline/verdicts.yaml), so a regenerated REPORT.md says which verdicts
/// changed and why (the reasons are written by whoever looked at the new results).
struct VerdictHistory {
    var commit: String
    var profile: String
    var verdicts: [String: String]
    var why: [String: String]

    static func load(_ url: URL) throws -> VerdictHistory {
        let root = try SpecNode.load(url)
        try root.checkKeys(["previous", "why"])
        let previous = try root.required("previous")
        try previous.checkKeys(["commit", "profile", "verdicts"])
        var verdicts: [String: String] = [:]
        for (id, node) in try previous.required("verdicts").entries() {
            verdicts[id] = try node.oneOf(Claim.Verdict.allCases.map(\.rawValue))
        }
        var why: [String: String] = [:]
        for (id, node) in try root["why"]?.entries() ?? [] { why[id] = try node.string() }
        return VerdictHistory(commit: try previous.required("commit").string(), profile: try previous.required("profile").string(),
                              verdicts: verdicts, why: why)
    }

    /// Claim | before | now | why, for every claim of `profile` (nil when the history is of another profile).
    func table(_ claims: [Claim], profile: String) -> Table? {
        guard profile == self.profile else { return nil }
        var t = Table(title: "Verdicts re-derived",
                      caption: "Each claim's verdict in the last committed report (commit \(commit), profile \(self.profile)) and now; where it changed, why.",
                      columns: [.label("Claim"), .label("Before"), .label("Now"), .label("Why it changed")])
        for c in claims {
            let before = verdicts[c.id] ?? "—"
            let changed = before != c.verdict.rawValue
            t.addRow([.text(c.id), .text(before), .text(c.verdict.rawValue, bold: changed),
                      .text(changed ? (why[c.id] ?? "not yet explained") : "unchanged")])
        }
        return t
    }
}
