import Foundation
import XCTest
@testable import CAMRuntime

/// F16 and BF16 files written by Python's safetensors, against PyTorch's float32 conversion.
final class SafeTensorsDtypeTests: XCTestCase {
    /// Reads `name` and compares it bit-exactly (tolerance 0: widening F16/BF16 to F32 is exact)
    /// with `expected`, which holds the same tensors as F32.
    func assertReads(_ name: String, like expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let got = try SafeTensors.read(contentsOf: checkpointFixtures.appendingPathComponent(name))
        let want = try SafeTensors.read(contentsOf: checkpointFixtures.appendingPathComponent(expected))
        XCTAssertEqual(Set(got.keys), ["a", "b"], file: file, line: line)
        for key in want.keys {
            let g = try XCTUnwrap(got[key], key, file: file, line: line)
            let w = try XCTUnwrap(want[key], key, file: file, line: line)
            XCTAssertEqual(g.shape, w.shape, key, file: file, line: line)
            XCTAssertEqual(g.storage.map(\.bitPattern), w.storage.map(\.bitPattern), key, file: file, line: line)
        }
    }

    func testFloat16() throws {
        try assertReads("half.safetensors", like: "half_expected.safetensors")
        let b = try XCTUnwrap(try SafeTensors.read(contentsOf: checkpointFixtures.appendingPathComponent("half.safetensors"))["b"])
        XCTAssertEqual(b.storage[0], 65504, "the largest finite half")
        XCTAssertEqual(b.storage[1].sign, .minus, "negative zero keeps its sign")
    }

    func testBFloat16() throws {
        try assertReads("bfloat16.safetensors", like: "bfloat16_expected.safetensors")
        let b = try XCTUnwrap(try SafeTensors.read(contentsOf: checkpointFixtures.appendingPathComponent("bfloat16.safetensors"))["b"])
        XCTAssertEqual(b.storage[1], -2.5)
        XCTAssertEqual(Double(b.storage[0]), 1e30, accuracy: 1e30 * 0.004, "bfloat16 keeps float32's range (8-bit mantissa)")
    }

    func testCheckpointReadDetectsSafeTensorsWhateverTheName() throws {
        let data = try checkpointFixture("bfloat16.safetensors")
        let dict = try Checkpoint.read(data, fileName: "weights.pth")
        XCTAssertEqual(Set(dict.keys), ["a", "b"])
    }

    /// A header of 128 bytes makes the file start with 0x80, like a pickle: still safetensors.
    func testHeaderLengthThatLooksLikeAPickleOpcode() throws {
        var header = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        header += String(repeating: " ", count: 128 - header.utf8.count)
        var bytes = Data(littleEndian(128, 8))
        bytes.append(contentsOf: Array(header.utf8))
        bytes.append(contentsOf: littleEndian(UInt64(Float(1.5).bitPattern), 4) + littleEndian(UInt64(Float(-2).bitPattern), 4))
        XCTAssertEqual(bytes.first, 0x80)
        XCTAssertEqual(Checkpoint.format(of: bytes), .safetensors)
        XCTAssertEqual(try Checkpoint.read(bytes, fileName: "w.safetensors")["w"]?.storage, [1.5, -2])
    }

    func testUnknownDtypeIsRefusedByName() {
        let header = #"{"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#
        var bytes = Data(littleEndian(UInt64(header.utf8.count), 8))
        bytes.append(contentsOf: Array(header.utf8))
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 8))
        XCTAssertThrowsError(try SafeTensors.read(bytes, fileName: "c.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("unsupported dtype C64"), "\(error)")
        }
    }
}
