import Foundation

/// The machine a result was measured on, for REPORT.md's environment block (BLAS details come from Kernels).
public struct MachineInfo: Sendable, Hashable {
    public var cpuModel: String
    public var logicalCores: Int
    public var memoryGiB: Double
    public var operatingSystem: String
    /// Version of the compiler that built this binary.
    public var swiftVersion: String

    /// Reads /proc/cpuinfo (Linux) and ProcessInfo; unknown fields say "unknown".
    public static func current() -> MachineInfo {
        let info = ProcessInfo.processInfo
        return MachineInfo(cpuModel: cpuModelName() ?? "unknown", logicalCores: info.activeProcessorCount,
                           memoryGiB: Double(info.physicalMemory) / 1_073_741_824,
                           operatingSystem: info.operatingSystemVersionString, swiftVersion: compilerVersion)
    }

    /// Ordered "key: value" lines for `MarkdownDocument.keyValues` or `Provenance`.
    public var entries: [(key: String, value: String)] {
        [("CPU", cpuModel), ("logical cores", String(logicalCores)),
         ("memory", String(format: "%.1f GiB", memoryGiB)), ("OS", operatingSystem), ("Swift", swiftVersion)]
    }

    static func cpuModelName() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    static var compilerVersion: String {
        #if compiler(>=6.5)
        return "6.5 or later"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }
}
