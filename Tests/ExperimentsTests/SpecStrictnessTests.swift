import Foundation
import Testing
@testable import Experiments

/// The 1-based line of the `occurrence`-th line containing `needle` (spec errors must point exactly there).
func lineOf(_ text: String, _ needle: String, occurrence: Int = 1) -> Int {
    var seen = 0
    for (i, line) in text.components(separatedBy: "\n").enumerated() where line.contains(needle) {
        seen += 1
        if seen == occurrence { return i + 1 }
    }
    return -1
}

/// Loads everything `pipeline all --profile P` loads and returns the error text ("" when nothing failed).
private func loadError(_ dir: URL, profile: String = "smoke") -> String {
    do {
        _ = try Paper.graph(ExperimentOptions(profile: profile, specDirectory: dir, outputRoot: dir))
        return ""
    } catch {
        return "\(error)"
    }
}

/// Applies `edit` to a copy of one spec file; returns the folder, the edited text and the error of loading it.
private func edited(_ file: String, _ edit: (String) -> String) throws -> (URL, String, String) {
    let dir = try specsCopy(editing: file, edit)
    let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
    return (dir, text, loadError(dir))
}

@Suite struct SpecStrictnessTests {
    @Test func duplicateKeyInsideAnEntryIsRejected() throws {
        let (dir, text, error) = try edited("models.yaml") {
            $0.replacingOccurrences(
                of: "mostpop:        {label: MostPop, kind: mostpop}",
                with: "mostpop:        {label: MostPop, kind: mostpop, kind: gru4rec}")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(error.contains("models.yaml:\(lineOf(text, "kind: gru4rec}"))"), "\(error)")
        #expect(error.contains("duplicate key 'kind'"), "\(error)")
        #expect(error.contains("models.mostpop"), "\(error)")
    }

