import Foundation
import XCTest
@testable import CAMRuntime

/// The vectorised exp and erf against the double-precision functions, over their whole useful
/// range and at the edges where the range reduction or the branch changes.
final class VectorMathTests: XCTestCase {
    /// Every `step`-th float bit pattern between `low` and `high` (both signs' ranges walk the bits,
    /// so every binade is sampled alike), plus the given edge values.
    private func samples(_ low: Float, _ high: Float, count: Int, edges: [Float]) -> [Float] {
        var values = edges
        for i in 0..<count {
            let t = Double(i) / Double(count - 1)
            values.append(Float(Double(low) + (Double(high) - Double(low)) * t))
        }
        var bits = UInt32(0x3380_0000)   // 6e-8: small magnitudes, binade by binade
        while Float(bitPattern: bits) < Swift.max(Swift.abs(low), Swift.abs(high)) {
            let v = Float(bitPattern: bits)
            if v >= low && v <= high { values.append(v) }
            if -v >= low && -v <= high { values.append(-v) }
            bits += 0x0001_3579
        }
        return values
    }

    private func apply(_ values: [Float], _ f: (VectorMath.Vector) -> VectorMath.Vector) -> [Float] {
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                guard let sp = s.baseAddress, let op = o.baseAddress else { return }
                VectorMath.map(sp, op, count: values.count, f)
            }
        }
        return out
    }

    func testExpIsWithinTwoULPOverTheNormalRange() {
        let xs = samples(-86.5, 88.7, count: 200_001, edges: [0, -0, 1, -1, 88.72, -86.5, 0.3465736, -0.3465736])
        let ys = apply(xs, VectorMath.exp)
        var worst: Double = 0, at: Float = 0
        for (x, y) in zip(xs, ys) {
            let exact = Foundation.exp(Double(x))
            let ulp = Double(Float(exact).ulp)
            let error = Swift.abs(Double(y) - exact) / ulp
            if error > worst { (worst, at) = (error, x) }
        }
        XCTAssertLessThanOrEqual(worst, 2, "worst error \(worst) ulp at x = \(at)")
    }

    func testExpEdges() {
        let xs: [Float] = [-.infinity, -1000, -87.5, 89, 1000, .infinity, .nan, 0]
        let ys = apply(xs, VectorMath.exp)
        XCTAssertEqual(Array(ys[0..<3]), [0, 0, 0])
        XCTAssertEqual(Array(ys[3..<6]), [.infinity, .infinity, .infinity])
        XCTAssertTrue(ys[6].isNaN)
        XCTAssertEqual(ys[7], 1)
    }

    func testErfIsWithinItsStatedError() {
        let xs = samples(-6, 6, count: 200_001, edges: [0, 0.5, -0.5, 0.49999997, 0.50000006, 1e-30, -1e-30])
        let ys = apply(xs, VectorMath.erf)
        var worstAbsolute: Double = 0, worstRelative: Double = 0, at: Float = 0
        for (x, y) in zip(xs, ys) {
            let exact = Foundation.erf(Double(x))
            let error = Swift.abs(Double(y) - exact)
            if error > worstAbsolute { (worstAbsolute, at) = (error, x) }
            if exact != 0 { worstRelative = Swift.max(worstRelative, error / Swift.abs(exact)) }
        }
        XCTAssertLessThanOrEqual(worstAbsolute, 3e-7, "at x = \(at)")
        XCTAssertLessThanOrEqual(worstRelative, 5e-7, "relative")
        let edges = apply([.infinity, -.infinity, .nan, 30, -30], VectorMath.erf)
        XCTAssertEqual(Array(edges[0..<2]), [1, -1])
        XCTAssertTrue(edges[2].isNaN)
        XCTAssertEqual(Array(edges[3..<5]), [1, -1])
    }

    /// A softmax row's exponentials and their sum, tail included (length not a multiple of 16).
    func testExponentialsOfARow() {
        let row: [Float] = (0..<37).map { Float($0) * 0.37 - 5 }
        let shift = row.max() ?? 0
        var out = [Float](repeating: 0, count: row.count)
        let sum = row.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o -> Float in
                guard let sp = s.baseAddress, let op = o.baseAddress else { return 0 }
                return VectorMath.exponentials(sp, op, count: row.count, shift: shift)
            }
        }
        let exact = row.map { Foundation.exp(Double($0 - shift)) }
        for (y, e) in zip(out, exact) { XCTAssertEqual(Double(y), e, accuracy: e * 3e-7) }
        XCTAssertEqual(Double(sum), exact.reduce(0, +), accuracy: 1e-5)
    }
}
