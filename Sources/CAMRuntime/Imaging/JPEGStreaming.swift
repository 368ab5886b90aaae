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

    /// Crop rows from which a baseline JPEG's band is read by two decoders at once (see
    /// `decodeAndResample`); smaller images gain less than a second decoder costs.
    static let splitMinimumRows = 768

    /// The share of the crop's rows the first of two decoders reads. The second one
    /// entropy-decodes everything above its share to get there (libjpeg cannot seek); the
    /// first resamples while the second finishes. 0.4, 0.5 and 0.6 measured alike on
    /// 12-megapixel files (docs/performance.md).
    static let firstDecoderShare = 0.5

    /// The preset's crop of the JPEG `data`, or nil when the preset has no crop plan for the
    /// image's size (the caller then decodes the whole image).
    ///
    /// - Throws: `ImageError` as `RGBImage(data:fileName:limits:)` for JPEG data.
    static func preprocessedCrop(_ data: Data, preset: InputPreset, fileName: String, note: String,
                                 limits: ImageLimits, draft: Bool = false, concurrent: Bool = true,
                                 margin: Int = bandMargin, splitMinimumRows: Int = splitMinimumRows) throws -> RGBImage? {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> RGBImage? in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                throw ImageError(file: fileName, "the file is empty (expected a JPEG image)")
            }
            let source = JPEGBytes(base: base, count: raw.count)
            let first = try BandDecoder(source, fileName: fileName, note: note)
            var (width, height) = (first.width, first.height)
            try RGBImage.checkSize(width: width, height: height, fileName: fileName, format: "JPEG", limits: limits)
            var denominator = 1
            if draft, let candidate = draftDenominator(width: width, height: height, preset: preset) {
                let scaled = try first.scale(by: candidate)
                if CropResamplePlan(width: scaled.width, height: scaled.height, preset: preset) != nil {
                    (width, height) = scaled
                    denominator = candidate
                } else {
                    _ = try first.scale(by: 1)
                }
            }
            guard let plan = CropResamplePlan(width: width, height: height, preset: preset) else { return nil }
            let wanted = max(0, plan.inputColumns.lowerBound - margin)..<min(width, plan.inputColumns.upperBound + margin)
            let progressive = try first.hasMultipleScans()
            let split = concurrent && plan.inputRows.count >= splitMinimumRows
                && ProcessInfo.processInfo.activeProcessorCount >= 2 && !progressive
            let band = try first.start(columns: wanted)
            guard band.lowerBound <= plan.inputColumns.lowerBound, band.upperBound >= plan.inputColumns.upperBound else {
                throw ImageError(file: fileName, "libjpeg-turbo decoded columns \(band), expected them to cover \(plan.inputColumns)")
            }
            var second: BandDecoder?
            if split {
                let other = try BandDecoder(source, fileName: fileName, note: note)
                if denominator > 1 { _ = try other.scale(by: denominator) }
                if try other.start(columns: wanted) == band { second = other }
            }
            return try decodeAndResample(first, second, plan: plan, imageHeight: height, band: band, concurrent: concurrent)
        }
    }

    /// Pixels from which `RGBImage(data:)` decodes a baseline JPEG with two decoders.
    static let splitMinimumPixels = 2_000_000

    /// The share of the rows the first of two decoders reads when decoding a whole picture:
    /// the second one also entropy-decodes the first's rows (without IDCT), so the first takes
    /// more. With entropy decoding ~3.5 µs and the rest ~2.9 µs per 4000-pixel row here, the
    /// two finish together at about 0.69.
    static let wholePictureFirstShare = 0.69

    /// The whole picture of the JPEG at `base` (whose header was read and checked; the caller
    /// asks from `splitMinimumPixels` on), decoded by two decoders on two threads as
    /// `decodeAndResample` splits a crop's rows, or nil when that does not pay: one core, or a
    /// progressive file (the caller then decodes it with TurboJPEG). The pixels are TurboJPEG's:
    /// the same library and settings (accurate integer IDCT, smooth upsampling, RGB output).
    ///
    /// - Throws: `ImageError` when the data is truncated or corrupt.
    static func decodedInTwo(_ base: UnsafePointer<UInt8>, count: Int, fileName: String, note: String) throws -> RGBImage? {
        let source = JPEGBytes(base: base, count: count)
        let first = try BandDecoder(source, fileName: fileName, note: note)
        let (width, height) = (first.width, first.height)
        guard height >= 2, ProcessInfo.processInfo.activeProcessorCount >= 2, !(try first.hasMultipleScans()) else {
            return nil
        }
        let second = try BandDecoder(source, fileName: fileName, note: note)
        guard try first.start(columns: 0..<width) == 0..<width, try second.start(columns: 0..<width) == 0..<width else {
            return nil
        }
        let split = max(1, min(height - 1, Int(Double(height) * wholePictureFirstShare)))
        let total = width * height * 3
        let failure = FirstFailure()
        let pixels = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            guard let start = buffer.baseAddress else { return }
            adviseHugePages(start, byteCount: total)
            let output = BandBuffer(pixels: start, stride: width * 3, firstRow: 0)
            let helper = DispatchGroup()
            DispatchQueue.global(qos: .userInitiated).async(group: helper) {
                do {
                    try second.decode(split..<height, into: output, imageHeight: height, checkingToEnd: true,
                                      stop: { failure.isSet }) { _ in }
                } catch {
                    failure.record(error)
                }
            }
            do {
                try first.decode(0..<split, into: output, imageHeight: height, checkingToEnd: false,
                                 stop: { failure.isSet }) { _ in }
            } catch {
                failure.record(error)
            }
            helper.wait()
            initialized = failure.isSet ? 0 : total
        }
        if let error = failure.error { throw error }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The DCT scaling Pillow's `Image.draft("RGB", size)` picks when `size` is the size the
    /// preset resizes a `width × height` image to: the largest of 8, 4, 2 not above
    /// `min(width / newWidth, height / newHeight)` (integer divisions), or nil for none.
    static func draftDenominator(width: Int, height: Int, preset: InputPreset) -> Int? {
        guard let (newWidth, newHeight) = RGBImage.sizeResizingShorterSide(width: width, height: height, to: preset.resizeShorterSide),
              newWidth > 0, newHeight > 0 else { return nil }
        let ratio = min(width / newWidth, height / newHeight)
        return [8, 4, 2].first { ratio >= $0 }
    }

    /// Reads the crop's rows into a band buffer (the IDCT of the others skipped), runs the first
    /// resampling pass on the rows as they arrive, then the second pass.
    ///
    /// With one decoder, this thread decodes and a second one resamples behind it. With two
    /// (`second`, a baseline JPEG whose crop has many rows), entropy decoding, which is
    /// sequential, stays the only serial part: this thread decodes the top share of the rows
    /// and then resamples; the second decoder, on another thread, entropy-decodes its way past
    /// that share without the IDCT, decodes the rest, checks the data to the end of the image,
    /// and resamples what is left. Not `concurrent`: this thread decodes, then resamples, alone.
    private static func decodeAndResample(_ first: BandDecoder, _ second: BandDecoder?, plan: CropResamplePlan,
                                          imageHeight: Int, band: Range<Int>, concurrent: Bool) throws -> RGBImage {
        let stride = band.count * 3
        let bandRows = plan.inputRows.count
        let pixels = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bandRows * stride, 1))
        defer { pixels.deallocate() }
        adviseHugePages(pixels, byteCount: bandRows * stride)
        let firstPass = UnsafeMutablePointer<UInt8>.allocate(capacity: max(plan.firstPassRows * plan.firstPassRowBytes, 1))
        defer { firstPass.deallocate() }

        let splitRow = second == nil ? bandRows : max(1, min(bandRows - 1, Int(Double(bandRows) * firstDecoderShare)))
        let work = StripWork(plan: plan, batch: batchRows, split: splitRow)
        let rows = plan.inputRows
        let output = BandBuffer(pixels: pixels, stride: stride, firstRow: rows.lowerBound)
        let source = UnsafeSendable(value: UnsafePointer(pixels)), target = UnsafeSendable(value: firstPass)
        let bandStart = band.lowerBound
        let runBatches: @Sendable () -> Void = {
            while let claimed = work.claim() {
                plan.runFirstPass(rows: claimed, source: source.value, sourceRowStride: stride, sourceFirstColumn: bandStart,
                                  destination: target.value)
            }
        }
        let helper = DispatchGroup()
        if let second {
            let bottom = (rows.lowerBound + splitRow)..<rows.upperBound
            DispatchQueue.global(qos: .userInitiated).async(group: helper) {
                do {
                    try second.decode(bottom, into: output, imageHeight: imageHeight, checkingToEnd: true,
                                      stop: { work.isCancelled }) { work.publish(bottomRows: $0) }
                    runBatches()
                } catch {
                    work.fail(error)
                }
            }
            do {
                try first.decode(rows.lowerBound..<(rows.lowerBound + splitRow), into: output, imageHeight: imageHeight,
                                 checkingToEnd: false, stop: { work.isCancelled }) { work.publish(topRows: $0) }
            } catch {
                work.fail(error)
            }
        } else {
            if concurrent { DispatchQueue.global(qos: .userInitiated).async(group: helper, execute: runBatches) }
            do {
                try first.decode(rows, into: output, imageHeight: imageHeight, checkingToEnd: true,
                                 stop: { work.isCancelled }) { work.publish(topRows: $0) }
            } catch {
                work.fail(error)
            }
        }
        runBatches()  // this thread resamples what is decoded, and helps with what is left
        helper.wait()
        if let failure = work.failure { throw failure }
        return plan.secondPass(firstPass, concurrent: concurrent)
    }
}

