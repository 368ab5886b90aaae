import CAMRuntime
import XCTest

/// The dataset summary's histogram: numpy's binning, and a chart that shows its bars.
final class HistogramTests: XCTestCase {
    func testCountsFollowNumpysHistogram() {
        // numpy.histogram([0, 1, 1, 2, 3, 10], bins=5): edges 0, 2, 4, 6, 8, 10; counts 3, 2, 0, 0, 1
        // (the last bar includes 10).
        let h = Histogram(title: "", xLabel: "x", values: [0, 1, 1, 2, 3, 10], bins: 5)
        let (edges, counts) = h.counts()
        XCTAssertEqual(edges, [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(counts, [3, 2, 0, 0, 1])
        // One value: one bar around it; the default bar count is √n within 5…40.
        XCTAssertEqual(Histogram(title: "", xLabel: "x", values: [3]).counts().counts.reduce(0, +), 1)
        XCTAssertEqual(Histogram(title: "", xLabel: "x", values: (0..<400).map(Double.init)).counts().counts.count, 20)
        XCTAssertEqual(Histogram(title: "", xLabel: "x", values: [1, 2]).counts().counts.count, 5)
    }

    func testTheChartDrawsBarsInTheFirstPaletteColour() throws {
        let image = try Histogram(title: "score over 6 images", xLabel: "score", values: [0, 1, 1, 2, 3, 10], bins: 5).render()
        XCTAssertEqual(image.width, 560)
        XCTAssertEqual(image.height, 300)
        let blue = LineChart.palette[0]
        var bar = 0
        for y in 0..<image.height { for x in 0..<image.width where image[x, y] == blue { bar += 1 } }
        XCTAssertGreaterThan(bar, 5_000, "the bars are drawn")
        XCTAssertThrowsError(try Histogram(title: "", xLabel: "x", values: []).render())
        XCTAssertThrowsError(try Histogram(title: "", xLabel: "x", values: [1, .nan]).render())
    }
}
