import CAMRuntime
import Foundation
import XCTest

/// `UserFile` and the readers built on it (issue 17, class 4): a FIFO, a character device or a
/// folder named as an input is refused at once, saying what it is, never blocking and never
/// reported as "permission denied".
final class SpecialFileTests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-special-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs `body` and fails when it takes more than two seconds (it would block forever).
    private func quickly(_ what: String, _ body: () throws -> Void) rethrows {
        let start = Date()
        try body()
        XCTAssertLessThan(Date().timeIntervalSince(start), 2, "\(what) blocked")
    }

    func testAFIFOIsRefusedWithoutBlocking() throws {
        let fifo = folder.appendingPathComponent("w.pth").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        try quickly("UserFile.read") {
            XCTAssertThrowsError(try UserFile.read(fifo)) { error in
                XCTAssertEqual("\(error)", "cannot read \(fifo): it is a FIFO (named pipe), not a regular file")
                XCTAssertEqual((error as? FileIOError)?.missing, false)
            }
        }
        try quickly("a checkpoint") {
            XCTAssertThrowsError(try Checkpoint.read(contentsOf: URL(fileURLWithPath: fifo))) { error in
                XCTAssertEqual("\(error)", "w.pth: is a FIFO (named pipe), not a checkpoint file")
            }
        }
        try quickly("an image") {
            XCTAssertThrowsError(try RGBImage(contentsOf: URL(fileURLWithPath: fifo))) { error in
                XCTAssertTrue("\(error)".contains("is a FIFO (named pipe), not an image file"), "\(error)")
            }
        }
        try quickly("a checksum") {
            XCTAssertThrowsError(try SHA256.hexDigest(ofFileAt: fifo)) { error in
                XCTAssertTrue("\(error)".contains("is a FIFO"), "\(error)")
            }
        }
    }

    func testDevZeroIsACharacterDeviceNotPermissionDenied() throws {
        try quickly("/dev/zero") {
            XCTAssertThrowsError(try UserFile.read("/dev/zero")) { error in
                XCTAssertEqual("\(error)", "cannot read /dev/zero: it is a character device, not a regular file")
            }
            XCTAssertThrowsError(try RGBImage(contentsOf: URL(fileURLWithPath: "/dev/zero"))) { error in
                XCTAssertEqual("\(error)", "image 'zero': /dev/zero is a character device, not an image file")
                XCTAssertFalse("\(error)".contains("permission denied"))
            }
        }
    }

    func testAFolderAndAMissingFileSayWhatTheyAre() throws {
        XCTAssertThrowsError(try UserFile.read(folder.path)) { error in
            XCTAssertEqual("\(error)", "cannot read \(folder.path): it is a folder, not a regular file")
        }
        let missing = folder.appendingPathComponent("none.npy").path
        XCTAssertThrowsError(try UserFile.read(missing)) { error in
            XCTAssertEqual("\(error)", "cannot read \(missing): no such file")
            XCTAssertEqual((error as? FileIOError)?.missing, true)
        }
    }

    func testARegularFileIsReadWhole() throws {
        let url = folder.appendingPathComponent("a.bin")
        let data = Data((0..<300_000).map { UInt8($0 % 253) })
        try data.write(to: url)
        XCTAssertEqual(try UserFile.read(url.path), data)
        XCTAssertThrowsError(try UserFile.read(url.path, limit: 1000))
    }
}
