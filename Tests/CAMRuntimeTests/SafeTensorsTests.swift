import Foundation
import XCTest
@testable import CAMRuntime

final class SafeTensorsTests: XCTestCase {
    func testRoundTripKeepsOrderShapesAndValues() throws {
        var dict = StateDict()
        dict.set("b.weight", Tensor(shape: [2, 3], storage: [1, 2, 3, 4, 5, -6.5]))
        dict.set("a.bias", Tensor(shape: [1], storage: [0.25]))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rt-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(dict, to: url)
        let back = try SafeTensors.read(contentsOf: url)
        XCTAssertEqual(back.keys, ["b.weight", "a.bias"])
        XCTAssertEqual(back["b.weight"], dict["b.weight"])
        XCTAssertEqual(back["a.bias"], dict["a.bias"])
    }

    func testHeaderClaimingMoreThanTheFileIsRefused() {
        var bytes = Data([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
        bytes.append(contentsOf: Array("{}".utf8))
        XCTAssertThrowsError(try SafeTensors.read(bytes, fileName: "bad.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("header claims"), "\(error)")
        }
    }

    func testShapeThatDoesNotFitItsOffsetsIsRefusedWithoutAllocating() {
        let header = #"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}"#
        var bytes = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(header.utf8))
        bytes.append(contentsOf: [0, 0, 0, 0])
        XCTAssertThrowsError(try SafeTensors.read(bytes, fileName: "huge.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("does not fit"), "\(error)")
        }
    }
}
