import Foundation

// Pillow's convolution resampler (src/libImaging/Resample.c), reimplemented for 8-bit RGB so
// that the results are bit-identical: per output position the filter weights are computed in
// double precision, normalised, converted to 22-bit fixed point (PRECISION_BITS = 32 − 8 − 2)
// rounding half away from zero; each pass accumulates in 32-bit integers starting from
// 2^21 (so the shift rounds), shifts right by 22 and clips to 0...255. The two passes run in
// the order Pillow 13 chooses (see `resizedConvolution`), the first one's result stored as
// uint8; a horizontal-first pass only covers the rows the vertical pass reads. A dimension
// whose size does not change is not resampled. The sums are computed with 16-bit
// multiply-adds that give the same 32-bit integers (see "Exact 16-bit multiply-add kernels").

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
    /// The same weights split for the 16-bit multiply-add kernels, or nil when one of them is
    /// outside their range (then the passes use the plain 32-bit loop).
    let split: SplitWeights?

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
        split = SplitWeights(taps: taps, start: start, count: count, weights: weights)
    }

    /// Coefficients given directly (for tests of weights the filters do not produce).
    init(taps: Int, start: [Int], count: [Int], weights: [Int32]) {
        self.taps = taps
        self.start = start
        self.count = count
        self.weights = weights
        split = SplitWeights(taps: taps, start: start, count: count, weights: weights)
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

// MARK: - Exact 16-bit multiply-add kernels
//
// Pillow accumulates `Σ p·w` in 32-bit integers (p = 0...255, w = 22-bit weight). Baseline
// x86-64 (SSE2) has no 32-bit vector multiply, so that loop is slow. It has `pmaddwd`, which
// multiplies eight pairs of 16-bit integers and adds adjacent products into four 32-bit sums,
// eight multiply-adds per instruction; the compiler emits it for `multiplyAddPairs` below (and
// on other architectures the same Swift means the same arithmetic). The weights do not fit in 16
// bits, so each one is split as
//
//     w = high · 2^15 + low,   low = w & 0x7FFF ∈ [0, 2^15),   high = w >> 15 (arithmetic shift)
//
// and both sums are accumulated separately: Σ p·w = (Σ p·high) · 2^15 + Σ p·low. Every step is
// integer arithmetic modulo 2^32: a pixel times a half is below 255 · 2^15 < 2^23 in magnitude
// and pmaddwd's pair sums below 2^24, so they are exact, and the accumulations wrap like
// Pillow's `int` (Swift's `&+`). Addition and multiplication modulo 2^32 are associative,
// commutative and distributive, so the result is Pillow's 32-bit sum whatever the order of the
// additions and however many taps there are: no bound on the filter size is needed (a float32
// split would be exact only while every partial sum stays below 2^24, which fails for large
// down-scales). Only `high` must fit in 16 bits, that is −2^30 ≤ w < 2^30; otherwise
// `SplitWeights` is nil and the passes use the 32-bit loops.
//
// The kernels do not depend on Pillow's sum staying within 32 bits, but it does, so that its
// C `int` arithmetic is the same as this modular one: |Σ p·w| + 2^21 ≤ 255 · Σ|w| + 2^21, and
// the normalised weights of one output sum to 2^22 (± 0.5 per tap of rounding), all of them
// non-negative for the bilinear filter; each negative lobe of the bicubic one (a = −0.5) holds
// −1/24 of the kernel's integral, so Σ|w| ≈ (1 + 4/24) · 2^22 = 7/6 · 2^22, under 1.5 · 2^22
// at every scale and border (`ResamplingKernelTests` checks it on many geometries), and
// 255 · 1.5 · 2^22 + 2^21 < 2^31.
//
// The horizontal pass also needs the samples of one channel next to each other; SSE2 has no
// general byte shuffle to split interleaved RGB, so `deinterleave` uses masks in an order of
// its own, which the weights (`SplitWeights.blocked`) follow.

/// The fixed-point weights of one axis split into 16-bit halves for `multiplyAddPairs`.
struct SplitWeights {
    /// The low halves, in Pillow's layout (`taps` per output position).
    let low: [Int16]
    /// The high halves, in Pillow's layout.
    let high: [Int16]
    /// Blocks of 8 columns that every output position of the horizontal pass reads (the most
    /// any of them needs, so that the loop's trip count does not vary).
    let blocks: Int
    /// The halves in the layout of the horizontal pass's planes (see `deinterleave`): per output
    /// position `i`, per block `j` (image columns `8·(⌊start[i] / 8⌋ + j)` onwards), the 8 low
    /// halves, then the 8 high halves, column `8·b + k` in lane `3k mod 8`; zero for the
    /// columns the output does not use.
    let blocked: [SIMD8<Int16>]
    /// The bytes `i ≡ 0, 1, 2 (mod 3)` of a 64-bit word, for `deinterleave`. Kept here, where
    /// the optimiser cannot see their values: as constants it turns part of the masking into
    /// byte moves, which made the whole horizontal pass 6 % slower.
    let laneMasks: (UInt64, UInt64, UInt64)

    /// Splits `weights` (`taps` per output position, position `i` using `count[i]` of them from
    /// input `start[i]`); nil if a weight's high half does not fit in 16 bits.
    init?(taps: Int, start: [Int], count: [Int], weights: [Int32]) {
        var low = [Int16](repeating: 0, count: weights.count), high = low
        for (index, w) in weights.enumerated() {
            guard w >= -(1 << 30), w < 1 << 30 else { return nil }
            low[index] = Int16(w & 0x7FFF)
            high[index] = Int16(w >> 15)
        }
        var blocks = 1
        for (first, used) in zip(start, count) { blocks = max(blocks, (first % 8 + used + 7) / 8) }
        var blocked = [SIMD8<Int16>](repeating: SIMD8(), count: count.count * blocks * 2)
        for (output, used) in count.enumerated() {
            for tap in 0..<used {
                let column = start[output] % 8 + tap
                let index = (output * blocks + column / 8) * 2, lane = (3 * column) % 8
                blocked[index][lane] = low[output * taps + tap]
                blocked[index + 1][lane] = high[output * taps + tap]
            }
        }
        self.low = low
        self.high = high
        self.blocks = blocks
        self.blocked = blocked
        var masks: [UInt64] = [0, 0, 0]
        for lane in 0..<8 { masks[lane % 3] |= 0xFF << (8 * lane) }
        laneMasks = (masks[0], masks[1], masks[2])
    }
}

/// `pmaddwd`: the products of the 16-bit lanes of `a` and `b`, adjacent pairs added, modulo 2^32.
@inline(__always)
private func multiplyAddPairs(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD4<Int32> {
    let products = SIMD8<Int32>(truncatingIfNeeded: a) &* SIMD8<Int32>(truncatingIfNeeded: b)
    return products.evenHalf &+ products.oddHalf
}

/// The bytes `a[0], b[0], a[1], b[1], …` (`punpcklbw`).
@inline(__always)
private func interleaved(_ a: SIMD8<UInt8>, _ b: SIMD8<UInt8>) -> SIMD16<UInt8> {
    var result = SIMD16<UInt8>()
    for i in 0..<8 {
        result[2 * i] = a[i]
        result[2 * i + 1] = b[i]
    }
    return result
}

/// `(high · 2^15 + low + 2^21) >> 22`, lane by lane, clipped to 0...255 (modulo 2^32 like Pillow).
@inline(__always)
private func clipped(high: SIMD4<Int32>, low: SIMD4<Int32>) -> SIMD4<Int32> {
    let sum = (high &<< 15) &+ low &+ SIMD4(repeating: Int32(1 << (precisionBits - 1)))
    return (sum &>> Int32(precisionBits)).clamped(lowerBound: SIMD4(repeating: 0), upperBound: SIMD4(repeating: 255))
}

/// `[Σ red + 2^21, Σ green + 2^21, Σ blue + 2^21, 0]`: the sums of the lanes (modulo 2^32)
/// plus the rounding half.
@inline(__always)
private func laneSums(red: SIMD4<Int32>, green: SIMD4<Int32>, blue: SIMD4<Int32>) -> SIMD4<Int32> {
    let half = Int32(1 << (precisionBits - 1))
    let redGreen = SIMD8(lowHalf: red, highHalf: green), blueZero = SIMD8(lowHalf: blue, highHalf: SIMD4())
    let pairs = SIMD8(lowHalf: redGreen.evenHalf &+ redGreen.oddHalf, highHalf: blueZero.evenHalf &+ blueZero.oddHalf)
    return pairs.evenHalf &+ pairs.oddHalf &+ SIMD4(half, half, half, 0)
}

/// Pillow's horizontal pass on rows `rows` of `source` (row `i` at `source + i·sourceRowStride`,
/// its byte 0 being column `sourceFirstColumn` of the image the coefficients were made for):
/// output columns `outputs` go to the same row index of `destination`, column
/// `outputs.lowerBound` first. The source must hold every column the outputs read.
///
/// Each row is first split into three 16-bit planes of the columns the outputs read
/// (`deinterleave`), so that every output sample is a dot product of 8-column blocks
/// (`multiplyAddPairs`, exact: see "Exact 16-bit multiply-add kernels" above), the same number
/// of blocks for every output.
func resampleHorizontally(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstColumn: Int, rows: Range<Int>,
                          coefficients c: ResampleCoefficients, outputs: Range<Int>,
                          destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int) {
    guard let first = outputs.first, let last = outputs.last, !rows.isEmpty else { return }
    guard let split = c.split else {
        resampleHorizontallyScalar(source: source, sourceRowStride: sourceRowStride, sourceFirstColumn: sourceFirstColumn,
                                   rows: rows, coefficients: c, outputs: outputs,
                                   destination: destination, destinationRowStride: destinationRowStride)
        return
    }
    let low = c.start[first], high = max(low, c.start[last] + c.count[last])
    // The planes hold the blocks of 8 columns from the one of `low` to the last one read.
    let firstBlock = low / 8, blocks = split.blocks
    let planeBlocks = c.start[last] / 8 + blocks - firstBlock
    let planes = UnsafeMutablePointer<SIMD8<Int16>>.allocate(capacity: 3 * planeBlocks)
    defer { planes.deallocate() }
    planes.initialize(repeating: SIMD8(), count: 3 * planeBlocks)
    let red = planes, green = planes + planeBlocks, blue = planes + 2 * planeBlocks
    // One row's sums, clipped to bytes together at the end of the row (one lane of padding).
    let sums = UnsafeMutablePointer<Int32>.allocate(capacity: 3 * outputs.count + 1)
    defer { sums.deallocate() }
    split.blocked.withUnsafeBufferPointer { blockedBuffer in
        c.start.withUnsafeBufferPointer { starts in
            guard let blocked = blockedBuffer.baseAddress else { return }
            for yy in rows {
                deinterleave(source + yy * sourceRowStride - sourceFirstColumn * 3, columns: low..<high,
                             firstBlock: firstBlock, masks: split.laneMasks, red: red, green: green, blue: blue)
                let out = destination + yy * destinationRowStride
                for xx in outputs {
                    let block = starts[xx] &>> 3 &- firstBlock
                    var weights = blocked + xx &* blocks &* 2
                    var r = red + block, g = green + block, b = blue + block
                    var redLow = SIMD4<Int32>(), redHigh = SIMD4<Int32>()
                    var greenLow = SIMD4<Int32>(), greenHigh = SIMD4<Int32>()
                    var blueLow = SIMD4<Int32>(), blueHigh = SIMD4<Int32>()
                    for _ in 0..<blocks {
                        let wLow = weights[0], wHigh = weights[1]
                        redLow &+= multiplyAddPairs(r.pointee, wLow)
                        redHigh &+= multiplyAddPairs(r.pointee, wHigh)
                        greenLow &+= multiplyAddPairs(g.pointee, wLow)
                        greenHigh &+= multiplyAddPairs(g.pointee, wHigh)
                        blueLow &+= multiplyAddPairs(b.pointee, wLow)
                        blueHigh &+= multiplyAddPairs(b.pointee, wHigh)
                        weights += 2
                        r += 1
                        g += 1
                        b += 1
                    }
                    // The fourth lane (0) lands on the next output's first sum, written next.
                    UnsafeMutableRawPointer(sums + 3 * (xx - first)).storeBytes(
                        of: laneSums(red: (redHigh &<< 15) &+ redLow, green: (greenHigh &<< 15) &+ greenLow,
                                     blue: (blueHigh &<< 15) &+ blueLow),
                        as: SIMD4<Int32>.self)
                }
                for i in 0..<(3 * outputs.count) { out[i] = clip8(sums[i]) }
            }
        }
    }
}

/// Splits the pixels of `columns` of a row (column `x` at `row + 3x`) into three 16-bit planes
/// of 8-column blocks, block `b` of the image at index `b − firstBlock`, column `8b + k` in lane
/// `3k mod 8` (the other lanes are left as they are).
///
/// That lane order is the one in which masks pick the red samples out of a block's 24 bytes
/// taken as three words `A`, `B`, `C` of 8 bytes: lane `i` sees bytes `n` ∈ {i, 8 + i, 16 + i},
/// exactly one of which is ≡ 0 (mod 3) since 8 ≡ 2 and 16 ≡ 1, and that byte is red of column
/// `n / 3` = `3i mod 8` (because 3 · 3 ≡ 1 mod 8). Masks pick green and blue in the same order
/// moved up by one and two lanes, moved back by rotating the word. So no byte shuffle is needed
/// (SSE2 has no general one), only 64-bit masks and rotations and the widening to 16 bits; the
/// weights are laid out to match (`SplitWeights.blocked`).
@inline(__always)
private func deinterleave(_ row: UnsafePointer<UInt8>, columns: Range<Int>, firstBlock: Int,
                          masks: (UInt64, UInt64, UInt64),
                          red: UnsafeMutablePointer<SIMD8<Int16>>, green: UnsafeMutablePointer<SIMD8<Int16>>,
                          blue: UnsafeMutablePointer<SIMD8<Int16>>) {
    func single(_ x: Int) {
        let lane = (3 * x) % 8, block = x / 8 - firstBlock
        red[block][lane] = Int16(row[3 * x])
        green[block][lane] = Int16(row[3 * x + 1])
        blue[block][lane] = Int16(row[3 * x + 2])
    }
    let firstFull = (columns.lowerBound + 7) / 8
    #if _endian(little)
    let endFull = max(firstFull, columns.upperBound / 8)
    #else
    let endFull = firstFull  // The words below take lane i as bits 8i..<8i + 8.
    #endif
    let headEnd = min(columns.upperBound, firstFull * 8)
    for x in columns.lowerBound..<headEnd { single(x) }
    // The 8 bytes of A, B, C as 64-bit words (little-endian: lane i is bits 8i..<8i + 8), and
    // their lanes i ≡ 0, 1, 2 (mod 3), where A, B and C hold the bytes n ≡ 0 (mod 3).
    let (inA, inB, inC) = masks
    var raw = UnsafeRawPointer(row + 24 * firstFull)
    var r = red + (firstFull - firstBlock), g = green + (firstFull - firstBlock), b = blue + (firstFull - firstBlock)
    for _ in firstFull..<endFull {
        let wordA = raw.loadUnaligned(as: UInt64.self), wordB = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let wordC = raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        // Byte n ≡ 0 (mod 3) is in A at lanes ≡ 0, in B at lanes ≡ 1, in C at lanes ≡ 2;
        // n ≡ 1 in A at ≡ 1, B at ≡ 2, C at ≡ 0 (one lane further); n ≡ 2 two lanes further,
        // moved back by rotating the word.
        let redBytes = (wordA & inA) | (wordB & inB) | (wordC & inC)
        let greenBytes = ((wordA & inB) | (wordB & inC) | (wordC & inA)).rotatedRight(byBits: 8)
        let blueBytes = ((wordA & inC) | (wordB & inA) | (wordC & inB)).rotatedRight(byBits: 16)
        r.pointee = SIMD8(truncatingIfNeeded: unsafeBitCast(redBytes, to: SIMD8<UInt8>.self))
        g.pointee = SIMD8(truncatingIfNeeded: unsafeBitCast(greenBytes, to: SIMD8<UInt8>.self))
        b.pointee = SIMD8(truncatingIfNeeded: unsafeBitCast(blueBytes, to: SIMD8<UInt8>.self))
        raw += 24
        r += 1
        g += 1
        b += 1
    }
    for x in min(columns.upperBound, max(headEnd, endFull * 8))..<columns.upperBound { single(x) }
}

extension UInt64 {
    /// The word rotated towards its low bits by `bits` (0 < `bits` < 64).
    @inline(__always)
    fileprivate func rotatedRight(byBits bits: UInt64) -> UInt64 { (self &>> bits) | (self &<< (64 &- bits)) }
}

/// Pillow's vertical pass for output rows `outputs`: `source` row `i` is row
/// `sourceFirstRow + i` of the image the coefficients were made for, and must exist for every
/// row an output reads; `bytesPerRow` bytes of each are resampled. Output row `yy` goes to
/// `destination` row `yy − destinationFirstRow`.
///
/// Sixteen bytes of a row at a time: the bytes of two source rows are interleaved into 16-bit
/// pairs (row `2j`, row `2j + 1`) and multiplied by the pair of their weights
/// (`multiplyAddPairs`, exact: see "Exact 16-bit multiply-add kernels" above); the last few
/// bytes use the 32-bit loop.
func resampleVertically(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstRow: Int, bytesPerRow: Int,
                        outputs: Range<Int>, coefficients c: ResampleCoefficients,
                        destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int, destinationFirstRow: Int) {
    guard !outputs.isEmpty, bytesPerRow > 0 else { return }
    guard let split = c.split else {
        resampleVerticallyScalar(source: source, sourceRowStride: sourceRowStride, sourceFirstRow: sourceFirstRow,
                                 bytesPerRow: bytesPerRow, outputs: outputs, coefficients: c, destination: destination,
                                 destinationRowStride: destinationRowStride, destinationFirstRow: destinationFirstRow)
        return
    }
    let vectorBytes = bytesPerRow & ~15
    // Per pair of taps: its low weights and its high weights, repeated in the four lane pairs.
    let pairWeights = UnsafeMutablePointer<SIMD8<Int16>>.allocate(capacity: c.taps + 1)
    defer { pairWeights.deallocate() }
    for yy in outputs {
        let ymin = c.start[yy] - sourceFirstRow, n = c.count[yy], pairs = (n + 1) / 2
        for pair in 0..<pairs {
            let tap = yy * c.taps + 2 * pair, second = 2 * pair + 1 < n
            let l0 = split.low[tap], l1 = second ? split.low[tap + 1] : 0
            let h0 = split.high[tap], h1 = second ? split.high[tap + 1] : 0
            pairWeights[2 * pair] = SIMD8(l0, l1, l0, l1, l0, l1, l0, l1)
            pairWeights[2 * pair + 1] = SIMD8(h0, h1, h0, h1, h0, h1, h0, h1)
        }
        let out = destination + (yy - destinationFirstRow) * destinationRowStride
        let firstRow = source + ymin * sourceRowStride
        var i = 0
        while i < vectorBytes {
            var low0 = SIMD4<Int32>(), low1 = SIMD4<Int32>(), low2 = SIMD4<Int32>(), low3 = SIMD4<Int32>()
            var high0 = SIMD4<Int32>(), high1 = SIMD4<Int32>(), high2 = SIMD4<Int32>(), high3 = SIMD4<Int32>()
            for pair in 0..<pairs {
                let upper = firstRow + 2 * pair * sourceRowStride + i
                // An odd count's last pair reads its one row twice (the second weight is 0).
                let lower = 2 * pair + 1 < n ? upper + sourceRowStride : upper
                let a = UnsafeRawPointer(upper).loadUnaligned(as: SIMD16<UInt8>.self)
                let b = UnsafeRawPointer(lower).loadUnaligned(as: SIMD16<UInt8>.self)
                let front = interleaved(a.lowHalf, b.lowHalf), back = interleaved(a.highHalf, b.highHalf)
                let p0 = SIMD8<Int16>(truncatingIfNeeded: front.lowHalf)
                let p1 = SIMD8<Int16>(truncatingIfNeeded: front.highHalf)
                let p2 = SIMD8<Int16>(truncatingIfNeeded: back.lowHalf)
                let p3 = SIMD8<Int16>(truncatingIfNeeded: back.highHalf)
                let wLow = pairWeights[2 * pair], wHigh = pairWeights[2 * pair + 1]
                low0 &+= multiplyAddPairs(p0, wLow)
                high0 &+= multiplyAddPairs(p0, wHigh)
                low1 &+= multiplyAddPairs(p1, wLow)
                high1 &+= multiplyAddPairs(p1, wHigh)
                low2 &+= multiplyAddPairs(p2, wLow)
                high2 &+= multiplyAddPairs(p2, wHigh)
                low3 &+= multiplyAddPairs(p3, wLow)
                high3 &+= multiplyAddPairs(p3, wHigh)
            }
            let v0 = clipped(high: high0, low: low0), v1 = clipped(high: high1, low: low1)
            let v2 = clipped(high: high2, low: low2), v3 = clipped(high: high3, low: low3)
            let bytes = SIMD16<UInt8>(lowHalf: SIMD8(lowHalf: SIMD4(truncatingIfNeeded: v0),
                                                     highHalf: SIMD4(truncatingIfNeeded: v1)),
                                      highHalf: SIMD8(lowHalf: SIMD4(truncatingIfNeeded: v2),
                                                      highHalf: SIMD4(truncatingIfNeeded: v3)))
            UnsafeMutableRawPointer(out + i).storeBytes(of: bytes, as: SIMD16<UInt8>.self)
            i += 16
        }
        if i < bytesPerRow {
            c.weights.withUnsafeBufferPointer { weights in
                let k = yy * c.taps, half = Int32(1 << (precisionBits - 1))
                for column in i..<bytesPerRow {
                    var sum = half
                    for y in 0..<n {
                        sum &+= Int32(firstRow[y * sourceRowStride + column]) &* weights[k + y]
                    }
                    out[column] = clip8(sum)
                }
            }
        }
    }
}

// MARK: - The 32-bit loops (weights whose high half does not fit in 16 bits)

/// `resampleHorizontally` with Pillow's 32-bit multiply-adds.
private func resampleHorizontallyScalar(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstColumn: Int,
                                        rows: Range<Int>, coefficients c: ResampleCoefficients, outputs: Range<Int>,
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

/// `resampleVertically` with Pillow's 32-bit multiply-adds.
private func resampleVerticallyScalar(source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstRow: Int,
                                      bytesPerRow: Int, outputs: Range<Int>, coefficients c: ResampleCoefficients,
                                      destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int,
                                      destinationFirstRow: Int) {
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
