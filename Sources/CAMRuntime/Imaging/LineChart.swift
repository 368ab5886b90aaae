import Foundation

/// A line chart as a paper prints one: a framed plot area with light grid lines, ticks at round
/// values with their labels, axis labels (the y label turned on its side), a title, and a legend
/// in the corner the lines leave most empty. Lines are anti-aliased; points are marked when there
/// are few of them.
///
/// It draws deletion and insertion curves, so it is kept small: linear axes, one or more series.
public struct LineChart: Sendable {
    /// One line of the chart.
    public struct Series: Sendable {
        /// The legend's entry.
        public var name: String
        /// The x values, one per point.
        public var x: [Double]
        /// The y values, one per point.
        public var y: [Double]

        /// Creates a series; `x` and `y` pair up point by point.
        public init(name: String, x: [Double], y: [Double]) {
            self.name = name
            self.x = x
            self.y = y
        }
    }

    /// The line above the plot.
    public var title: String
    /// The x axis' label.
    public var xLabel: String
    /// The y axis' label.
    public var yLabel: String
    /// The lines, drawn in order, coloured from matplotlib's ten-colour cycle.
    public var series: [Series]
    /// The picture's width in pixels.
    public var width: Int
    /// The picture's height in pixels.
    public var height: Int
    /// The x axis' range; the data's when nil.
    public var xRange: ClosedRange<Double>?

    /// Creates a chart.
    public init(title: String, xLabel: String, yLabel: String, series: [Series], width: Int = 560, height: Int = 380,
                xRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.width = width
        self.height = height
        self.xRange = xRange
    }

    /// matplotlib's `tab10` colours, the cycle most published line charts use.
    public static let palette: [RGBColor] = [
        RGBColor(red: 0x1f, green: 0x77, blue: 0xb4), RGBColor(red: 0xff, green: 0x7f, blue: 0x0e),
        RGBColor(red: 0x2c, green: 0xa0, blue: 0x2c), RGBColor(red: 0xd6, green: 0x27, blue: 0x28),
        RGBColor(red: 0x94, green: 0x67, blue: 0xbd), RGBColor(red: 0x8c, green: 0x56, blue: 0x4b),
        RGBColor(red: 0xe3, green: 0x77, blue: 0xc2), RGBColor(red: 0x7f, green: 0x7f, blue: 0x7f),
        RGBColor(red: 0xbc, green: 0xbd, blue: 0x22), RGBColor(red: 0x17, green: 0xbe, blue: 0xcf),
    ]