    @Test func duplicateModelEntryIsRejected() throws {
        let (dir, text, error) = try edited("models.yaml") {
            $0.replacingOccurrences(
                of: "  mostpop:        {label: MostPop, kind: mostpop}\n",
                with:
                    "  mostpop:        {label: MostPop, kind: mostpop}\n  mostpop: {label: MostPop 2, kind: mostpop}\n")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(text.contains("MostPop 2"))
        #expect(error.contains("models.yaml:\(lineOf(text, "mostpop: {label: MostPop 2"))"), "\(error)")
        #expect(error.contains("duplicate key 'mostpop'"), "\(error)")
    }

    @Test func duplicateProfileSettingIsRejected() throws {
        let (dir, text, error) = try edited("profiles.yaml") {
            $0.replacingOccurrences(
                of: "    inferenceBatch: 64\n", with: "    inferenceBatch: 64\n    inferenceBatch: 32\n")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(error.contains("profiles.yaml:\(lineOf(text, "inferenceBatch: 32"))"), "\(error)")
        #expect(error.contains("duplicate key 'inferenceBatch'"), "\(error)")
        #expect(error.contains("profiles.smoke"), "\(error)")
    }

    @Test func unknownDatasetKeysAreRejectedWithAHint() throws {
        let (d1, t1, e1) = try edited("datasets.yaml") {
            $0.replacingOccurrences(
                of: "prep: {seqLength: 10, testFraction: 0.2, validFraction: 0.1, seed: 10}\n    blocks: {rule: mass",
                with: "prep: {seqLen: 10, testFraction: 0.2, validFraction: 0.1, seed: 10}\n    blocks: {rule: mass")
        }
        defer { try? FileManager.default.removeItem(at: d1) }
        #expect(e1.contains("datasets.yaml:\(lineOf(t1, "seqLen: 10"))"), "\(e1)")
        #expect(e1.contains("datasets.weishi-smoke.prep"), "\(e1)")
        #expect(e1.contains("unknown key 'seqLen'") && e1.contains("did you mean 'seqLength'"), "\(e1)")

        let (d2, t2, e2) = try edited("datasets.yaml") {
            $0.replacingOccurrences(of: "{kind: synthetic, users: ", with: "{kind: synthetic, userz: ")
        }
        defer { try? FileManager.default.removeItem(at: d2) }
        #expect(e2.contains("datasets.yaml:\(lineOf(t2, "userz: "))"), "\(e2)")
        #expect(e2.contains("unknown key 'userz'") && e2.contains("did you mean 'users'"), "\(e2)")

        let (d3, _, e3) = try edited("datasets.yaml") {
            $0.replacingOccurrences(
                of: "blocks: {rule: head-tail, maxBlocks: 3}", with: "blocks: {rule: head-tail, maxBlock: 3}")
        }
        defer { try? FileManager.default.removeItem(at: d3) }
        #expect(e3.contains("unknown key 'maxBlock'") && e3.contains("did you mean 'maxBlocks'"), "\(e3)")

        let (d4, _, e4) = try edited("datasets.yaml") {
            $0.replacingOccurrences(
                of: "files: [data/weishi/weishi.csv]", with: "files: [data/weishi/weishi.csv]\n      link: []")
        }
        defer { try? FileManager.default.removeItem(at: d4) }
        #expect(e4.contains("unknown key 'link'") && e4.contains("did you mean 'links'"), "\(e4)")
    }

    @Test func mistypedProfileDefaultNamesLineAndProfile() throws {
        let (dir, text, error) = try edited("profiles.yaml") {
            $0.replacingOccurrences(of: "model: {dim: 16, dilations", with: "model: {dim: sixteen, dilations")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(error.contains("profiles.yaml:\(lineOf(text, "dim: sixteen"))"), "\(error)")
        #expect(error.contains("profiles.smoke.model.dim") && error.contains("expected an integer"), "\(error)")
    }

    @Test func negativeProfileDimIsBlamedOnTheProfile() throws {
        let (dir, text, error) = try edited("profiles.yaml") {
            $0.replacingOccurrences(of: "model: {dim: 16, dilations", with: "model: {dim: -16, dilations")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(error.contains("profiles.yaml:\(lineOf(text, "dim: -16"))"), "\(error)")
        #expect(error.contains("profiles.smoke.model"), "\(error)")
        #expect(!error.contains("models.yaml"), "\(error)")
    }

    @Test func unknownDatasetInAProfileIsBlamedOnTheProfile() throws {
        let (d1, t1, e1) = try edited("profiles.yaml") {
            $0.replacingOccurrences(
                of: "datasets: [weishi-smoke, mllatest-smoke]", with: "datasets: [weishi-smoek, mllatest-smoke]")
        }
        defer { try? FileManager.default.removeItem(at: d1) }
        #expect(e1.contains("profiles.yaml:\(lineOf(t1, "weishi-smoek"))"), "\(e1)")
        #expect(e1.contains("profiles.smoke.datasets[0]") && e1.contains("did you mean 'weishi-smoke'"), "\(e1)")

        let (d2, t2, e2) = try edited("profiles.yaml") {
            $0.replacingOccurrences(
                of: "transfer: {dataset: coldrec-smoke,", with: "transfer: {dataset: coldrec-smoek,")
        }
        defer { try? FileManager.default.removeItem(at: d2) }
        #expect(
            e2.contains("profiles.yaml:\(lineOf(t2, "coldrec-smoek"))")
                && e2.contains("profiles.smoke.transfer.dataset"), "\(e2)")
    }

    @Test func unknownTransferModelIsBlamedOnTheProfile() throws {
        let (dir, text, error) = try edited("profiles.yaml") {
            $0.replacingOccurrences(
                of: "models: [nextitnet, cprec-cb], epochs: 2", with: "models: [nextitnet, cprec-cx], epochs: 2")
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(error.contains("profiles.yaml:\(lineOf(text, "cprec-cx"))"), "\(error)")
        #expect(
            error.contains("profiles.smoke.transfer.models[1]") && error.contains("unknown model 'cprec-cx'"),
            "\(error)")
    }

    @Test func idsAndLabelsAreValidated() throws {
        let (d1, t1, e1) = try edited("models.yaml") {
            $0.replacingOccurrences(
                of: "  mostpop:        {label: MostPop", with: "  \"most pop;x\":        {label: MostPop")
        }
        defer { try? FileManager.default.removeItem(at: d1) }
        #expect(
            e1.contains("models.yaml:\(lineOf(t1, "most pop;x"))") && e1.contains("invalid id 'most pop;x'"), "\(e1)")

        let (d2, _, e2) = try edited("datasets.yaml") {
            $0.replacingOccurrences(of: "  weishi-smoke:\n", with: "  -weishi-smoke:\n")
        }
        defer { try? FileManager.default.removeItem(at: d2) }
        #expect(e2.contains("datasets.yaml:") && e2.contains("invalid id '-weishi-smoke'"), "\(e2)")

        let (d3, _, e3) = try edited("profiles.yaml") {
            $0.replacingOccurrences(of: "  smoke:\n", with: "  smoke/x:\n")
        }
        defer { try? FileManager.default.removeItem(at: d3) }
        #expect(e3.contains("profiles.yaml:") && e3.contains("invalid id 'smoke/x'"), "\(e3)")

        let (d4, t4, e4) = try edited("models.yaml") {
            $0.replacingOccurrences(
                of: "{label: MostPop, kind: mostpop}", with: "{label: \"Most\\aPop\", kind: mostpop}")
        }
        defer { try? FileManager.default.removeItem(at: d4) }
        #expect(e4.contains("models.yaml:\(lineOf(t4, "Most\\aPop"))") && e4.contains("control character"), "\(e4)")
    }

    @Test func shippedSpecsStillLoad() throws {
        #expect(loadError(repositorySpecs) == "")
        #expect(loadError(repositorySpecs, profile: "paper") == "")
    }
}
