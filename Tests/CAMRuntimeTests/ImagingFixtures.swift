import Foundation
import XCTest
@testable import CAMRuntime

/// Locates and reads the fixtures made by tools/fixtures/gen_imaging.py.
enum ImagingFixtures {
    /// Tests/CAMRuntimeTests/Fixtures/imaging.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/imaging")
    /// Small encoded files (PNG/JPEG variants).
    static let files = folder.appendingPathComponent("files")
    /// The repository's examples/images.
    static let photos = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples/images")

    /// Reads one fixture file.
    static func load(_ name: String) throws -> StateDict {
        try SafeTensors.read(contentsOf: folder.appendingPathComponent(name))
    }

    /// A uint8 `[H, W, 3]` fixture tensor as an image.
    static func image(_ tensor: Tensor) -> RGBImage {
        XCTAssertEqual(tensor.rank, 3)
        return RGBImage(width: tensor.shape[1], height: tensor.shape[0], pixels: tensor.storage.map { UInt8($0) })
    }

    /// A fresh empty temporary folder.
    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imaging-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Asserts two images are identical, reporting the first differences.
    static func assertIdentical(_ actual: RGBImage, _ expected: RGBImage, _ what: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.width, expected.width, "\(what): width", file: file, line: line)
        XCTAssertEqual(actual.height, expected.height, "\(what): height", file: file, line: line)
        guard actual.pixels.count == expected.pixels.count else { return }
        var differing = 0, maxDiff = 0, first = -1
        for i in 0..<actual.pixels.count where actual.pixels[i] != expected.pixels[i] {
            differing += 1
            maxDiff = max(maxDiff, abs(Int(actual.pixels[i]) - Int(expected.pixels[i])))
            if first < 0 { first = i }
        }
        XCTAssertEqual(differing, 0, "\(what): \(differing) bytes differ, max difference \(maxDiff), first at byte \(first) (pixel \(first / 3))",
                       file: file, line: line)
    }
}
