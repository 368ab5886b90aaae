// fuzz-max-len: 4096
// fuzz-seeds: Tests/CAMRuntimeTests/Fixtures/checkpoints

import Foundation
import CAMRuntime

/// The safetensors reader: header length, JSON header, dtype conversion, offsets.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        _ = try SafeTensors.read(data, fileName: "fuzz.safetensors")
    }
}
