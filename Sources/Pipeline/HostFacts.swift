import Foundation
import Subprocess

#if canImport(Glibc)
import Glibc
#endif

/// The machine and checkout a result came from: recorded in manifests and locks, printed by reports. The one
/// place such facts are read.
public enum HostFacts {
    /// gethostname(2) directly: Foundation's hostName may wait on DNS.
    public static let host: String = {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "unknown-host" }
        return String(cString: buf)
    }()

    /// The checkout's commit, or nil outside git (or without git installed).
    public static let gitCommit: String? = {
        guard let r = try? Command.run(["git", "rev-parse", "HEAD"]), r.succeeded else { return nil }
        let s = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }()

    /// The CPU's model name from /proc/cpuinfo, or "unknown".
    public static let cpuModel: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown"
    }()

    /// Version of the compiler that built this binary.
    public static var swiftVersion: String {
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

    /// The machine as ordered "key: value" lines for a report's environment block.
    public static var machine: [(key: String, value: String)] {
        let info = ProcessInfo.processInfo
        return [
            ("CPU", cpuModel), ("logical cores", String(info.activeProcessorCount)),
            ("memory", String(format: "%.1f GiB", Double(info.physicalMemory) / 1_073_741_824)),
            ("OS", info.operatingSystemVersionString), ("Swift", swiftVersion)
        ]
    }
}
