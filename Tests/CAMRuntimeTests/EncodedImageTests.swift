import Foundation
import XCTest
@testable import CAMRuntime

/// `EncodedImage`: the size from the header alone, the same refusals as a full decode, and the
/// crop equal to the full decode's.
final class EncodedImageTests: XCTestCase {
    private static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/images")

    func testHeaderSizeIsTheDecodedSize() throws {
        for name in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"] {
            let url = Self.examples.appendingPathComponent(name)
            let file = try EncodedImage(contentsOf: url)
            let image = try RGBImage(contentsOf: url)
            XCTAssertEqual([file.width, file.height], [image.width, image.height], name)
            XCTAssertEqual(file.format, name.hasSuffix(".png") ? .png : .jpeg, name)
            XCTAssertEqual(try file.decoded().pixels, image.pixels, name)
            for preset in [InputPreset.resnetV2, .efficientNetLite0] {
                XCTAssertEqual(try file.preprocessedCrop(preset: preset).pixels, preprocessedCrop(image, preset: preset).pixels, name)
            }
        }
    }

    func testSyntheticSizes() throws {
        for (width, height) in [(1, 1), (3, 700), (641, 2)] {
            let image = RGBImage(width: width, height: height,
                                 pixels: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37) })
            for data in [try image.pngData(), try image.jpegData(quality: 90)] {
                let file = try EncodedImage(data: data)
                XCTAssertEqual([file.width, file.height], [width, height])
            }
        }
    }

    func testBadHeadersAreRefusedAsADecodeRefusesThem() throws {
        let png = try RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 9, count: 192)).pngData()
        let jpeg = try RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 9, count: 192)).jpegData()
        var bomb = png
        bomb.replaceSubrange(16..<24, with: [0, 0, 0x40, 0, 0, 0, 0x40, 0] as [UInt8])  // 16384 × 16384
        var zero = png
        zero.replaceSubrange(16..<20, with: [0, 0, 0, 0] as [UInt8])
        let cases: [(String, Data, String)] = [
            ("empty", Data(), "the file is empty"),
            ("text", Data("hello world".utf8), "neither a PNG nor a JPEG"),
            ("png cut in its header", png.prefix(20), "the IHDR chunk is missing or truncated"),
            ("png bomb", bomb, "more than the limit of 89478485"),
            ("png zero width", zero, "a size of 0×8"),
            ("jpeg cut in its header", jpeg.prefix(40), "truncated or corrupt"),
        ]
        for (what, data, expected) in cases {
            XCTAssertThrowsError(try EncodedImage(data: data, fileName: "x"), what) { error in
                let message = (error as? ImageError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(expected), "\(what): \(message)")
                XCTAssertTrue(message.hasPrefix("image 'x': "), "\(what): \(message)")
            }
        }
        // A small limit refuses a size the default accepts, from the header alone.
        XCTAssertThrowsError(try EncodedImage(data: png, limits: ImageLimits(maxPixels: 63)))
        XCTAssertNoThrow(try EncodedImage(data: png, limits: ImageLimits(maxPixels: 64)))
    }

    func testTruncatedDataPassesTheHeaderButNotTheDecode() throws {
        let url = Self.examples.appendingPathComponent("rocket.jpg")
        let data = try Data(contentsOf: url)
        let file = try EncodedImage(data: data.prefix(data.count / 2), fileName: "rocket.jpg")
        XCTAssertThrowsError(try file.preprocessedCrop(preset: .efficientNetLite0)) { error in
            XCTAssertTrue("\(error)".contains("truncated or corrupt"), "\(error)")
        }
        XCTAssertThrowsError(try file.decoded())
    }
}
