import Foundation

/// Which evaluate stages time inference: the models a table shows a speedup of (on that table's datasets), and the
/// models of claims about inference time or the fast top-N paths (on every dataset of the profile). Timing needs
/// the machine to itself (the runner's quiet gate parks every other stage), so timing what nothing reads — the
/// ablations of Tables 3-5, Figure 1's sweep, the untuned twins, Table 6's pre-training runs — costs wall time and
/// adds nothing.
struct TimingPlan {
    private var models: [String: Set<String>] = [:]

    init(specs: SpecBundle, profile: ProfileSpec, claims: ClaimSpecFile?) {
        for table in specs.tables
        where table.columns.contains(where: { $0 == .speedup || $0 == .speedupBatch1 }) {
            for ds in profile.datasets(inTable: table.name) {
                models[ds, default: []].formUnion(table.rows + [table.reference])
            }
        }
        for claim in claims?.claims ?? [] {
            let q = claim.quantity
            guard (q.kind == .timeRatio && q.time.hasPrefix("inference")) || q.kind == .topNAgreement else { continue }
            for ds in profile.datasets {
                models[ds, default: []].formUnion(claim.compared + (claim.reference.map { [$0] } ?? []))
            }
        }
    }

    func times(_ model: String, on dataset: String) -> Bool { models[dataset]?.contains(model) ?? false }
}
