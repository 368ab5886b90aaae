import Foundation
import XCTest
@testable import CAMRuntime

/// Memory is bounded by the file (issue 17, class 5): a view that repeats its storage and a
/// safetensors header of a million entries are refused or read in memory proportional to the
/// file, never in gigabytes.
final class CheckpointMemoryTests: XCTestCase {
    private func legacyView(size: [Int], stride: [Int]) -> Data {
        var keys = PickleBuilder()
        keys.proto(); keys.emptyList(); keys.string("k"); keys.op(0x61); keys.stop()
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.string("w")
        p.tensor(key: "k", numel: 6, offset: 0, size: size, stride: stride, legacy: true)
        p.op(0x73); p.stop()
        return Data(legacyHeader() + p.bytes + keys.bytes + littleEndian(6, 8) + sixFloats)
    }

    func testAStrideZeroViewOfAGigaElementIsRefusedBeforeAllocating() {
        XCTAssertEqual(CheckpointLimits.default.maxRepeatedElements, 1 << 24)
        // 2^30 elements (within the element limit) over a 6-float storage: 4 GiB before.
        XCTAssertThrowsError(try Checkpoint.read(legacyView(size: [1 << 15, 1 << 15], stride: [0, 0]), fileName: "view.pth")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("a view of a storage of only 6 elements"), message)
            XCTAssertTrue(message.contains("more than 16777216 elements"), message)
        }
    }

    func testASmallBroadcastViewStillLoads() throws {
        let dict = try Checkpoint.read(legacyView(size: [4, 3], stride: [0, 1]), fileName: "view.pth")
        XCTAssertEqual(dict["w"]?.storage, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
        XCTAssertEqual(dict["w"]?.shape, [4, 3])
    }

    func testAHeaderOfManyEntriesIsParsedWithoutFoundationObjects() throws {
        var json = "{"
        let count = 200_000
        for i in 0 ..< count { json += "\"t\(i)\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}," }
        json += "\"__metadata__\":{\"format\":\"pt\",\"nested\":[1,-2.5e3,true,false,null,{\"a\":[[]]}]},"
        json += "\"w\":{\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[0,8],\"extra\":{\"x\":[1,{}]}}}  "
        let header = Array(json.utf8)
        let data = Data(littleEndian(UInt64(header.count), 8) + header + [0, 0, 128, 63, 0, 0, 0, 64])
        let dict = try SafeTensors.read(data, fileName: "many.safetensors")
        XCTAssertEqual(dict.count, count + 1)
        XCTAssertEqual(dict["w"]?.storage, [1, 2])
        XCTAssertEqual(dict["t0"]?.shape, [0])
    }

    func testHeaderStringsDecodeEscapesAndMalformedHeadersAreRefused() throws {
        let good = #"{"a\"b\u00e9\ud83d\ude00\n":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#
        let data = Data(littleEndian(UInt64(good.utf8.count), 8) + Array(good.utf8) + [0, 0, 128, 63])
        XCTAssertEqual(try SafeTensors.read(data, fileName: "e.safetensors").keys, ["a\"bé😀\n"])
        let bad: [(String, String)] = [
            (#"[]"#, "must be a JSON object"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, "appears twice"),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "expected a non-negative integer"),
            (#"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#, "number too large"),
            (#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, "needs dtype, shape and two data_offsets"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x"#, "unexpected bytes after"),
            (#"{"__metadata__":{"a":"\ud800"}, "#, "expected a string"),
            (#"{"w\ud800":{}}"#, "lone surrogate"),
            (#"{"__metadata__":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["#, "ends inside a value"),
        ]
        for (header, expected) in bad {
            let data = Data(littleEndian(UInt64(header.utf8.count), 8) + Array(header.utf8) + [0, 0, 128, 63])
            XCTAssertThrowsError(try SafeTensors.read(data, fileName: "bad.safetensors"), header) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(header): \(error)")
            }
        }
    }
}

/// The shapes are checked against the model before any tensor is allocated (issue 17, class 5).
final class CheckpointShapesFirstTests: XCTestCase {
    private struct Stop: Error {}

    func testTheListingComesBeforeAnyTensorAndCanStopTheRead() throws {
        let network = try ModelStore.randomNetwork(architecture: "resnet18", classes: 3)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shapes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("r18.safetensors")
        try SafeTensors.write(ModelStore.stateDict(of: network), to: url)
        var seen: StateDictShapes?
        XCTAssertThrowsError(try Checkpoint.read(contentsOf: url, checkingShapes: { listing in
            seen = listing
            throw Stop()
        })) { error in XCTAssertTrue(error is Stop, "\(error)") }
        XCTAssertEqual(seen?["fc.weight"], [3, 512])
        XCTAssertEqual(seen?.keys.count, ModelStore.stateDict(of: network).count)
        XCTAssertEqual(try Network.detectArchitecture(try XCTUnwrap(seen)), "resnet18")
        // A checkpoint of another model is refused from its listing, naming the mismatches.
        XCTAssertThrowsError(try ModelStore.load(contentsOf: url.path, architecture: "resnet34")) { error in
            XCTAssertTrue("\(error)".contains("the checkpoint does not fit resnet34: missing keys"), "\(error)")
        }
        XCTAssertEqual(try ModelStore.load(contentsOf: url.path).architecture, "resnet18")
    }
}
