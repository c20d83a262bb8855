// Figure tests run the real gnuplot (scripts/bootstrap.sh installs it; a missing gnuplot fails them loudly).
import Foundation
import Testing
@testable import Reports

/// A two-panel figure like the project's: a log–log long-tail plot with block boundaries, and a Pareto plot
/// with model names beside the points and error bars.
func sampleFigure() -> Figure {
    let frequencies = (1...2000).map { rank in DataPoint(Double(rank), 50_000 / pow(Double(rank), 1.1)) }
    let longTail = Panel(
        title: "Item frequency (long tail)", xLabel: "item rank", yLabel: "interactions",
        xLog: true, yLog: true,
        series: [Series("ml-latest (synthetic)", points: frequencies, style: .lines)],
        markers: [Marker(x: 200, label: "block 2"), Marker(x: 1000, label: "block 3")],
        legend: .bottomLeft)
    let models: [(String, Double, Double)] = [
        ("NextItNet", 61e6, 0.1012), ("CpRec-Cl", 9e6, 0.0981),
        ("CpRec-Cb", 14e6, 0.1031), ("Bo-NextItNet", 34e6, 0.1063)
    ]
    let pareto = Panel(
        title: "Accuracy vs size", xLabel: "parameters", yLabel: "MRR@5", xLog: true,
        series: [
            Series(
                "MRR@5 (ours)",
                points: models.map {
                    DataPoint($0.1, $0.2, yError: 0.002, label: $0.0)
                }, style: .points),
            Series("paper's O'Brien line", x: [5e6, 7e7], y: [0.097, 0.104], style: .lines)
        ],
        legend: .bottomRight)
    return Figure(
        title: "Sample figure: HR@5 & MRR@5", panels: [longTail, pareto],
        provenance: Provenance([("profile", "smoke"), ("git commit", "0123abc")]))
}

