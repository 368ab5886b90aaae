import Foundation
import XCTest
@testable import CAMRuntime

/// Decoding, encoding and refusing image files.
final class ImageFileTests: XCTestCase {
    private func file(_ name: String) -> URL { ImagingFixtures.files.appendingPathComponent(name) }

    /// PNG encoding compresses once into a buffer of a safe size; when a buffer is too small,
    /// libpng's required size is used for a second try, and the bytes still round-trip.
    func testPNGEncodingRoundTripsWhateverTheFirstBufferSize() throws {
        var state: UInt32 = 7
        let noise = (0..<(97 * 61 * 3)).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(state >> 24)
        }
        let image = RGBImage(width: 97, height: 61, pixels: noise)
        let normal = try image.pngData()
        XCTAssertEqual(try RGBImage(data: normal).pixels, noise)
        let retried = try image.pngData(initialCapacity: 100)
        XCTAssertEqual(retried, normal, "the second try writes the same stream")
        XCTAssertGreaterThan(normal.count, 100, "incompressible pixels: the first buffer really was too small")
        let flat = RGBImage(width: 300, height: 200, color: RGBColor(red: 10, green: 20, blue: 30))
        XCTAssertEqual(try RGBImage(data: try flat.pngData(initialCapacity: 64)).pixels, flat.pixels)
    }

    func testEveryPNGAndJPEGVariantDecodesToWhatPillowGives() throws {
        let expected = try ImagingFixtures.load("decode.safetensors")
        // Exact: Pillow's decoding (alpha dropped, 16-bit high byte, 16-bit grey clipped, as Pillow).
        let exact = ["rgb8.png", "rgb8_interlaced.png", "gray8.png", "gray_alpha.png", "rgba8.png", "palette.png",
                     "rgb16.png", "gray16.png", "gamma100.png", "gamma22.png", "baseline.jpg", "progressive.jpg", "gray.jpg", "jpeg_named.png",
                     "subsampling444.jpg", "subsampling422.jpg"]
        for name in exact {
            let image = try RGBImage(contentsOf: file(name))
            ImagingFixtures.assertIdentical(image, ImagingFixtures.image(try XCTUnwrap(expected[name], name)), name)
        }
        let rocket = try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent("rocket.jpg"))
        XCTAssertEqual(rocket.description, "image 640×427 RGB")
        ImagingFixtures.assertIdentical(rocket, ImagingFixtures.image(try XCTUnwrap(expected["rocket.jpg"])), "rocket.jpg")
        let chelsea = try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent("chelsea.png"))
        XCTAssertEqual(chelsea.description, "image 451×300 RGB")
    }

    func testFormatIsDetectedBySignatureNotByName() throws {
        let data = try Data(contentsOf: file("jpeg_named.png"))
        XCTAssertEqual(ImageFileFormat.detect(data), .jpeg)
        XCTAssertEqual(ImageFileFormat.detect(try Data(contentsOf: file("rgb8.png"))), .png)
        // A corrupt JPEG named .png says what it really holds.
        XCTAssertThrowsError(try RGBImage(data: data.prefix(data.count / 2), fileName: "photo.png")) { error in
            XCTAssertTrue("\(error)".contains("JPEG data despite its .png extension"), "\(error)")
        }
    }

    func testCMYKJPEGIsRefusedWithAClearMessage() {
        XCTAssertThrowsError(try RGBImage(contentsOf: file("cmyk.jpg"))) { error in
            XCTAssertTrue(error is ImageError)
            XCTAssertTrue("\(error)".contains("CMYK"), "\(error)")
        }
    }

    func testTruncatedFilesAreRefusedAtEveryCutPoint() throws {
        for name in ["rgb8.png", "rgb8_interlaced.png", "palette.png", "baseline.jpg", "progressive.jpg", "gray.jpg"] {
            let data = try Data(contentsOf: file(name))
            for fraction in [0.001, 0.05, 0.3, 0.5, 0.9, 0.99] {
                let cut = max(1, Int(Double(data.count) * fraction))
                XCTAssertThrowsError(try RGBImage(data: data.prefix(cut), fileName: name), "\(name) cut at \(cut)") { error in
                    XCTAssertTrue(error is ImageError, "\(error)")
                    XCTAssertTrue("\(error)".contains(name), "\(error)")
                }
            }
            // A JPEG without its end marker; a PNG without IEND and the end of its last IDAT
            // (libpng does not need IEND once the pixels are complete, nor does Pillow).
            let drop = name.hasSuffix(".png") ? 16 : 2
            XCTAssertThrowsError(try RGBImage(data: data.dropLast(drop), fileName: name), "\(name) minus \(drop) bytes")
        }
    }

    func testGarbageEmptyAndCorruptDataAreRefused() throws {
        XCTAssertThrowsError(try RGBImage(data: Data(), fileName: "empty.png")) { error in
            XCTAssertTrue("\(error)".contains("empty"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage(data: Data("hello, world".utf8), fileName: "text.jpg")) { error in
            XCTAssertTrue("\(error)".contains("neither a PNG nor a JPEG"), "\(error)")
        }
        var png = [UInt8](try Data(contentsOf: file("rgb8.png")))
        for i in stride(from: 60, to: png.count - 20, by: 7) { png[i] ^= 0x5A }
        XCTAssertThrowsError(try RGBImage(data: Data(png), fileName: "flipped.png"))
        var jpeg = [UInt8](try Data(contentsOf: file("baseline.jpg")))
        for i in 2..<min(200, jpeg.count) { jpeg[i] = 0xFF }
        XCTAssertThrowsError(try RGBImage(data: Data(jpeg), fileName: "flipped.jpg"))
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID()).png")
        XCTAssertThrowsError(try RGBImage(contentsOf: missing)) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
    }

    /// A valid PNG header chunk with the given size (and a correct CRC), an empty IDAT, then IEND.
    private func pngHeader(width: UInt32, height: UInt32) -> Data {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func crc(_ data: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in data {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            }
            return c ^ 0xFFFF_FFFF
        }
        let ihdr: [UInt8] = Array("IHDR".utf8) + be(width) + be(height) + [8, 2, 0, 0, 0]
        bytes += be(13) + ihdr + be(crc(ihdr))
        let idat: [UInt8] = Array("IDAT".utf8)
        bytes += be(0) + idat + be(crc(idat))
        let iend: [UInt8] = Array("IEND".utf8)
        bytes += be(0) + iend + be(crc(iend))
        return Data(bytes)
    }

    func testHeadersClaimingTooManyPixelsOrZeroSizeAreRefusedBeforeAllocating() throws {
        XCTAssertThrowsError(try RGBImage(data: pngHeader(width: 100_000, height: 100_000), fileName: "bomb.png")) { error in
            XCTAssertTrue("\(error)".contains("100000×100000"), "\(error)")
            XCTAssertTrue("\(error)".contains("89478485"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage(data: pngHeader(width: 0, height: 10), fileName: "zero.png")) { error in
            XCTAssertTrue(error is ImageError, "\(error)")
        }
        // The limit is overridable, and applies to JPEG too.
        XCTAssertThrowsError(try RGBImage(contentsOf: file("baseline.jpg"), limits: ImageLimits(maxPixels: 100))) { error in
            XCTAssertTrue("\(error)".contains("more than the limit of 100"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage(contentsOf: file("rgb8.png"), limits: ImageLimits(maxPixels: 3071)))
        XCTAssertNoThrow(try RGBImage(contentsOf: file("rgb8.png"), limits: ImageLimits(maxPixels: 3072)))
        // A JPEG whose frame header claims 0 rows.
        var jpeg = [UInt8](try Data(contentsOf: file("baseline.jpg")))
        if let sof = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) {
            jpeg[sof + 5] = 0
            jpeg[sof + 6] = 0
            XCTAssertThrowsError(try RGBImage(data: Data(jpeg), fileName: "zero.jpg"))
        } else {
            XCTFail("baseline.jpg has no SOF0 marker")
        }
    }

    func testPNGRoundTripIsLosslessAndJPEGRoundTripIsClose() throws {
        let folder = try ImagingFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent("chelsea.png"))
        let png = folder.appendingPathComponent("out.png")
        try image.write(to: png)
        XCTAssertEqual(try RGBImage(contentsOf: png), image)
        XCTAssertEqual(try RGBImage(data: try image.pngData()), image)
        let jpg = folder.appendingPathComponent("out.JPEG")
        try image.write(to: jpg, quality: 95)
        let back = try RGBImage(contentsOf: jpg)
        XCTAssertEqual(back.width, 451)
        let meanError = zip(back.pixels, image.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / image.pixels.count
        XCTAssertLessThanOrEqual(meanError, 3)
        XCTAssertThrowsError(try image.write(to: folder.appendingPathComponent("out.gif"))) { error in
            XCTAssertTrue("\(error)".contains(".png, .jpg or .jpeg"), "\(error)")
        }
        XCTAssertThrowsError(try image.jpegData(quality: 0))
    }

    func testAtomicWriteLeavesNoTemporaryFileAndReplacesTheOldFile() throws {
        let folder = try ImagingFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let destination = folder.appendingPathComponent("picture.png")
        try RGBImage(width: 4, height: 3, color: .black).write(to: destination)
        try RGBImage(width: 5, height: 2, color: .white).write(to: destination)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["picture.png"])
        XCTAssertEqual(try RGBImage(contentsOf: destination), RGBImage(width: 5, height: 2, color: .white))
        // A destination that cannot be written (a directory is in the way): an error, and nothing left.
        let blocked = folder.appendingPathComponent("blocked.png")
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("inside"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try RGBImage(width: 2, height: 2).write(to: blocked)) { error in
            XCTAssertTrue(error is ImageError, "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(), ["blocked.png", "picture.png"])
        // A missing folder.
        XCTAssertThrowsError(try RGBImage(width: 2, height: 2).write(to: folder.appendingPathComponent("nope/x.png")))
    }
}
