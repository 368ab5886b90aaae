import Foundation
import XCTest
@testable import CAMRuntime

/// Every PNG colour type and bit depth decodes to Pillow's `Image.open(f).convert("RGB")`, byte
/// for byte (issue 17, class 7): alpha and tRNS are dropped as Pillow drops them (not
/// composited on white), 16-bit RGB keeps the high byte, 16-bit grey is clipped at 255 as
/// Pillow's I;16 → RGB conversion does, sub-byte grey is scaled, palettes are expanded, Adam7
/// interlacing changes nothing. And a JPEG whose only defect is a missing EOI marker is refused,
/// as Pillow 13 refuses it. Fixtures: tools/fixtures/gen_png_variants.py.
final class PillowPNGVariantTests: XCTestCase {
    private let folder = ImagingFixtures.folder.appendingPathComponent("pillow-png")

    private struct Expected: Decodable {
        struct Image: Decodable {
            var width: Int
            var height: Int
            var pillow_mode: String?
            var pillow_refuses: String?
        }
        var pillow: String
        var images: [String: Image]
    }

    func testEveryVariantMatchesPillow() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        XCTAssertEqual(expected.images.count, 39)
        var mismatched: [String] = []
        for (name, image) in expected.images.sorted(by: { $0.key < $1.key }) {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            if let refusal = image.pillow_refuses {
                XCTAssertThrowsError(try RGBImage(data: data, fileName: name), "Pillow refuses \(name): \(refusal)")
                continue
            }
            let decoded = try RGBImage(data: data, fileName: name)
            XCTAssertEqual(decoded.width, image.width, name)
            XCTAssertEqual(decoded.height, image.height, name)
            let stem = (name as NSString).deletingPathExtension
            let pillow = [UInt8](try Data(contentsOf: folder.appendingPathComponent(stem + ".rgb")))
            if decoded.pixels != pillow {
                let first = zip(decoded.pixels, pillow).enumerated().first { $0.element.0 != $0.element.1 }
                mismatched.append("\(name) (\(image.pillow_mode ?? "?")): byte \(first?.offset ?? -1) is \(first?.element.0 ?? 0), Pillow \(first?.element.1 ?? 0)")
            }
        }
        XCTAssertEqual(mismatched, [], "differ from Pillow \(expected.pillow)")
    }
}
