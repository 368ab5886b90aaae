import CAMRuntime
import Foundation
import Interpreter
import XCTest

final class NPYTests: XCTestCase {
    func testRoundTripAndHeaderAlignment() throws {
        let t = Tensor(shape: [2, 3], storage: [1, -2, 3.5, 0, .infinity, 6])
        let data = NPY.encode(t)
        XCTAssertEqual((10 + Int(data[8]) + Int(data[9]) << 8) % 64, 0)
        XCTAssertEqual(try NPY.decode(data, name: "t"), t)
        XCTAssertEqual(try NPY.decode(NPY.encode(Tensor(shape: [4], storage: [1, 2, 3, 4])), name: "t").shape, [4])
    }

    /// Bytes written by numpy 2 (`np.save` of `np.arange(6, dtype='<f8').reshape(2, 3)`).
    func testReadsNumpyFloat64() throws {
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
        header += String(repeating: " ", count: 64 - (10 + header.count + 1) % 64) + "\n"
        bytes += [UInt8(header.utf8.count), 0] + Array(header.utf8)
        for v in 0..<6 { withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { bytes += $0 } }
        let t = try NPY.decode(Data(bytes), name: "a.npy")
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.storage, [0, 1, 2, 3, 4, 5])
    }

    func testRejectsBadFiles() {
        XCTAssertThrowsError(try NPY.decode(Data("hello".utf8), name: "x.npy")) {
            XCTAssertEqual(($0 as? UserFacingError)?.message, "x.npy is not a NumPy .npy file (it does not start with \\x93NUMPY)")
        }
        var truncated = NPY.encode(Tensor(shape: [3], storage: [1, 2, 3]))
        truncated.removeLast(4)
        XCTAssertThrowsError(try NPY.decode(truncated, name: "x.npy")) {
            XCTAssertEqual(($0 as? UserFacingError)?.message, "x.npy: the .npy data is truncated: shape (3,) needs 12 bytes, found 8")
        }
        var bigEndian = NPY.encode(Tensor(shape: [1], storage: [1]))
        if let r = bigEndian.range(of: Data("<f4".utf8)) { bigEndian.replaceSubrange(r, with: Data(">f4".utf8)) }
        XCTAssertThrowsError(try NPY.decode(bigEndian, name: "x.npy"))
    }
}
