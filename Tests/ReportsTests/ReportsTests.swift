// Tests for the Reports module: tables (goldens), escaping, macros, claims, Markdown documents.
//
// Golden files live in Tests/ReportsTests/Golden. After an intended change of output, regenerate them with
//     UPDATE_GOLDENS=1 swift test -c release --filter ReportsTests
// and review the diff before committing.
import Foundation
import Testing
import Reports

/// The representative table of the goldens: a column group, paper columns, missing cells, escaping, notes.
func sampleTable() -> Table {
    var t = Table(
        title: "Table 3: where to apply block-wise decomposition",
        caption: "Bi_/Bo_/Bio-NextItNet: block-wise input, output & both; 50% of items are #tail; cost in $.",
        columns: [
            .label("Model"),
            Column("MRR@5", format: .decimal(4), paper: true, group: "Accuracy"),
            Column("HR@5", format: .decimal(4), paper: true, group: "Accuracy", spread: true),
            Column("TT", unit: "min", format: .integer),
            Column("Params", format: .count, paper: true),
            Column("Share", format: .percent(1))
        ],
        groupTitle: "Dataset",
        notes: [
            "n/a: not measured; the paper's numbers are known only for Bo-NextItNet on Weishi.",
            "Params count input + output matrices ~ 4× smaller."
        ],
        provenance: Provenance([
            ("profile", "smoke"), ("git commit", "0123abc"),
            ("date", "2026-11-29T03:00:00Z"), ("host", "ci-host")
        ]))
    t.addGroup("Weishi")
    t.addRow([
        "NextItNet", .number(0.098765), .number(0.17, std: 0.00123), .number(1234.4), .number(136_000_000),
        .number(1)
    ])
    t.addRow([
        "Bo-NextItNet", .number(0.10234, paper: 0.1063), .number(0.18, paper: 0.1766),
        .number(66), .number(34_100_000, paper: 34_000_000, bold: true), .number(0.25)
    ])
    t.addGroup("ML-latest")
    t.addRow(["B1_NextItNet", .missing(), .optional(nil), .missing(), .number(1_234), Cell(.text("a, \"b\""))])
    return t
}

