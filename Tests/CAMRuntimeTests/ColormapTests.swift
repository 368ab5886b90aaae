import Foundation
import XCTest
@testable import CAMRuntime

/// Colormap tables and lookup.
final class ColormapTests: XCTestCase {
    func testTablesEqualOpenCVsLookupTables() throws {
        let fixture = try ImagingFixtures.load("colormaps.safetensors")
        for name in ["jet", "viridis", "inferno", "magma", "turbo"] {
            let expected = try XCTUnwrap(fixture[name], name).storage.map { UInt8($0) }
            XCTAssertEqual(try Colormap.named(name).table, expected, name)
        }
    }

    func testKnownEntriesAndReversedVariants() throws {
        XCTAssertEqual(Colormap.jet.color(at: 0), RGBColor(red: 0, green: 0, blue: 128))
        XCTAssertEqual(Colormap.jet.color(at: 128), RGBColor(red: 130, green: 255, blue: 126))
        XCTAssertEqual(Colormap.jet.color(at: 255), RGBColor(red: 128, green: 0, blue: 0))
        XCTAssertEqual(Colormap.gray.color(at: 77), RGBColor(red: 77, green: 77, blue: 77))
        let jetR = try Colormap.named("jet_r")
        XCTAssertEqual(jetR.name, "jet_r")
        XCTAssertEqual(jetR.color(at: 0), Colormap.jet.color(at: 255))
        XCTAssertEqual(jetR.reversed(), Colormap.jet)
        XCTAssertEqual(try Colormap.named("Viridis"), Colormap.viridis)
        XCTAssertEqual(try Colormap.named("grey"), Colormap.gray)
        XCTAssertEqual(Colormap.names.count, 14)
    }

    func testUnknownNameListsTheKnownOnes() {
        XCTAssertThrowsError(try Colormap.named("rainbow")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("unknown colormap 'rainbow'"), text)
            XCTAssertTrue(text.contains("jet, jet_r, turbo"), text)
        }
    }

    func testValueLookupTruncatesLikeNumpysUInt8Cast() {
        XCTAssertEqual(Colormap.index(for: 0.999), 254)   // np.uint8(255 * 0.999) == 254
        XCTAssertEqual(Colormap.index(for: 1), 255)
        XCTAssertEqual(Colormap.index(for: 0.5), 127)
        XCTAssertEqual(Colormap.index(for: -0.2), 0)
        XCTAssertEqual(Colormap.index(for: 3), 255)
        XCTAssertEqual(Colormap.index(for: .nan), 0)
        XCTAssertEqual(Colormap.viridis.color(for: 0.5), Colormap.viridis.color(at: 127))
    }

    func testColorizedMapUsesTheTable() throws {
        let mask = Tensor(shape: [1, 2, 2], storage: [0, 0.25, 0.5, 1])
        let image = try Colormap.jet.colorized(mask)
        XCTAssertEqual(image.width, 2)
        XCTAssertEqual(image[1, 0], Colormap.jet.color(at: 63))
        XCTAssertEqual(image[1, 1], Colormap.jet.color(at: 255))
        XCTAssertThrowsError(try Colormap.jet.colorized(Tensor(shape: [2, 2, 2])))
    }
}
