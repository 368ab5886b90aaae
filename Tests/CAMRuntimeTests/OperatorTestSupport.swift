import XCTest
@testable import CAMRuntime

/// Helpers for the tests of the ONNX tensor operators: graphs of one operator whose inputs are
/// constants except the one under test.
enum OperatorTestSupport {
    typealias S = LayerTestSupport

    /// A tensor from its shape and elements.
    static func t(_ shape: [Int], _ values: [Float]) -> Tensor {
        Tensor(shape: shape, storage: values)
    }

    /// A 1-D tensor of integers (a shape, axes, indices).
    static func ints(_ values: [Int]) -> Tensor {
        Tensor(shape: [values.count], storage: values.map { Float($0) })
    }

    /// 0, 1, 2, … in the given shape.
    static func arange(_ shape: [Int], from start: Float = 0) -> Tensor {
        Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { start + Float($0) })
    }

    /// A graph applying `op` to `inputs`: input `checked` is the graph's input, the others constants.
    static func graph(_ op: Operator, _ inputs: [Tensor], input checked: Int = 0) -> Graph {
        S.graph { b in
            let values = inputs.indices.map { k in k == checked ? b.input : b.constant(inputs[k], name: "c\(k)") }
            return b.node(op, values, path: "op")
        }
    }

    /// The output of `op` on `inputs`, on the retaining path and on the inference path (which must agree).
    static func run(_ op: Operator, _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
        let g = graph(op, inputs)
        let retained = try S.run(g, inputs[0], retain: true)
        let plain = try S.run(g, inputs[0], retain: false)
        XCTAssertTrue(retained.shape == plain.shape && zip(retained.storage, plain.storage).allSatisfy {
            $0 == $1 || ($0.isNaN && $1.isNaN)
        }, "retaining and inference forwards differ", file: file, line: line)
        return retained
    }

    /// Asserts that `op` on `inputs` gives `expected` (shape, and elements within `accuracy`).
    static func assertForward(_ op: Operator, _ inputs: [Tensor], _ expected: Tensor, accuracy: Float = 1e-6,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        let y = try run(op, inputs, file: file, line: line)
        XCTAssertEqual(y.shape, expected.shape, "shape", file: file, line: line)
        guard y.shape == expected.shape else { return }
        for i in 0..<y.count where !(abs(y.storage[i] - expected.storage[i]) <= accuracy)
            && !(y.storage[i].isNaN && expected.storage[i].isNaN) {
            XCTFail("element \(i): \(y.storage[i]) instead of \(expected.storage[i]) (all: \(y.storage))", file: file, line: line)
            return
        }
    }

    /// Finite-difference check of the gradient with respect to input `k` (the others constants).
    static func check(_ op: Operator, _ inputs: [Tensor], wrt k: Int = 0, step: Float = 1e-2, absolute: Double = 2e-3,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        try S.gradientCheck(graph(op, inputs, input: k), input: inputs[k], step: step, absolute: absolute,
                            file: file, line: line)
    }

    /// The input gradient of `op` at `inputs[k]` for an output gradient of ones.
    static func gradient(_ op: Operator, _ inputs: [Tensor], wrt k: Int = 0) throws -> Tensor? {
        try S.forwardBackward(graph(op, inputs, input: k), inputs[k]) { Tensor(shape: $0.shape, repeating: 1) }.input
    }

    /// Asserts that running `op` on `inputs` throws an error whose message contains `fragment`.
    static func assertThrows(_ op: Operator, _ inputs: [Tensor], _ fragment: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try S.run(graph(op, inputs), inputs[0]), file: file, line: line) { error in
            XCTAssertTrue(error is RuntimeError, "\(type(of: error))", file: file, line: line)
            XCTAssertTrue("\(error)".contains(fragment), "\"\(error)\" does not contain \"\(fragment)\"",
                          file: file, line: line)
        }
    }

    /// Uniform random values in `low..<high`.
    static func random(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
        S.random(shape, seed: seed, low: low, high: high)
    }
}
