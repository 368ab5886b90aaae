import CJPEGScan
import Foundation

/// Decoding a JPEG straight into a preset's crop: only the column band the crop reads is
/// decoded (libjpeg-turbo's `jpeg_crop_scanline`: no IDCT, upsampling or colour conversion for
/// the other columns), row strips are resampled on a second thread while the decoder reads
/// the next ones, and the full-size picture is never allocated.
///
/// The bytes are exactly those of `preprocessedCrop(RGBImage(data:), preset:)`: the decoded band
/// has a margin of whole iMCUs on each side, so the smooth chroma upsampling of the columns
/// used sees the same neighbours as in a full decode (checked by tests on 4:2:0, 4:2:2,
/// 4:4:4, grey and progressive files); the resampling is `CropResamplePlan`.
enum JPEGCropDecoder {
    /// Columns decoded on each side of the ones the crop reads, before libjpeg-turbo widens
    /// the band to whole iMCUs (at most 32 columns wide): the smooth upsampling of a band edge
    /// differs from a full decode's, so the edges must fall outside the columns used.
    static let bandMargin = 64

    /// Input rows decoded per step (libjpeg-turbo returns one or two per call).
    static let stripRows = 16

    /// First-pass rows a thread takes at a time.
    static let batchRows = 24

    /// The preset's crop of the JPEG `data`, or nil when the preset has no crop plan for the
    /// image's size (the caller then decodes the whole image).
    ///
    /// - Throws: `ImageError` as `RGBImage(data:fileName:limits:)` for JPEG data.
    static func preprocessedCrop(_ data: Data, preset: InputPreset, fileName: String, note: String,
                                 limits: ImageLimits, draft: Bool = false, margin: Int = bandMargin) throws -> RGBImage? {
        guard let decoder = jpegscan_create() else {
            throw ImageError(file: fileName, "libjpeg-turbo could not start a decoder (out of memory)")
        }
        defer { jpegscan_destroy(decoder) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> RGBImage? in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw ImageError(file: fileName, "the file is empty (expected a JPEG image)")
            }
            func fail(_ status: Int32, _ context: String) -> ImageError {
                let message = String(cString: jpegscan_message(decoder))
                let text = message.isEmpty ? "libjpeg-turbo reported an error without a message" : message
                switch Int(status) {
                case Int(JPEGSCAN_CMYK):
                    return ImageError(file: fileName, "it is a CMYK JPEG\(note); only greyscale and colour (YCbCr/RGB) JPEGs are supported — convert it to RGB first")
                case Int(JPEGSCAN_WARNING):
                    return ImageError(file: fileName, "the JPEG data is truncated or corrupt\(note): \(text)")
                default:
                    return ImageError(file: fileName, "\(context)\(note): \(text)")
                }
            }
            var width: Int32 = 0, height: Int32 = 0
            let header = jpegscan_read_header(decoder, base, UInt(raw.count), &width, &height)
            if header != Int32(JPEGSCAN_OK) { throw fail(header, "it is not a readable JPEG") }
            try RGBImage.checkSize(width: Int(width), height: Int(height), fileName: fileName, format: "JPEG", limits: limits)
            if draft, let denominator = draftDenominator(width: Int(width), height: Int(height), preset: preset) {
                var scaledWidth: Int32 = 0, scaledHeight: Int32 = 0
                let scaled = jpegscan_scaled_size(decoder, Int32(denominator), &scaledWidth, &scaledHeight)
                if scaled != Int32(JPEGSCAN_OK) { throw fail(scaled, "the JPEG data cannot be decoded") }
                if CropResamplePlan(width: Int(scaledWidth), height: Int(scaledHeight), preset: preset) != nil {
                    width = scaledWidth
                    height = scaledHeight
                } else {
                    _ = jpegscan_scaled_size(decoder, 1, &scaledWidth, &scaledHeight)
                }
            }
            guard let plan = CropResamplePlan(width: Int(width), height: Int(height), preset: preset) else { return nil }
            var bandStart = Int32(max(0, plan.inputColumns.lowerBound - margin))
            var bandWidth = Int32(min(Int(width), plan.inputColumns.upperBound + margin)) - bandStart
            let started = jpegscan_start(decoder, &bandStart, &bandWidth)
            if started != Int32(JPEGSCAN_OK) { throw fail(started, "the JPEG data cannot be decoded") }
            guard Int(bandStart) <= plan.inputColumns.lowerBound, Int(bandStart + bandWidth) >= plan.inputColumns.upperBound else {
                throw ImageError(file: fileName, "libjpeg-turbo decoded columns \(bandStart)..<\(bandStart + bandWidth), expected them to cover \(plan.inputColumns)")
            }
            return try decodeAndResample(decoder, plan: plan, imageHeight: Int(height), bandStart: Int(bandStart),
                                         bandWidth: Int(bandWidth), fail: fail)
        }
    }

    /// The DCT scaling Pillow's `Image.draft("RGB", size)` picks when `size` is the size the
    /// preset resizes a `width × height` image to: the largest of 8, 4, 2 not above
    /// `min(width / newWidth, height / newHeight)` (integer divisions), or nil for none.
    static func draftDenominator(width: Int, height: Int, preset: InputPreset) -> Int? {
        let short = min(width, height), long = max(width, height)
        guard short > 0, preset.resizeShorterSide > 0 else { return nil }
        let (product, overflow) = preset.resizeShorterSide.multipliedReportingOverflow(by: long)
        guard !overflow else { return nil }
        let newLong = Int(Double(product) / Double(short))
        let (newWidth, newHeight) = width <= height ? (preset.resizeShorterSide, newLong) : (newLong, preset.resizeShorterSide)
        guard newWidth > 0, newHeight > 0 else { return nil }
        let ratio = min(width / newWidth, height / newHeight)
        return [8, 4, 2].first { ratio >= $0 }
    }

    /// Reads the crop's rows into a band buffer (skipping the IDCT of the others), the first
    /// resampling pass following on a second thread; then the second pass.
    private static func decodeAndResample(_ decoder: OpaquePointer, plan: CropResamplePlan, imageHeight: Int,
                                          bandStart: Int, bandWidth: Int,
                                          fail: (Int32, String) -> ImageError) throws -> RGBImage {
        let stride = bandWidth * 3
        let bandRows = plan.inputRows.count
        let band = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bandRows * stride, 1))
        defer { band.deallocate() }
        adviseHugePages(band, byteCount: bandRows * stride)
        let lastRow = UnsafeMutablePointer<UInt8>.allocate(capacity: stride)
        defer { lastRow.deallocate() }
        let firstPass = UnsafeMutablePointer<UInt8>.allocate(capacity: max(plan.firstPassRows * plan.firstPassRowBytes, 1))
        defer { firstPass.deallocate() }

        let work = StripWork(plan: plan, batch: batchRows)
        let source = UnsafeSendable(value: UnsafePointer(band)), target = UnsafeSendable(value: firstPass)
        let runBatches: @Sendable () -> Void = {
            while let rows = work.claim() {
                plan.runFirstPass(rows: rows, source: source.value, sourceRowStride: stride, sourceFirstColumn: bandStart,
                                  destination: target.value)
            }
        }
        let helper = DispatchGroup()
        DispatchQueue.global(qos: .userInitiated).async(group: helper, execute: runBatches)

        var failure: ImageError?
        /// Skips `count` rows (entropy decoding only); false after a failure.
        func skip(_ count: Int) -> Bool {
            guard count > 0 else { return true }
            var skipped: Int32 = 0
            let status = jpegscan_skip_rows(decoder, Int32(count), &skipped)
            if status != Int32(JPEGSCAN_OK) {
                failure = fail(status, "the JPEG data cannot be decoded")
            } else if Int(skipped) != count {
                failure = fail(Int32(JPEGSCAN_ERROR), "the JPEG decoder skipped \(skipped) rows of \(count)")
            }
            return failure == nil
        }
        /// Reads up to `wanted` rows into `destination`; their number, or nil after a failure.
        func read(_ wanted: Int, into destination: UnsafeMutablePointer<UInt8>, at row: Int) -> Int? {
            var got: Int32 = 0
            let status = jpegscan_read_rows(decoder, destination, stride, Int32(wanted), &got)
            if status != Int32(JPEGSCAN_OK) {
                failure = fail(status, "the JPEG data cannot be decoded")
                return nil
            }
            if got <= 0 {
                failure = fail(Int32(JPEGSCAN_ERROR), "the JPEG decoder stopped at row \(row) of \(imageHeight)")
                return nil
            }
            return Int(got)
        }
        // The rows above the crop's are skipped, the crop's read, and the rows below skipped but
        // the last, which is read so that libjpeg checks the data to the end of the image.
        var row = plan.inputRows.lowerBound
        if skip(row) {
            while row < plan.inputRows.upperBound {
                let wanted = min(stripRows, plan.inputRows.upperBound - row)
                guard let got = read(wanted, into: band + (row - plan.inputRows.lowerBound) * stride, at: row) else { break }
                row += got
                work.publish(inputRows: row - plan.inputRows.lowerBound)
            }
        }
        if failure == nil, row < imageHeight, skip(imageHeight - row - 1) {
            _ = read(1, into: lastRow, at: imageHeight - 1)
        }
        if failure == nil {
            let finished = jpegscan_finish(decoder)
            if finished != Int32(JPEGSCAN_OK) { failure = fail(finished, "the JPEG data cannot be decoded") }
        }
        if let failure {
            work.cancel()
            helper.wait()
            throw failure
        }
        runBatches()  // this thread helps with what is left
        helper.wait()
        return plan.secondPass(firstPass)
    }
}

