import Foundation

/// A histogram as a paper prints one, in the line chart's style: framed plot, light grid,
/// round ticks, axis labels, a title; bars of equal width from the data's smallest to largest
/// value, and a dashed line at the mean.
///
/// It draws the distribution of a metric over a dataset run (`summary`).
public struct Histogram: Sendable {
    public var title: String
    public var xLabel: String
    public var values: [Double]
    /// How many bars; chosen from the number of values when nil (√n, between 5 and 40).
    public var bins: Int?
    public var width: Int
    public var height: Int

    public init(title: String, xLabel: String, values: [Double], bins: Int? = nil, width: Int = 560, height: Int = 300) {
        self.title = title
        self.xLabel = xLabel
        self.values = values
        self.bins = bins
        self.width = width
        self.height = height
    }

    /// The bar edges and the count in each bar (the last bar includes its right edge, as
    /// numpy's `histogram`).
    public func counts() -> (edges: [Double], counts: [Int]) {
        let n = bins ?? Swift.min(40, Swift.max(5, Int(Double(values.count).squareRoot().rounded(.up))))
        let low = values.min() ?? 0, high = values.max() ?? 1
        let range = high > low ? (low, high) : (low - 0.5, high + 0.5)
        let step = (range.1 - range.0) / Double(n)
        let edges = (0...n).map { range.0 + Double($0) * step }
        var counts = [Int](repeating: 0, count: n)
        for v in values {
            let k = Swift.min(n - 1, Swift.max(0, Int(((v - range.0) / step).rounded(.down))))
            counts[k] += 1
        }
        return (edges, counts)
    }

    /// Draws the histogram.
    /// - Throws: `ImageError` without values, with a value that is not finite, or a picture
    ///   smaller than 200 × 150.
    public func render() throws -> RGBImage {
        guard !values.isEmpty else { throw ImageError("a histogram needs at least one value") }
        guard values.allSatisfy(\.isFinite) else { throw ImageError("a histogram's values must be finite numbers") }
        guard width >= 200, height >= 150 else { throw ImageError("a chart is at least 200×150 pixels, got \(width)×\(height)") }
        let (edges, counts) = counts()
        let font = try FontFace.standard()
        let tickSize = 12, labelSize = 13, titleSize = 15
        let tick = font.lineMetrics(pixelSize: tickSize), label = font.lineMetrics(pixelSize: labelSize)
        let heading = font.lineMetrics(pixelSize: titleSize)
        let xAxis = LineChart.Axis(range: edges[0]...(edges.last ?? 1))
        let yAxis = LineChart.Axis(range: 0...Double(Swift.max(1, counts.max() ?? 1)) * 1.05, most: 6)
        let yTicks = yAxis.ticks.filter { $0 == $0.rounded() }
        let yTickWidth = yTicks.map { font.width(of: String(Int($0)), pixelSize: tickSize) }.max() ?? 0
        let yLabel = "images"
        let left = 10 + label.height + 6 + yTickWidth + 6
        let top = title.isEmpty ? 12 : 10 + heading.height + 8
        let bottom = height - (6 + tick.height + 6 + label.height + 8)
        let right = width - 16
        guard right - left >= 40, bottom - top >= 40 else { throw ImageError("a chart of \(width)×\(height) pixels has no room left to plot in") }
        func px(_ x: Double) -> Double { Double(left) + (x - xAxis.range.lowerBound) / xAxis.span * Double(right - left) }
        func py(_ y: Double) -> Double { Double(bottom) - (y - yAxis.range.lowerBound) / yAxis.span * Double(bottom - top) }

        var canvas = RGBImage(width: width, height: height, color: .white)
        let grid = RGBColor(red: 232, green: 232, blue: 232), ink = RGBColor(red: 40, green: 40, blue: 40)
        for value in yTicks {
            let y = Int(py(value).rounded())
            canvas.fill(x: left, y: y, width: right - left, height: 1, color: grid)
            canvas.fill(x: left - 4, y: y, width: 4, height: 1, color: ink)
            let text = String(Int(value))
            font.draw(text, on: &canvas, x: left - 7 - font.width(of: text, pixelSize: tickSize),
                      baseline: y - tick.height / 2 + tick.ascent, pixelSize: tickSize, color: ink)
        }
        // The bars, a pixel apart, with a darker outline.
        let fill = LineChart.palette[0]
        let edge = RGBColor(red: 0x15, green: 0x53, blue: 0x7e)
        for (k, count) in counts.enumerated() where count > 0 {
            let x0 = Int(px(edges[k]).rounded()) + 1, x1 = Int(px(edges[k + 1]).rounded())
            let y0 = Int(py(Double(count)).rounded())
            guard x1 > x0, bottom > y0 else { continue }
            canvas.fill(x: x0, y: y0, width: x1 - x0, height: bottom - y0, color: edge)
            if x1 - x0 > 2, bottom - y0 > 1 {
                canvas.fill(x: x0 + 1, y: y0 + 1, width: x1 - x0 - 2, height: bottom - y0 - 1, color: fill)
            }
        }
        for value in xAxis.ticks {
            let x = Int(px(value).rounded())
            canvas.fill(x: x, y: bottom, width: 1, height: 5, color: ink)
            let text = xAxis.format(value)
            let w = font.width(of: text, pixelSize: tickSize)
            font.draw(text, on: &canvas, x: x - w / 2, baseline: bottom + 7 + tick.ascent, pixelSize: tickSize, color: ink)
        }
        // The mean, dashed, with its value.
        let mean = values.reduce(0, +) / Double(values.count)
        let mx = Int(px(mean).rounded())
        let red = LineChart.palette[3]
        for y in stride(from: top + 1, to: bottom, by: 6) { canvas.fill(x: mx, y: y, width: 2, height: Swift.min(3, bottom - y), color: red) }
        let meanText = "mean " + xAxis.format(mean)
        let meanWidth = font.width(of: meanText, pixelSize: tickSize)
        let textX = mx + 6 + meanWidth < right ? mx + 6 : mx - 6 - meanWidth
        font.draw(meanText, on: &canvas, x: textX, baseline: top + 4 + tick.ascent, pixelSize: tickSize, color: red)
        // The frame, titles and labels.
        canvas.fill(x: left, y: top, width: right - left + 1, height: 1, color: ink)
        canvas.fill(x: left, y: bottom, width: right - left + 1, height: 1, color: ink)
        canvas.fill(x: left, y: top, width: 1, height: bottom - top + 1, color: ink)
        canvas.fill(x: right, y: top, width: 1, height: bottom - top + 1, color: ink)
        if !title.isEmpty {
            let w = font.width(of: title, pixelSize: titleSize)
            font.draw(title, on: &canvas, x: (left + right - w) / 2, baseline: 10 + heading.ascent, pixelSize: titleSize, color: .black)
        }
        let xw = font.width(of: xLabel, pixelSize: labelSize)
        font.draw(xLabel, on: &canvas, x: (left + right - xw) / 2, baseline: height - 8 - label.height + label.ascent,
                  pixelSize: labelSize, color: .black)
        let turned = try LineChart.turned(yLabel, font: font, pixelSize: labelSize)
        canvas.paste(turned, x: 10, y: Swift.max((top + bottom - turned.height) / 2, 0))
        return canvas
    }
}
