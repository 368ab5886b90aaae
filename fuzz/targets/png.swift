// fuzz-max-len: 32768
// fuzz-seeds: fuzz/seeds/png Tests/CAMRuntimeTests/Fixtures/imaging/files

import Foundation
import CAMRuntime

/// PNG decoding through `RGBImage(data:)` (libpng, every colour type, bit depth, interlacing,
/// gamma, alpha compositing). Inputs without the PNG signature are skipped: the jpeg target
/// covers the other decoder.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        guard ImageFileFormat.detect(data) == .png else { return }
        _ = try RGBImage(data: data, fileName: "fuzz.png")
    }
}