extension JPEGCropDecoder {
    /// Decodes columns `columns` widened by `margin` on each side (and then to whole iMCUs by
    /// libjpeg-turbo) of every row: the band the crop path decodes, for checking its edges.
    ///
    /// - Returns: the first decoded column and the band.
    /// - Throws: `ImageError` when the data is not a decodable JPEG or `columns` is not inside it.
    static func decodeBand(_ data: Data, columns: Range<Int>, margin: Int) throws -> (firstColumn: Int, band: RGBImage) {
        guard let decoder = jpegscan_create() else { throw ImageError("libjpeg-turbo could not start a decoder") }
        defer { jpegscan_destroy(decoder) }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> (firstColumn: Int, band: RGBImage) in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw ImageError("empty JPEG data") }
            var width: Int32 = 0, height: Int32 = 0
            guard jpegscan_read_header(decoder, base, UInt(raw.count), &width, &height) == Int32(JPEGSCAN_OK) else {
                throw ImageError("not a readable JPEG: \(String(cString: jpegscan_message(decoder)))")
            }
            guard columns.lowerBound >= 0, columns.upperBound <= Int(width), !columns.isEmpty else {
                throw ImageError("columns \(columns) are not inside the image's \(width) columns")
            }
            var first = Int32(max(0, columns.lowerBound - margin))
            var count = Int32(min(Int(width), columns.upperBound + margin)) - first
            guard jpegscan_start(decoder, &first, &count) == Int32(JPEGSCAN_OK) else {
                throw ImageError("cannot start decoding: \(String(cString: jpegscan_message(decoder)))")
            }
            let stride = Int(count) * 3, rows = Int(height)
            var ok = true
            let pixels = [UInt8](unsafeUninitializedCapacity: rows * stride) { buffer, initialized in
                guard let out = buffer.baseAddress else { return }
                var row = 0
                while row < rows {
                    var got: Int32 = 0
                    if jpegscan_read_rows(decoder, out + row * stride, stride, Int32(rows - row), &got) != Int32(JPEGSCAN_OK) || got <= 0 {
                        ok = false
                        break
                    }
                    row += Int(got)
                }
                initialized = ok ? rows * stride : 0
            }
            guard ok, jpegscan_finish(decoder) == Int32(JPEGSCAN_OK) else {
                throw ImageError("cannot decode: \(String(cString: jpegscan_message(decoder)))")
            }
            return (Int(first), RGBImage(width: Int(count), height: rows, pixels: pixels))
        }
    }
}

