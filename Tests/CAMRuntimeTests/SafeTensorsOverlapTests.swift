import Foundation
import XCTest
@testable import CAMRuntime

/// A safetensors header may not make the reader allocate more than the file holds: tensors
/// whose byte ranges overlap are refused before anything is allocated (issue 8).
final class SafeTensorsOverlapTests: XCTestCase {
    /// A safetensors file from a JSON header (padded with spaces to a multiple of 8) and a payload.
    private func file(_ header: String, payload: [UInt8]) -> Data {
        var json = Array(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        let length = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) }
        return Data(length + json + payload)
    }

    private func assertRefused(_ data: Data, mentioning phrase: String, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors.read(data, fileName: "o.safetensors"), line: line) { error in
            guard let error = error as? CheckpointError else {
                return XCTFail("not a CheckpointError: \(error)", line: line)
            }
            XCTAssertTrue(error.message.contains(phrase), error.message, line: line)
            XCTAssertTrue(error.message.hasPrefix("o.safetensors: "), error.message, line: line)
        }
    }

    func testThousandsOfEntriesSharingTheSameBytesAreRefused() {
        // 2000 one-byte tensors of 4096 elements, all on the same 4 kB: as Float32 they would
        // take 2000 × 16 kB = 32 MB from a 4 kB payload (and a 100 MB header could name
        // millions of them).
        let entries = (0..<2000).map { #""t\#($0)":{"dtype":"U8","shape":[4096],"data_offsets":[0,4096]}"# }
        let data = file("{" + entries.joined(separator: ",") + "}", payload: [UInt8](repeating: 7, count: 4096))
        assertRefused(data, mentioning: "overlaps tensor")
        assertRefused(data, mentioning: "each tensor must have its own bytes")
    }

    func testAPartialOverlapIsRefusedAndNamesBothTensors() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        assertRefused(file(header, payload: [UInt8](repeating: 0, count: 12)),
                      mentioning: #"tensor "b" (data offsets [4, 12]) overlaps tensor "a" ([0, 8])"#)
    }

    func testAdjacentGappedAndEmptyTensorsAreStillRead() throws {
        // `e` and `z` are empty and share offsets with others; `b` starts where `a` ends; `c`
        // comes after a 4-byte gap. Keys are listed out of file order.
        let header = #"{"c":{"dtype":"U8","shape":[2],"data_offsets":[16,18]},"#
            + #""b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"#
            + #""e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]},"#
            + #""z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"#
            + #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}}"#
        var payload: [UInt8] = []
        for v: Float in [1.5, -2] { payload += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
        for v: Float16 in [0.25, 3] { payload += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
        payload += [9, 9, 9, 9, 200, 1]
        let dict = try SafeTensors.read(file(header, payload: payload), fileName: "ok.safetensors")
        XCTAssertEqual(dict.count, 5)
        XCTAssertEqual(dict["a"]?.storage, [1.5, -2])
        XCTAssertEqual(dict["b"]?.storage, [0.25, 3])
        XCTAssertEqual(dict["c"]?.storage, [200, 1])
        XCTAssertEqual(dict["e"]?.shape, [0, 3])
        XCTAssertEqual(dict["z"]?.count, 0)
    }

    func testTheWritersOutputWithAnEmptyTensorReadsBack() throws {
        var dict = StateDict()
        dict.set("a", Tensor(shape: [2], storage: [1, 2]))
        dict.set("empty", Tensor(shape: [0]))
        dict.set("b", Tensor(shape: [1, 2], storage: [3, 4]))
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("overlap-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafeTensors.write(dict, to: url)
        let back = try SafeTensors.read(contentsOf: url)
        XCTAssertEqual(back["a"]?.storage, [1, 2])
        XCTAssertEqual(back["empty"]?.count, 0)
        XCTAssertEqual(back["b"]?.storage, [3, 4])
    }
}
