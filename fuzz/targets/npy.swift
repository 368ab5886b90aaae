// fuzz-max-len: 4096
// fuzz-seeds: fuzz/seeds/npy

import Foundation
import CAMRuntime

/// The runtime's `.npy` reader (`load("x.npy")`): magic, version, header dictionary,
/// dtype, shape and the data size it implies.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNPY(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        _ = try NPY.decode(data, name: "fuzz.npy")
    }
}
