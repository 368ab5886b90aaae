import Foundation
import XCTest
@testable import CAMRuntime

/// Golden PNGs for overlay and composition, the font, labels and colorbars.
final class ImageCompositionTests: XCTestCase {
    private func golden(_ name: String) throws -> RGBImage {
        try RGBImage(contentsOf: ImagingFixtures.folder.appendingPathComponent("golden/\(name)"))
    }

    func testOverlayGoldenPNGFromPytorchGradCam() throws {
        let pre = try ImagingFixtures.load("preprocess_chelsea.safetensors")
        let crop = ImagingFixtures.image(try XCTUnwrap(pre["crop|chelsea.png|resnetV2"]))
        let mask = try XCTUnwrap(try ImagingFixtures.load("golden/overlay_chelsea_mask.safetensors")["mask"])
        ImagingFixtures.assertIdentical(try overlay(crop, mask: mask), try golden("overlay_chelsea_jet.png"), "overlay golden")
    }

    func testStacksAndGridMatchTheirGoldenLayouts() throws {
        let a = try golden("part_a.png"), b = try golden("part_b.png")
        ImagingFixtures.assertIdentical(try hstack([a, b], gap: 3), try golden("hstack_pad_gap3.png"), "hstack pad")
        ImagingFixtures.assertIdentical(try vstack([a, b], gap: 2), try golden("vstack_pad_gap2.png"), "vstack pad")
        ImagingFixtures.assertIdentical(try grid([a, b, b], columns: 2, gap: 4), try golden("grid_2col_gap4.png"), "grid")
        ImagingFixtures.assertIdentical(try hstack([a, b], matching: .resize), try golden("hstack_resize.png"), "hstack resize")
        let resized = try vstack([a, b], matching: .resize)
        XCTAssertEqual(resized.width, 64)
        XCTAssertEqual(resized.height, 48 + 40)
    }

    func testCompositionRefusesBadArguments() {
        XCTAssertThrowsError(try hstack([])) { XCTAssertTrue("\($0)".contains("at least one picture"), "\($0)") }
        XCTAssertThrowsError(try vstack([RGBImage(width: 1, height: 1)], gap: -1))
        XCTAssertThrowsError(try grid([RGBImage(width: 1, height: 1)], columns: 0)) {
            XCTAssertTrue("\($0)".contains("at least 1 column, got 0"), "\($0)")
        }
        XCTAssertThrowsError(try colorbar(.jet, length: 1))
    }

    func testFontCoversPrintableASCIIWithWellFormedGlyphs() {
        XCTAssertEqual(BitmapFont.glyphs.count, 95)
        for (i, glyph) in BitmapFont.glyphs.enumerated() {
            XCTAssertEqual(glyph.count, 7, "glyph \(i + 32)")
            XCTAssertTrue(glyph.allSatisfy { $0 < 32 }, "glyph \(i + 32)")
            XCTAssertEqual(glyph.allSatisfy { $0 == 0 }, i == 0, "only the space is blank (glyph \(i + 32))")
        }
        // Distinct glyphs for distinct characters.
        XCTAssertEqual(Set(BitmapFont.glyphs.map { $0.map(String.init).joined(separator: ",") }).count, 95)
        XCTAssertEqual(BitmapFont.rows(for: "é"), BitmapFont.rows(for: "?"))
        XCTAssertEqual(BitmapFont.rows(for: "A"), [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11])
    }

    func testDrawnTextPutsInkExactlyWhereTheGlyphSays() {
        var image = RGBImage(width: 20, height: 12, color: .white)
        image.draw(text: "A", x: 2, y: 3, color: .black, scale: 1)
        for y in 0..<12 {
            for x in 0..<20 {
                let gx = x - 2, gy = y - 3
                var ink = false
                if gx >= 0 && gx < 5 && gy >= 0 && gy < 7 {
                    ink = BitmapFont.rows(for: "A")[gy] & (1 << (4 - gx)) != 0
                }
                XCTAssertEqual(image[x, y], ink ? .black : .white, "(\(x), \(y))")
            }
        }
        XCTAssertTrue(RGBImage.textSize("ab\nc", scale: 2) == (22, 32))
    }

    func testLabelAddsACaptionBandAndWrapsLongText() {
        let picture = RGBImage(width: 60, height: 40, color: RGBColor(red: 10, green: 20, blue: 30))
        let below = label(picture, "cat")
        XCTAssertEqual(below.width, 60)
        XCTAssertEqual(below.height, 40 + 7 + 4)
        XCTAssertEqual(below.cropped(x: 0, y: 0, width: 60, height: 40), picture)
        XCTAssertTrue(below.cropped(x: 0, y: 40, width: 60, height: 11).pixels.contains(0), "caption has ink")
        let above = label(picture, "cat", position: .above)
        XCTAssertEqual(above.cropped(x: 0, y: 11, width: 60, height: 40), picture)
        let long = label(picture, "a rather long caption that must wrap")
        XCTAssertGreaterThan(long.height, below.height + 8)
        XCTAssertEqual(wrap("a rather long caption", width: 8), ["a rather", "long", "caption"])
        XCTAssertEqual(wrap("abcdefghij", width: 4), ["abcd", "efgh", "ij"])
    }

    func testColorbarRunsFromTheTopEntryToTheBottomEntry() throws {
        let bar = try colorbar(.viridis, length: 256, thickness: 10, labeled: false)
        XCTAssertEqual(bar.width, 10)
        XCTAssertEqual(bar.height, 256)
        XCTAssertEqual(bar[0, 0], Colormap.viridis.color(at: 255))
        XCTAssertEqual(bar[9, 255], Colormap.viridis.color(at: 0))
        XCTAssertEqual(bar[5, 100], Colormap.viridis.color(at: 155))
        let labeled = try colorbar(.jet)
        XCTAssertGreaterThan(labeled.width, 16)
        XCTAssertTrue(labeled.cropped(x: 17, y: 0, width: labeled.width - 17, height: labeled.height).pixels.contains(0))
    }
}