/// The first error of work shared by threads.
private final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Error?

    /// Keeps `error` unless an earlier one is kept.
    func record(_ error: Error) {
        lock.lock()
        if stored == nil { stored = error }
        lock.unlock()
    }

    /// The first error, if any.
    var error: Error? {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    /// Whether an error was recorded.
    var isSet: Bool { error != nil }
}

/// The JPEG bytes the decoders read; they stay alive (and unchanged) while a decoder uses them.
private struct JPEGBytes: @unchecked Sendable {
    let base: UnsafePointer<UInt8>
    let count: Int
}

/// Where decoded rows go: image row `r` at `pixels + (r − firstRow) · stride`.
private struct BandBuffer: @unchecked Sendable {
    let pixels: UnsafeMutablePointer<UInt8>
    let stride: Int
    let firstRow: Int
}

/// One libjpeg decompressor over the whole JPEG (`Sources/CJPEGScan`), used by one thread at a
/// time; its errors become `ImageError`s naming the file.
private final class BandDecoder: @unchecked Sendable {
    private let handle: OpaquePointer
    private let fileName: String
    private let note: String
    /// The image size in the header (or after `scale(by:)`).
    private(set) var width = 0
    /// See `width`.
    private(set) var height = 0

    /// A decompressor that has read the header of `source`.
    init(_ source: JPEGBytes, fileName: String, note: String) throws {
        guard let handle = jpegscan_create() else {
            throw ImageError(file: fileName, "libjpeg-turbo could not start a decoder (out of memory)")
        }
        self.handle = handle
        self.fileName = fileName
        self.note = note
        var width: Int32 = 0, height: Int32 = 0
        try check(jpegscan_read_header(handle, source.base, UInt(source.count), &width, &height), "it is not a readable JPEG")
        (self.width, self.height) = (Int(width), Int(height))
    }