/// The first-pass rows of a `CropResamplePlan`, handed out in batches as the input rows they
/// need are decoded.
private final class StripWork: @unchecked Sendable {
    private let condition = NSCondition()
    private let plan: CropResamplePlan
    private let batch: Int
    /// Input rows decoded so far (from the plan's first input row); guarded by `condition`.
    private var decodedRows = 0
    /// First-pass rows handed out so far; guarded by `condition`.
    private var claimedRows = 0
    /// Set when decoding failed; guarded by `condition`.
    private var cancelled = false

    init(plan: CropResamplePlan, batch: Int) {
        self.plan = plan
        self.batch = batch
    }

    /// Records that `inputRows` input rows are now decoded.
    func publish(inputRows: Int) {
        condition.lock()
        decodedRows = inputRows
        condition.broadcast()
        condition.unlock()
    }

    /// Stops handing out work.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch of first-pass rows whose inputs are decoded, waiting for them if needed;
    /// nil when every row was handed out or decoding failed.
    func claim() -> Range<Int>? {
        condition.lock()
        defer { condition.unlock() }
        let total = plan.firstPassRows
        while true {
            if cancelled || claimedRows >= total { return nil }
            if plan.inputRowsNeeded(byFirstPassRow: claimedRows) <= decodedRows {
                var end = claimedRows + 1
                while end < min(total, claimedRows + batch), plan.inputRowsNeeded(byFirstPassRow: end) <= decodedRows {
                    end += 1
                }
                let rows = claimedRows..<end
                claimedRows = end
                return rows
            }
            condition.wait()
        }
    }
}