func goldenCheck(_ actual: String, _ file: String) throws {
    if ProcessInfo.processInfo.environment["UPDATE_GOLDENS"] == "1" {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
        try actual.write(to: dir.appendingPathComponent(file), atomically: true, encoding: .utf8)
        return
    }
    let url = try #require(Bundle.module.resourceURL?.appendingPathComponent("Golden/\(file)"))
    let expected = try String(contentsOf: url, encoding: .utf8)
    #expect(actual == expected, "\(file) differs from its golden; regenerate with UPDATE_GOLDENS=1 if intended")
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("reports-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite struct TableTests {
    @Test func markdownMatchesGolden() throws { try goldenCheck(sampleTable().markdown(), "table3.md") }
    @Test func latexMatchesGolden() throws { try goldenCheck(sampleTable().latex(label: "tab:table3"), "table3.tex") }
    @Test func csvMatchesGolden() throws { try goldenCheck(sampleTable().csv(), "table3.csv") }

    @Test func numberFormats() {
        #expect(NumberFormat.decimal(4).format(0.10634) == "0.1063")
        #expect(NumberFormat.decimal(2).format(-0.001) == "0.00")
        #expect(NumberFormat.signedDecimal(3).format(0.0125) == "+0.013")
        #expect(NumberFormat.signedDecimal(3).format(-0.0125) == "-0.013")
        #expect(NumberFormat.signedDecimal(2).format(0) == "0.00")
        #expect(NumberFormat.integer.format(1_234_567.4) == "1,234,567")
        #expect(NumberFormat.integer.format(-1_000) == "-1,000")
        #expect(NumberFormat.integer.format(999) == "999")
        #expect(NumberFormat.count.format(34_000_000) == "34M")
        #expect(NumberFormat.count.format(1_234) == "1.2K")
        #expect(NumberFormat.count.format(1_000) == "1K")
        #expect(NumberFormat.count.format(999) == "999")
        #expect(NumberFormat.count.format(999_950) == "1M")
        #expect(NumberFormat.count.format(9_960) == "10K")
        #expect(NumberFormat.count.format(2_500_000_000) == "2.5B")
        #expect(NumberFormat.percent(1).format(0.2346) == "23.5%")
        #expect(NumberFormat.percent(0).format(1) == "100%")
        #expect(NumberFormat.signedPercent(1).format(0.213) == "+21.3%")
        #expect(NumberFormat.times(1).format(4.04) == "4.0×")
        #expect(NumberFormat.decimal(4).format(.nan) == "n/a")
        #expect(NumberFormat.count.format(.infinity) == "n/a")
    }

    @Test func latexEscaping() {
        #expect(
            Escape.latex("a_b 50% & #1 $x ~ ^ {} \\")
                == "a\\_b 50\\% \\& \\#1 \\$x \\textasciitilde{} \\textasciicircum{} \\{\\} \\textbackslash{}")
        #expect(Escape.latex("MRR@5") == "MRR@5")
        #expect(Escape.latex("\"a\" (\"b\")") == "``a'' (``b'')")
        #expect(Escape.latex("4×, ±0.1, 4–8") == "4$\\times$, $\\pm$0.1, 4--8")
    }

    @Test func csvQuoting() {
        #expect(Escape.csv("plain") == "plain")
        #expect(Escape.csv("a,b") == "\"a,b\"")
        #expect(Escape.csv("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(Escape.csv("two\nlines") == "\"two\nlines\"")
        #expect(Escape.csv("crlf\r\nx") == "\"crlf\r\nx\"")
        #expect(Escape.csv("") == "")
    }

    @Test func csvKeepsFullPrecision() {
        var t = Table(columns: [.label("m"), Column("v", format: .decimal(2))])
        t.addRow(["x", .number(0.123456789012345)])
        t.addRow(["y", .number(34_000_000)])
        t.addRow(["z", .number(1e-7)])
        let lines = t.csv().split(separator: "\n").map(String.init)
        #expect(lines == ["m,v", "x,0.123456789012345", "y,34000000", "z,1e-07"])
        #expect(Double("1e-07") == 1e-7)
    }

    @Test func markdownEscapesPipes() {
        var t = Table(columns: [.label("a|b")])
        t.addRow([.text("x|y")])
        #expect(t.markdown().contains("| a\\|b |"))
        #expect(t.markdown().contains("| x\\|y |"))
    }

    @Test func writeIsAtomicAndComplete() throws {
        let dir = try temporaryDirectory().appendingPathComponent("nested/paper-tables")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent().deletingLastPathComponent()) }
        let t = sampleTable()
        try t.write(to: dir, name: "table3")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files == ["table3.csv", "table3.md", "table3.tex"])
        #expect(
            try String(contentsOf: dir.appendingPathComponent("table3.tex"), encoding: .utf8)
                .contains("\\label{tab:table3}"))
        #expect(try String(contentsOf: dir.appendingPathComponent("table3.csv"), encoding: .utf8) == t.csv())
    }

    @Test func writeIntoAFileFails() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let blocker = dir.appendingPathComponent("blocker")
        try Data("x".utf8).write(to: blocker)
        #expect(throws: ReportError.self) { try sampleTable().write(to: blocker, name: "t") }
    }

    @Test func raggedRowIsRejected() {
        var t = Table(columns: [.label("a"), Column("b")])
        t.groups = [RowGroup(title: nil, rows: [["x"]])]
        #expect(throws: ReportError.self) { try t.validate() }
    }
}

@Suite struct MacroTests {
    @Test func briefExample() {
        #expect(LaTeXMacros.mangle("table2/weishi/NextItNet/MRR@5") == "TableTwoWeishiNextItNetMRRFive")
        #expect(LaTeXMacros.mangle("d=512") == "DFiveOneTwo")
        #expect(LaTeXMacros.mangle("lr 0.001") == "LrZeroPointZeroZeroOne")
        #expect(LaTeXMacros.mangle("rel %") == "RelPercent")
        #expect(LaTeXMacros.mangle("") == "Empty")
        #expect(LaTeXMacros.mangle("été") == "T")
    }

