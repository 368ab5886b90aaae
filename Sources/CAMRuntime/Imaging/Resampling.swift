import Foundation

// Pillow's convolution resampler (src/libImaging/Resample.c), reimplemented for 8-bit RGB so
// that the results are bit-identical: per output position the filter weights are computed in
// double precision, normalised, converted to 22-bit fixed point (PRECISION_BITS = 32 − 8 − 2)
// rounding half away from zero; each pass accumulates in 32-bit integers starting from
// 2^21 (so the shift rounds), shifts right by 22 and clips to 0...255. The two passes run in
// the order Pillow 13 chooses (see `resizedConvolution`), the first one's result stored as
// uint8; a horizontal-first pass only covers the rows the vertical pass reads. A dimension
// whose size does not change is not resampled.

/// The 22 fractional bits of Pillow's fixed-point weights.
private let precisionBits = 32 - 8 - 2

/// The resampling weights of one output axis, in Pillow's layout.
struct ResampleCoefficients {
    /// Taps per output position (the stride of `weights`).
    let taps: Int
    /// Per output position: first input index.
    let start: [Int]
    /// Per output position: number of inputs used.
    let count: [Int]
    /// Fixed-point weights, `taps` per output position.
    let weights: [Int32]

    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the box `[in0, in1)` of an
    /// input axis of `inSize` samples resampled to `outSize` samples.
    init(inSize: Int, in0: Float = 0, in1: Float, outSize: Int, filter: ResampleFilter) {
        var filterScale = Double(in1 - in0) / Double(outSize)
        let scale = filterScale
        if filterScale < 1 { filterScale = 1 }
        let support = filter.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var start = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        let invScale = 1 / filterScale
        for xx in 0..<outSize {
            let center = Double(in0) + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var total = 0.0
            for x in 0..<max(xmax, 0) {
                let w = filter.weight((Double(x + xmin) - center + 0.5) * invScale)
                k[x] = w
                total += w
            }
            for x in 0..<max(xmax, 0) {
                if total != 0 { k[x] /= total }
                let scaled = k[x] * Double(1 << precisionBits)
                weights[xx * taps + x] = Int32(k[x] < 0 ? -0.5 + scaled : 0.5 + scaled)
            }
            start[xx] = xmin
            count[xx] = max(xmax, 0)
        }
        self.taps = taps
        self.start = start
        self.count = count
        self.weights = weights
    }
}

/// A resampling filter of Pillow's convolution resampler.
enum ResampleFilter {
    case bilinear
    case bicubic

    /// The half-width of the filter at scale 1.
    var support: Double {
        switch self {
        case .bilinear: return 1
        case .bicubic: return 2
        }
    }

