import XCTest
@testable import CAMRuntime

/// The 16-bit multiply-add kernels of `resampleHorizontally` / `resampleVertically` against
/// Pillow's loops written plainly below (one sample at a time), byte for byte: many sizes, both
/// filters, up- and down-scaling (including factors past 40), sub-ranges of outputs and rows as
/// `CropResamplePlan` uses them, adversarial pixels, and weights the filters never produce.
/// The random inputs come from the seeded `SplitMix64`, so that a failure can be replayed.
final class ResamplingKernelTests: XCTestCase {
    /// Pixel contents for a `width × height` RGB image.
    private enum Pattern: CustomStringConvertible {
        case random
        case constant(UInt8)
        /// Columns (or rows) alternating between 0 and 255 every `period`, each channel shifted.
        case stripes(period: Int, vertical: Bool)
        /// 255 where `weights` (one output's taps from `start`) are positive, 0 elsewhere:
        /// the largest sum that output can have (and the smallest, `inverted`).
        case signsOf(start: Int, weights: [Int32], inverted: Bool, vertical: Bool)

        var description: String {
            switch self {
            case .random: return "random"
            case .constant(let value): return "constant \(value)"
            case .stripes(let period, let vertical): return "stripes \(period) \(vertical ? "rows" : "columns")"
            case .signsOf(let start, _, let inverted, let vertical):
                return "signs of taps from \(start)\(inverted ? " inverted" : "") \(vertical ? "rows" : "columns")"
            }
        }

