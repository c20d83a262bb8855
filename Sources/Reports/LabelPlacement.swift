import Foundation

// gnuplot's `with labels` puts every label at one fixed offset from its point, so two points a few pixels apart
// print their names on top of each other (the Pareto figure's SASRec / Bo-SASRec). Labels are placed here instead:
// the panel's ranges are pinned so a point's place on the canvas is known before gnuplot runs, and each label takes
// the first of a few positions around its point that overlaps no placed label, no point, and not the key.

/// A panel's plotting frame: pinned axis ranges and the estimated pixel size of the plot area.
struct PanelFrame {
    var x: ClosedRange<Double>, y: ClosedRange<Double>
    var xLog: Bool, yLog: Bool
    /// Plot area in pixels (panel minus the tick labels, axis labels and title).
    var width: Double, height: Double

    /// Pixel size of one character of the 9-point label font and of a line of the 11-point key (pngcairo).
    static let labelChar = (width: 6.9, height: 13.0)
    static let keyChar = (width: 8.2, height: 17.0)

    /// The frame gnuplot will draw when the writer pins these ranges: given ranges win; otherwise the data (with
    /// error bars) padded by 6 % of the span, whole decades on a log axis.
    init(_ panel: Panel, panelWidth: Int, panelHeight: Int) {
        let points = panel.series.flatMap(\.points)
        func span(_ values: [Double], log: Bool, given: ClosedRange<Double>?) -> ClosedRange<Double> {
            if let given { return given }
            let lo = values.min() ?? 0, hi = values.max() ?? 1
            if log {
                let a = pow(10, floor(log10(lo))), b = pow(10, ceil(log10(hi)))
                return a < b ? a...b : a...(a * 10)
            }
            let pad = hi > lo ? (hi - lo) * 0.06 : max(abs(lo) * 0.1, 1)
            return (lo - pad)...(hi + pad)
        }
        x = span(points.map(\.x), log: panel.xLog, given: panel.xRange)
        let lows = points.map { $0.y - ($0.yError ?? 0) }, highs = points.map { $0.y + ($0.yError ?? 0) }
        y = span(panel.yLog ? points.map(\.y) : lows + highs, log: panel.yLog, given: panel.yRange)
        xLog = panel.xLog
        yLog = panel.yLog
        // Margins measured on the committed figures: ~10 characters of y tick labels and y label on the left, the x
        // tick labels and x label below, the panel title above; a key outside takes its width on the right.
        let entry = Double((panel.series.filter(\.inKey).map(\.name.count).max() ?? 0) + 6) * PanelFrame.keyChar.width
        let keyWidth = panel.legend == .outside ? entry : 0
        // A key below has two columns (FigureWriter).
        let keyHeight =
            panel.legend == .below
            ? Double((panel.series.filter(\.inKey).count + 1) / 2 + 1) * PanelFrame.keyChar.height : 0
        width = max(Double(panelWidth) - 95 - 25 - keyWidth, 50)
        height = max(Double(panelHeight) - 60 - 55 - keyHeight, 50)
    }

    /// Graph coordinates (0...1 across the plot area) of a data point.
    func graph(_ px: Double, _ py: Double) -> (x: Double, y: Double) {
        func f(_ v: Double, _ r: ClosedRange<Double>, _ log: Bool) -> Double {
            log
                ? (log10(v) - log10(r.lowerBound)) / (log10(r.upperBound) - log10(r.lowerBound))
                : (v - r.lowerBound) / (r.upperBound - r.lowerBound)
        }
        return (f(px, x, xLog), f(py, y, yLog))
    }
}

/// A label's chosen place: the text starts (or, right-aligned, ends) at graph coordinates (x, y), centred on y.
struct PlacedLabel: Equatable {
    var text: String
    var x: Double, y: Double
    var rightAligned: Bool
}

/// Greedy label placement in graph coordinates.
enum LabelPlacement {
    /// An axis-aligned box in graph coordinates.
    struct Box {
        var x0, y0, x1, y1: Double
        func overlap(_ o: Box) -> Double {
            max(0, min(x1, o.x1) - max(x0, o.x0)) * max(0, min(y1, o.y1) - max(y0, o.y0))
        }
        var area: Double { (x1 - x0) * (y1 - y0) }
    }