    /// The filter's weight at distance `x` (Pillow's `bilinear_filter` / `bicubic_filter`, a = −0.5).
    @inline(__always)
    func weight(_ x: Double) -> Double {
        let x = abs(x)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// Wraps a pointer for use across `concurrentPerform` workers that write disjoint rows.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
}

/// Runs `body` on row ranges that together cover `0..<rows`, on up to the available cores.
func forEachRowChunk(_ rows: Int, minimumWork: Int, _ body: @escaping @Sendable (Range<Int>) -> Void) {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let chunks = min(max(1, min(cores, rows)), max(1, minimumWork))
    if chunks <= 1 {
        body(0..<rows)
        return
    }
    let perChunk = (rows + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let lower = chunk * perChunk
        let upper = min(rows, lower + perChunk)
        if lower < upper { body(lower..<upper) }
    }
}

@inline(__always)
private func clip8(_ value: Int32) -> UInt8 {
    let shifted = value >> Int32(precisionBits)
    return shifted < 0 ? 0 : (shifted > 255 ? 255 : UInt8(shifted))
}

extension RGBImage {
    /// The image resized to `width × height` exactly as PIL's `Image.resize((width, height), filter)`.
    ///
    /// `.bilinear` and `.bicubic` are Pillow's antialiased convolution filters (their support
    /// grows with the down-scale factor) with Pillow's fixed-point arithmetic, bit for bit;
    /// `.nearest` is Pillow's nearest-neighbour (source `⌊(x + 0.5)·in/out⌋`).
    ///
    /// - Precondition: `width` and `height` are positive.
    public func resized(width newWidth: Int, height newHeight: Int, interpolation: Interpolation) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "resize needs a positive size, got \(newWidth)×\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        switch interpolation {
        case .nearest: return resizedNearest(width: newWidth, height: newHeight)
        case .bilinear: return resizedConvolution(width: newWidth, height: newHeight, filter: .bilinear)
        case .bicubic: return resizedConvolution(width: newWidth, height: newHeight, filter: .bicubic)
        }
    }

    /// Pillow's `ImagingScaleAffine` as used by `resize(..., NEAREST)`.
    private func resizedNearest(width newWidth: Int, height newHeight: Int) -> RGBImage {
        func sources(_ inSize: Int, _ outSize: Int) -> [Int] {
            let a = Double(inSize) / Double(outSize)
            var position = a * 0.5
            var table = [Int](repeating: 0, count: outSize)
            for i in 0..<outSize {
                table[i] = min(max(Int(position), 0), inSize - 1)
                position += a
            }
            return table
        }
        let xs = sources(width, newWidth), ys = sources(height, newHeight)
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        for y in 0..<newHeight {
            let row = ys[y] * width * 3
            for x in 0..<newWidth {
                let s = row + xs[x] * 3, d = (y * newWidth + x) * 3
                out[d] = pixels[s]
                out[d + 1] = pixels[s + 1]
                out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }

    /// Pillow's `ImagingResampleInner` for 8-bit RGB.
    ///
    /// Pillow 13 runs the pass with the smaller intermediate image first: vertical first when
    /// `newWidth · height > width · newHeight`, horizontal first otherwise (ties included).
    /// The order matters because the intermediate image is rounded to uint8. (Checked against
    /// Pillow on the fixture sizes, which include both orders.)
    private func resizedConvolution(width newWidth: Int, height newHeight: Int, filter: ResampleFilter) -> RGBImage {
        let needHorizontal = newWidth != width, needVertical = newHeight != height
        let horizontal = ResampleCoefficients(inSize: width, in1: Float(width), outSize: newWidth, filter: filter)
        let vertical = ResampleCoefficients(inSize: height, in1: Float(height), outSize: newHeight, filter: filter)
        if needHorizontal && needVertical && newWidth * height > width * newHeight {
            let columns = Self.verticalPass(pixels, width: width, rowOffset: 0, coefficients: vertical, newHeight: newHeight)
            let out = Self.horizontalPass(columns, width: width, firstRow: 0, rows: newHeight,
                                          coefficients: horizontal, newWidth: newWidth)
            return RGBImage(width: newWidth, height: newHeight, pixels: out)
        }
        var current = pixels, currentWidth = width, rowOffset = 0
        if needHorizontal {
            // Only the source rows the vertical pass reads (Pillow's ybox_first..<ybox_last).
            let firstRow = needVertical ? vertical.start[0] : 0
            let lastRow = needVertical ? vertical.start[newHeight - 1] + vertical.count[newHeight - 1] : height
            current = Self.horizontalPass(pixels, width: width, firstRow: firstRow, rows: lastRow - firstRow,
                                          coefficients: horizontal, newWidth: newWidth)
            currentWidth = newWidth
            rowOffset = firstRow
        }
        if needVertical {
            current = Self.verticalPass(current, width: currentWidth, rowOffset: rowOffset, coefficients: vertical, newHeight: newHeight)
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: current)
    }

    /// Resamples rows `firstRow..<firstRow + rows` of `source` (`width` columns) to `newWidth` columns.
    private static func horizontalPass(_ source: [UInt8], width: Int, firstRow: Int, rows: Int,
                                       coefficients: ResampleCoefficients, newWidth: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: newWidth * rows * 3)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
                let s = UnsafeSendable(value: srcBase + firstRow * width * 3), d = UnsafeSendable(value: dstBase)
                forEachRowChunk(rows, minimumWork: rows * newWidth * coefficients.taps / 200_000) { range in
                    resampleHorizontally(source: s.value, sourceRowStride: width * 3, sourceFirstColumn: 0, rows: range,
                                         coefficients: coefficients, outputs: 0..<newWidth,
                                         destination: d.value, destinationRowStride: newWidth * 3)
                }
            }
        }
        return out
    }

    /// Resamples the columns of `source` (`width` columns; its row 0 is row `rowOffset` of the
    /// image the coefficients were made for) to `newHeight` rows.
    private static func verticalPass(_ source: [UInt8], width: Int, rowOffset: Int,
                                     coefficients: ResampleCoefficients, newHeight: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * newHeight * 3)
        source.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
                let s = UnsafeSendable(value: srcBase), d = UnsafeSendable(value: dstBase)
                forEachRowChunk(newHeight, minimumWork: newHeight * width * coefficients.taps / 200_000) { range in
                    resampleVertically(source: s.value, sourceRowStride: width * 3, sourceFirstRow: rowOffset,
                                       bytesPerRow: width * 3, outputs: range, coefficients: coefficients,
                                       destination: d.value, destinationRowStride: width * 3, destinationFirstRow: 0)
                }
            }
        }
        return out
    }
}