    @Test func namesAreLettersOnlyAndUnique() {
        var macros = LaTeXMacros()
        // Keys chosen to collide after mangling.
        let keys =
            ["a_b", "aB", "a-b", "a b", "AB", "aBDupTwo", "x1", "x-1", "x_1"]
            + (0..<300).map { "table\($0 % 7)/row\($0)/MRR@\($0 % 3)" }
        var names: [String] = []
        for (i, k) in keys.enumerated() { names.append(macros.add(k, Double(i), format: .integer)) }
        #expect(Set(names).count == keys.count)
        for n in names { #expect(n.allSatisfy { $0.isASCII && $0.isLetter }, "\(n) is not letters-only") }
        #expect(macros.count == keys.count)
        #expect(macros.name(for: "aB") == "cprecABDupTwo")
        // Re-adding a key replaces its value and keeps its name.
        #expect(macros.add("a_b", text: "new") == "cprecAB")
        #expect(macros.count == keys.count)
        #expect(macros.text.contains("\\newcommand{\\cprecAB}{new}"))
    }

    @Test func everyNumberOfATable() {
        var macros = LaTeXMacros()
        let names = macros.add(table: sampleTable(), key: "table3")
        // 5 + 5 numbers in the Weishi rows, 1 in the ML-latest row (missing cells and text are skipped).
        #expect(names.count == 11)
        #expect(macros.name(for: "table3/Weishi/Bo-NextItNet/Params") == "cprecTableThreeWeishiBoNextItNetParams")
        #expect(macros.text.contains("\\newcommand{\\cprecTableThreeWeishiBoNextItNetParams}{34M}"))
        #expect(macros.text.contains("\\newcommand{\\cprecTableThreeWeishiNextItNetTTMin}{1,234}"))
        #expect(macros.text.contains("\\newcommand{\\cprecTableThreeWeishiNextItNetShare}{100.0\\%}"))
    }

    @Test func valuesAreEscapedAndFormatted() {
        var macros = LaTeXMacros()
        macros.add("table3/weishi/Bo-NextItNet/MRR@5", 0.10634, format: .decimal(4))
        macros.add("ratio", 0.5, format: .percent(0))
        let text = macros.text
        #expect(
            text.contains(
                "% table3/weishi/Bo-NextItNet/MRR@5\n\\newcommand{\\cprecTableThreeWeishiBoNextItNetMRRFive}{0.1063}"))
        #expect(text.contains("\\newcommand{\\cprecRatio}{50\\%}"))
    }
}

@Suite struct ClaimsTests {
    let claims = [
        Claim(
            id: "compression", statement: "up to 4∼8 times compression rates", source: "abstract",
            evidence: "Table 2: 5.1× (CpRec-Cb vs NextItNet, params 12M vs 61M)", verdict: .holds,
            measuredOn: "default / synth-ml"),
        Claim(
            id: "faster", statement: "CpRec is faster during training & inference", source: "abstract",
            evidence: "Table 2: TT 12 vs 10 min, \"slower\"", verdict: .doesNotHold, measuredOn: "default / synth-ml"),
        Claim(
            id: "coldrec", statement: "CpRec vs NextItNet on transfer learning", source: "Table 6 caption",
            evidence: "ColdRec data not provided", verdict: .notMeasurable, measuredOn: "default")
    ]

    @Test func markdownHasEveryClaimAndVerdict() {
        let md = ClaimsReport.markdown(claims)
        for c in claims {
            #expect(md.contains("| \(c.id) |"))
            #expect(md.contains("**\(c.verdict.rawValue)**"))
        }
        #expect(md.contains("Note: 3 claims: holds 1, does not hold 1, inconclusive 0, not measurable 1."))
    }

    @Test func csvQuotesAndRoundTripsColumns() {
        let lines = ClaimsReport.csv(claims).split(separator: "\n").map(String.init)
        #expect(lines[0] == "id,statement,source,evidence,verdict,measured_on")
        #expect(
            lines[2] == "faster,CpRec is faster during training & inference,abstract,"
                + "\"Table 2: TT 12 vs 10 min, \"\"slower\"\"\",does not hold,default / synth-ml")
        #expect(lines.count == 4)
    }

    @Test func comparisonDifferences() {
        let items = [
            PaperComparison(
                table: "Table 3", row: "Weishi / Bo-NextItNet", metric: "MRR@5",
                ours: 0.0957, paper: 0.1063),
            PaperComparison(
                table: "Table 3", row: "Weishi / Bo-NextItNet", metric: "HR@5",
                ours: nil, paper: 0.1766)
        ]
        #expect(abs(items[0].absoluteDifference! + 0.0106) < 1e-12)
        #expect(abs(items[0].relativeDifference! + 0.0106 / 0.1063) < 1e-12)
        let md = PaperComparison.table(items).markdown()
        #expect(md.contains("| Weishi / Bo-NextItNet | MRR@5 | 0.1063 | 0.0957 | -0.0106 | -10.0% |"))
        #expect(md.contains("| Weishi / Bo-NextItNet | HR@5 | 0.1766 | n/a | n/a | n/a |"))
    }
}

@Suite struct MarkdownDocumentTests {
    @Test func buildsBlocks() {
        var doc = MarkdownDocument()
        doc.heading("Report", level: 1)
        doc.paragraph("Results first.")
        doc.bullets(["one", "two\nlines"])
        doc.image("figures/fig1.png", alt: "Figure 1")
        doc.code("swift run -c release pipeline run 'table/*'", language: "sh")
        var t = Table(columns: [.label("k"), Column("v", format: .integer)])
        t.addRow(["a", 1])
        doc.table(t)
        #expect(
            doc.text == """
                # Report

                Results first.

                - one
                - two
                  lines

                ![Figure 1](figures/fig1.png)

                ```sh
                swift run -c release pipeline run 'table/*'
                ```

                | k | v |
                |:---|---:|
                | a | 1 |

                """)
    }
}
