import Foundation
import XCTest
@testable import CAMRuntime

/// `overlay` against pytorch-grad-cam's `show_cam_on_image`.
final class OverlayTests: XCTestCase {
    func testOverlayEqualsShowCamOnImageForBothPictureSources() throws {
        let pre = try ImagingFixtures.load("preprocess_chelsea.safetensors")
        let crop = ImagingFixtures.image(try XCTUnwrap(pre["crop|chelsea.png|resnetV2"]))
        let tensor = try XCTUnwrap(pre["tensor|chelsea.png|resnetV2"])
        let sources: [String: Tensor] = [
            "uint8": crop.floatPixels(),
            "denormalized": try denormalizedPixels(tensor, mean: InputPreset.imageNetMean, std: InputPreset.imageNetStd),
        ]
        var checked = 0
        for maskIndex in 0..<2 {
            let fixture = try ImagingFixtures.load("overlay_mask\(maskIndex).safetensors")
            let mask = try XCTUnwrap(fixture["mask\(maskIndex)"])
            for key in fixture.keys where key.hasPrefix("mask\(maskIndex)|") {
                let parts = key.split(separator: "|").map(String.init)
                let source = try XCTUnwrap(sources[parts[1]])
                let weight = try XCTUnwrap(Double(parts[2]))
                let colormap = try Colormap.named(parts[3])
                let out = try overlay(source, mask: mask, colormap: colormap, imageWeight: weight)
                ImagingFixtures.assertIdentical(out, ImagingFixtures.image(try XCTUnwrap(fixture[key])), key)
                checked += 1
            }
        }
        XCTAssertEqual(checked, 11)
        // The RGBImage convenience is the uint8 source.
        let mask = try XCTUnwrap(try ImagingFixtures.load("overlay_mask0.safetensors")["mask0"])
        let expected = try XCTUnwrap(try ImagingFixtures.load("overlay_mask0.safetensors")["mask0|uint8|0.5|jet"])
        ImagingFixtures.assertIdentical(try overlay(crop, mask: mask), ImagingFixtures.image(expected), "RGBImage overlay")
    }

    func testInvalidArgumentsAreClearErrors() {
        let picture = RGBImage(width: 4, height: 3, color: .white)
        XCTAssertThrowsError(try overlay(picture, mask: Tensor(shape: [3, 5]))) { error in
            XCTAssertTrue("\(error)".contains("the CAM is 5×3 but the picture is 4×3"), "\(error)")
        }
        XCTAssertThrowsError(try overlay(picture, mask: Tensor(shape: [3, 4]), imageWeight: 1.5)) { error in
            XCTAssertTrue("\(error)".contains("between 0 and 1, got 1.5"), "\(error)")
        }
        XCTAssertThrowsError(try overlay(Tensor(shape: [3, 4, 3], repeating: 2), mask: Tensor(shape: [3, 4]))) { error in
            XCTAssertTrue("\(error)".contains("[0, 1]"), "\(error)")
        }
        XCTAssertThrowsError(try overlay(Tensor(shape: [3, 4]), mask: Tensor(shape: [3, 4]))) { error in
            XCTAssertTrue("\(error)".contains("[H, W, 3]"), "\(error)")
        }
    }

    func testAllBlackGrayOverlayIsBlackInsteadOfNaN() throws {
        let out = try overlay(RGBImage(width: 2, height: 2, color: .black), mask: Tensor(shape: [2, 2]),
                              colormap: .gray, imageWeight: 0.5)
        XCTAssertEqual(out, RGBImage(width: 2, height: 2, color: .black))
    }
}

/// `overlay(_:mask:origin:)`: a map on the centre crop lands on the photo's pixels that the crop
/// came from (issue 16, item 3), and the rest of the photo is dimmed.
final class OverlayOnPhotoTests: XCTestCase {
    /// A 451×300 gray photo, ResNet's preset (resize 256, crop 224): resized to 384×256, the
    /// crop starts at (80, 16) there, so it covers photo columns 93.96–357.04 (scale 451/384) and
    /// rows 18.75–281.25 (scale 300/256).
    func testAHotSpotLandsWhereTheCropTookItFrom() throws {
        let photo = RGBImage(width: 451, height: 300, pixels: [UInt8](repeating: 128, count: 451 * 300 * 3))
        let origin = ImageOrigin(width: 451, height: 300, preset: .resnetV1)
        guard let box = origin.cropBox else { return XCTFail("no crop box") }
        XCTAssertEqual(box.x, 80 * 451 / 384, accuracy: 1e-9)
        XCTAssertEqual(box.width, 224 * 451 / 384, accuracy: 1e-9)
        XCTAssertEqual(box.y, 16 * 300 / 256, accuracy: 1e-9)
        XCTAssertEqual(box.height, 224 * 300 / 256, accuracy: 1e-9)
        // A hot 8×8 square at crop rows 100–107, columns 20–27; cold elsewhere.
        var mask = Tensor(shape: [224, 224])
        for r in 100..<108 { for c in 20..<28 { mask[r, c] = 1 } }
        let out = try overlay(photo, mask: mask, origin: origin)
        XCTAssertEqual(out.width, 451)
        XCTAssertEqual(out.height, 300)
        // JET's hot end is red: find the reddest pixel.
        var best = (x: 0, y: 0, red: -1)
        for y in 0..<300 {
            for x in 0..<451 {
                let i = (y * 451 + x) * 3
                let redness = Int(out.pixels[i]) - Int(out.pixels[i + 2])
                if redness > best.red { best = (x, y, redness) }
            }
        }
        let expectedX = box.x + 24 * box.width / 224, expectedY = box.y + 104 * box.height / 224
        XCTAssertEqual(Double(best.x), expectedX, accuracy: 5, "hot spot at \(best), expected x ≈ \(expectedX)")
        XCTAssertEqual(Double(best.y), expectedY, accuracy: 5, "hot spot at \(best), expected y ≈ \(expectedY)")
        // Outside the crop: the photo dimmed to 40 %.
        XCTAssertEqual(Array(out.pixels[0..<3]), [51, 51, 51])
        XCTAssertEqual(Array(out.pixels[((150 * 451) + 450) * 3..<((150 * 451) + 450) * 3 + 3]), [51, 51, 51])
        // Inside, far from the spot: the cold end (blue) blended with the gray.
        let inside = ((150 * 451) + 300) * 3
        XCTAssertGreaterThan(out.pixels[inside + 2], out.pixels[inside])
    }

    func testTheWrongPhotoOrMapSizeIsRefused() {
        let origin = ImageOrigin(width: 451, height: 300, preset: .resnetV1)
        let photo = RGBImage(width: 400, height: 300, pixels: [UInt8](repeating: 0, count: 400 * 300 * 3))
        XCTAssertThrowsError(try overlay(photo, mask: Tensor(shape: [224, 224]), origin: origin))
        let right = RGBImage(width: 451, height: 300, pixels: [UInt8](repeating: 0, count: 451 * 300 * 3))
        XCTAssertThrowsError(try overlay(right, mask: Tensor(shape: [200, 200]), origin: origin))
    }
}