    deinit { jpegscan_destroy(handle) }

    /// Throws `status` as an `ImageError` with libjpeg's message, unless it is `JPEGSCAN_OK`.
    private func check(_ status: Int32, _ context: String = "the JPEG data cannot be decoded") throws {
        guard status != Int32(JPEGSCAN_OK) else { return }
        let message = String(cString: jpegscan_message(handle))
        let text = message.isEmpty ? "libjpeg-turbo reported an error without a message" : message
        switch Int(status) {
        case Int(JPEGSCAN_CMYK):
            throw ImageError(file: fileName, "it is a CMYK JPEG\(note); only greyscale and colour (YCbCr/RGB) JPEGs are supported — convert it to RGB first")
        case Int(JPEGSCAN_WARNING):
            throw ImageError(file: fileName, "the JPEG data is truncated or corrupt\(note): \(text)")
        default:
            throw ImageError(file: fileName, "\(context)\(note): \(text)")
        }
    }

    /// Decodes at 1/`denominator` of the size (libjpeg's scaled IDCT); the new size.
    func scale(by denominator: Int) throws -> (width: Int, height: Int) {
        var width: Int32 = 0, height: Int32 = 0
        try check(jpegscan_scaled_size(handle, Int32(denominator), &width, &height))
        (self.width, self.height) = (Int(width), Int(height))
        return (self.width, self.height)
    }

