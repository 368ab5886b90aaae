// fuzz-max-len: 4096
// fuzz-seeds: fuzz/seeds/pickle

import Foundation
@testable import CAMRuntime

/// The restricted unpickler alone, on a bare pickle (persistent ids allowed, as in the object
/// pickle of a checkpoint), so that mutations are not spent on zip or legacy framing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        var limits = CheckpointLimits.default
        limits.maxElements = 1 << 24
        var unpickler = Unpickler(fileName: "fuzz.pkl", limits: limits, allowsPersistentIDs: true)
        _ = try data.withUnsafeBytes { bytes in try unpickler.load(bytes, from: 0) }
    }
}
