import Foundation
import XCTest
@testable import CAMRuntime

/// Pillow/torchvision parity of resizing, cropping and the presets.
final class ImagePreprocessingTests: XCTestCase {
    private let presets: [(String, InputPreset)] = [
        ("resnetV2", .resnetV2), ("resnetV1", .resnetV1), ("efficientNetLite0", .efficientNetLite0),
    ]

    func testPresetCropsAreIdenticalToPillowForEverySamplePhotoAndPreset() throws {
        for photo in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"] {
            let stem = (photo as NSString).deletingPathExtension
            let fixture = try ImagingFixtures.load("preprocess_\(stem).safetensors")
            let image = try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent(photo))
            for (name, preset) in presets {
                guard let expected = fixture["crop|\(photo)|\(name)"] else {
                    XCTFail("missing fixture crop for \(photo) \(name)")
                    continue
                }
                let crop = preprocessedCrop(image, preset: preset)
                ImagingFixtures.assertIdentical(crop, ImagingFixtures.image(expected), "\(photo) \(name)")
            }
        }
    }

    func testPresetTensorsMatchTorchvisionWithin1e6() throws {
        for (photo, name, preset) in [("chelsea.png", "resnetV2", InputPreset.resnetV2), ("rocket.jpg", "efficientNetLite0", .efficientNetLite0)] {
            let stem = (photo as NSString).deletingPathExtension
            let fixture = try ImagingFixtures.load("preprocess_\(stem).safetensors")
            let expected = try XCTUnwrap(fixture["tensor|\(photo)|\(name)"])
            let image = try RGBImage(contentsOf: ImagingFixtures.photos.appendingPathComponent(photo))
            let tensor = preprocess(image, preset: preset)
            XCTAssertEqual(tensor.shape, [3, 224, 224])
            XCTAssertEqual(expected.shape, [3, 224, 224])
            XCTAssertLessThanOrEqual(tensor.maxAbsDifference(expected), 1e-6, "\(photo) \(name)")
        }
    }

    func testShorterSideSizesFollowTorchvisionTruncation() throws {
        let chelsea = RGBImage(width: 451, height: 300)
        XCTAssertTrue(chelsea.sizeResizingShorterSide(to: 232) == (348, 232))
        XCTAssertTrue(chelsea.sizeResizingShorterSide(to: 256) == (384, 256))
        let rocket = RGBImage(width: 640, height: 427)
        XCTAssertTrue(rocket.sizeResizingShorterSide(to: 232) == (347, 232))
        let tall = RGBImage(width: 300, height: 451)
        XCTAssertTrue(tall.sizeResizingShorterSide(to: 232) == (232, 348))
    }

    func testResizesOfASmallImageMatchPillowForEveryFilter() throws {
        let fixture = try ImagingFixtures.load("resize.safetensors")
        let source = ImagingFixtures.image(try XCTUnwrap(fixture["source"]))
        var checked = 0
        for key in fixture.keys where !key.hasPrefix("source") && !key.hasPrefix("center") {
            let parts = key.split(separator: "|")
            let size = parts[1].split(separator: "x").compactMap { Int($0) }
            let filter = try XCTUnwrap(Interpolation(rawValue: String(parts[0])))
            let out = source.resized(width: size[0], height: size[1], interpolation: filter)
            ImagingFixtures.assertIdentical(out, ImagingFixtures.image(try XCTUnwrap(fixture[key])), key)
            checked += 1
        }
        XCTAssertEqual(checked, 36)
    }

    func testCenterCropRoundingAndPaddingMatchTorchvision() throws {
        let fixture = try ImagingFixtures.load("resize.safetensors")
        let source = ImagingFixtures.image(try XCTUnwrap(fixture["source"]))
        var checked = 0
        for key in fixture.keys where key.hasPrefix("center") {
            let size = key.split(separator: "|")[1].split(separator: "x").compactMap { Int($0) }
            let out = source.centerCropped(width: size[0], height: size[1])
            ImagingFixtures.assertIdentical(out, ImagingFixtures.image(try XCTUnwrap(fixture[key])), key)
            checked += 1
        }
        XCTAssertEqual(checked, 5)
        // Chelsea V2: top 4, left 62 (reference §9).
        var marked = RGBImage(width: 348, height: 232, color: .black)
        marked[62, 4] = .white
        XCTAssertEqual(marked.centerCropped(size: 224)[0, 0], .white)
    }

    func testUserSizesAreValidatedWithClearMessages() {
        XCTAssertNoThrow(try RGBImage.validateSize(width: 224, height: 224))
        XCTAssertThrowsError(try RGBImage.validateSize(width: 0, height: 5)) { error in
            XCTAssertTrue("\(error)".contains("at least 1×1 pixels, got 0×5"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage.validateSize(width: 100_000, height: 100_000)) { error in
            XCTAssertTrue("\(error)".contains("larger than the limit of 89478485"), "\(error)")
        }
        XCTAssertThrowsError(try RGBImage.validateSize(width: Int.max, height: 2))
    }

    func testFlipsMirrorAndAreTheirOwnInverse() {
        var image = RGBImage(width: 3, height: 2, color: .black)
        image[0, 0] = RGBColor(red: 1, green: 2, blue: 3)
        let h = image.flippedHorizontally()
        XCTAssertEqual(h[2, 0], RGBColor(red: 1, green: 2, blue: 3))
        XCTAssertEqual(h[0, 0], .black)
        let v = image.flippedVertically()
        XCTAssertEqual(v[0, 1], RGBColor(red: 1, green: 2, blue: 3))
        XCTAssertEqual(h.flippedHorizontally(), image)
        XCTAssertEqual(v.flippedVertically(), image)
    }

    func testDenormalizingTheChelseaTensorMatchesNumpy() throws {
        let pre = try ImagingFixtures.load("preprocess_chelsea.safetensors")
        let tensor = try XCTUnwrap(pre["tensor|chelsea.png|resnetV2"])
        let expected = try XCTUnwrap(try ImagingFixtures.load("overlay_mask0.safetensors")["denormalized"])
        let pixels = try denormalizedPixels(tensor, mean: InputPreset.imageNetMean, std: InputPreset.imageNetStd)
        XCTAssertEqual(pixels.shape, [224, 224, 3])
        XCTAssertEqual(pixels.maxAbsDifference(expected), 0)
        // Back to bytes: within one level of the crop it came from.
        let image = try RGBImage(denormalizing: tensor, mean: InputPreset.imageNetMean, std: InputPreset.imageNetStd)
        let crop = ImagingFixtures.image(try XCTUnwrap(pre["crop|chelsea.png|resnetV2"]))
        XCTAssertEqual(zip(image.pixels, crop.pixels).map { abs(Int($0) - Int($1)) }.max(), 0)
        XCTAssertThrowsError(try RGBImage(denormalizing: Tensor(shape: [2, 4, 4]), mean: [0, 0, 0], std: [1, 1, 1])) { error in
            XCTAssertTrue("\(error)".contains("[3, H, W]"), "\(error)")
        }
    }
}
