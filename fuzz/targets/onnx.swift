// fuzz-max-len: 16384
// fuzz-seeds: fuzz/seeds/onnx Tests/CAMRuntimeTests/Fixtures/onnx-files

import Foundation
import CAMRuntime

/// The ONNX file layer from memory: content sniffing, the protobuf decoder (SwiftProtobuf, with
/// its message depth limit) and the lowering into `ONNXFile`'s values: dims and element counts,
/// data types, raw and typed data lengths, attribute kinds, subgraphs, duplicate names. External
/// data is refused in memory (no folder), after its description is checked; the folder and file
/// checks are covered by `ONNXFileHostileTests`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        _ = ONNXFile.looksLikeONNX(data)
        _ = try ONNXFile(data: data, fileName: "fuzz.onnx")
    }
}
