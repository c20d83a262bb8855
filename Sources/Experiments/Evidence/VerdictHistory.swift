import Datasets
import Foundation
import Reports

/// The verdicts of the last committed report (pipeline/verdicts.yaml), so a regenerated REPORT.md says which verdicts
/// changed and why (the reasons are written by whoever looked at the new results).
struct VerdictHistory: Decodable {
    var commit: String
    var profile: String
    var verdicts: [String: String]
    var why: [String: String]

    static func load(_ url: URL) throws -> VerdictHistory { try SpecFile.load(url).decode(VerdictHistory.self) }

    /// Claim | before | now | why, for every claim of `profile` (nil when the history is of another profile).
    func table(_ claims: [Claim], profile: String) -> Table? {
        guard profile == self.profile else { return nil }
        var t = Table(
            title: "Verdicts re-derived",
            caption:
                "Each claim's verdict in the last committed report (commit \(commit), profile \(self.profile)) and now; where it changed, why.",
            columns: [.label("Claim"), .label("Before"), .label("Now"), .label("Why it changed")])
        for c in claims {
            let before = verdicts[c.id] ?? "—"
            let changed = before != c.verdict.rawValue
            t.addRow([
                .text(c.id), .text(before), .text(c.verdict.rawValue, bold: changed),
                .text(changed ? (why[c.id] ?? "not yet explained") : "unchanged")
            ])
        }
        return t
    }
}

extension VerdictHistory {
    private enum Key: String, CodingKey, CaseIterable { case previous, why }
    private enum PreviousKey: String, CodingKey, CaseIterable { case commit, profile, verdicts }

    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(Key.self)
        try rejectUnknownKeys(try c.superDecoder(forKey: .previous), allowed: PreviousKey.allCases.map(\.rawValue))
        let previous = try c.nestedContainer(keyedBy: PreviousKey.self, forKey: .previous)
        commit = try previous.decode(String.self, forKey: .commit)
        profile = try previous.decode(String.self, forKey: .profile)
        verdicts = try previous.decode(IdMap<Claim.Verdict>.self, forKey: .verdicts).dictionary.mapValues(\.rawValue)
        why = try c.decodeIfPresent(IdMap<String>.self, forKey: .why)?.dictionary ?? [:]
    }
}

extension Claim.Verdict: SpecChoice {}
