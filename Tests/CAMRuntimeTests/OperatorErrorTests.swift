import XCTest
@testable import CAMRuntime

/// The ONNX tensor operators refuse inputs that do not fit with a user-facing error that says
/// what was expected and what was found, prefixed by the node's name.
final class OperatorErrorTests: XCTestCase {
    typealias O = OperatorTestSupport

    func testMismatchedBroadcastShapes() {
        let a = Tensor(shape: [2, 3]), b = Tensor(shape: [4])
        O.assertThrows(Binary(.mul), [a, b], "op: cannot broadcast [2, 3] and [4]")
        O.assertThrows(Add(), [a, b], "cannot broadcast [2, 3] and [4]")
        O.assertThrows(Equal(), [a, b], "cannot broadcast")
        O.assertThrows(Where(), [Tensor(shape: [2, 1]), a, Tensor(shape: [3, 3])], "cannot broadcast")
        O.assertThrows(Mod(), [a, b], "cannot broadcast")
        O.assertThrows(PRelu(), [a, Tensor(shape: [2, 2])], "expected a slope that broadcasts to the input [2, 3]")
        O.assertThrows(Expand(), [a, O.ints([3, 3])], "cannot broadcast [2, 3] and [3, 3]")
    }

    func testWrongInputCounts() {
        O.assertThrows(Binary(.add), [Tensor(shape: [2])], "Add expected 2 inputs (A, B), found 1")
        O.assertThrows(StridedSlice(), [Tensor(shape: [2]), O.ints([0])], "Slice expected 3 to 5 inputs")
        O.assertThrows(Unary(.exp), [Tensor(shape: [2]), Tensor(shape: [2])], "Exp expected 1 input (X), found 2")
        O.assertThrows(Concat(axis: 0), [Tensor(shape: [2, 2]), Tensor(shape: [2, 3])], "the other dimensions differ")
    }

    func testMatrixProducts() {
        O.assertThrows(MatMul(), [Tensor(shape: [2, 3]), Tensor(shape: [4, 2])],
                       "cannot multiply [2, 3] by [4, 2]: 3 columns against 4 rows")
        O.assertThrows(MatMul(), [Tensor(shape: [2, 2, 3]), Tensor(shape: [3, 3, 2])], "the batch axes do not broadcast")
        O.assertThrows(MatMul(), [Tensor(shape: []), Tensor(shape: [3])], "rank 1 or more")
        O.assertThrows(MatMul(addsBias: true), [Tensor(shape: [2, 3]), Tensor(shape: [3, 4]), Tensor(shape: [3])],
                       "a bias of 4 values")
        O.assertThrows(Gemm(transA: true), [Tensor(shape: [2, 3]), Tensor(shape: [3, 2])], "cannot multiply [2, 3]ᵀ")
        O.assertThrows(Gemm(), [Tensor(shape: [2, 3]), Tensor(shape: [3, 2]), Tensor(shape: [3])],
                       "expected C broadcasting to the result [2, 2], found [3]")
        O.assertThrows(Gemm(), [Tensor(shape: [2, 3, 1]), Tensor(shape: [3, 2])], "Gemm expects two matrices")
    }

    func testShapeArguments() {
        let x = Tensor(shape: [2, 3])
        O.assertThrows(Reshape(), [x, O.ints([4, -1])], "cannot reshape [2, 3] (6 elements) to [4, -1]")
        O.assertThrows(Reshape(), [x, O.ints([-1, -1])], "more than one -1")
        O.assertThrows(Reshape(), [x, O.ints([1, 0, 0])], "copies dimension 2 with 0")
        O.assertThrows(Reshape(), [x, O.t([2], [1.5, 4])], "expected an integer shape, found 1.5")
        O.assertThrows(Reshape(), [x, O.ints([6, -2])], "negative size")
        O.assertThrows(Transpose(perm: [0, 0]), [x], "expected a permutation of the 2 axes of [2, 3], found [0, 0]")
        O.assertThrows(Squeeze(axes: [1]), [x], "cannot squeeze axis 1 of [2, 3]: its size is 3, not 1")
        O.assertThrows(Squeeze(axes: [2]), [x], "axis 2 is out of range for rank 2")
        O.assertThrows(Unsqueeze(), [x], "Unsqueeze needs axes")
        O.assertThrows(Unsqueeze(axes: [0, 0]), [x], "repeat an axis")
        O.assertThrows(Flatten(axis: 3), [x], "Flatten axis 3 is out of range for rank 2")
        O.assertThrows(Concat(axis: 2), [x, x], "axis 2 is out of range for rank 2")
        O.assertThrows(ConstantOfShape(value: 1), [O.ints([-1, 2])], "non-negative sizes")
        O.assertThrows(ConstantOfShape(value: 1), [O.t([2], [1e9, 1e9])], "too many elements")
        O.assertThrows(ConstantOfShape(value: 1), [O.t([1], [.infinity])], "expected an integer shape")
        O.assertThrows(Expand(), [x, O.t([2], [Float(Int64.max), 3])], "too many elements")
        O.assertThrows(Arange(), [O.t([], [0]), O.t([], [3]), O.t([], [0])], "non-zero delta")
        O.assertThrows(Arange(), [O.t([], [0]), O.t([], [3e9]), O.t([], [1])], "too many elements")
        O.assertThrows(Arange(), [O.t([2], [0, 1]), O.t([], [3]), O.t([], [1])], "expected start as a scalar")
    }

