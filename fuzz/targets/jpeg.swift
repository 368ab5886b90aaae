// fuzz-max-len: 32768
// fuzz-seeds: fuzz/seeds/jpeg Tests/CAMRuntimeTests/Fixtures/imaging/files

import Foundation
import CAMRuntime

/// JPEG decoding through `RGBImage(data:)` (TurboJPEG: baseline, progressive, subsampling,
/// grayscale, CMYK refusal, EXIF orientation). Inputs without the JPEG signature are skipped.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEG(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        guard ImageFileFormat.detect(data) == .jpeg else { return }
        _ = try RGBImage(data: data, fileName: "fuzz.jpg")
    }
}
