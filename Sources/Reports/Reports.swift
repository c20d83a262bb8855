// The Reports module; see README.md's module map. It depends on Foundation only and renders in-memory data:
//
// - `Table` → `paper-tables/<name>.{md,tex,csv}` (`Table.write(to:name:)`). Columns declared `paper: true`
//   show the paper's value beside ours (LaTeX: a \multicolumn group over "ours | paper"; Markdown and CSV:
//   "<column>" and "<column> paper"). CSV is the canonical, full-precision copy.
// - `Figure` → `figures/<name>.{dat,gp,png,svg}` (`Figure.render(to:name:)`), drawn by running gnuplot on
//   the written script, checked by exit status, stderr, and the files' magic bytes.
// - `MarkdownDocument` (REPORT.md), `LaTeXMacros` (`paper-tables/numbers.tex`), `ClaimsReport` and
//   `PaperComparison` (the claims check and paper-vs-ours tables of REPORT.md).
// Every file is written atomically (temporary file or folder, then rename).
