// fuzz-max-len: 32768
// fuzz-seeds: fuzz/seeds/onnx-import

import Foundation
import CAMRuntime

/// The ONNX importer on decoded files: the input's checks, the rewrites, every operator's
/// lowering and attribute checks, the constant folding of shape subgraphs, module scopes,
/// class names from metadata and the trial forward on zeros that checks the graph runs.
///
/// Inputs whose declared height or width is over 32 pixels are skipped, and a symbolic height
/// or width is fixed at 16 (the importer would take 224): the trial forward's cost grows with
/// the image, and at real sizes one input from 32 kB of weights could pass the 1 s limit by
/// doing legitimate work. Everything else the importer reads is left as the fuzzer wrote it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNXImport(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        var file = try ONNXFile(data: data, fileName: "fuzz.onnx")
        for (i, input) in file.graph.inputs.enumerated() where file.graph.initializers[input.name] == nil {
            guard var dims = input.dims, dims.count == 4 else { continue }
            for axis in 2...3 {
                switch dims[axis] {
                case let .fixed(n) where n > 32: return
                case .fixed: break
                case .symbolic, .unknown: dims[axis] = .fixed(16)
                }
            }
            file.graph.inputs[i].dims = dims
        }
        _ = try ONNXImporter.network(from: file, name: "fuzz")
    }
}
