import Foundation
import XCTest
@testable import CAMRuntime

/// The resource limits that docs/reliability.md lists (issue 8, "Limits"), one test per limit:
/// each pins the documented default and shows that crossing the limit is refused with a message
/// that names it, before anything of the claimed size is allocated.
final class FuzzRegressionLimitTests: XCTestCase {
    /// A bare pickle built by `body`, inside a torch zip checkpoint.
    private func zipPickle(_ body: (inout PickleBuilder) -> Void) -> Data {
        var p = PickleBuilder()
        p.proto()
        body(&p)
        p.stop()
        return makeTorchZip(pickle: p.bytes)
    }

    /// The same bare pickle after a legacy checkpoint's header pickles.
    private func legacyPickle(_ body: (inout PickleBuilder) -> Void) -> Data {
        var p = PickleBuilder()
        p.proto()
        body(&p)
        p.stop()
        return Data(legacyHeader() + p.bytes)
    }

    func testImagePixelLimitDefaultsToPillowsBombGuardAndRefusesAJPEGBomb() throws {
        XCTAssertEqual(ImageLimits.default.maxPixels, 89_478_485)
        // baseline.jpg with its frame header rewritten to claim 65000 × 65000 pixels.
        var jpeg = [UInt8](try Data(contentsOf: ImagingFixtures.files.appendingPathComponent("baseline.jpg")))
        guard let sof = (0..<(jpeg.count - 8)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else {
            return XCTFail("baseline.jpg has no SOF0 marker")
        }
        jpeg.replaceSubrange(sof + 5 ... sof + 8, with: [0xFD, 0xE8, 0xFD, 0xE8])
        XCTAssertThrowsError(try RGBImage(data: Data(jpeg), fileName: "bomb.jpg")) { error in
            XCTAssertTrue(error is ImageError, "\(error)")
            XCTAssertTrue("\(error)".contains("65000×65000"), "\(error)")
            XCTAssertTrue("\(error)".contains("more than the limit of 89478485"), "\(error)")
        }
    }

    func testCheckpointElementLimitDefaultsToOneGigaElementAndRefusesClaimsBeforeAllocating() {
        XCTAssertEqual(CheckpointLimits.default.maxElements, 1 << 30)
        // A legacy tensor whose view claims 10^12 elements of a 6-element storage.
        var keys = PickleBuilder()
        keys.proto(); keys.emptyList(); keys.string("k"); keys.op(0x61); keys.stop()
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.string("w")
        p.tensor(key: "k", numel: 6, offset: 0, size: [1_000_000, 1_000_000], stride: [0, 0], legacy: true)
        p.op(0x73); p.stop()
        let legacy = Data(legacyHeader() + p.bytes + keys.bytes + littleEndian(6, 8) + sixFloats)
        assertRefused(legacy, "more than the limit of 1073741824 elements")
        // A safetensors header that claims 10^12 elements backed by 4 bytes.
        let header = Array(#"{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4]}}"#.utf8)
        let safetensors = Data(littleEndian(UInt64(header.count), 8) + header + [0, 0, 0, 0])
        XCTAssertThrowsError(try SafeTensors.read(safetensors, fileName: "claim.safetensors")) { error in
            XCTAssertTrue(error is CheckpointError, "\(error)")
        }
    }

    func testPickleMemoLimitDefaultsToOneMebiEntryAndIsEnforcedInLegacyFilesToo() {
        XCTAssertEqual(CheckpointLimits.default.maxMemoEntries, 1 << 20)
        var tight = CheckpointLimits.default
        tight.maxMemoEntries = 3
        let fourPuts = legacyPickle { p in p.emptyList(); for i in 0..<4 { p.put(UInt8(i)) } }
        assertRefused(fourPuts, "memo larger than 3", limits: tight)
        // Re-storing the same index does not grow the memo.
        let samePut = zipPickle { p in p.emptyList(); for _ in 0..<10 { p.put(0) } }
        XCTAssertThrowsError(try Checkpoint.read(samePut, fileName: "c.pth", limits: tight)) { error in
            XCTAssertFalse("\(error)".contains("memo"), "\(error)")
        }
    }

    func testPickleNestingLimitDefaultsToOneThousandMarks() {
        XCTAssertEqual(CheckpointLimits.default.maxNesting, 1000)
        assertRefused(zipPickle { p in for _ in 0..<1001 { p.mark() } }, "deeper than 1000")
        assertRefused(legacyPickle { p in for _ in 0..<1001 { p.mark() } }, "deeper than 1000")
        // 1000 marks are within the limit: refused for another reason (no state dict).
        XCTAssertThrowsError(try Checkpoint.read(zipPickle { p in for _ in 0..<1000 { p.mark() } }, fileName: "c.pth")) { error in
            XCTAssertFalse("\(error)".contains("deeper"), "\(error)")
        }
    }

    func testPickleStackAndContainerLimitsHaveTheirDocumentedDefaults() {
        XCTAssertEqual(CheckpointLimits.default.maxStackItems, 1 << 20)
        XCTAssertEqual(CheckpointLimits.default.maxContainers, 1 << 22)
        var tight = CheckpointLimits.default
        tight.maxStackItems = 5
        tight.maxContainers = 5
        assertRefused(zipPickle { p in for _ in 0..<6 { p.op(0x4E) } }, "stack grows beyond 5", limits: tight)
        assertRefused(zipPickle { p in for _ in 0..<6 { p.emptyList(); p.op(0x30) } }, "more than 5 pickle containers", limits: tight)
    }

    func testSafeTensorsHeaderLimitIsTheReferenceImplementations() {
        XCTAssertEqual(SafeTensors.maxHeaderBytes, 100_000_000)
        let claim = Data(littleEndian(200_000_000, 8) + Array("{}".utf8))
        XCTAssertThrowsError(try SafeTensors.read(claim, fileName: "h.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("header claims 200000000 bytes"), "\(error)")
        }
    }
}