    /// Places each labelled point's text, in the order given, at the cheapest of eight positions around it: overlap
    /// with labels already placed costs most, then leaving the plot area, covering the key or a point, then crossing
    /// a drawn line or error bar; ties go to the earlier (preferred) position, right of and above the point as
    /// `with labels` did.
    static func place(_ panel: Panel, in frame: PanelFrame) -> [PlacedLabel] {
        let cw = PanelFrame.labelChar.width / frame.width, ch = PanelFrame.labelChar.height / frame.height
        let (markers, strokes) = obstacles(panel, frame)
        let key = keyBox(panel, frame)
        let gap = 0.7 * cw
        // (dx, dy) in label characters / lines, right-aligned when dx < 0.
        let offsets: [(Double, Double)] = [
            (1, 0.6), (1, -0.6), (-1, 0.6), (-1, -0.6), (1, 1.5), (-1, 1.5), (1, -1.5), (-1, -1.5)
        ]
        var placed: [(label: PlacedLabel, box: Box)] = []
        for s in panel.series {
            for p in s.points {
                guard let text = p.label, !text.isEmpty else { continue }
                let at = frame.graph(p.x, p.y)
                let w = Double(text.count) * cw
                var best: (cost: Double, label: PlacedLabel, box: Box)?
                for (rank, (dx, dy)) in offsets.enumerated() {
                    let right = dx < 0
                    let lx = at.x + (right ? -gap : gap), ly = at.y + dy * ch
                    let box = Box(x0: right ? lx - w : lx, y0: ly - ch / 2, x1: right ? lx : lx + w, y1: ly + ch / 2)
                    var cost = Double(rank) * 1e-6
                    cost += placed.reduce(0) { $0 + $1.box.overlap(box) } / box.area * 1000
                    cost += markers.reduce(0) { $0 + ($1.overlap(box) > 0 ? 1 : 0) } * 10
                    cost += strokes.reduce(0) { $0 + ($1.overlap(box) > 0 ? 1 : 0) } * 0.5
                    if let key { cost += key.overlap(box) / box.area * 100 }
                    let inside = Box(x0: 0, y0: 0, x1: 1, y1: 1).overlap(box) / box.area
                    cost += (1 - inside) * 50
                    if best == nil || cost < best!.cost {
                        best = (cost, PlacedLabel(text: text, x: lx, y: ly, rightAligned: right), box)
                    }
                }
                placed.append((best!.label, best!.box))
            }
        }
        return placed.map(\.label)
    }

    /// What a label or the key should not cover: point markers (about 9 pixels across), and drawn lines and error
    /// bars sampled as small boxes (a label across a line is readable but worse).
    static func obstacles(_ panel: Panel, _ frame: PanelFrame) -> (markers: [Box], strokes: [Box]) {
        let markers = panel.series.flatMap(\.points).map { frame.graph($0.x, $0.y) }.map {
            Box(
                x0: $0.x - 4.5 / frame.width, y0: $0.y - 4.5 / frame.height, x1: $0.x + 4.5 / frame.width,
                y1: $0.y + 4.5 / frame.height)
        }
        var strokes: [Box] = []
        func stroke(from a: (x: Double, y: Double), to b: (x: Double, y: Double)) {
            let n = Int((hypot(b.x - a.x, b.y - a.y) / 0.01).rounded(.up))
            for k in 0...max(n, 0) {
                let t = n == 0 ? 0 : Double(k) / Double(n)
                let x = a.x + (b.x - a.x) * t, y = a.y + (b.y - a.y) * t
                strokes.append(
                    Box(
                        x0: x - 1.5 / frame.width, y0: y - 1.5 / frame.height,
                        x1: x + 1.5 / frame.width, y1: y + 1.5 / frame.height))
            }
        }
        for s in panel.series {
            let g = s.points.map { frame.graph($0.x, $0.y) }
            if s.style != .points { for i in g.indices.dropFirst() { stroke(from: g[i - 1], to: g[i]) } }
            for p in s.points {
                if let e = p.yError, e > 0, !frame.yLog {
                    stroke(from: frame.graph(p.x, p.y - e), to: frame.graph(p.x, p.y + e))
                }
            }
        }
        return (markers, strokes)
    }

    /// Where an inside key sits, estimated from its entries (nil when hidden or outside).
    static func keyBox(_ panel: Panel, _ frame: PanelFrame) -> Box? {
        let corner: (left: Bool, top: Bool)
        switch panel.legend {
        case .topLeft: corner = (true, true)
        case .topRight: corner = (false, true)
        case .bottomLeft: corner = (true, false)
        case .bottomRight: corner = (false, false)
        case .outside, .below, .hidden: return nil
        }
        let chars = Double((panel.series.filter(\.inKey).map(\.name.count).max() ?? 0) + 8)
        let w = chars * PanelFrame.keyChar.width / frame.width
        let h = Double(panel.series.filter(\.inKey).count) * PanelFrame.keyChar.height / frame.height
        let x0 = corner.left ? 0 : 1 - w, y0 = corner.top ? 1 - h : 0
        return Box(x0: x0, y0: y0, x1: x0 + w, y1: y0 + h)
    }
}

extension Panel {
    /// The inside corner where the key covers no point and (nearly) no line or error bar, the least crossed first
    /// (ties in the order bottom left, top left, bottom right, top right), else `.below` the plot.
    public func uncrowdedLegend(panelWidth: Int, panelHeight: Int) -> LegendPosition {
        var best: (cost: Int, position: LegendPosition)?
        // An inside key leaves the plot area as it is, so one frame and one set of obstacles serve every corner.
        var panel = self
        panel.legend = .bottomLeft
        let frame = PanelFrame(panel, panelWidth: panelWidth, panelHeight: panelHeight)
        let (markers, strokes) = LabelPlacement.obstacles(panel, frame)
        for corner in [LegendPosition.bottomLeft, .topLeft, .bottomRight, .topRight] {
            panel.legend = corner
            guard let key = LabelPlacement.keyBox(panel, frame) else { continue }
            let points = markers.filter { $0.overlap(key) > 0 }.count
            let crossings = strokes.filter { $0.overlap(key) > 0 }.count
            // A few stroke samples is a line grazing the key's edge; more is an error bar running through its text.
            if points == 0, crossings <= 3, best == nil || crossings < best!.cost { best = (crossings, corner) }
        }
        return best?.position ?? .below
    }
}