    /// Draws the chart.
    ///
    /// - Throws: `ImageError` when there is no series, a series is empty, its x and y differ in
    ///   length or hold a value that is not finite, the picture is smaller than 200 × 150, or
    ///   the bundled font cannot be read.
    public func render() throws -> RGBImage {
        guard !series.isEmpty else { throw ImageError("a chart needs at least one line") }
        for s in series {
            guard !s.x.isEmpty, s.x.count == s.y.count else {
                throw ImageError("the line \"\(s.name)\" has \(s.x.count) x values and \(s.y.count) y values; a chart needs one of each per point")
            }
            guard s.x.allSatisfy(\.isFinite), s.y.allSatisfy(\.isFinite) else {
                throw ImageError("the line \"\(s.name)\" holds a value that is not a finite number")
            }
        }
        guard width >= 200, height >= 150 else { throw ImageError("a chart is at least 200×150 pixels, got \(width)×\(height)") }
        let font = try FontFace.standard()
        let tickSize = 12, labelSize = 13, titleSize = 15
        let tick = font.lineMetrics(pixelSize: tickSize), label = font.lineMetrics(pixelSize: labelSize)
        let heading = font.lineMetrics(pixelSize: titleSize)

        let xs = series.flatMap(\.x), ys = series.flatMap(\.y)
        let xAxis = Axis(range: xRange ?? Self.padded(xs.min() ?? 0, xs.max() ?? 1, margin: 0))
        let yAxis = Axis(range: Self.padded(ys.min() ?? 0, ys.max() ?? 1, margin: 0.05))
        let yTickText = yAxis.ticks.map { yAxis.format($0) }
        let yTickWidth = yTickText.map { font.width(of: $0, pixelSize: tickSize) }.max() ?? 0

        // The plot area: room for the title above, tick labels and the x label below, the
        // turned y label and the tick labels on the left.
        let left = 10 + label.height + 6 + yTickWidth + 6
        let top = title.isEmpty ? 12 : 10 + heading.height + 8
        let bottom = height - (6 + tick.height + 6 + label.height + 8)
        let right = width - 16
        guard right - left >= 40, bottom - top >= 40 else { throw ImageError("a chart of \(width)×\(height) pixels has no room left to plot in") }
        let plot = Frame(left: left, top: top, right: right, bottom: bottom)
        func px(_ x: Double) -> Double { Double(plot.left) + (x - xAxis.range.lowerBound) / xAxis.span * Double(plot.right - plot.left) }
        func py(_ y: Double) -> Double { Double(plot.bottom) - (y - yAxis.range.lowerBound) / yAxis.span * Double(plot.bottom - plot.top) }

        var canvas = RGBImage(width: width, height: height, color: .white)
        let grid = RGBColor(red: 232, green: 232, blue: 232), ink = RGBColor(red: 40, green: 40, blue: 40)
        for (value, text) in zip(yAxis.ticks, yTickText) {
            let y = Int(py(value).rounded())
            canvas.fill(x: plot.left, y: y, width: plot.right - plot.left, height: 1, color: grid)
            canvas.fill(x: plot.left - 4, y: y, width: 4, height: 1, color: ink)
            let w = font.width(of: text, pixelSize: tickSize)
            font.draw(text, on: &canvas, x: plot.left - 7 - w, baseline: y - tick.height / 2 + tick.ascent, pixelSize: tickSize, color: ink)
        }
        for value in xAxis.ticks {
            let x = Int(px(value).rounded())
            canvas.fill(x: x, y: plot.top, width: 1, height: plot.bottom - plot.top, color: grid)
            canvas.fill(x: x, y: plot.bottom, width: 1, height: 5, color: ink)
            let text = xAxis.format(value)
            let w = font.width(of: text, pixelSize: tickSize)
            font.draw(text, on: &canvas, x: x - w / 2, baseline: plot.bottom + 7 + tick.ascent, pixelSize: tickSize, color: ink)
        }
        // The frame.
        canvas.fill(x: plot.left, y: plot.top, width: plot.right - plot.left + 1, height: 1, color: ink)
        canvas.fill(x: plot.left, y: plot.bottom, width: plot.right - plot.left + 1, height: 1, color: ink)
        canvas.fill(x: plot.left, y: plot.top, width: 1, height: plot.bottom - plot.top + 1, color: ink)
        canvas.fill(x: plot.right, y: plot.top, width: 1, height: plot.bottom - plot.top + 1, color: ink)

        // The lines, clipped to the plot area, then their points when they are few.
        let clip = Frame(left: plot.left + 1, top: plot.top + 1, right: plot.right - 1, bottom: plot.bottom - 1)
        for (n, s) in series.enumerated() {
            let color = Self.palette[n % Self.palette.count]
            let points = zip(s.x, s.y).map { (px($0), py($1)) }
            var coverage = Coverage(frame: clip)
            if points.count == 1 { coverage.disc(at: points[0], radius: 2.5) }
            for k in 1..<max(points.count, 1) { coverage.segment(points[k - 1], points[k], width: 2) }
            if points.count <= 40 { for p in points { coverage.disc(at: p, radius: 2.6) } }
            coverage.blend(color, onto: &canvas)
        }

        // Titles and labels.
        if !title.isEmpty {
            let w = font.width(of: title, pixelSize: titleSize)
            font.draw(title, on: &canvas, x: (plot.left + plot.right - w) / 2, baseline: 10 + heading.ascent, pixelSize: titleSize, color: .black)
        }
        let xw = font.width(of: xLabel, pixelSize: labelSize)
        font.draw(xLabel, on: &canvas, x: (plot.left + plot.right - xw) / 2, baseline: height - 8 - label.height + label.ascent,
                  pixelSize: labelSize, color: .black)
        if !yLabel.isEmpty {
            let turned = try Self.turned(yLabel, font: font, pixelSize: labelSize)
            canvas.paste(turned, x: 10, y: max((plot.top + plot.bottom - turned.height) / 2, 0))
        }
        try drawLegend(on: &canvas, plot: plot, points: series.map { s in zip(s.x, s.y).map { (px($0), py($1)) } }, font: font)
        return canvas
    }