        func pixels(width: Int, height: Int, rng: inout SplitMix64) -> [UInt8] {
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    for channel in 0..<3 {
                        let value: UInt8
                        switch self {
                        case .random:
                            value = UInt8.random(in: 0...255, using: &rng)
                        case .constant(let constant):
                            value = constant
                        case .stripes(let period, let vertical):
                            let position = (vertical ? y : x) + channel
                            value = (position / period) % 2 == 0 ? 255 : 0
                        case .signsOf(let start, let weights, let inverted, let vertical):
                            let tap = (vertical ? y : x) - start
                            if tap >= 0 && tap < weights.count {
                                value = (weights[tap] > 0) != inverted ? 255 : 0
                            } else {
                                value = UInt8.random(in: 0...255, using: &rng)
                            }
                        }
                        pixels[(y * width + x) * 3 + channel] = value
                    }
                }
            }
            return pixels
        }
    }

    /// The taps of output `index`.
    private func taps(_ c: ResampleCoefficients, _ index: Int) -> [Int32] {
        Array(c.weights[(index * c.taps)..<(index * c.taps + c.count[index])])
    }

    /// The patterns worth trying for coefficients `c` along an axis.
    private func patterns(_ c: ResampleCoefficients, vertical: Bool) -> [Pattern] {
        let middle = c.start.count / 2
        var result: [Pattern] = [.random, .constant(0), .constant(255)]
        // The filter's period: its support in input samples, and half of it (the lobes).
        let support = max(1, c.count[middle])
        for period in Set([1, 2, max(1, support / 4), max(1, support / 2), support]) {
            result.append(.stripes(period: period, vertical: vertical))
        }
        for inverted in [false, true] {
            result.append(.signsOf(start: c.start[middle], weights: taps(c, middle), inverted: inverted, vertical: vertical))
        }
        return result
    }

    private let destinationCanary: UInt8 = 0xA5

    /// Runs both horizontal passes on `rows` of a `width`-column image resampled to `newWidth`,
    /// outputs `outputs`, the source starting at column `firstColumn`, and compares them; the
    /// destination rows have a gap that must stay untouched.
    private func checkHorizontal(_ pixels: [UInt8], width: Int, height: Int, coefficients c: ResampleCoefficients,
                                 outputs: Range<Int>, rows: Range<Int>, firstColumn: Int,
                                 _ label: @autoclosure () -> String) {
        let rowBytes = 3 * outputs.count, stride = rowBytes + 5
        var expected = [UInt8](repeating: destinationCanary, count: stride * height)
        var actual = expected
        pixels.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return XCTFail("empty image") }
            let start = base + 3 * firstColumn
            expected.withUnsafeMutableBufferPointer { out in
                guard let destination = out.baseAddress else { return }
                referenceResampleHorizontally(source: start, sourceRowStride: width * 3, sourceFirstColumn: firstColumn,
                                              rows: rows, coefficients: c, outputs: outputs,
                                              destination: destination, destinationRowStride: stride)
            }
            actual.withUnsafeMutableBufferPointer { out in
                guard let destination = out.baseAddress else { return }
                resampleHorizontally(source: start, sourceRowStride: width * 3, sourceFirstColumn: firstColumn,
                                     rows: rows, coefficients: c, outputs: outputs,
                                     destination: destination, destinationRowStride: stride)
            }
        }
        compare(expected, actual, stride: stride, rowBytes: rowBytes, rows: rows, label())
    }

    /// Runs both vertical passes for output rows `outputs` on `columns` of a `height`-row image
    /// whose rows from `firstRow` on are given, and compares them.
    private func checkVertical(_ pixels: [UInt8], width: Int, height: Int, coefficients c: ResampleCoefficients,
                               outputs: Range<Int>, columns: Range<Int>, firstRow: Int,
                               _ label: @autoclosure () -> String) {
        let rowBytes = 3 * columns.count, stride = rowBytes + 7
        let destinationFirstRow = outputs.lowerBound
        var expected = [UInt8](repeating: destinationCanary, count: stride * outputs.count)
        var actual = expected
        pixels.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return XCTFail("empty image") }
            let start = base + firstRow * width * 3 + 3 * columns.lowerBound
            expected.withUnsafeMutableBufferPointer { out in
                guard let destination = out.baseAddress else { return }
                referenceResampleVertically(source: start, sourceRowStride: width * 3, sourceFirstRow: firstRow,
                                            bytesPerRow: rowBytes, outputs: outputs, coefficients: c,
                                            destination: destination, destinationRowStride: stride,
                                            destinationFirstRow: destinationFirstRow)
            }
            actual.withUnsafeMutableBufferPointer { out in
                guard let destination = out.baseAddress else { return }
                resampleVertically(source: start, sourceRowStride: width * 3, sourceFirstRow: firstRow,
                                   bytesPerRow: rowBytes, outputs: outputs, coefficients: c,
                                   destination: destination, destinationRowStride: stride,
                                   destinationFirstRow: destinationFirstRow)
            }
        }
        compare(expected, actual, stride: stride, rowBytes: rowBytes, rows: 0..<outputs.count, label())
    }

    private func compare(_ expected: [UInt8], _ actual: [UInt8], stride: Int, rowBytes: Int, rows: Range<Int>,
                         _ label: @autoclosure () -> String) {
        guard expected != actual else { return }
        for (index, (e, a)) in zip(expected, actual).enumerated() where e != a {
            let row = index / stride, byte = index % stride
            let place = byte < rowBytes ? "output \(byte / 3) channel \(byte % 3)" : "gap byte \(byte - rowBytes)"
            XCTFail("\(label()): row \(row) \(place): expected \(e), got \(a)")
            return
        }
    }

    /// The interesting output ranges of an axis of `size` outputs: all, one, and crops.
    private func outputRanges(_ size: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = [0..<size, (size - 1)..<size]
        if size > 2 { ranges.append(1..<(size - 1)) }
        if size > 8 { ranges.append((size / 3)..<(size / 3 + size / 2)) }
        return ranges
    }

    /// Widths, new widths: up-scaling ×3, about 1, down-scaling to past ×40.
    private let geometries: [(Int, Int)] = [
        (1, 3), (2, 6), (3, 1), (3, 2), (5, 15), (7, 4), (16, 17), (17, 16), (31, 93), (33, 11),
        (64, 63), (100, 37), (101, 100), (257, 23), (400, 9), (1000, 24), (2003, 41), (4000, 64), (1500, 1),
    ]

    func testHorizontalPassIsIdenticalToThe32BitLoop() {
        var rng = SplitMix64(seed: 1)
        for filter in [ResampleFilter.bilinear, .bicubic] {
            for (width, newWidth) in geometries {
                let c = ResampleCoefficients(inSize: width, in1: Float(width), outSize: newWidth, filter: filter)
                XCTAssertNotNil(c.split, "\(filter) \(width) → \(newWidth): normalised weights fit the 16-bit halves")
                let height = 3
                for pattern in patterns(c, vertical: false) {
                    let pixels = pattern.pixels(width: width, height: height, rng: &rng)
                    for outputs in outputRanges(newWidth) {
                        // The source may start anywhere up to the first column the outputs read.
                        let first = c.start[outputs.lowerBound]
                        for firstColumn in Set([0, first / 2, first]) {
                            checkHorizontal(pixels, width: width, height: height, coefficients: c, outputs: outputs,
                                            rows: 0..<height, firstColumn: firstColumn,
                                            "\(filter) \(width) → \(newWidth) \(pattern) outputs \(outputs) from column \(firstColumn)")
                        }
                    }
                    checkHorizontal(pixels, width: width, height: height, coefficients: c, outputs: 0..<newWidth,
                                    rows: 1..<height, firstColumn: 0, "\(filter) \(width) → \(newWidth) \(pattern) rows 1...")
                }
            }
        }
    }

    func testVerticalPassIsIdenticalToThe32BitLoop() {
        var rng = SplitMix64(seed: 2)
        for filter in [ResampleFilter.bilinear, .bicubic] {
            for (height, newHeight) in geometries {
                let c = ResampleCoefficients(inSize: height, in1: Float(height), outSize: newHeight, filter: filter)
                // Row widths on both sides of the 16-byte vectors.
                for width in [1, 6, 11] {
                    for pattern in patterns(c, vertical: true) {
                        let pixels = pattern.pixels(width: width, height: height, rng: &rng)
                        for outputs in outputRanges(newHeight) {
                            // The source starts at the first row the outputs read.
                            checkVertical(pixels, width: width, height: height, coefficients: c, outputs: outputs,
                                          columns: 0..<width, firstRow: c.start[outputs.lowerBound],
                                          "\(filter) \(height) → \(newHeight) \(pattern) width \(width) outputs \(outputs)")
                        }
                        checkVertical(pixels, width: width, height: height, coefficients: c, outputs: 0..<newHeight,
                                      columns: (width / 2)..<width, firstRow: 0,
                                      "\(filter) \(height) → \(newHeight) \(pattern) width \(width) columns \(width / 2)...")
                    }
                }
            }
        }
    }

    /// The preset shape of a 12-megapixel photo, on a few rows: the horizontal pass's 224 kept
    /// columns of 341, 49 taps; the vertical pass's 224 kept rows of 256.
    func testPresetShapeOfALargePhotoIsIdenticalToThe32BitLoop() {
        var rng = SplitMix64(seed: 3)
        let horizontal = ResampleCoefficients(inSize: 4000, in1: 4000, outSize: 341, filter: .bicubic)
        let columns = 58..<282, first = horizontal.start[58]
        let pixels = Pattern.random.pixels(width: 4000, height: 4, rng: &rng)
        checkHorizontal(pixels, width: 4000, height: 4, coefficients: horizontal, outputs: columns, rows: 0..<4,
                        firstColumn: first - 64, "4000 → 341 columns 58..<282")
        let vertical = ResampleCoefficients(inSize: 3000, in1: 3000, outSize: 256, filter: .bicubic)
        let rows = 16..<24, firstRow = vertical.start[16]
        let tall = Pattern.random.pixels(width: 40, height: 3000, rng: &rng)
        checkVertical(tall, width: 40, height: 3000, coefficients: vertical, outputs: rows, columns: 3..<37,
                      firstRow: firstRow, "3000 → 256 rows 16..<24")
    }

    /// Arbitrary weights (any sign and size, sums far past 32 bits): the split kernels agree with
    /// the 32-bit loop modulo 2^32, which is what makes them exact whatever the filter; weights
    /// whose high half does not fit in 16 bits take the 32-bit loop.
    func testArbitraryWeightsAgreeModulo2To32AndOutOfRangeWeightsFallBack() {
        var rng = SplitMix64(seed: 4)
        for (limit, splits) in [(Int32(1 << 30), true), (Int32.max, false)] {
            for taps in [1, 3, 8, 9, 49, 130] {
                // Starts and ends never decreasing, as Pillow's are (the kernels rely on it).
                let outSize = 7, inSize = taps + outSize + 5
                var start = [Int](), count = [Int](), weights = [Int32](repeating: 0, count: outSize * taps)
                for output in 0..<outSize {
                    let used = output == outSize - 1 ? taps : Int.random(in: 1...taps, using: &rng)
                    start.append(output)
                    count.append(used)
                    for tap in 0..<used {
                        weights[output * taps + tap] = Int32.random(in: -limit...(limit - 1), using: &rng)
                    }
                }
                if !splits { weights[0] = Int32.max }
                let c = ResampleCoefficients(taps: taps, start: start, count: count, weights: weights)
                XCTAssertEqual(c.split != nil, splits, "taps \(taps) limit \(limit)")
                for pattern in [Pattern.random, .constant(255)] {
                    let pixels = pattern.pixels(width: inSize, height: 2, rng: &rng)
                    checkHorizontal(pixels, width: inSize, height: 2, coefficients: c, outputs: 0..<outSize,
                                    rows: 0..<2, firstColumn: 0, "arbitrary weights, \(taps) taps, limit \(limit), \(pattern)")
                    checkHorizontal(pixels, width: inSize, height: 2, coefficients: c, outputs: 2..<outSize,
                                    rows: 1..<2, firstColumn: 0, "arbitrary weights, \(taps) taps, limit \(limit), \(pattern), outputs 2...")
                    let tall = pattern.pixels(width: 6, height: inSize, rng: &rng)
                    checkVertical(tall, width: 6, height: inSize, coefficients: c, outputs: 0..<outSize,
                                  columns: 0..<6, firstRow: 0, "arbitrary weights vertically, \(taps) taps, limit \(limit), \(pattern)")
                }
            }
        }
    }

    /// Pillow's own 32-bit sum cannot overflow: with 8-bit pixels, |Σ p·w| + 2^21 ≤ 255 · Σ|w| + 2^21,
    /// which stays below 2^31 for the normalised weights of both filters at every scale.
    func testPillowsSumsStayFarFrom32BitOverflow() {
        var largest = 0
        for filter in [ResampleFilter.bilinear, .bicubic] {
            for inSize in [1, 2, 3, 5, 10, 47, 100, 333, 1000, 4000, 30000] {
                for outSize in Set([1, 2, 3, 7, max(1, inSize / 40), max(1, inSize / 3), inSize, inSize * 3]) {
                    let c = ResampleCoefficients(inSize: inSize, in1: Float(inSize), outSize: outSize, filter: filter)
                    for output in 0..<outSize {
                        let magnitude = taps(c, output).reduce(0) { $0 + abs(Int($1)) }
                        largest = max(largest, magnitude)
                        XCTAssertLessThan(255 * magnitude + (1 << 21), 1 << 31, "\(filter) \(inSize) → \(outSize) output \(output)")
                    }
                }
            }
        }
        // The margin is wide: Σ|w| stays under 1.5 · 2^22 (the bicubic lobes add about 1/6).
        XCTAssertLessThan(largest, 3 << 21)
        XCTAssertGreaterThan(largest, 1 << 22)
    }
}

