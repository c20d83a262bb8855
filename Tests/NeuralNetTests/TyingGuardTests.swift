import Foundation
import Testing
@testable import NeuralNet

/// Tying one name to two shapes must stop the program in the configuration the tests and the pipeline run in
/// (release): NeuralNet is built without -Ounchecked so its preconditions stay. A trap cannot be caught
/// in-process, so the probe runs in a child process of this test binary.
@Suite struct TyingGuardTests {
    static let probeVariable = "CPREC_TYING_PROBE"

    @Test func probe() {
        guard ProcessInfo.processInfo.environment[Self.probeVariable] == "1" else { return }
        let p = ParameterSet()
        _ = p.shared("conv.w", [4, 8], .middle, .zeros)
        _ = p.shared("conv.w", [8, 4], .middle, .zeros)
        print("tying-probe: reused with another shape and went on")
    }

    @Test func reusingATiedNameWithAnotherShapeTraps() throws {
        guard ProcessInfo.processInfo.environment[Self.probeVariable] == nil else { return }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing", "--filter", "TyingGuardTests/probe"]
        var env = ProcessInfo.processInfo.environment
        env[Self.probeVariable] = "1"
        child.environment = env
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tying-probe-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let handle = try FileHandle(forWritingTo: out)
        child.standardOutput = handle
        child.standardError = handle
        try child.run()
        child.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        #expect(child.terminationReason == .uncaughtSignal, "the probe was not stopped:\n\(text.suffix(2000))")
        #expect(!text.contains("went on"))
    }
}
