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
