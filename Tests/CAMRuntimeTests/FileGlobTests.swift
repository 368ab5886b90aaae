import CAMRuntime
import XCTest

/// `files` patterns (issue 20): sorted, `**` at any depth, hidden names left out, link cycles
/// harmless.
final class FileGlobTests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-glob-\(UUID().uuidString)")
        for name in ["b/2.jpg", "b/10.jpg", "a/x/deep.jpg", "a/1.JPG", "a/1.png", "top.jpg", ".hidden/h.jpg", "a/.dot.jpg", "c d/ü.jpg"] {
            let url = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data([1]).write(to: url)
        }
        // A link back up the tree: `**` must not loop.
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("a/x/loop").path, withDestinationPath: folder.path)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func names(_ pattern: String) throws -> [String] {
        try FileGlob.files(matching: pattern, base: folder.path).map(\.relativePath)
    }

    func testPatterns() throws {
        XCTAssertEqual(try names("**/*.jpg"), ["a/x/deep.jpg", "b/10.jpg", "b/2.jpg", "c d/ü.jpg", "top.jpg"])
        XCTAssertEqual(try names("*/*.jpg"), ["b/10.jpg", "b/2.jpg", "c d/ü.jpg"])
        XCTAssertEqual(try names("a/*"), ["1.JPG", "1.png"])
        XCTAssertEqual(try names("a/.*"), [".dot.jpg"])
        XCTAssertEqual(try names("b/?.jpg"), ["2.jpg"])
        XCTAssertEqual(try names("b/[0-9]*.jpg"), ["10.jpg", "2.jpg"])
        XCTAssertEqual(try names("a/**"), ["1.JPG", "1.png", "x/deep.jpg"])
        // The absolute form gives the same relative names and absolute paths.
        let absolute = try FileGlob.files(matching: folder.path + "/b/*.jpg", base: "/")
        XCTAssertEqual(absolute.map(\.path), [folder.path + "/b/10.jpg", folder.path + "/b/2.jpg"])
        XCTAssertEqual(try names("*/nothing*.jpg"), [], "a pattern that matches nothing is an empty list")
        XCTAssertThrowsError(try FileGlob.files(matching: "missing/x/*.jpg", base: folder.path)) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
        let images = try FileGlob.images(in: folder.path).map(\.relativePath)
        XCTAssertEqual(images, ["a/1.JPG", "a/1.png", "a/x/deep.jpg", "b/10.jpg", "b/2.jpg", "c d/ü.jpg", "top.jpg"])
    }
}
