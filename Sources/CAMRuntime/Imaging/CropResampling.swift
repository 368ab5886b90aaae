import Foundation

/// A resize followed by a crop, computing only the output pixels the crop keeps.
///
/// Pillow's coefficients depend only on the full geometry (input size → resized size), and each
/// output sample of a pass is computed independently of its neighbours, so resampling only
/// the kept columns and rows gives exactly the bytes of `resized(...).cropped(...)`. The plan
/// also says which input columns and rows the crop reads, so that a decoder can skip the rest.
struct CropResamplePlan: Sendable {
    /// The coefficients of the full horizontal resize.
    let horizontal: ResampleCoefficients
    /// The coefficients of the full vertical resize.
    let vertical: ResampleCoefficients
    /// The crop's columns, in the resized image.
    let outputColumns: Range<Int>
    /// The crop's rows, in the resized image.
    let outputRows: Range<Int>
    /// Whether the horizontal pass runs first (Pillow's order rule, on the full geometry).
    let horizontalFirst: Bool
    /// The input columns the crop reads.
    let inputColumns: Range<Int>
    /// The input rows the crop reads.
    let inputRows: Range<Int>

    /// The plan for resizing a `width × height` image to `newWidth × newHeight` with `filter`
    /// and keeping the `cropWidth × cropHeight` rectangle at (`cropX`, `cropY`) of the result;
    /// nil unless both sides change size and the crop lies inside the resized image (the
    /// other cases are left to `resized` + `cropped`).
    init?(width: Int, height: Int, newWidth: Int, newHeight: Int, filter: ResampleFilter,
          cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int) {
        guard width > 0, height > 0, newWidth > 0, newHeight > 0, newWidth != width, newHeight != height,
              cropWidth > 0, cropHeight > 0, cropX >= 0, cropY >= 0,
              cropX + cropWidth <= newWidth, cropY + cropHeight <= newHeight else { return nil }
        let horizontal = ResampleCoefficients(inSize: width, in1: Float(width), outSize: newWidth, filter: filter)
        let vertical = ResampleCoefficients(inSize: height, in1: Float(height), outSize: newHeight, filter: filter)
        let columns = cropX..<(cropX + cropWidth), rows = cropY..<(cropY + cropHeight)
        // Pillow's first and last taps are monotonic in the output position, so the inputs of
        // a run of outputs are the span from the first one's start to the last one's end.
        func span(_ c: ResampleCoefficients, _ outputs: Range<Int>) -> Range<Int> {
            let first = outputs.lowerBound, last = outputs.upperBound - 1
            return c.start[first]..<max(c.start[first], c.start[last] + c.count[last])
        }
        self.horizontal = horizontal
        self.vertical = vertical
        outputColumns = columns
        outputRows = rows
        horizontalFirst = !(newWidth * height > width * newHeight)
        inputColumns = span(horizontal, columns)
        inputRows = span(vertical, rows)
    }

    /// The plan of `preset`'s resize and centre crop for a `width × height` image, or nil when
    /// the preset is not a convolution resize of both sides with the crop inside.
    init?(width: Int, height: Int, preset: InputPreset) {
        let filter: ResampleFilter
        switch preset.interpolation {
        case .bilinear: filter = .bilinear
        case .bicubic: filter = .bicubic
        case .nearest: return nil
        }
        guard preset.cropSize > 0,
              let (newWidth, newHeight) = RGBImage.sizeResizingShorterSide(width: width, height: height, to: preset.resizeShorterSide)
        else { return nil }
        let crop = preset.cropSize
        guard crop <= newWidth, crop <= newHeight, newWidth <= 1 << 20, newHeight <= 1 << 20 else { return nil }
        // torchvision's centre-crop origin: round((size − crop) / 2), half to even.
        func origin(_ size: Int) -> Int { Int((Double(size - crop) / 2).rounded(.toNearestOrEven)) }
        self.init(width: width, height: height, newWidth: newWidth, newHeight: newHeight, filter: filter,
                  cropX: origin(newWidth), cropY: origin(newHeight), cropWidth: crop, cropHeight: crop)
    }

    /// The number of first-pass output rows: resampled input rows (horizontal first) or crop
    /// rows (vertical first).
    var firstPassRows: Int { horizontalFirst ? inputRows.count : outputRows.count }

    /// The bytes per row of the first pass's output.
    var firstPassRowBytes: Int { 3 * (horizontalFirst ? outputColumns.count : inputColumns.count) }

    /// How many input rows (counted from `inputRows.lowerBound`) first-pass row `index` needs.
    func inputRowsNeeded(byFirstPassRow index: Int) -> Int {
        inputRows(forFirstPassRow: index).upperBound
    }