    /// The legend, in the corner of the plot its lines cross least.
    private func drawLegend(on canvas: inout RGBImage, plot: Frame, points: [[(Double, Double)]], font: FontFace) throws {
        let size = 12
        let metrics = font.lineMetrics(pixelSize: size)
        let row = max(metrics.height, 14)
        let textWidth = series.map { font.width(of: $0.name, pixelSize: size) }.max() ?? 0
        let boxWidth = 8 + 22 + 6 + textWidth + 8, boxHeight = 6 + row * series.count + 6
        guard boxWidth < plot.right - plot.left - 8, boxHeight < plot.bottom - plot.top - 8 else { return }
        let corners = [(plot.right - 8 - boxWidth, plot.top + 8), (plot.right - 8 - boxWidth, plot.bottom - 8 - boxHeight),
                       (plot.left + 8, plot.top + 8), (plot.left + 8, plot.bottom - 8 - boxHeight)]
        // Sample the lines densely, so that a segment passing through a corner counts too.
        var samples: [(Double, Double)] = []
        for line in points {
            samples += line
            for k in 1..<max(line.count, 1) {
                for t in stride(from: 0.1, to: 1, by: 0.1) {
                    samples.append((line[k - 1].0 + (line[k].0 - line[k - 1].0) * t, line[k - 1].1 + (line[k].1 - line[k - 1].1) * t))
                }
            }
        }
        let (x0, y0) = corners.min { a, b in
            let inside: ((Int, Int)) -> Int = { c in
                samples.filter { $0.0 >= Double(c.0 - 4) && $0.0 <= Double(c.0 + boxWidth + 4) && $0.1 >= Double(c.1 - 4) && $0.1 <= Double(c.1 + boxHeight + 4) }.count
            }
            return inside(a) < inside(b)
        } ?? corners[0]
        let border = RGBColor(red: 204, green: 204, blue: 204)
        canvas.fill(x: x0, y: y0, width: boxWidth, height: boxHeight, color: border)
        canvas.fill(x: x0 + 1, y: y0 + 1, width: boxWidth - 2, height: boxHeight - 2, color: .white)
        for (n, s) in series.enumerated() {
            let centre = y0 + 6 + n * row + row / 2
            var coverage = Coverage(frame: Frame(left: x0, top: y0, right: x0 + boxWidth, bottom: y0 + boxHeight))
            coverage.segment((Double(x0 + 8), Double(centre)), (Double(x0 + 30), Double(centre)), width: 2)
            coverage.blend(Self.palette[n % Self.palette.count], onto: &canvas)
            font.draw(s.name, on: &canvas, x: x0 + 36, baseline: centre - metrics.height / 2 + metrics.ascent, pixelSize: size, color: .black)
        }
    }

    /// `text` drawn and turned a quarter to the left, to read bottom to top.
    static func turned(_ text: String, font: FontFace, pixelSize: Int) throws -> RGBImage {
        let metrics = font.lineMetrics(pixelSize: pixelSize)
        let w = max(font.width(of: text, pixelSize: pixelSize), 1)
        var flat = RGBImage(width: w, height: metrics.height, color: .white)
        font.draw(text, on: &flat, x: 0, baseline: metrics.ascent, pixelSize: pixelSize, color: .black)
        var pixels = [UInt8](repeating: 255, count: w * metrics.height * 3)
        for y in 0..<metrics.height {
            for x in 0..<w {
                // (x, y) goes to column y, row w − 1 − x.
                let source = (y * w + x) * 3, target = ((w - 1 - x) * metrics.height + y) * 3
                pixels[target] = flat.pixels[source]
                pixels[target + 1] = flat.pixels[source + 1]
                pixels[target + 2] = flat.pixels[source + 2]
            }
        }
        return RGBImage(width: metrics.height, height: w, pixels: pixels)
    }

    /// The data's range widened by `margin` of its span on each side (matplotlib's 5 %), or
    /// around the value when every value is the same.
    public static func padded(_ low: Double, _ high: Double, margin: Double) -> ClosedRange<Double> {
        if high > low {
            let pad = (high - low) * margin
            return (low - pad)...(high + pad)
        }
        let pad = low == 0 ? 1 : abs(low) * 0.1
        return (low - pad)...(high + pad)
    }

    /// A linear axis: its range, round tick values inside it, and how they are written.
    struct Axis {
        let range: ClosedRange<Double>
        let ticks: [Double]
        let step: Double