    func testIndexingArguments() {
        let x = Tensor(shape: [3, 4])
        O.assertThrows(StridedSlice(), [x, O.ints([0]), O.ints([2]), O.ints([0]), O.ints([0])], "step along axis 0 is 0")
        O.assertThrows(StridedSlice(), [x, O.ints([0, 1]), O.ints([2])], "expected as many ends, axes and steps as starts")
        O.assertThrows(StridedSlice(), [x, O.ints([0]), O.ints([2]), O.ints([2])], "axis 2 is out of range")
        O.assertThrows(Gather(axis: 1), [x, O.ints([4])], "index 4 is out of range for axis 1 of size 4")
        O.assertThrows(Gather(axis: 0), [x, O.ints([-4])], "index -4 is out of range for axis 0 of size 3")
        O.assertThrows(Gather(axis: 0), [O.t([], [1]), O.ints([0])], "Gather expects data of rank 1 or more")
        O.assertThrows(Pad(mode: "reflect"), [x, O.ints([1, 1, 1, 1])], "Pad mode \"reflect\" is not supported")
        O.assertThrows(Pad(), [x, O.ints([1, 1])], "expected 4 pads for 2 axes of [3, 4], found 2")
        O.assertThrows(Pad(), [x, O.ints([-2, 0, -2, 0])], "crop [3, 4] below nothing")
        let huge = Float(Int64.max)
        O.assertThrows(Pad(), [x, O.t([4], [huge, 0, huge, 0])], "too many elements")
        O.assertThrows(ScatterND(), [x, O.t([1, 1], [0]), Tensor(shape: [1, 3])], "expected updates [1, 4], found [1, 3]")
        O.assertThrows(ScatterND(), [x, O.t([1, 1], [3]), Tensor(shape: [1, 4])], "index 3 is out of range for axis 0")
        O.assertThrows(ScatterND(reduction: "max"), [x, O.t([1, 1], [0]), Tensor(shape: [1, 4])], "reduction \"max\"")
    }

    func testNormalizationAndPooling() {
        let x = Tensor(shape: [2, 3])
        O.assertThrows(LayerNormalization(axis: -1, epsilon: 1e-5), [x, Tensor(shape: [2])],
                       "expected scale broadcasting to the normalised shape [3], found [2]")
        O.assertThrows(LayerNormalization(axis: 2, epsilon: 1e-5), [x, Tensor(shape: [3])], "axis 2 is out of range")
        O.assertThrows(Softmax(axis: -3), [x], "axis -3 is out of range for rank 2")
        O.assertThrows(ReduceMean(axes: [2]), [x], "axis 2 is out of range for rank 2")
        O.assertThrows(ReduceSum(), [x, O.ints([0, 0])], "repeat an axis")
        O.assertThrows(AveragePool2d(kernel: (2, 2), stride: (2, 2)), [x], "expected input [N, C, H, W], found [2, 3]")
        O.assertThrows(AveragePool2d(kernel: (4, 4), stride: (1, 1)), [Tensor(shape: [1, 1, 3, 3])],
                       "input 3×3 is smaller than the 4×4 pooling window")
        O.assertThrows(AveragePool2d(kernel: (2, 2), stride: (0, 1)), [Tensor(shape: [1, 1, 3, 3])],
                       "expected a positive kernel and stride")
    }
}
