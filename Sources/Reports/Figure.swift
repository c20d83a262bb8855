import Foundation

/// One plotted point; `yError` draws an error bar, `label` writes text beside the point (e.g. a model name).
public struct DataPoint: Sendable, Hashable {
    public var x: Double
    public var y: Double
    public var yError: Double?
    public var label: String?

    public init(_ x: Double, _ y: Double, yError: Double? = nil, label: String? = nil) {
        self.x = x
        self.y = y
        self.yError = yError
        self.label = label
    }
}

/// How a series is drawn. `band` fills y ± yError (e.g. mean ± sd over seeds) in a light tone of its colour.
public enum SeriesStyle: String, Sendable, Hashable {
    case lines, points, linespoints, band
}

/// A named sequence of points in one panel.
public struct Series: Sendable, Hashable {
    /// Legend entry (kept verbatim: "MRR@5" keeps its "@").
    public var name: String
    public var points: [DataPoint]
    public var style: SeriesStyle
    /// The palette entry (1-based) to draw with; nil takes the series' position in its panel. Series of one model
    /// (a band, its mean line, its selected epochs) share one entry so they read as one colour.
    public var linetype: Int? = nil
    /// False leaves the series out of the key (a band beside its line, a reference line that is not data).
    public var inKey: Bool = true

    public init(
        _ name: String, points: [DataPoint], style: SeriesStyle = .linespoints, linetype: Int? = nil,
        inKey: Bool = true
    ) {
        self.name = name
        self.points = points
        self.style = style
        self.linetype = linetype
        self.inKey = inKey
    }

    /// A series from parallel x and y arrays.
    public init(_ name: String, x: [Double], y: [Double], style: SeriesStyle = .linespoints) {
        precondition(x.count == y.count, "series \(name): \(x.count) x values but \(y.count) y values")
        self.init(name, points: zip(x, y).map { DataPoint($0, $1) }, style: style)
    }

    var hasErrors: Bool { points.contains { $0.yError != nil } }
    var hasLabels: Bool { points.contains { $0.label != nil } }
}

/// A vertical line across a panel at `x` (e.g. a block boundary on the long-tail plot), optionally labelled.
public struct Marker: Sendable, Hashable {
    public var x: Double
    public var label: String?
    public init(x: Double, label: String? = nil) {
        self.x = x
        self.label = label
    }
}

/// Where a panel's legend goes.
public enum LegendPosition: String, Sendable, Hashable {
    case topLeft = "top left", topRight = "top right", bottomLeft = "bottom left", bottomRight = "bottom right"
    case outside = "outside right top", below = "below", hidden = "off"
}

/// One plot area of a figure: axes, scales, series and annotations.
public struct Panel: Sendable, Hashable {
    public var title: String?
    public var xLabel: String
    public var yLabel: String
    public var xLog: Bool
    public var yLog: Bool
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var series: [Series]
    public var markers: [Marker]
    public var legend: LegendPosition
    /// Explicit tick positions (e.g. d = 64, 128, 256, 512 on a log axis); nil lets gnuplot choose.
    public var xTics: [Double]?
    public var yTics: [Double]?

    public init(
        title: String? = nil, xLabel: String, yLabel: String, xLog: Bool = false, yLog: Bool = false,
        xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
        series: [Series], markers: [Marker] = [], legend: LegendPosition = .topRight,
        xTics: [Double]? = nil, yTics: [Double]? = nil
    ) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xLog = xLog
        self.yLog = yLog
        self.xRange = xRange
        self.yRange = yRange
        self.series = series
        self.markers = markers
        self.legend = legend
        self.xTics = xTics
        self.yTics = yTics
    }
}

/// A 2-D figure of one or more panels (a gnuplot multiplot), written as .dat + .gp and rendered to PNG and SVG.
public struct Figure: Sendable, Hashable {
    public var title: String?
    public var panels: [Panel]
    /// Grid of panels; defaults to one row.
    public var rows: Int
    public var columns: Int
    /// Pixel size of one panel; the image is columns × width by rows × height.
    public var panelWidth: Int
    public var panelHeight: Int
    /// Written as comment lines at the top of the .gp and .dat files.
    public var provenance: Provenance