        init(range: ClosedRange<Double>, most: Int = 8) {
            self.range = range
            let raw = (range.upperBound - range.lowerBound) / Double(max(most - 1, 1))
            let power = pow(10, (log10(raw)).rounded(.down))
            let step = [1, 2, 2.5, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
            self.step = step
            let first = (range.lowerBound / step).rounded(.up)
            let last = (range.upperBound / step).rounded(.down)
            ticks = first <= last ? stride(from: first, through: last, by: 1).map { $0 * step } : [range.lowerBound]
        }

        var span: Double { range.upperBound - range.lowerBound }

        /// The tick's text: as many decimals as the step needs, or scientific notation for very
        /// small or very large values.
        func format(_ value: Double) -> String {
            let magnitude = max(abs(range.lowerBound), abs(range.upperBound))
            if magnitude >= 1e5 || magnitude < 1e-3 { return value == 0 ? "0" : String(format: "%.2g", value) }
            var decimals = max(0, Int(-log10(step).rounded(.down)))
            if (step / pow(10, -Double(decimals))).truncatingRemainder(dividingBy: 1) > 1e-9 { decimals += 1 }
            let text = String(format: "%.\(decimals)f", abs(value) < step * 1e-9 ? 0 : value)
            return text
        }
    }

    /// A rectangle of whole pixels, edges included.
    struct Frame {
        let left: Int, top: Int, right: Int, bottom: Int
    }

    /// How much of each pixel a line covers (the most any of its parts covers), so that the
    /// joints of a polyline are not painted twice.
    struct Coverage {
        let frame: Frame
        var alpha: [Float]

        init(frame: Frame) {
            self.frame = frame
            alpha = [Float](repeating: 0, count: max(frame.right - frame.left + 1, 0) * max(frame.bottom - frame.top + 1, 0))
        }

        /// A segment `width` pixels wide with round ends.
        mutating func segment(_ a: (Double, Double), _ b: (Double, Double), width: Double) {
            let half = width / 2
            let (dx, dy) = (b.0 - a.0, b.1 - a.1)
            let length2 = dx * dx + dy * dy
            cover(minX: min(a.0, b.0) - half - 1, maxX: max(a.0, b.0) + half + 1,
                  minY: min(a.1, b.1) - half - 1, maxY: max(a.1, b.1) + half + 1) { x, y in
                let t = length2 > 0 ? max(0, min(1, ((x - a.0) * dx + (y - a.1) * dy) / length2)) : 0
                let (ex, ey) = (x - a.0 - t * dx, y - a.1 - t * dy)
                return half + 0.5 - (ex * ex + ey * ey).squareRoot()
            }
        }

        /// A filled disc.
        mutating func disc(at centre: (Double, Double), radius: Double) {
            cover(minX: centre.0 - radius - 1, maxX: centre.0 + radius + 1, minY: centre.1 - radius - 1, maxY: centre.1 + radius + 1) { x, y in
                radius + 0.5 - ((x - centre.0) * (x - centre.0) + (y - centre.1) * (y - centre.1)).squareRoot()
            }
        }

        /// Raises the coverage of the pixels in the box to `amount(x, y)` (clamped to 0…1), the
        /// pixel's centre at (x, y).
        private mutating func cover(minX: Double, maxX: Double, minY: Double, maxY: Double, _ amount: (Double, Double) -> Double) {
            let x0 = max(Int(minX.rounded(.down)), frame.left), x1 = min(Int(maxX.rounded(.up)), frame.right)
            let y0 = max(Int(minY.rounded(.down)), frame.top), y1 = min(Int(maxY.rounded(.up)), frame.bottom)
            guard x0 <= x1, y0 <= y1 else { return }
            let stride = frame.right - frame.left + 1
            for y in y0...y1 {
                for x in x0...x1 {
                    let a = Float(max(0, min(1, amount(Double(x), Double(y)))))
                    let k = (y - frame.top) * stride + (x - frame.left)
                    if a > alpha[k] { alpha[k] = a }
                }
            }
        }

        /// Paints `color` over `canvas` in proportion to the coverage.
        func blend(_ color: RGBColor, onto canvas: inout RGBImage) {
            let stride = frame.right - frame.left + 1
            for (k, a) in alpha.enumerated() where a > 0 {
                let (x, y) = (frame.left + k % stride, frame.top + k / stride)
                guard x >= 0, x < canvas.width, y >= 0, y < canvas.height else { continue }
                let old = canvas[x, y]
                func mix(_ o: UInt8, _ n: UInt8) -> UInt8 { UInt8((Float(o) * (1 - a) + Float(n) * a).rounded()) }
                canvas[x, y] = RGBColor(red: mix(old.red, color.red), green: mix(old.green, color.green), blue: mix(old.blue, color.blue))
            }
        }
    }
}