@Suite struct FigureTests {
    @Test func rendersPNGAndSVGThatGnuplotDrew() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = root.appendingPathComponent("figures")
        let written = try sampleFigure().render(to: dir, name: "sample")
        #expect(written.map(\.lastPathComponent) == ["sample.dat", "sample.gp", "sample.png", "sample.svg"])
        // Only the four results remain: the temporary render folder is gone.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
                == ["sample.dat", "sample.gp", "sample.png", "sample.svg"])
        let png = try Data(contentsOf: dir.appendingPathComponent("sample.png"))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(png.count > 10_000, "a drawn 1280×480 plot is well over 10 kB; got \(png.count) bytes")
        let svg = try String(contentsOf: dir.appendingPathComponent("sample.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<?xml"))
        #expect(svg.contains("<svg"))
        // noenhanced: "@" survives in labels and legend entries; the apostrophe survives gnuplot quoting.
        #expect(svg.contains("MRR@5 (ours)"))
        #expect(svg.contains("HR@5 &amp; MRR@5") || svg.contains("HR@5 & MRR@5"))
        #expect(svg.contains("O&apos;Brien") || svg.contains("O'Brien") || svg.contains("O&#39;Brien"))
        #expect(svg.contains("Bo-NextItNet"), "point labels are drawn")
        #expect(svg.contains("block 2"), "marker labels are drawn")
        // For looking at the picture: REPORTS_FIGURE_DIR=/tmp/figs swift test -c release --filter FigureTests
        if let keep = ProcessInfo.processInfo.environment["REPORTS_FIGURE_DIR"] {
            try sampleFigure().render(to: URL(fileURLWithPath: keep), name: "sample")
        }
    }

    @Test func scriptRerunsByHand() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try sampleFigure().render(to: root, name: "hand")
        let first = try Data(contentsOf: root.appendingPathComponent("hand.svg"))
        for ext in ["png", "svg"] { try FileManager.default.removeItem(at: root.appendingPathComponent("hand.\(ext)")) }
        // What a reader does: cd figures && gnuplot hand.gp
        try Gnuplot.run(script: "hand.gp", in: root, executable: try Gnuplot.locate())
        try Figure.verifyRendered(
            png: root.appendingPathComponent("hand.png"), svg: root.appendingPathComponent("hand.svg"))
        #expect(try Data(contentsOf: root.appendingPathComponent("hand.svg")) == first, "rerun reproduces the SVG")
    }

    @Test func dataFileHasOneCommentedBlockPerSeries() {
        let dat = sampleFigure().dataFile(name: "sample")
        let blocks = dat.components(separatedBy: "\n\n\n")
        #expect(blocks.count == 3)
        #expect(blocks[1].hasPrefix("# index 1: panel 2 'Accuracy vs size', series 'MRR@5 (ours)'"))
        #expect(blocks[1].contains("61000000\t0.1012\t0.002\t\"NextItNet\""))
        let gp = sampleFigure().script(name: "sample")
        #expect(gp.contains("set termoption noenhanced"))
        #expect(gp.contains("set multiplot layout 1,2"))
        // Labels are placed by LabelPlacement (pinned ranges, one `set label` each), not gnuplot's fixed offset.
        #expect(gp.contains("set label \(Escape.gnuplot("NextItNet")) at graph "))
        #expect(!gp.contains("with labels"))
    }

    /// The Pareto figure's TikTok panel: SASRec and Bo-SASRec sat 50 pixels apart at one height, and gnuplot's
    /// fixed offset printed both names over each other.
    @Test func closePointsGetLabelsThatDoNotOverlap() {
        let points = [
            DataPoint(215_000, 0.375, yError: 0.005, label: "Bo-SASRec"),
            DataPoint(330_000, 0.3752, yError: 0.004, label: "SASRec"),
            DataPoint(75_000, 0.355, label: "CpRec-SASRec-Cl"), DataPoint(80_000, 0.357, label: "CpRec-SASRec-Al"),
            DataPoint(70_000, 0.353, label: "CpRec-Cl"), DataPoint(400_000, 0.344, label: nil)
        ]
        let panel = Panel(
            xLabel: "parameters", yLabel: "MRR@5", xLog: true,
            series: [Series("models", points: points, style: .points)], legend: .bottomLeft)
        let frame = PanelFrame(panel, panelWidth: 620, panelHeight: 480)
        let placed = LabelPlacement.place(panel, in: frame)
        #expect(placed.map(\.text) == ["Bo-SASRec", "SASRec", "CpRec-SASRec-Cl", "CpRec-SASRec-Al", "CpRec-Cl"])
        let cw = PanelFrame.labelChar.width / frame.width, ch = PanelFrame.labelChar.height / frame.height
        let boxes = placed.map { l -> LabelPlacement.Box in
            let w = Double(l.text.count) * cw
            return .init(
                x0: l.rightAligned ? l.x - w : l.x, y0: l.y - ch / 2, x1: l.rightAligned ? l.x : l.x + w,
                y1: l.y + ch / 2)
        }
        for i in boxes.indices {
            #expect(
                boxes[i].x0 >= 0 && boxes[i].x1 <= 1 && boxes[i].y0 >= 0 && boxes[i].y1 <= 1,
                "\(placed[i].text) leaves the plot")
            for j in boxes.indices where j > i {
                #expect(boxes[i].overlap(boxes[j]) == 0, "\(placed[i].text) overlaps \(placed[j].text)")
            }
        }
        // No label covers a point: Bo-SASRec's name, right of its point, would have covered SASRec's marker.
        for p in points {
            let g = frame.graph(p.x, p.y)
            let marker = LabelPlacement.Box(
                x0: g.x - 4 / frame.width, y0: g.y - 4 / frame.height,
                x1: g.x + 4 / frame.width, y1: g.y + 4 / frame.height)
            for (l, b) in zip(placed, boxes) { #expect(b.overlap(marker) == 0, "\(l.text) covers the point at \(p.x)") }
        }
        #expect(placed[0].rightAligned)
    }

    /// MovieLens 100K's one-panel Pareto plot: the fixed bottom-left key covered two models' points.
    @Test func theKeyGoesWhereItCoversNoPointElseBelow() {
        func panel(_ points: [(Double, Double)]) -> Panel {
            Panel(
                xLabel: "x", yLabel: "y", xRange: 0...10, yRange: 0...10,
                series: [
                    Series("a rather long series name", points: points.map { DataPoint($0.0, $0.1) }, style: .points),
                    Series("another one", points: [DataPoint(5, 5)], style: .points)
                ])
        }
        #expect(panel([(5, 5)]).uncrowdedLegend(panelWidth: 640, panelHeight: 480) == .bottomLeft)
        #expect(panel([(0.5, 0.3)]).uncrowdedLegend(panelWidth: 640, panelHeight: 480) == .topLeft)
        #expect(
            panel([(0.5, 0.3), (0.5, 9.8), (9.5, 0.3), (9.5, 9.8)]).uncrowdedLegend(panelWidth: 640, panelHeight: 480)
                == .below)
        // An error bar through the key's text counts too, not only the point it belongs to.
        var bars = panel([(1, 6), (1.5, 9.5), (9, 9.5), (9, 0.5)])
        bars.series[0].points[0].yError = 5.8
        #expect(bars.uncrowdedLegend(panelWidth: 640, panelHeight: 480) == .below)
        let frame = PanelFrame(panel([(5, 5)]), panelWidth: 640, panelHeight: 480)
        var below = panel([(5, 5)])
        below.legend = .below
        #expect(
            PanelFrame(below, panelWidth: 640, panelHeight: 480).height < frame.height, "a key below takes plot height")
    }

    /// A key below the plot lays out its two columns sample first, text left-aligned, at full width: the old
    /// right-aligned text in shrunk columns ran into the next column's sample when one panel was narrow.
    @Test func aKeyBelowPutsEachSampleBeforeItsTextInFullWidthColumns() {
        var panel = Panel(
            xLabel: "x", yLabel: "y",
            series: (1...6).map { Series("series number \($0) with a long name", points: [DataPoint(1, 1)]) })
        panel.legend = .below
        let gp = Figure(panels: [panel]).script(name: "k")
        let key = gp.split(separator: "\n").first { $0.contains("set key below") }.map(String.init) ?? ""
        #expect(key.contains("maxrows 3") && key.contains("Left reverse") && !key.contains("width -"), "\(key)")
    }

    @Test func aLabelAtTheRightEdgeGoesLeftOfItsPoint() {
        let panel = Panel(
            xLabel: "x", yLabel: "y", xRange: 0...10,
            series: [
                Series(
                    "s", points: [DataPoint(1, 1), DataPoint(9.9, 2, label: "a long model name")],
                    style: .points)
            ], legend: .hidden)
        let frame = PanelFrame(panel, panelWidth: 640, panelHeight: 480)
        let placed = LabelPlacement.place(panel, in: frame)
        #expect(placed.count == 1 && placed[0].rightAligned)
    }

    @Test func logAxisWithZeroIsAnErrorAndWritesNothing() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let bad = Figure(
            Panel(
                xLabel: "rank", yLabel: "count", xLog: true, yLog: true,
                series: [Series("counts", x: [1, 2, 3], y: [10, 0, 3])]))
        #expect {
            try bad.render(to: root, name: "bad")
        } throws: { error in
            "\(error)".contains("y = 0.0 on a logarithmic y axis")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
        let negative = Figure(
            Panel(
                xLabel: "x", yLabel: "y", xLog: true,
                series: [Series("s", x: [-1, 2], y: [1, 2])]))
        #expect(throws: ReportError.self) { try negative.validate() }
        let nan = Figure(Panel(xLabel: "x", yLabel: "y", series: [Series("s", x: [1], y: [.nan])]))
        #expect(throws: ReportError.self) { try nan.validate() }
        let empty = Figure(Panel(xLabel: "x", yLabel: "y", series: [Series("s", points: [])]))
        #expect(throws: ReportError.self) { try empty.validate() }
    }

    @Test func badOutputDirectoryIsAnError() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let blocker = root.appendingPathComponent("figures")
        try Data("not a folder".utf8).write(to: blocker)
        #expect(throws: ReportError.self) { try sampleFigure().render(to: blocker, name: "f") }
        #expect(throws: ReportError.self) { try sampleFigure().render(to: root, name: "../escape") }
    }

    @Test func gnuplotWarningsAndErrorsFailEvenWithExitZero() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let gnuplot = try Gnuplot.locate()
        // gnuplot exits 0 after this warning (empty x range); we must not.
        try "set terminal svg\nset output 'w.svg'\nset xrange [1:1]\nplot x\n"
            .write(to: root.appendingPathComponent("warn.gp"), atomically: true, encoding: .utf8)
        #expect { try Gnuplot.run(script: "warn.gp", in: root, executable: gnuplot) } throws: { error in
            "\(error)".lowercased().contains("warning")
        }
        try "plot 'missing.dat'\n".write(to: root.appendingPathComponent("err.gp"), atomically: true, encoding: .utf8)
        #expect { try Gnuplot.run(script: "err.gp", in: root, executable: gnuplot) } throws: { error in
            "\(error)".contains("missing.dat")
        }
        // Output to a folder that does not exist: gnuplot would fall back to stdout.
        try "set terminal pngcairo\nset output 'nowhere/x.png'\nplot x\n"
            .write(to: root.appendingPathComponent("out.gp"), atomically: true, encoding: .utf8)
        #expect(throws: ReportError.self) { try Gnuplot.run(script: "out.gp", in: root, executable: gnuplot) }
    }

    @Test func missingGnuplotNamesTheInstallCommand() throws {
        #expect {
            _ = try Gnuplot.locate(path: "/nonexistent-bin:/also-not-here")
        } throws: { error in
            let m = "\(error)"
            return m.contains("scripts/bootstrap.sh") && m.contains("apt-get install gnuplot-nox")
        }
        #expect(try Gnuplot.locate().lastPathComponent == "gnuplot", "gnuplot must be installed (scripts/bootstrap.sh)")
    }
}

