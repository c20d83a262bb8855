import Foundation
import Subprocess

// Figures are drawn by writing a data file and a gnuplot script and running gnuplot as a subprocess, not
// through a C++ binding (gnuplot-iostream): a subprocess lets us check the exit status and stderr, keeps a
// missing gnuplot an ordinary error, and leaves a script a reader can rerun by hand.

/// Finding and running gnuplot.
public enum Gnuplot {
    /// Message used whenever gnuplot cannot be found.
    public static let installHint =
        "gnuplot not found on PATH: run scripts/bootstrap.sh (or: sudo apt-get install gnuplot-nox)"

    /// The gnuplot executable on `PATH` (searched in order), or `ReportError.gnuplotMissing`.
    public static func locate(path: String? = ProcessInfo.processInfo.environment["PATH"]) throws -> URL {
        for dir in (path ?? "").split(separator: ":") where !dir.isEmpty {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("gnuplot")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw ReportError.gnuplotMissing(installHint)
    }

    /// Runs `gnuplot script` in `directory`; fails on a non-zero exit, on any stderr output (gnuplot reports
    /// many errors and all warnings there while exiting 0), or on anything written to stdout.
    public static func run(script: String, in directory: URL, executable: URL, timeout: TimeInterval = 120) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = [script]
        process.currentDirectoryURL = directory
        var environment = ProcessInfo.processInfo.environment
        if environment["SOURCE_DATE_EPOCH"] == nil { environment["SOURCE_DATE_EPOCH"] = "0" }
        process.environment = environment
        // Files rather than pipes: no deadlock however much gnuplot prints, and stdin is closed so a stray
        // `pause` cannot hang the pipeline.
        let outURL = directory.appendingPathComponent(".gnuplot.stdout")
        let errURL = directory.appendingPathComponent(".gnuplot.stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        do {
            try Children.start(process)
        } catch {
            throw ReportError.gnuplotFailed("cannot start \(executable.path): \(error)")
        }
        // A script that waits for input or loops must not hang the pipeline.
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                Children.wait(process)
                throw ReportError.gnuplotFailed("\(script) did not finish within \(Int(timeout)) s; stopped")
            }
            usleep(5_000)
        }
        Children.wait(process)
        let stderrText = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        let stdoutSize = (try? Data(contentsOf: outURL).count) ?? 0
        let problems = stderrText.split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        if process.terminationReason != .exit || process.terminationStatus != 0 {
            throw ReportError.gnuplotFailed(
                "\(script) exited with status \(process.terminationStatus): " + problems.joined(separator: " | "))
        }
        if !problems.isEmpty {
            throw ReportError.gnuplotFailed("\(script) reported: " + problems.joined(separator: " | "))
        }
        if stdoutSize > 0 {
            throw ReportError.gnuplotFailed("\(script) wrote \(stdoutSize) bytes to stdout (bad output path?)")
        }
    }
}