    /// The input rows (counted from `inputRows.lowerBound`) first-pass row `index` reads.
    func inputRows(forFirstPassRow index: Int) -> Range<Int> {
        if horizontalFirst { return index..<(index + 1) }
        let yy = outputRows.lowerBound + index
        let first = vertical.start[yy] - inputRows.lowerBound
        return first..<(first + vertical.count[yy])
    }

    /// Runs the first pass for first-pass rows `rows`. `source` holds input rows from
    /// `inputRows.lowerBound` on, `sourceRowStride` bytes apart, byte 0 of each being input
    /// column `sourceFirstColumn` (at most `inputColumns.lowerBound`, and each row must reach
    /// `inputColumns.upperBound`); `destination` holds `firstPassRows` rows of
    /// `firstPassRowBytes`.
    func runFirstPass(rows: Range<Int>, source: UnsafePointer<UInt8>, sourceRowStride: Int, sourceFirstColumn: Int,
                      destination: UnsafeMutablePointer<UInt8>) {
        if horizontalFirst {
            resampleHorizontally(source: source, sourceRowStride: sourceRowStride, sourceFirstColumn: sourceFirstColumn,
                                 rows: rows, coefficients: horizontal, outputs: outputColumns,
                                 destination: destination, destinationRowStride: firstPassRowBytes)
        } else {
            let columnOffset = (inputColumns.lowerBound - sourceFirstColumn) * 3
            let outputs = (outputRows.lowerBound + rows.lowerBound)..<(outputRows.lowerBound + rows.upperBound)
            resampleVertically(source: source + columnOffset, sourceRowStride: sourceRowStride,
                               sourceFirstRow: inputRows.lowerBound, bytesPerRow: firstPassRowBytes,
                               outputs: outputs, coefficients: vertical,
                               destination: destination, destinationRowStride: firstPassRowBytes,
                               destinationFirstRow: outputRows.lowerBound)
        }
    }

    /// Runs the second pass on the whole first-pass result, on up to the available cores when
    /// `concurrent`, else on this thread.
    func secondPass(_ firstPass: UnsafePointer<UInt8>, concurrent: Bool = true) -> RGBImage {
        let cropWidth = outputColumns.count, cropHeight = outputRows.count
        let rowBytes = firstPassRowBytes
        let coefficientsTaps = horizontalFirst ? vertical.taps : horizontal.taps
        let pixels = [UInt8](unsafeUninitializedCapacity: cropWidth * cropHeight * 3) { out, initialized in
            guard let base = out.baseAddress else { return }
            let s = UnsafeSendable(value: firstPass), d = UnsafeSendable(value: base)
            forEachRowChunk(cropHeight, minimumWork: concurrent ? cropHeight * cropWidth * coefficientsTaps / 200_000 : 1) { range in
                if horizontalFirst {
                    resampleVertically(source: s.value, sourceRowStride: rowBytes, sourceFirstRow: inputRows.lowerBound,
                                       bytesPerRow: cropWidth * 3,
                                       outputs: (outputRows.lowerBound + range.lowerBound)..<(outputRows.lowerBound + range.upperBound),
                                       coefficients: vertical, destination: d.value, destinationRowStride: cropWidth * 3,
                                       destinationFirstRow: outputRows.lowerBound)
                } else {
                    resampleHorizontally(source: s.value, sourceRowStride: rowBytes, sourceFirstColumn: inputColumns.lowerBound,
                                         rows: range, coefficients: horizontal, outputs: outputColumns,
                                         destination: d.value, destinationRowStride: cropWidth * 3)
                }
            }
            initialized = cropWidth * cropHeight * 3
        }
        return RGBImage(width: cropWidth, height: cropHeight, pixels: pixels)
    }

    /// Both passes on an image already in memory (whose size the plan was made for), the first
    /// one on up to the available cores.
    func apply(to image: RGBImage) -> RGBImage {
        let rows = firstPassRows, rowBytes = firstPassRowBytes
        let intermediate = UnsafeMutablePointer<UInt8>.allocate(capacity: max(rows * rowBytes, 1))
        defer { intermediate.deallocate() }
        let taps = horizontalFirst ? horizontal.taps : vertical.taps
        image.pixels.withUnsafeBufferPointer { pixels in
            guard let base = pixels.baseAddress else { return }
            let stride = image.width * 3
            let s = UnsafeSendable(value: base + inputRows.lowerBound * stride), d = UnsafeSendable(value: intermediate)
            forEachRowChunk(rows, minimumWork: rows * (rowBytes / 3) * taps / 200_000) { range in
                runFirstPass(rows: range, source: s.value, sourceRowStride: stride, sourceFirstColumn: 0, destination: d.value)
            }
        }
        return secondPass(intermediate)
    }
}