@Suite struct FigureStyleTests {
    /// Figure 1's shape: accuracy vs d on a log axis with explicit ticks, error bars over seeds, one panel.
    @Test func explicitTicksAndErrorLinesRender() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let d: [Double] = [64, 128, 256, 512]
        let fig = Figure(
            Panel(
                xLabel: "embedding dimension d", yLabel: "MRR@5", xLog: true,
                series: [
                    Series(
                        "NextItNet",
                        points: zip(d, [0.081, 0.090, 0.096, 0.099]).map {
                            DataPoint($0, $1, yError: 0.001)
                        })
                ],
                legend: .bottomRight, xTics: d),
            title: "Figure 1")
        let gp = fig.script(name: "fig1")
        #expect(gp.contains("set xtics (64, 128, 256, 512)"))
        #expect(gp.contains("with yerrorlines"))
        try fig.render(to: root, name: "fig1")
        let svg = try String(contentsOf: root.appendingPathComponent("fig1.svg"), encoding: .utf8)
        for tick in ["64", "128", "256", "512"] { #expect(svg.contains(">\(tick)<"), "tick \(tick) drawn") }
        if let keep = ProcessInfo.processInfo.environment["REPORTS_FIGURE_DIR"] {
            try fig.render(to: URL(fileURLWithPath: keep), name: "fig1")
        }
        let badTick = Figure(
            Panel(
                xLabel: "x", yLabel: "y", xLog: true, series: [Series("s", x: [1], y: [1])],
                xTics: [0, 1]))
        #expect(throws: ReportError.self) { try badTick.validate() }
    }
}