    /// Whether the JPEG is progressive (several scans).
    func hasMultipleScans() throws -> Bool {
        var multiple: Int32 = 0
        try check(jpegscan_has_multiple_scans(handle, &multiple))
        return multiple != 0
    }

    /// Starts decompressing the columns `columns`, widened by libjpeg to whole iMCUs: the columns
    /// it will output.
    func start(columns: Range<Int>) throws -> Range<Int> {
        var first = Int32(columns.lowerBound), count = Int32(columns.count)
        try check(jpegscan_start(handle, &first, &count))
        return Int(first)..<Int(first + count)
    }

    /// Decodes image rows `rows` into `output`, calling `progress` with the number decoded so
    /// far after each strip: the rows above are skipped (entropy decoding only); with
    /// `checkingToEnd`, the rows below are skipped but the last, which is read so that libjpeg
    /// checks the data to the end of the image, and decompression is finished. Returns early,
    /// without error, when `stop` says so.
    func decode(_ rows: Range<Int>, into output: BandBuffer, imageHeight: Int, checkingToEnd: Bool,
                stop: () -> Bool, progress: (Int) -> Void) throws {
        try skip(rows.lowerBound)
        var row = rows.lowerBound
        while row < rows.upperBound {
            if stop() { return }
            let wanted = min(JPEGCropDecoder.stripRows, rows.upperBound - row)
            row += try read(wanted, into: output.pixels + (row - output.firstRow) * output.stride, stride: output.stride,
                            at: row, of: imageHeight)
            progress(row - rows.lowerBound)
        }
        guard checkingToEnd else { return }
        if row < imageHeight {
            try skip(imageHeight - row - 1)
            let last = UnsafeMutablePointer<UInt8>.allocate(capacity: output.stride)
            defer { last.deallocate() }
            _ = try read(1, into: last, stride: output.stride, at: imageHeight - 1, of: imageHeight)
        }
        try check(jpegscan_finish(handle))
    }

    /// Skips `count` rows (entropy decoding only).
    private func skip(_ count: Int) throws {
        guard count > 0 else { return }
        var skipped: Int32 = 0
        try check(jpegscan_skip_rows(handle, Int32(count), &skipped))
        guard Int(skipped) == count else {
            throw ImageError(file: fileName, "the JPEG data cannot be decoded\(note): libjpeg-turbo skipped \(skipped) rows of \(count)")
        }
    }

