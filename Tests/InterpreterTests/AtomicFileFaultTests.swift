import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// `AtomicFile` under write faults injected through its writer: a disk that fills up halfway,
/// a writer that makes no progress, and interrupted writes.
final class AtomicFileFaultTests: XCTestCase {
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-atomic-\(UUID().uuidString)")

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func temporaries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
    }

    func testADiskThatFillsUpHalfwayKeepsThePreviousFileAndLeavesNoTemporary() throws {
        let path = folder.appendingPathComponent("map.npy").path
        let previous = Data("the earlier result".utf8)
        try previous.write(to: URL(fileURLWithPath: path))
        var budget = 1000
        let full: AtomicFile.Writer = { descriptor, bytes, count in
            guard budget > 0 else { errno = ENOSPC; return -1 }
            let n = Foundation.write(descriptor, bytes, min(count, min(budget, 300)))
            budget -= n
            return n
        }
        XCTAssertThrowsError(try AtomicFile.write(Data(repeating: 7, count: 5000), to: path, writer: full)) { error in
            XCTAssertEqual("\(error)", "cannot write \(path): writing failed after 1000 of 5000 bytes: No space left on device; the previous file, if any, is unchanged")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), previous)
        XCTAssertEqual(try temporaries(), [])
    }

    func testAWriterThatMakesNoProgressIsAnErrorNotALoop() throws {
        let path = folder.appendingPathComponent("r.html").path
        XCTAssertThrowsError(try AtomicFile.write(Data(repeating: 1, count: 10), to: path, writer: { _, _, _ in 0 })) { error in
            XCTAssertTrue("\(error)".contains("writing failed after 0 of 10 bytes: Input/output error"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try temporaries(), [])
    }

    func testInterruptedWritesAreRetriedAndTheFileIsReplacedWhole() throws {
        let path = folder.appendingPathComponent("t.npy").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        var calls = 0
        let flaky: AtomicFile.Writer = { descriptor, bytes, count in
            calls += 1
            if calls % 2 == 1 { errno = EINTR; return -1 }
            return Foundation.write(descriptor, bytes, min(count, 7))
        }
        let data = Data((0..<100).map { UInt8($0) })
        try AtomicFile.write(data, to: path, writer: flaky)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), data)
        XCTAssertEqual(try temporaries(), [])
        XCTAssertGreaterThan(calls, 28)
    }
}