    public init(
        title: String? = nil, panels: [Panel], rows: Int = 1, columns: Int? = nil,
        panelWidth: Int = 640, panelHeight: Int = 480, provenance: Provenance = Provenance()
    ) {
        self.title = title
        self.panels = panels
        self.rows = rows
        self.columns = columns ?? max(1, (panels.count + rows - 1) / max(rows, 1))
        self.panelWidth = panelWidth
        self.panelHeight = panelHeight
        self.provenance = provenance
    }

    /// A one-panel figure.
    public init(_ panel: Panel, title: String? = nil, provenance: Provenance = Provenance()) {
        self.init(title: title, panels: [panel], provenance: provenance)
    }

    /// Rejects what gnuplot would draw wrongly or silently drop: empty series, non-finite values,
    /// non-positive values on a log axis, a layout too small for the panels.
    public func validate() throws {
        func fail(_ m: String) -> ReportError { .invalidFigure(m) }
        guard !panels.isEmpty else { throw fail("no panels") }
        guard rows >= 1, columns >= 1, rows * columns >= panels.count else {
            throw fail("layout \(rows)×\(columns) cannot hold \(panels.count) panels")
        }
        guard panelWidth > 0, panelHeight > 0 else { throw fail("panel size must be positive") }
        for (p, panel) in panels.enumerated() {
            let where_ = "panel \(p + 1)" + (panel.title.map { " (\($0))" } ?? "")
            guard !panel.series.isEmpty else { throw fail("\(where_) has no series") }
            for range in [panel.xRange, panel.yRange].compactMap({ $0 }) {
                guard range.lowerBound.isFinite, range.upperBound.isFinite, range.lowerBound < range.upperBound else {
                    throw fail("\(where_) has an empty or non-finite axis range \(range)")
                }
            }
            if panel.xLog, let r = panel.xRange, r.lowerBound <= 0 {
                throw fail("\(where_): x axis is logarithmic but its range starts at \(r.lowerBound)")
            }
            if panel.yLog, let r = panel.yRange, r.lowerBound <= 0 {
                throw fail("\(where_): y axis is logarithmic but its range starts at \(r.lowerBound)")
            }
            for s in panel.series {
                if let t = s.linetype, !(1...Palette.colours.count).contains(t) {
                    throw fail("\(where_): series '\(s.name)' asks for palette entry \(t) of \(Palette.colours.count)")
                }
                guard !s.points.isEmpty else { throw fail("\(where_): series '\(s.name)' has no points") }
                for (i, pt) in s.points.enumerated() {
                    let at = "\(where_): series '\(s.name)' point \(i + 1)"
                    guard pt.x.isFinite, pt.y.isFinite else { throw fail("\(at) is not finite (\(pt.x), \(pt.y))") }
                    if let e = pt.yError, !(e.isFinite && e >= 0) { throw fail("\(at) has error bar \(e)") }
                    if s.style == .band, pt.yError == nil { throw fail("\(at) is in a band but has no half-width") }
                    if panel.xLog, pt.x <= 0 { throw fail("\(at) has x = \(pt.x) on a logarithmic x axis") }
                    if panel.yLog, pt.y <= 0 { throw fail("\(at) has y = \(pt.y) on a logarithmic y axis") }
                }
            }
            for t in (panel.xTics ?? []) where !t.isFinite || (panel.xLog && t <= 0) {
                throw fail("\(where_): x tick \(t) cannot be drawn on this x axis")
            }
            for t in (panel.yTics ?? []) where !t.isFinite || (panel.yLog && t <= 0) {
                throw fail("\(where_): y tick \(t) cannot be drawn on this y axis")
            }
            for m in panel.markers {
                guard m.x.isFinite, !panel.xLog || m.x > 0 else {
                    throw fail("\(where_): marker at x = \(m.x) cannot be drawn on this x axis")
                }
            }
        }
    }
}

/// Okabe & Ito's colour-blind-safe palette (yellow left out: too light on white), one filled marker per entry, so
/// series differ by shape as well as colour.
public enum Palette {
    public static let colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#7F7F7F"]
    static let pointTypes = [7, 5, 9, 13, 11, 15, 6, 4]
    /// The entry a reference (a front, a guide line) takes: black.
    public static let black = 7
}