/// Pillow's horizontal pass on rows `rows` of `source` (row `i` at `source + i·sourceRowStride`,
/// its byte 0 being column `sourceFirstColumn` of the image the coefficients were made for):
/// output columns `outputs` go to the same row index of `destination`, column
/// `outputs.lowerBound` first. The source must hold every column the outputs read.
func resampleHorizontally(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstColumn: Int, rows: Range<Int>,
                          coefficients c: ResampleCoefficients, outputs: Range<Int>,
                          destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int) {
    guard let first = outputs.first, let last = outputs.last, !rows.isEmpty else { return }
    let half = Int32(1 << (precisionBits - 1))
    let low = c.start[first], high = c.start[last] + c.count[last], span = max(high - low, 0)
    // Each row is first split into three Int32 planes (of the columns the outputs read) so that
    // every output sample is a contiguous integer dot product (which the compiler vectorises);
    // the sums, and so the results, are the same as Pillow's interleaved loop.
    let planes = UnsafeMutablePointer<Int32>.allocate(capacity: 3 * max(span, 1))
    defer { planes.deallocate() }
    let red = planes, green = planes + span, blue = planes + 2 * span
    c.weights.withUnsafeBufferPointer { weightBuffer in
        c.start.withUnsafeBufferPointer { starts in
            c.count.withUnsafeBufferPointer { counts in
                guard let weights = weightBuffer.baseAddress else { return }
                for yy in rows {
                    let row = source + yy * sourceRowStride + (low - sourceFirstColumn) * 3
                    for x in 0..<span {
                        red[x] = Int32(row[3 * x])
                        green[x] = Int32(row[3 * x + 1])
                        blue[x] = Int32(row[3 * x + 2])
                    }
                    let out = destination + yy * destinationRowStride
                    for xx in outputs {
                        let xmin = starts[xx] - low, n = counts[xx]
                        let k = weights + xx * c.taps
                        let pr = red + xmin, pg = green + xmin, pb = blue + xmin
                        var r = half, g = half, b = half
                        for x in 0..<n {
                            let w = k[x]
                            r &+= pr[x] &* w
                            g &+= pg[x] &* w
                            b &+= pb[x] &* w
                        }
                        let o = 3 * (xx - first)
                        out[o] = clip8(r)
                        out[o + 1] = clip8(g)
                        out[o + 2] = clip8(b)
                    }
                }
            }
        }
    }
}

/// Pillow's vertical pass for output rows `outputs`: `source` row `i` is row
/// `sourceFirstRow + i` of the image the coefficients were made for, and must exist for every
/// row an output reads; `bytesPerRow` bytes of each are resampled. Output row `yy` goes to
/// `destination` row `yy − destinationFirstRow`.
func resampleVertically(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstRow: Int, bytesPerRow: Int,
                        outputs: Range<Int>, coefficients c: ResampleCoefficients,
                        destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int, destinationFirstRow: Int) {
    guard !outputs.isEmpty, bytesPerRow > 0 else { return }
    let half = Int32(1 << (precisionBits - 1))
    let acc = UnsafeMutablePointer<Int32>.allocate(capacity: bytesPerRow)
    defer { acc.deallocate() }
    c.weights.withUnsafeBufferPointer { weights in
        for yy in outputs {
            let ymin = c.start[yy] - sourceFirstRow, n = c.count[yy], k = yy * c.taps
            for i in 0..<bytesPerRow { acc[i] = half }
            for y in 0..<n {
                let w = weights[k + y]
                let row = source + (ymin + y) * sourceRowStride
                for i in 0..<bytesPerRow {
                    acc[i] &+= Int32(row[i]) &* w
                }
            }
            let out = destination + (yy - destinationFirstRow) * destinationRowStride
            for i in 0..<bytesPerRow { out[i] = clip8(acc[i]) }
        }
    }
}
