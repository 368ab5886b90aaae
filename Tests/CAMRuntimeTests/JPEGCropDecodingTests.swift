import CJPEG
import Foundation
import XCTest
@testable import CAMRuntime

/// The crop-only resampling plan and the JPEG path that decodes only the crop's column band
/// while resampling on a second thread: both must give the bytes of the full path
/// (`resized` + `centerCropped` of a full decode), which ImagePreprocessingTests checks
/// against Pillow.
final class JPEGCropDecodingTests: XCTestCase {
    /// JPEG encodings the band decoder must handle: TurboJPEG subsampling and progressive flag.
    private static let encodings: [(name: String, subsampling: TJSAMP, flags: Int32)] = [
        ("4:2:0", TJSAMP_420, 0), ("4:2:2", TJSAMP_422, 0), ("4:4:4", TJSAMP_444, 0),
        ("4:4:0", TJSAMP_440, 0), ("grey", TJSAMP_GRAY, 0), ("4:2:0 progressive", TJSAMP_420, TJFLAG_PROGRESSIVE),
    ]

    /// `image` as a JPEG with the given chroma subsampling and flags, quality 90.
    private func encode(_ image: RGBImage, subsampling: TJSAMP, flags: Int32 = 0) throws -> Data {
        let handle = try XCTUnwrap(tjInitCompress())
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &buffer, &size, Int32(subsampling.rawValue), 90, flags)
        }
        defer { tjFree(buffer) }
        XCTAssertEqual(status, 0, String(cString: tjGetErrorStr2(handle)))
        return Data(bytes: try XCTUnwrap(buffer), count: Int(size))
    }

    /// A picture with smooth colour gradients, sharp colour edges and noise (so that chroma
    /// upsampling differences at a band edge would show).
    private func synthetic(width: Int, height: Int, seed: UInt32) -> RGBImage {
        var state = seed
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                state = state &* 1_664_525 &+ 1_013_904_223
                let noise = Int(state >> 28)
                let stripe = (x / 7 + y / 11) % 2 == 0
                let i = 3 * (y * width + x)
                pixels[i] = UInt8(clamping: x * 255 / width + noise)
                pixels[i + 1] = UInt8(clamping: (stripe ? 200 : 40) + noise)
                pixels[i + 2] = UInt8(clamping: y * 255 / height - noise + (x % 13 == 0 ? 90 : 0))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// The image with rows and columns swapped (a portrait version of a landscape photo).
    private func transposed(_ image: RGBImage) -> RGBImage {
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        for y in 0..<image.height {
            for x in 0..<image.width {
                for c in 0..<3 { out[3 * (x * image.height + y) + c] = image.pixels[3 * (y * image.width + x) + c] }
            }
        }
        return RGBImage(width: image.height, height: image.width, pixels: out)
    }

    /// Presets whose crops read a narrow band (small crops) as well as the standard ones.
    private let presets: [(name: String, preset: InputPreset)] = [
        ("resnet_v2", .resnetV2), ("efficientnet_lite0", .efficientNetLite0),
        ("232 bilinear crop 96", InputPreset(resizeShorterSide: 232, cropSize: 96, interpolation: .bilinear, mean: [0, 0, 0], std: [1, 1, 1])),
        ("150 bicubic crop 61", InputPreset(resizeShorterSide: 150, cropSize: 61, interpolation: .bicubic, mean: [0, 0, 0], std: [1, 1, 1])),
    ]

    func testCropPlanGivesTheBytesOfResizeThenCropForBothPassOrders() throws {
        var orders = Set<Bool>()
        for (width, height) in [(97, 64), (64, 97), (300, 299), (299, 300), (120, 40), (33, 200), (5, 3)] {
            let image = synthetic(width: width, height: height, seed: UInt32(width * 1000 + height))
            for interpolation in [Interpolation.bilinear, .bicubic] {
                for (resize, crop) in [(32, 32), (32, 17), (48, 20), (150, 120), (7, 3), (300, 299)] {
                    let preset = InputPreset(resizeShorterSide: resize, cropSize: crop, interpolation: interpolation,
                                             mean: [0, 0, 0], std: [1, 1, 1])
                    let expected = image.resized(shorterSide: resize, interpolation: interpolation).centerCropped(size: crop)
                    if let plan = CropResamplePlan(width: width, height: height, preset: preset) {
                        orders.insert(plan.horizontalFirst)
                    }
                    ImagingFixtures.assertIdentical(preprocessedCrop(image, preset: preset), expected,
                                                    "\(width)×\(height) → \(resize) crop \(crop) \(interpolation)")
                }
            }
        }
        XCTAssertEqual(orders, [true, false], "both pass orders are exercised")
    }

    func testDecodedBandsEqualTheFullDecodeAwayFromTheirEdges() throws {
        let photo = try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent("chelsea.png"))
        var edgeDifferences = 0
        for (name, subsampling, flags) in Self.encodings {
            for image in [photo, synthetic(width: 333, height: 123, seed: 7)] {
                let data = try encode(image, subsampling: subsampling, flags: flags)
                let full = try RGBImage(data: data)
                for columns in [40..<41, 100..<227, 17..<image.width - 5, 0..<image.width, 200..<image.width] {
                    for margin in [0, JPEGCropDecoder.bandMargin] {
                        let (first, band) = try JPEGCropDecoder.decodeBand(data, columns: columns, margin: margin)
                        XCTAssertLessThanOrEqual(first, max(0, columns.lowerBound - margin))
                        XCTAssertGreaterThanOrEqual(first + band.width, min(image.width, columns.upperBound + margin))
                        XCTAssertEqual(band.height, image.height)
                        let reference = full.cropped(x: first, y: 0, width: band.width, height: band.height)
                        if margin == 0 {
                            if band.pixels != reference.pixels { edgeDifferences += 1 }
                            continue
                        }
                        let inner = columns.lowerBound - first
                        ImagingFixtures.assertIdentical(
                            band.cropped(x: inner, y: 0, width: columns.count, height: band.height),
                            full.cropped(x: columns.lowerBound, y: 0, width: columns.count, height: band.height),
                            "\(name) \(image.width)×\(image.height) columns \(columns)")
                    }
                }
            }
        }
        // The margin is not decorative: bands cut at iMCU edges differ from the full decode
        // there (smooth upsampling replicates the edge chroma sample).
        XCTAssertGreaterThan(edgeDifferences, 0)
    }

    func testStreamedCropsAreTheBytesOfTheFullPathForEveryEncodingAndPreset() throws {
        let photos = [try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent("chelsea.png")),
                      try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent("rocket.jpg"))]
        var narrowBands = 0
        for (name, subsampling, flags) in Self.encodings {
            for source in photos + [synthetic(width: 701, height: 301, seed: 3)] {
                for image in [source, transposed(source)] {
                    let data = try encode(image, subsampling: subsampling, flags: flags)
                    let full = try RGBImage(data: data)
                    for (presetName, preset) in presets {
                        let what = "\(name) \(image.width)×\(image.height) \(presetName)"
                        let expected = full.resized(shorterSide: preset.resizeShorterSide, interpolation: preset.interpolation)
                            .centerCropped(size: preset.cropSize)
                        ImagingFixtures.assertIdentical(try RGBImage.preprocessedCrop(data: data, preset: preset), expected, what)
                        if let plan = CropResamplePlan(width: image.width, height: image.height, preset: preset),
                           plan.inputColumns.lowerBound > JPEGCropDecoder.bandMargin + 32 {
                            narrowBands += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(narrowBands, 20, "the cases must include bands narrower than the image")
    }

    /// Two decoders sharing the crop's rows (forced here on small images; used by default from
    /// `JPEGCropDecoder.splitMinimumRows` crop rows): the same bytes, every encoding (progressive
    /// files take the one-decoder path), both pass orders, split rows anywhere.
    func testTwoDecodersGiveTheSameBytes() throws {
        let photos = [synthetic(width: 701, height: 301, seed: 5)]
        var compared = 0
        for (name, subsampling, flags) in Self.encodings {
            for source in photos {
                for image in [source, transposed(source)] {
                    let data = try encode(image, subsampling: subsampling, flags: flags)
                    let full = try RGBImage(data: data)
                    for (presetName, preset) in presets {
                        let expected = preprocessedCrop(full, preset: preset)
                        let crop = try XCTUnwrap(JPEGCropDecoder.preprocessedCrop(data, preset: preset, fileName: "x.jpg", note: "",
                                                                                  limits: .default, splitMinimumRows: 1))
                        ImagingFixtures.assertIdentical(crop, expected, "\(name) \(image.width)×\(image.height) \(presetName), two decoders")
                        compared += 1
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 48 / 2)
        // A 12-megapixel-like file large enough for the default threshold, both orientations.
        let large = synthetic(width: 2400, height: 1700, seed: 9)
        for image in [large, transposed(large)] {
            let data = try encode(image, subsampling: TJSAMP_420)
            let plan = try XCTUnwrap(CropResamplePlan(width: image.width, height: image.height, preset: .efficientNetLite0))
            XCTAssertGreaterThanOrEqual(plan.inputRows.count, JPEGCropDecoder.splitMinimumRows)
            for preset in [InputPreset.efficientNetLite0, .resnetV2] {
                let expected = preprocessedCrop(try RGBImage(data: data), preset: preset)
                ImagingFixtures.assertIdentical(try RGBImage.preprocessedCrop(data: data, preset: preset),
                                                expected, "large \(image.width)×\(image.height)")
                // A dataset's prefetch decodes on its own thread only: the same bytes.
                ImagingFixtures.assertIdentical(try RGBImage.preprocessedCrop(data: data, preset: preset, concurrent: false),
                                                expected, "large \(image.width)×\(image.height), one thread")
            }
        }
    }

    /// With two decoders, corrupt data anywhere (the first one's rows, the rows the second one
    /// skips or reads, the rows below the crop) and truncation are still refused.
    func testTwoDecodersRefuseCorruptDataAnywhere() throws {
        let clean = [UInt8](try encode(synthetic(width: 900, height: 600, seed: 12), subsampling: TJSAMP_420))
        let scanStart = try XCTUnwrap((0..<(clean.count - 1)).first { clean[$0] == 0xFF && clean[$0 + 1] == 0xDA })
        for fraction in [0.03, 0.3, 0.55, 0.8, 0.97] {
            var broken = clean
            let at = scanStart + Int(Double(clean.count - scanStart) * fraction)
            for i in stride(from: at, to: at + 60, by: 3) { broken[i] = 0xFF }
            XCTAssertThrowsError(try RGBImage(data: Data(broken)), "\(fraction): the full path refuses it")
            XCTAssertThrowsError(try JPEGCropDecoder.preprocessedCrop(Data(broken), preset: .resnetV2, fileName: "two.jpg", note: "",
                                                                      limits: .default, splitMinimumRows: 1), "\(fraction)") { error in
                XCTAssertTrue("\(error)".contains("two.jpg"), "\(error)")
            }
        }
        for cut in [clean.count / 3, clean.count * 2 / 3, clean.count - 2] {
            XCTAssertThrowsError(try JPEGCropDecoder.preprocessedCrop(Data(clean.prefix(cut)), preset: .resnetV2, fileName: "cut.jpg",
                                                                      note: "", limits: .default, splitMinimumRows: 1), "cut at \(cut)")
        }
    }

    /// `data` decoded by TurboJPEG alone (accurate IDCT, smooth upsampling, RGB), as the
    /// reference of the two-decoder whole-picture path.
    private func turboDecode(_ data: Data) throws -> RGBImage {
        let handle = try XCTUnwrap(tjInitDecompress())
        defer { tjDestroy(handle) }
        return try data.withUnsafeBytes { raw -> RGBImage in
            let base = try XCTUnwrap(raw.baseAddress?.assumingMemoryBound(to: UInt8.self))
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            XCTAssertEqual(tjDecompressHeader3(handle, base, UInt(raw.count), &width, &height, &subsampling, &colorspace), 0)
            var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
            XCTAssertEqual(tjDecompress2(handle, base, UInt(raw.count), &pixels, width, 0, height, Int32(TJPF_RGB.rawValue), 0), 0)
            return RGBImage(width: Int(width), height: Int(height), pixels: pixels)
        }
    }

    /// The whole picture by two decoders (`RGBImage(data:)` from 2 megapixels; forced here on
    /// small images): TurboJPEG's pixels for every baseline encoding, nil (TurboJPEG's path) for
    /// progressive files, and corrupt or truncated data refused.
    func testWholePictureByTwoDecodersIsTurboJPEGs() throws {
        var split = 0
        for (name, subsampling, flags) in Self.encodings {
            for image in [synthetic(width: 701, height: 301, seed: 21), synthetic(width: 33, height: 17, seed: 22)] {
                for oriented in [image, transposed(image)] {
                    let data = try encode(oriented, subsampling: subsampling, flags: flags)
                    let two = try data.withUnsafeBytes { raw in
                        try JPEGCropDecoder.decodedInTwo(try XCTUnwrap(raw.baseAddress?.assumingMemoryBound(to: UInt8.self)),
                                                         count: raw.count, fileName: "x.jpg", note: "")
                    }
                    if flags & TJFLAG_PROGRESSIVE != 0 {
                        XCTAssertNil(two, "\(name): progressive files keep TurboJPEG")
                        continue
                    }
                    ImagingFixtures.assertIdentical(try XCTUnwrap(two, name), try turboDecode(data),
                                                    "\(name) \(oriented.width)×\(oriented.height), two decoders")
                    split += 1
                }
            }
        }
        XCTAssertEqual(split, 20)
        // From 2 megapixels RGBImage(data:) takes this path by itself.
        let large = try encode(synthetic(width: 1800, height: 1200, seed: 23), subsampling: TJSAMP_420)
        ImagingFixtures.assertIdentical(try RGBImage(data: large), try turboDecode(large), "1800×1200 via RGBImage(data:)")
        // Corrupt data in either decoder's rows, and truncation, are refused.
        let clean = [UInt8](large)
        let scanStart = try XCTUnwrap((0..<(clean.count - 1)).first { clean[$0] == 0xFF && clean[$0 + 1] == 0xDA })
        for fraction in [0.1, 0.5, 0.75, 0.95] {
            var broken = clean
            let at = scanStart + Int(Double(clean.count - scanStart) * fraction)
            for i in stride(from: at, to: at + 60, by: 3) { broken[i] = 0xFF }
            XCTAssertThrowsError(try RGBImage(data: Data(broken), fileName: "broken.jpg"), "\(fraction)") { error in
                XCTAssertTrue("\(error)".contains("broken.jpg"), "\(error)")
            }
        }
        for cut in [clean.count / 2, clean.count - 2] {
            XCTAssertThrowsError(try RGBImage(data: Data(clean.prefix(cut)), fileName: "cut.jpg"), "cut at \(cut)") { error in
                XCTAssertTrue("\(error)".contains("truncated or corrupt"), "\(error)")
            }
        }
    }

    func testFileEntryPointsMatchDecodeThenPreprocess() throws {
        for name in ["rocket.jpg", "chelsea.png"] {
            let url = ImagingFixtures.photos.appendingPathComponent(name)
            let image = try RGBImage(contentsOf: url)
            for (presetName, preset) in presets {
                ImagingFixtures.assertIdentical(try RGBImage.preprocessedCrop(contentsOf: url, preset: preset),
                                                preprocessedCrop(image, preset: preset), "\(name) \(presetName)")
                let tensor = try preprocess(contentsOf: url, preset: preset)
                XCTAssertEqual(tensor.shape, [3, preset.cropSize, preset.cropSize])
                XCTAssertEqual(tensor.storage, preprocess(image, preset: preset).storage, "\(name) \(presetName)")
            }
        }
        // A crop larger than the resized picture (padding) and nearest resizing take the full path.
        let url = ImagingFixtures.photos.appendingPathComponent("rocket.jpg")
        let image = try RGBImage(contentsOf: url)
        for preset in [InputPreset(resizeShorterSide: 100, cropSize: 120, interpolation: .bilinear, mean: [0, 0, 0], std: [1, 1, 1]),
                       InputPreset(resizeShorterSide: 100, cropSize: 90, interpolation: .nearest, mean: [0, 0, 0], std: [1, 1, 1])] {
            ImagingFixtures.assertIdentical(try RGBImage.preprocessedCrop(contentsOf: url, preset: preset),
                                            image.resized(shorterSide: 100, interpolation: preset.interpolation).centerCropped(size: preset.cropSize),
                                            "\(preset)")
        }
    }

    func testTruncatedCorruptCMYKAndOversizedJPEGsAreRefusedByTheCropPath() throws {
        let files = ImagingFixtures.files
        for name in ["baseline.jpg", "progressive.jpg", "gray.jpg", "subsampling444.jpg"] {
            let data = try Data(contentsOf: files.appendingPathComponent(name))
            for fraction in [0.001, 0.05, 0.3, 0.5, 0.9, 0.99] {
                let cut = max(1, Int(Double(data.count) * fraction))
                XCTAssertThrowsError(try RGBImage.preprocessedCrop(data: data.prefix(cut), preset: .resnetV2, fileName: name),
                                     "\(name) cut at \(cut)") { error in
                    XCTAssertTrue(error is ImageError, "\(error)")
                    XCTAssertTrue("\(error)".contains(name), "\(error)")
                }
            }
            XCTAssertThrowsError(try RGBImage.preprocessedCrop(data: data.dropLast(2), preset: .resnetV2, fileName: name)) { error in
                XCTAssertTrue("\(error)".contains("truncated or corrupt"), "\(error)")
            }
        }
        // Corrupt entropy-coded data in the middle of a large photo, which the crop path reads
        // while the other thread resamples.
        var photo = [UInt8](try encode(synthetic(width: 900, height: 600, seed: 11), subsampling: TJSAMP_420))
        for i in stride(from: photo.count / 2, to: photo.count / 2 + 400, by: 3) { photo[i] = 0xFF }
        XCTAssertThrowsError(try RGBImage.preprocessedCrop(data: Data(photo), preset: .resnetV2, fileName: "broken.jpg")) { error in
            XCTAssertTrue(error is ImageError, "\(error)")
            XCTAssertTrue("\(error)".contains("broken.jpg"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage(data: Data(photo)), "the full path refuses it too")
        // Corrupt data in the rows above and below the crop's, which the crop path skips (no
        // IDCT) but must still check, as the full path does.
        let clean = [UInt8](try encode(synthetic(width: 900, height: 600, seed: 12), subsampling: TJSAMP_420))
        let narrow = InputPreset(resizeShorterSide: 256, cropSize: 128, interpolation: .bilinear, mean: [0, 0, 0], std: [1, 1, 1])
        let plan = try XCTUnwrap(CropResamplePlan(width: 900, height: 600, preset: narrow))
        XCTAssertGreaterThan(plan.inputRows.lowerBound, 120, "the crop must leave rows above it")
        XCTAssertLessThan(plan.inputRows.upperBound, 480, "and below it")
        let scanStart = try XCTUnwrap((0..<(clean.count - 1)).first { clean[$0] == 0xFF && clean[$0 + 1] == 0xDA })
        for fraction in [0.04, 0.96] {
            var broken = clean
            let at = scanStart + Int(Double(clean.count - scanStart) * fraction)
            for i in stride(from: at, to: at + 60, by: 3) { broken[i] = 0xFF }
            XCTAssertThrowsError(try RGBImage(data: Data(broken)), "\(fraction): the full path refuses it")
            XCTAssertThrowsError(try RGBImage.preprocessedCrop(data: Data(broken), preset: narrow, fileName: "edge.jpg"),
                                 "\(fraction): the crop path refuses it too") { error in
                XCTAssertTrue("\(error)".contains("edge.jpg"), "\(error)")
            }
        }
        XCTAssertEqual(try RGBImage.preprocessedCrop(data: Data(clean), preset: narrow).pixels,
                       preprocessedCrop(try RGBImage(data: Data(clean)), preset: narrow).pixels)
        XCTAssertThrowsError(try RGBImage.preprocessedCrop(contentsOf: files.appendingPathComponent("cmyk.jpg"), preset: .resnetV2)) { error in
            XCTAssertTrue("\(error)".contains("CMYK"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage.preprocessedCrop(contentsOf: files.appendingPathComponent("baseline.jpg"), preset: .resnetV2,
                                                           limits: ImageLimits(maxPixels: 100))) { error in
            XCTAssertTrue("\(error)".contains("more than the limit of 100"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage.preprocessedCrop(contentsOf: files.appendingPathComponent("missing.jpg"), preset: .resnetV2)) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
        // JPEG data under a .png name is still named in the message.
        let jpeg = try Data(contentsOf: files.appendingPathComponent("baseline.jpg"))
        XCTAssertThrowsError(try RGBImage.preprocessedCrop(data: jpeg.prefix(jpeg.count / 2), preset: .resnetV2, fileName: "photo.png")) { error in
            XCTAssertTrue("\(error)".contains("JPEG data despite its .png extension"), "\(error)")
        }
    }
}

/// The opt-in draft mode (DCT-scaled decoding): off by default, and when on, the preset applied
/// to libjpeg-turbo's scaled decode.
final class JPEGDraftTests: XCTestCase {
    func testDraftIsOffByDefaultAndEqualsThePresetOnTheScaledDecode() throws {
        let photo = try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent("astronaut.png"))
        // Upscaled ×4 (nearest) so that the preset's resize allows a 1/2 and 1/4 reduction.
        let large = photo.resized(width: photo.width * 4, height: photo.height * 3, interpolation: .nearest)
        let data = try large.jpegData(quality: 90)
        let full = try RGBImage(data: data)
        for preset in [InputPreset.resnetV2, .efficientNetLite0,
                       InputPreset(resizeShorterSide: 100, cropSize: 64, interpolation: .bilinear, mean: [0, 0, 0], std: [1, 1, 1])] {
            let exact = try RGBImage.preprocessedCrop(data: data, preset: preset)
            ImagingFixtures.assertIdentical(exact, preprocessedCrop(full, preset: preset), "default is exact")
            let denominator = try XCTUnwrap(JPEGCropDecoder.draftDenominator(width: large.width, height: large.height, preset: preset))
            // The reference: TurboJPEG's scaled decode (its own code path), then the preset.
            let scaledWidth = (large.width + denominator - 1) / denominator, scaledHeight = (large.height + denominator - 1) / denominator
            let handle = try XCTUnwrap(tjInitDecompress())
            defer { tjDestroy(handle) }
            var pixels = [UInt8](repeating: 0, count: scaledWidth * scaledHeight * 3)
            let status = data.withUnsafeBytes { raw in
                pixels.withUnsafeMutableBufferPointer { out in
                    tjDecompress2(handle, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt(raw.count), out.baseAddress,
                                  Int32(scaledWidth), 0, Int32(scaledHeight), Int32(TJPF_RGB.rawValue), 0)
                }
            }
            XCTAssertEqual(status, 0)
            let scaled = RGBImage(width: scaledWidth, height: scaledHeight, pixels: pixels)
            let draft = try RGBImage.preprocessedCrop(data: data, preset: preset, draft: true)
            ImagingFixtures.assertIdentical(draft, preprocessedCrop(scaled, preset: preset), "draft 1/\(denominator)")
            XCTAssertNotEqual(draft.pixels, exact.pixels, "the draft changes pixels (1/\(denominator))")
        }
        // 1/8 of the 4000×3000 case; nothing for an image already near the preset's size.
        XCTAssertEqual(JPEGCropDecoder.draftDenominator(width: 4000, height: 3000, preset: .resnetV2), 8)
        XCTAssertNil(JPEGCropDecoder.draftDenominator(width: 451, height: 300, preset: .resnetV2))
    }
}
