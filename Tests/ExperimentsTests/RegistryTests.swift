import Foundation
import Pipeline
import Testing
@testable import Experiments

/// Tables and figures come from `Registry`: every table or figure stage of a graph is one a registered kind added,
/// under the id its kind names, and a kind whose profile key is absent adds nothing.
@Suite struct RegistryTests {
    private func graph(_ profile: String) throws -> [String: any Stage] {
        let options = ExperimentOptions(profile: profile, specDirectory: repositorySpecs, outputRoot: repositorySpecs)
        return Dictionary(uniqueKeysWithValues: try Paper.graph(options).map { ($0.id.raw, $0) })
    }

    @Test func everyTableAndFigureStageComesFromARegisteredKind() throws {
        let names = (Registry.tables + Registry.figures).map { $0.kindName }
        #expect(Set(names).count == names.count, "kind names are unique")
        let stages = try graph("smoke")
        let report = try #require(stages["report/report"] as? ReportStage)
        #expect(report.figures == Registry.figureNames)
        // The smoke profile declares every key: each kind adds its stage(s) and each is listed in the report.
        let listed = Set(report.tables.map { "table/\($0)" } + report.figures.map { "figure/\($0)" })
        let built = Set(stages.keys.filter { $0.hasPrefix("table/") || $0.hasPrefix("figure/") })
        #expect(built == listed)
        #expect(report.tables.first == Table1Stage.kindName && report.tables.contains(Table6Stage.kindName))
        for kind in Registry.figures {
            let stage = try #require(stages["figure/\(kind.kindName)"])
            #expect(type(of: stage) == kind, "figure/\(kind.kindName) is built by its own kind")
        }
    }

    @Test func aKindWithoutItsProfileKeyAddsNothing() throws {
        // amazon-video declares neither `transfer:`, `figure1:` nor `scaleMap:`, and does declare `sampledNegatives:`.
        let video = try SpecBundle.load(repositorySpecs).profile("amazon-video")
        for kind in Registry.tables + Registry.figures {
            guard let key = kind.profileKey else { continue }
            let expected = ["sampledNegatives"].contains(key)
            #expect(kind.declared(in: video) == expected, "\(kind.kindName) on amazon-video")
        }
        let stages = try graph("amazon-video")
        let report = try #require(stages["report/report"] as? ReportStage)
        // Its one dataset takes part in Tables 2 and 7 only: Tables 3-5 would be headers without rows.
        #expect(report.tables == ["table1", "table2", "table7", "literature"])
        #expect(stages["table/table3"] == nil && stages["table/table5"] == nil)
        #expect(report.figures == ["longtail", "pareto", "convergence"])
        #expect(stages["table/table6"] == nil && stages["figure/fig1"] == nil && stages["figure/scalemap"] == nil)
    }
}