extension Figure {
    /// The data file: one gnuplot index block per series (two blank lines apart), each with a comment header.
    /// Columns: x, y, y error (0 when none), label ("" when none).
    public func dataFile(name: String) -> String {
        var lines = ["# cprec-repro figure data: \(name)"]
        lines += provenance.entries.map { "# \($0.key): \($0.value)" }
        var index = 0
        for (p, panel) in panels.enumerated() {
            for s in panel.series {
                if index > 0 { lines += ["", ""] }
                lines.append("# index \(index): panel \(p + 1)\(panel.title.map { " '\($0)'" } ?? ""), series '\(s.name)'")
                lines.append("# x\ty\ty_error\tlabel")
                for pt in s.points {
                    let label = (pt.label ?? "").replacingOccurrences(of: "\"", with: "'")
                        .replacingOccurrences(of: "\n", with: " ")
                    lines.append("\(Escape.number(pt.x))\t\(Escape.number(pt.y))\t\(Escape.number(pt.yError ?? 0))\t\"\(label)\"")
                }
                index += 1
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The gnuplot script; run from the folder holding `name.dat` it writes `name.png` and `name.svg`.
    public func script(name: String) -> String {
        let width = panelWidth * columns
        let height = panelHeight * rows + (title == nil ? 0 : 30)
        let data = Escape.gnuplot("\(name).dat")
        var l: [String] = []
        l.append("# Generated by the cprec-repro pipeline (Reports). Render by hand: gnuplot \(name).gp")
        l.append("# (run it in the folder holding \(name).dat; it writes \(name).png and \(name).svg).")
        l += provenance.entries.map { "# \($0.key): \($0.value)" }
        l.append("do for [fmt in \"png svg\"] {")
        l.append("    if (fmt eq \"png\") {")
        l.append("        set terminal pngcairo noenhanced size \(width),\(height) font 'sans,11'")
        l.append("    } else {")
        l.append("        set terminal svg noenhanced size \(width),\(height) font 'sans,11' background rgb 'white'")
        l.append("    }")
        l.append("    # labels such as MRR@5 are printed verbatim, not as enhanced-text markup")
        l.append("    set termoption noenhanced")
        l.append("    set output \(Escape.gnuplot("\(name).")) . fmt")
        let multiTitle = title.map { " title \(Escape.gnuplot($0))" } ?? ""
        l.append("    set multiplot layout \(rows),\(columns)\(multiTitle)")
        var index = 0
        for (p, panel) in panels.enumerated() {
            l.append("    # panel \(p + 1)")
            l.append("    unset logscale; unset arrow; unset label; unset title; set autoscale")
            l.append("    set format x '% h'; set format y '% h'; set offsets 0, 0, 0, 0")
            l.append("    set grid lc rgb '#dddddd'")
            if let t = panel.title { l.append("    set title \(Escape.gnuplot(t))") }
            l.append("    set xlabel \(Escape.gnuplot(panel.xLabel))")
            l.append("    set ylabel \(Escape.gnuplot(panel.yLabel))")
            // Counts on log axes read better as "10k", "1M" than as "1e+06".
            let xs = panel.series.flatMap { $0.points.map(\.x) }
            let ys = panel.series.flatMap { $0.points.map(\.y) }
            if panel.xLog {
                l.append("    set logscale x 10")
                if xs.allSatisfy({ $0 >= 1 }) { l.append("    set format x '%.0s%c'") }
            }
            if panel.yLog {
                l.append("    set logscale y 10")
                if ys.allSatisfy({ $0 >= 1 }) { l.append("    set format y '%.0s%c'") }
            }
            l.append("    set xtics " + tics(panel.xTics))
            l.append("    set ytics " + tics(panel.yTics))
            l.append("    set xrange " + range(panel.xRange))
            l.append("    set yrange " + range(panel.yRange))
            // With explicit ticks, autoscaling to the next default tick (a whole decade on a log axis) would
            // squash the data; fit the data with a small margin instead.
            let fitX = panel.xTics != nil && panel.xRange == nil
            let fitY = panel.yTics != nil && panel.yRange == nil
            if fitX { l.append("    set autoscale xfix") }
            if fitY { l.append("    set autoscale yfix") }
            if fitX || fitY {
                let h = fitX ? "graph 0.05" : "0"
                let v = fitY ? "graph 0.05" : "0"
                l.append("    set offsets \(h), \(h), \(v), \(v)")
            }
            l.append("    set key \(panel.legend.rawValue)")
            for m in panel.markers {
                let x = Escape.number(m.x)
                l.append("    set arrow from first \(x), graph 0 to first \(x), graph 1 nohead dashtype 2 lc rgb 'gray50'")
                if let text = m.label {
                    l.append("    set label \(Escape.gnuplot(text)) at first \(x), graph 0.96 offset char 0.4,0 left font ',9' tc rgb 'gray30'")
                }
            }
            var elements: [String] = []
            for (k, s) in panel.series.enumerated() {
                let source = elements.isEmpty ? data : "''"
                let lt = "linetype \(k + 1) linewidth 2"
                let how: String
                switch (s.style, s.hasErrors) {
                case (.points, false): how = "using 1:2 with points \(lt) pointsize 1.2"
                case (.points, true): how = "using 1:2:3 with yerrorbars \(lt) pointsize 1.2"
                case (.lines, false): how = "using 1:2 with lines \(lt)"
                case (.linespoints, false): how = "using 1:2 with linespoints \(lt) pointsize 1.2"
                case (_, true): how = "using 1:2:3 with yerrorlines \(lt) pointsize 1.2"
                }
                elements.append("\(source) index \(index) \(how) title \(Escape.gnuplot(s.name))")
                if s.hasLabels {
                    elements.append("'' index \(index) using 1:2:4 with labels offset char 0.6,0.6 left font ',9' notitle")
                }
                index += 1
            }
            l.append("    plot " + elements.joined(separator: ", \\\n         "))
        }
        l.append("    unset multiplot")
        l.append("    set output")
        l.append("}")
        return l.joined(separator: "\n") + "\n"
    }

    private func tics(_ values: [Double]?) -> String {
        guard let values, !values.isEmpty else { return "autofreq" }
        return "(" + values.map(Escape.number).joined(separator: ", ") + ")"
    }

    private func range(_ r: ClosedRange<Double>?) -> String {
        guard let r else { return "[*:*]" }
        return "[\(Escape.number(r.lowerBound)):\(Escape.number(r.upperBound))]"
    }

    /// Writes only `name.dat` and `name.gp` (atomically), without running gnuplot.
    public func writeSources(to directory: URL, name: String) throws {
        try validate()
        try Self.checkName(name)
        try AtomicFile.write(dataFile(name: name), to: directory.appendingPathComponent("\(name).dat"))
        try AtomicFile.write(script(name: name), to: directory.appendingPathComponent("\(name).gp"))
    }

    /// Writes `name.dat` and `name.gp`, renders `name.png` and `name.svg` with gnuplot, verifies them, and
    /// moves all four into `directory` only when everything succeeded. Returns the four file URLs.
    @discardableResult
    public func render(to directory: URL, name: String, gnuplot: URL? = nil) throws -> [URL] {
        try validate()
        try Self.checkName(name)
        let executable = try gnuplot ?? Gnuplot.locate()
        try AtomicFile.createDirectory(directory)
        let temp = directory.appendingPathComponent(".\(name).render-\(UUID().uuidString)")
        try AtomicFile.createDirectory(temp)
        defer { try? FileManager.default.removeItem(at: temp) }

        let files = ["dat", "gp", "png", "svg"].map { "\(name).\($0)" }
        try AtomicFile.write(dataFile(name: name), to: temp.appendingPathComponent(files[0]))
        try AtomicFile.write(script(name: name), to: temp.appendingPathComponent(files[1]))
        try Gnuplot.run(script: files[1], in: temp, executable: executable)
        try Self.verifyRendered(png: temp.appendingPathComponent(files[2]), svg: temp.appendingPathComponent(files[3]))
        var written: [URL] = []
        for f in files {
            let destination = directory.appendingPathComponent(f)
            try AtomicFile.move(temp.appendingPathComponent(f), to: destination)
            written.append(destination)
        }
        return written
    }

    /// Checks that gnuplot really wrote the images: PNG signature and an SVG document.
    public static func verifyRendered(png: URL, svg: URL) throws {
        // gnuplot exits 0 with a missing or cut image when the disk is full: name the cause, not only the symptom.
        let cause = DiskCause.of(png.deletingLastPathComponent()).map { " (\($0))" } ?? ""
        guard let pngData = try? Data(contentsOf: png), pngData.count > 8 else {
            throw ReportError.gnuplotFailed("no PNG written at \(png.lastPathComponent)\(cause)")
        }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard Array(pngData.prefix(8)) == signature else {
            throw ReportError.gnuplotFailed("\(png.lastPathComponent) is not a PNG file\(cause)")
        }
        guard let svgText = try? String(contentsOf: svg, encoding: .utf8) else {
            throw ReportError.gnuplotFailed("no SVG written at \(svg.lastPathComponent)\(cause)")
        }
        let head = svgText.prefix(512)
        guard head.hasPrefix("<?xml") || head.hasPrefix("<svg"), head.contains("<svg"),
              svgText.contains("</svg>") else {
            throw ReportError.gnuplotFailed("\(svg.lastPathComponent) is not a complete SVG document\(cause)")
        }
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."),
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw ReportError.invalidFigure("name '\(name)' must be letters, digits, '-', '_' or '.' and not start with '.'")
        }
    }
}
