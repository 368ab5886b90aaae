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
}