// MARK: - Pillow's loops, written plainly (one sample at a time), as the reference

/// Pillow's `clip8` of a sum that started at 2^21: `sum >> 22` clipped to 0...255.
private func referenceClip8(_ value: Int32) -> UInt8 {
    UInt8(clamping: value >> 22)
}

/// Pillow's `ImagingResampleHorizontal_8bpc` for one sample: Σ over the output's taps of
/// pixel · weight from 2^21, in wrapping 32-bit integers.
private func referenceResampleHorizontally(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstColumn: Int, rows: Range<Int>,
                                           coefficients c: ResampleCoefficients, outputs: Range<Int>,
                                           destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int) {
    for yy in rows {
        for (index, xx) in outputs.enumerated() {
            for channel in 0..<3 {
                var sum = Int32(1 << 21)
                for tap in 0..<c.count[xx] {
                    let pixel = source[yy * sourceRowStride + (c.start[xx] + tap - sourceFirstColumn) * 3 + channel]
                    sum &+= Int32(pixel) &* c.weights[xx * c.taps + tap]
                }
                destination[yy * destinationRowStride + 3 * index + channel] = referenceClip8(sum)
            }
        }
    }
}

/// Pillow's `ImagingResampleVertical_8bpc` for one byte column at a time: output row `yy` reads
/// `source` rows `start[yy] − sourceFirstRow` onwards and goes to `destination` row
/// `yy − destinationFirstRow`.
private func referenceResampleVertically(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstRow: Int, bytesPerRow: Int,
                                         outputs: Range<Int>, coefficients c: ResampleCoefficients,
                                         destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int, destinationFirstRow: Int) {
    for yy in outputs {
        for byte in 0..<bytesPerRow {
            var sum = Int32(1 << 21)
            for tap in 0..<c.count[yy] {
                let pixel = source[(c.start[yy] - sourceFirstRow + tap) * sourceRowStride + byte]
                sum &+= Int32(pixel) &* c.weights[yy * c.taps + tap]
            }
            destination[(yy - destinationFirstRow) * destinationRowStride + byte] = referenceClip8(sum)
        }
    }
}
