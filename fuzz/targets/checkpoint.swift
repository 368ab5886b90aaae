// fuzz-max-len: 16384
// fuzz-seeds: Tests/CAMRuntimeTests/Fixtures/checkpoints

import Foundation
import CAMRuntime

/// Every checkpoint format through the public entry point: format detection, the zip reader,
/// the legacy reader, the restricted unpickler, storages and views, DataParallel stripping.
///
/// The element budget is 16 M (64 MiB of Float) instead of the default 1 G, so that a small
/// input may legitimately expand a stride-0 view to the budget without hitting the fuzzer's
/// memory limit; every other limit is the default.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        var limits = CheckpointLimits.default
        limits.maxElements = 1 << 24
        _ = try Checkpoint.read(data, fileName: "fuzz.pth", limits: limits)
    }
}
