import Foundation
import XCTest
@testable import CAMRuntime

/// Inputs found while fuzzing the image decoders (fuzz/targets/png.swift, jpeg.swift).
final class FuzzRegressionImageTests: XCTestCase {
    /// baseline.jpg (32 × 24) with its frame header rewritten to claim `width` × `height`.
    private func jpegClaiming(width: UInt16, height: UInt16) throws -> Data {
        var jpeg = [UInt8](try Data(contentsOf: ImagingFixtures.files.appendingPathComponent("baseline.jpg")))
        guard let sof = (0..<(jpeg.count - 8)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else {
            throw RuntimeError("baseline.jpg has no SOF0 marker")
        }
        jpeg.replaceSubrange(sof + 5 ... sof + 8, with: [UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF)])
        return Data(jpeg)
    }

    /// The fuzzer's timeouts on JPEG: a 1.7 kB file whose header claims 9000 × 9000 pixels (within
    /// the 89 M pixel limit) made libjpeg-turbo invent all 81 M missing pixels after the first
    /// "premature end of data" warning (2.8 s under ASan) before the wrapper refused the file,
    /// and the refusal then zero-filled the 243 MB buffer. Decoding now stops at the first warning.
    func testTruncatedJPEGClaimingManyPixelsIsRefusedAtTheFirstWarning() throws {
        let data = try jpegClaiming(width: 9000, height: 9000)
        let start = Date()
        XCTAssertThrowsError(try RGBImage(data: data, fileName: "claims.jpg")) { error in
            XCTAssertTrue(error is ImageError, "\(error)")
            XCTAssertTrue("\(error)".contains("claims.jpg"), "\(error)")
            XCTAssertTrue("\(error)".contains("truncated or corrupt"), "\(error)")
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 0.25, "refusing a truncated 9000×9000 JPEG took \(seconds) s")
    }

    /// A 115-byte PNG: an RGBA header claiming `width` × `height` pixels, then one row of data.
    private func pngClaiming(width: UInt32, height: UInt32) -> Data {
        func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        func crc(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0xEDB8_8320 : 0) }
            }
            return ~c
        }
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return be(UInt32(body.count)) + typed + be(crc(typed))
        }
        // zlib stream of one stored block: filter byte 0 and `width` × 4 bytes of 0x80.
        let row: [UInt8] = [0] + [UInt8](repeating: 0x80, count: Int(width) * 4)
        var adlerA: UInt32 = 1, adlerB: UInt32 = 0
        for b in row { adlerA = (adlerA + UInt32(b)) % 65521; adlerB = (adlerB + adlerA) % 65521 }
        let length = UInt16(row.count)
        let zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            + row + be(adlerB << 16 | adlerA)
        let header = be(width) + be(height) + [8, 6, 0, 0, 0]
        return Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", []))
    }

    func testTruncatedPNGClaimingManyPixelsIsRefusedQuickly() {
        let data = pngClaiming(width: 9000, height: 9000)
        let start = Date()
        XCTAssertThrowsError(try RGBImage(data: data, fileName: "claims.png")) { error in
            XCTAssertTrue(error is ImageError, "\(error)")
            XCTAssertTrue("\(error)".contains("truncated or corrupt"), "\(error)")
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 0.25, "refusing a truncated 9000×9000 PNG took \(seconds) s")
    }

    /// The fuzzer's first PNG timeout (fuzz/targets/png.swift, 4.9 M executions in): 482 bytes
    /// whose `sCAL` chunk claims 1 080 857 746 bytes. libpng allocated and zero-filled a 1 GB
    /// buffer for it (11.8 s under ASan, 950 MB of memory) before finding the data missing.
    func testPNGChunkClaimingMoreThanTheFileIsRefusedBeforeLibpngAllocatesIt() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/fuzz/png-timeout-scal-1GB.png")
        let data = try Data(contentsOf: url)
        let start = Date()
        XCTAssertThrowsError(try RGBImage(data: data, fileName: "scal.png")) { error in
            XCTAssertTrue(error is ImageError, "\(error)")
            XCTAssertTrue("\(error)".contains("the chunk \"sCAL\" at byte"), "\(error)")
            XCTAssertTrue("\(error)".contains("claims 1080857746 bytes"), "\(error)")
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, 0.25, "refusing the 1 GB sCAL chunk took \(seconds) s")
        // The same claim after the image data is a damaged end that libpng and Pillow ignore:
        // the image still decodes, to the same pixels.
        let name = "rgb8.png"
        let original = try RGBImage(contentsOf: ImagingFixtures.files.appendingPathComponent(name))
        var damaged = [UInt8](try Data(contentsOf: ImagingFixtures.files.appendingPathComponent(name)))
        damaged.removeLast(12)  // IEND
        damaged += [0x7F, 0xFF, 0xFF, 0xFF] + Array("tEXt".utf8) + [0, 0, 0, 0]
        XCTAssertEqual(try RGBImage(data: Data(damaged), fileName: "text.png"), original)
        // An IDAT that claims more than the file has is a truncated image.
        var idat = [UInt8](try Data(contentsOf: ImagingFixtures.files.appendingPathComponent(name)))
        guard let at = (8..<(idat.count - 4)).first(where: { idat[$0 ..< $0 + 4].elementsEqual("IDAT".utf8) }) else {
            return XCTFail("\(name) has no IDAT chunk")
        }
        idat.replaceSubrange(at - 4 ..< at, with: [0x40, 0, 0, 0])
        XCTAssertThrowsError(try RGBImage(data: Data(idat), fileName: "idat.png")) { error in
            XCTAssertTrue("\(error)".contains("the chunk \"IDAT\" at byte \(at - 4) claims 1073741824 bytes"), "\(error)")
        }
    }
}
