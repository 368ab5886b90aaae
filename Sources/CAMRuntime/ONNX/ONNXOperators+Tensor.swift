import Foundation

extension ONNXOperators {
    /// Element-wise arithmetic, shape manipulation, normalisation and attention.
    static let tensor: [String: Lower] = [
        "Add": { c in try c.lowering.emit(Add(), c.inputs, for: c.node) },
    ]

    /// Gemm in general (B computed at run time, transposed A).
    static func gemmGeneral(_ c: NodeContext) throws {
        throw RuntimeError("Gemm with a B computed at run time or transA = 1 is not supported")
    }
}
