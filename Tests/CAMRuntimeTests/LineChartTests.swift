import XCTest
@testable import CAMRuntime

/// The chart that draws deletion and insertion curves: round ticks, the lines in their colours
/// inside the frame, and clear refusals of data it cannot draw.
final class LineChartTests: XCTestCase {
    func testTicksAreRoundValuesInsideTheRange() {
        let unit = LineChart.Axis(range: 0...1)
        XCTAssertEqual(unit.ticks.map { ($0 * 10).rounded() / 10 }, [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(unit.ticks.map(unit.format), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let logits = LineChart.Axis(range: -3.2...57.9)
        XCTAssertEqual(logits.ticks, [0, 10, 20, 30, 40, 50])
        XCTAssertEqual(logits.ticks.map(logits.format), ["0", "10", "20", "30", "40", "50"])
        let quarter = LineChart.Axis(range: 0...0.1)
        XCTAssertEqual(quarter.ticks.map(quarter.format), ["0.00", "0.02", "0.04", "0.06", "0.08", "0.10"])
        let odd = LineChart.Axis(range: 0...0.5)
        XCTAssertEqual(odd.ticks.map(odd.format), ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5"])
        let tiny = LineChart.Axis(range: 0...4e-5)
        XCTAssertTrue(tiny.ticks.map(tiny.format).contains("2e-05"), "\(tiny.ticks.map(tiny.format))")
    }

    func testAConstantLineGetsARange() {
        XCTAssertEqual(LineChart.padded(3, 3, margin: 0.05), 2.7...3.3)
        XCTAssertEqual(LineChart.padded(0, 0, margin: 0.05), -1...1)
    }

    func testTheLinesAreDrawnInTheirColoursInsideTheFrame() throws {
        let falling = LineChart.Series(name: "deletion", x: [0, 0.5, 1], y: [1, 0.4, 0])
        let rising = LineChart.Series(name: "insertion", x: [0, 0.5, 1], y: [0, 0.7, 1])
        let image = try LineChart(title: "Curves", xLabel: "fraction", yLabel: "score", series: [falling, rising]).render()
        XCTAssertEqual(image.width, 560)
        XCTAssertEqual(image.height, 380)
        var counts = [RGBColor: Int]()
        for y in 0..<image.height { for x in 0..<image.width { counts[image[x, y], default: 0] += 1 } }
        // Both palette colours appear at full strength (the lines' cores), and plenty of white.
        XCTAssertGreaterThan(counts[LineChart.palette[0], default: 0], 300)
        XCTAssertGreaterThan(counts[LineChart.palette[1], default: 0], 300)
        XCTAssertGreaterThan(counts[.white, default: 0], image.width * image.height / 2)
        // Text is drawn (dark anti-aliased glyphs besides the frame's ink).
        XCTAssertGreaterThan(counts.keys.filter { $0.red < 100 && $0.red == $0.green && $0.green == $0.blue }.count, 10)
    }

    func testBadDataIsRefused() {
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "", series: []).render())
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "",
                                           series: [.init(name: "a", x: [0, 1], y: [1])]).render()) { error in
            XCTAssertTrue("\(error)".contains("2 x values and 1 y values"), "\(error)")
        }
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "",
                                           series: [.init(name: "a", x: [0, 1], y: [1, .nan])]).render())
        XCTAssertThrowsError(try LineChart(title: "", xLabel: "", yLabel: "",
                                           series: [.init(name: "a", x: [0], y: [1])], width: 100, height: 100).render())
    }
}