    /// Reads up to `wanted` rows (at least one) into `destination`; how many it read.
    private func read(_ wanted: Int, into destination: UnsafeMutablePointer<UInt8>, stride: Int, at row: Int,
                      of imageHeight: Int) throws -> Int {
        var got: Int32 = 0
        try check(jpegscan_read_rows(handle, destination, stride, Int32(wanted), &got))
        guard got > 0 else {
            throw ImageError(file: fileName, "the JPEG data cannot be decoded\(note): the decoder stopped at row \(row) of \(imageHeight)")
        }
        return Int(got)
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
/// need are decoded: by one decoder from the top, or by two, the first reading the crop's rows
/// above `split` and the second the rows from `split` on.
private final class StripWork: @unchecked Sendable {
    private let condition = NSCondition()
    private let plan: CropResamplePlan
    private let batch: Int
    /// The first crop row (counted from the plan's first input row) of the second decoder.
    private let split: Int
    /// First-pass rows `0..<topRows` read only rows above `split`; the others read some below.
    private let topRows: Int
    /// Rows decoded from the top and from `split`; guarded by `condition`.
    private var decodedTop = 0, decodedBottom = 0
    /// The next first-pass rows to hand out among `0..<topRows` and `topRows..<firstPassRows`;
    /// guarded by `condition`.
    private var nextTop = 0, nextBottom: Int
    /// The first error, which stops all work.
    private let firstFailure = FirstFailure()

    init(plan: CropResamplePlan, batch: Int, split: Int) {
        self.plan = plan
        self.batch = batch
        self.split = split
        var top = 0
        while top < plan.firstPassRows, plan.inputRows(forFirstPassRow: top).upperBound <= split { top += 1 }
        topRows = top
        nextBottom = top
    }

    /// Records that `count` rows from the top are decoded.
    func publish(topRows count: Int) {
        condition.lock()
        decodedTop = count
        condition.broadcast()
        condition.unlock()
    }

    /// Records that `count` rows from `split` on are decoded.
    func publish(bottomRows count: Int) {
        condition.lock()
        decodedBottom = count
        condition.broadcast()
        condition.unlock()
    }

    /// Records the first error and stops handing out work.
    func fail(_ error: Error) {
        firstFailure.record(error)
        condition.lock()  // a claim waiting under the lock sees the error after this wake-up
        condition.broadcast()
        condition.unlock()
    }

    /// The first error, if one stopped the work.
    var failure: Error? { firstFailure.error }

    /// Whether an error stopped the work.
    var isCancelled: Bool { firstFailure.isSet }

    /// Whether the input rows of first-pass row `index` are decoded; `condition` held.
    private func isReady(_ index: Int) -> Bool {
        let needed = plan.inputRows(forFirstPassRow: index)
        if needed.lowerBound < split && Swift.min(needed.upperBound, split) > decodedTop { return false }
        if needed.upperBound > split && needed.upperBound - split > decodedBottom { return false }
        return true
    }

    /// Up to `batch` ready rows from `start` (below `end`); `condition` held.
    private func readyRun(from start: Int, below end: Int) -> Range<Int>? {
        guard start < end, isReady(start) else { return nil }
        var last = start + 1
        while last < Swift.min(end, start + batch), isReady(last) { last += 1 }
        return start..<last
    }

    /// The next batch of first-pass rows whose inputs are decoded, waiting for them if needed;
    /// nil when every row was handed out or an error stopped the work.
    func claim() -> Range<Int>? {
        condition.lock()
        defer { condition.unlock() }
        let total = plan.firstPassRows
        while true {
            if firstFailure.isSet || (nextTop >= topRows && nextBottom >= total) { return nil }
            if let rows = readyRun(from: nextTop, below: topRows) {
                nextTop = rows.upperBound
                return rows
            }
            if let rows = readyRun(from: nextBottom, below: total) {
                nextBottom = rows.upperBound
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
    /// `concurrent: false` decodes and resamples a JPEG's crop on the calling thread only (the
    /// same bytes): less CPU in all — no second decoder re-reading the entropy-coded data, no
    /// hand-offs — for callers whose other cores are busy anyway, such as a dataset's prefetch
    /// beside the model. Other images (PNGs, a JPEG without a crop plan) take the usual path.
    ///
    /// - Throws: `ImageError` as `RGBImage(data:fileName:limits:)`.
    public static func preprocessedCrop(data: Data, preset: InputPreset, fileName: String = "data",
                                        limits: ImageLimits = .default, draft: Bool = false,
                                        concurrent: Bool = true) throws -> RGBImage {
        let (format, note) = try detectFormat(data, fileName: fileName)
        if format == .jpeg {
            if let crop = try JPEGCropDecoder.preprocessedCrop(data, preset: preset, fileName: fileName, note: note,
                                                               limits: limits, draft: draft, concurrent: concurrent) {
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