extension RGBImage {
    /// The uint8 crop of `preset` for the image in `data`, as `preprocessedCrop(RGBImage(data:), preset:)`
    /// gives it (byte for byte unless `draft`), but for a JPEG decoding only the columns the
    /// crop reads, resampling on a second core while decoding, and never holding the full-size
    /// picture.
    ///
    /// With `draft`, a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size by libjpeg's
    /// scaled IDCT, as Pillow's `Image.draft("RGB", size)` does when `size` is the resized size
    /// (the largest reduction that keeps both sides at least that size), and the preset is
    /// applied to that smaller picture. **This changes the pixels** against the reference
    /// (torchvision on the full decode) — several grey levels — and so the model's scores:
    /// it is an explicit speed option, never the default. PNGs and small JPEGs are unaffected.
    ///
    /// - Throws: `ImageError` as `RGBImage(data:fileName:limits:)`.
    public static func preprocessedCrop(data: Data, preset: InputPreset, fileName: String = "data",
                                        limits: ImageLimits = .default, draft: Bool = false) throws -> RGBImage {
        if ImageFileFormat.detect(data) == .jpeg {
            let named = ImageFileFormat.fromExtension(of: URL(fileURLWithPath: fileName))
            let note = (named != nil && named != .jpeg)
                ? " (the file holds JPEG data despite its .\(URL(fileURLWithPath: fileName).pathExtension) extension)" : ""
            if let crop = try JPEGCropDecoder.preprocessedCrop(data, preset: preset, fileName: fileName, note: note,
                                                               limits: limits, draft: draft) {
                return crop
            }
        }
        return CAMRuntime.preprocessedCrop(try RGBImage(data: data, fileName: fileName, limits: limits), preset: preset)
    }

    /// The uint8 crop of `preset` for the image file at `url` (see `preprocessedCrop(data:preset:fileName:limits:)`).
    ///
    /// - Throws: `ImageError` as `init(contentsOf:limits:)`.
    public static func preprocessedCrop(contentsOf url: URL, preset: InputPreset,
                                        limits: ImageLimits = .default, draft: Bool = false) throws -> RGBImage {
        let data = try readImageFile(url)
        return try preprocessedCrop(data: data, preset: preset, fileName: url.lastPathComponent, limits: limits, draft: draft)
    }
}

/// The model input for the image file at `url`, equal to `preprocess(RGBImage(contentsOf: url), preset:)`
/// but faster for large JPEGs (see `RGBImage.preprocessedCrop(data:preset:fileName:limits:draft:)`;
/// `draft` trades exactness for speed and is off by default).
///
/// - Throws: `ImageError` as `RGBImage(contentsOf:limits:)`.
public func preprocess(contentsOf url: URL, preset: InputPreset, limits: ImageLimits = .default,
                       draft: Bool = false) throws -> Tensor {
    try RGBImage.preprocessedCrop(contentsOf: url, preset: preset, limits: limits, draft: draft)
        .normalizedTensor(mean: preset.mean, std: preset.std)
}