@Suite struct FigureBandAndPaletteTests {
    func banded() -> Figure {
        let mean = [DataPoint(1, 0.10, yError: 0.01), DataPoint(2, 0.14, yError: 0.02), DataPoint(3, 0.15, yError: 0)]
        let panel = Panel(
            xLabel: "epoch", yLabel: "MRR@5",
            series: [
                Series("NextItNet ± sd", points: mean, style: .band, linetype: 2, inKey: false),
                Series("NextItNet", points: mean.map { DataPoint($0.x, $0.y) }, style: .lines, linetype: 2)
            ])
        return Figure(panels: [panel])
    }

    @Test func aBandFillsMeanPlusMinusItsHalfWidthInItsLinesColourAndStaysOutOfTheKey() throws {
        let script = banded().script(name: "b")
        #expect(script.contains("using 1:($2-$3):($2+$3) with filledcurves linetype 2"))
        #expect(script.contains("notitle"))
        #expect(script.contains("with lines linetype 2 linewidth 2 title 'NextItNet'"))
        // The palette is Okabe–Ito, one entry per linetype.
        #expect(script.contains("set linetype 1 lc rgb '#0072B2'"))
        #expect(!script.contains("#F0E442"), "yellow is too light on white")
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try banded().render(to: root, name: "b")
    }

    @Test func aBandPointWithoutHalfWidthAndAnUnknownPaletteEntryAreErrors() {
        var f = banded()
        f.panels[0].series[0].points[1].yError = nil
        #expect(throws: ReportError.self) { try f.validate() }
        var g = banded()
        g.panels[0].series[1].linetype = Palette.colours.count + 1
        #expect(throws: ReportError.self) { try g.validate() }
    }
}
