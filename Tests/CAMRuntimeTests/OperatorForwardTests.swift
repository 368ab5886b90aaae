import XCTest
@testable import CAMRuntime

/// Forward values of the ONNX tensor operators on small cases computed by hand (or by
/// PyTorch and onnxruntime where noted).
final class OperatorForwardTests: XCTestCase {
    typealias O = OperatorTestSupport
    /// INT64_MAX and INT64_MIN as the importer carries them: floats far beyond any size.
    let int64Max = Float(Int64.max), int64Min = Float(Int64.min)

    // MARK: Broadcasting arithmetic

    func testBroadcastShapes() throws {
        XCTAssertEqual(try Broadcast.shape([2, 1, 3], [4, 1]), [2, 4, 3])
        XCTAssertEqual(try Broadcast.shape([], [5]), [5])
        XCTAssertEqual(try Broadcast.shape([0, 3], [1, 3]), [0, 3])
        XCTAssertThrowsError(try Broadcast.shape([2, 3], [4])) { error in
            XCTAssertEqual("\(error)", "cannot broadcast [2, 3] and [4]")
        }
    }

    func testBroadcastReduceSumsBroadcastAxes() throws {
        let g = O.arange([2, 3, 2])
        XCTAssertEqual(try Broadcast.reduce(g, to: [3, 1]).storage, [14, 22, 30])
        XCTAssertEqual(try Broadcast.reduce(g, to: [2, 1, 2]).storage, [6, 9, 24, 27])
        XCTAssertEqual(try Broadcast.reduce(g, to: []).storage, [66])
        XCTAssertThrowsError(try Broadcast.reduce(g, to: [4]))
    }

    func testStridedLoopMergesContiguousAxes() {
        // [N, C, H, W] against a per-channel [C, 1, 1]: runs of H·W.
        let loop = StridedLoop(shape: [2, 3, 4, 5], strides: [Arguments.strides([2, 3, 4, 5]),
                                                              Broadcast.strides(of: [3, 1, 1], in: [2, 3, 4, 5])])
        XCTAssertEqual(loop.dims, [2, 3, 20])
        XCTAssertEqual(loop.innerStride(1), 0)
        // [tokens, features] against [features]: one run per token; size-1 axes vanish.
        let rows = StridedLoop(shape: [1, 197, 768], strides: [Arguments.strides([1, 197, 768]),
                                                               Broadcast.strides(of: [768], in: [1, 197, 768])])
        XCTAssertEqual(rows.dims, [197, 768])
        XCTAssertEqual(rows.innerStride(1), 1)
        // Equal layouts merge into one run.
        XCTAssertEqual(StridedLoop(shape: [2, 3, 4], strides: [Arguments.strides([2, 3, 4])]).dims, [24])
    }

    func testBinaryArithmeticBroadcasts() throws {
        let a = O.t([2, 3], [1, 2, 3, 4, 5, 6])
        try O.assertForward(Binary(.add), [a, O.t([3], [10, 20, 30])], O.t([2, 3], [11, 22, 33, 14, 25, 36]))
        try O.assertForward(Binary(.sub), [a, O.t([2, 1], [1, 2])], O.t([2, 3], [0, 1, 2, 2, 3, 4]))
        try O.assertForward(Binary(.mul), [O.t([2, 2], [1, 2, 3, 4]), O.t([], [3])], O.t([2, 2], [3, 6, 9, 12]))
        try O.assertForward(Binary(.div), [O.t([1, 3], [1, 2, 3]), O.t([2, 1], [2, 4])],
                            O.t([2, 3], [0.5, 1, 1.5, 0.25, 0.5, 0.75]))
        try O.assertForward(Binary(.pow), [O.t([3], [2, 3, 4]), O.t([], [2])], O.t([3], [4, 9, 16]))
        try O.assertForward(Binary(.pow), [O.t([2], [4, 9]), O.t([2], [0.5, 2])], O.t([2], [2, 81]))
        // A scalar first operand, and a middle axis broadcast (no fast path).
        try O.assertForward(Binary(.sub), [O.t([], [1]), O.t([2], [1, 3])], O.t([2], [0, -2]))
        try O.assertForward(Binary(.mul), [O.t([2, 1, 2], [1, 2, 3, 4]), O.t([3, 1], [1, 10, 100])],
                            O.t([2, 3, 2], [1, 2, 10, 20, 100, 200, 3, 4, 30, 40, 300, 400]))
    }

    func testAddBroadcastsAndKeepsEqualShapeSum() throws {
        try O.assertForward(Add(), [O.t([2, 1], [1, 2]), O.t([1, 3], [10, 20, 30])],
                            O.t([2, 3], [11, 21, 31, 12, 22, 32]))
        try O.assertForward(Add(), [O.t([2], [1, 2]), O.t([2], [3, 4])], O.t([2], [4, 6]))
        XCTAssertThrowsError(try Add.sum(O.t([2], [1, 2]), O.t([1], [1])))
    }

    func testComparisonsAndLogic() throws {
        try O.assertForward(Equal(), [O.t([3], [1, 2, 3]), O.t([2, 1], [1, 3])], O.t([2, 3], [1, 0, 0, 0, 0, 1]))
        try O.assertForward(Less(), [O.t([3], [1, 2, 3]), O.t([], [2])], O.t([3], [1, 0, 0]))
        try O.assertForward(Greater(), [O.t([3], [1, 2, 3]), O.t([], [2])], O.t([3], [0, 0, 1]))
        try O.assertForward(Not(), [O.t([3], [0, 1, -2])], O.t([3], [1, 0, 0]))
        try O.assertForward(Where(), [O.t([2, 1], [1, 0]), O.t([3], [1, 2, 3]), O.t([], [-1])],
                            O.t([2, 3], [1, 2, 3, -1, -1, -1]))
        XCTAssertFalse(Equal().isDifferentiable || Less().isDifferentiable || Greater().isDifferentiable
                       || Not().isDifferentiable)
        XCTAssertTrue(Where().isDifferentiable)
    }

    func testModFollowsDividendOrDivisorSign() throws {
        let a = O.t([4], [-7, 7, 7, -7]), b = O.t([4], [3, 3, -3, -3])
        try O.assertForward(Mod(fmod: true), [a, b], O.t([4], [-1, 1, 1, -1]))
        try O.assertForward(Mod(fmod: false), [a, b], O.t([4], [2, 1, -2, -1]))
        try O.assertForward(Mod(fmod: true), [O.t([2], [5.5, -5.5]), O.t([], [2])], O.t([2], [1.5, -1.5]))
    }

    // MARK: Element-wise functions

    func testUnaryValues() throws {
        func check(_ kind: Unary.Kind, _ x: [Float], _ y: [Float], accuracy: Float = 1e-6,
                   file: StaticString = #filePath, line: UInt = #line) throws {
            try O.assertForward(Unary(kind), [O.t([x.count], x)], O.t([y.count], y), accuracy: accuracy,
                                file: file, line: line)
        }
        try check(.sigmoid, [0, Foundation.log(3)], [0.5, 0.75])
        try check(.tanh, [0, 1], [0, 0.7615942])
        try check(.erf, [0, 1, -1], [0, 0.8427008, -0.8427008])
        // PyTorch: F.gelu([1, -0.5]) and with approximate="tanh".
        try check(.gelu(tanhApproximation: false), [1, -0.5], [0.8413447, -0.15426877])
        try check(.gelu(tanhApproximation: true), [1, -0.5], [0.841192, -0.154286])
        try check(.hardSigmoid(alpha: 1.0 / 6, beta: 0.5), [-4, 0, 1.5, 3], [0, 0.5, 0.75, 1])
        try check(.hardSwish, [-4, 1, 4], [0, 4.0 / 6, 4])
        try check(.leakyRelu(alpha: 0.1), [-2, 3], [-0.2, 3])
        try check(.clip(min: -1, max: 2), [-3, 0.5, 5], [-1, 0.5, 2])
        try check(.sqrt, [4, 2.25], [2, 1.5])
        try check(.reciprocal, [4, -0.5], [0.25, -2])
        try check(.neg, [4, -0.5], [-4, 0.5])
        try check(.exp, [0, 1], [1, 2.7182817])
        try check(.log, [1, 2.7182817], [0, 1])
        try check(.abs, [-2, 0, 3], [2, 0, 3])
        try check(.softplus, [0, 30, -30], [0.6931472, 30, 9.357623e-14])
        try check(.silu, [1, 0], [0.7310586, 0])
        XCTAssertTrue(try O.run(Unary(.clip(min: 0, max: 1)), [O.t([1], [.nan])]).storage[0].isNaN)
    }

    /// The derivatives at kinks are PyTorch's (an output gradient of ones).
    func testUnaryDerivativesAtKinks() throws {
        func derivative(_ kind: Unary.Kind, _ x: [Float]) throws -> [Float]? {
            try O.gradient(Unary(kind), [O.t([x.count], x)])?.storage
        }
        XCTAssertEqual(try derivative(.hardSwish, [-3.5, -3, 3, 3.5]), [0, -0.5, 1.5, 1])
        XCTAssertEqual(try derivative(.clip(min: 0, max: 6), [-1, 0, 6, 6.5]), [0, 1, 1, 0])
        XCTAssertEqual(try derivative(.hardSigmoid(alpha: 1.0 / 6, beta: 0.5), [-3, 0, 3]), [0, 1.0 / 6, 0])
        XCTAssertEqual(try derivative(.leakyRelu(alpha: 0.25), [0, 1]), [0.25, 1])
        XCTAssertEqual(try derivative(.abs, [-1, 0, 2]), [-1, 0, 1])
        XCTAssertEqual(try derivative(.softplus, [25]), [1])
    }

    func testPReluBroadcastsSlopePerChannel() throws {
        try O.assertForward(PRelu(), [O.t([1, 2, 1, 2], [-1, 2, -3, 4]), O.t([2, 1, 1], [0.1, 0.5])],
                            O.t([1, 2, 1, 2], [-0.1, 2, -1.5, 4]))
        try O.assertForward(PRelu(), [O.t([3], [-1, 0, 2]), O.t([1], [0.25])], O.t([3], [-0.25, 0, 2]))
    }

    // MARK: Products

    /// A plain loop of numpy's matmul for batched operands of rank ≥ 2.
    private func referenceMatMul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let (n, k, m) = (a.shape[a.rank - 2], a.shape[a.rank - 1], b.shape[b.rank - 1])
        let batch = try Broadcast.shape(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
        let ea = try Broadcast.expand(a, to: batch + [n, k]), eb = try Broadcast.expand(b, to: batch + [k, m])
        var out = Tensor(shape: batch + [n, m])
        for p in 0..<batch.reduce(1, *) {
            for i in 0..<n {
                for j in 0..<m {
                    var s: Float = 0
                    for q in 0..<k { s += ea.storage[p * n * k + i * k + q] * eb.storage[p * k * m + q * m + j] }
                    out.storage[p * n * m + i * m + j] = s
                }
            }
        }
        return out
    }

    func testMatMulMatricesVectorsAndBatches() throws {
        let a = O.t([2, 3], [1, 2, 3, 4, 5, 6]), b = O.t([3, 2], [7, 8, 9, 10, 11, 12])
        try O.assertForward(MatMul(), [a, b], O.t([2, 2], [58, 64, 139, 154]))
        try O.assertForward(MatMul(), [O.t([3], [1, 2, 3]), O.t([3], [4, 5, 6])], O.t([], [32]))
        try O.assertForward(MatMul(), [O.t([3], [1, 2, 3]), b], O.t([2], [58, 64]))
        try O.assertForward(MatMul(), [a, O.t([3], [1, 1, 1])], O.t([2], [6, 15]))
        for (sa, sb) in [([2, 1, 2, 3], [3, 3, 4]), ([2, 3, 4], [4, 5]), ([3, 4], [2, 4, 2]), ([1, 2, 3], [2, 3, 2])] {
            let x = O.random(sa, seed: 1), y = O.random(sb, seed: 2)
            try O.assertForward(MatMul(), [x, y], try referenceMatMul(x, y), accuracy: 1e-5)
        }
    }

    func testGemmScalesTransposesAndBroadcastsC() throws {
        let a = O.t([2, 3], [1, 2, 3, 4, 5, 6]), b = O.t([3, 2], [7, 8, 9, 10, 11, 12])
        let expected = O.t([2, 2], [116.5, 129, 278.5, 309])
        try O.assertForward(Gemm(alpha: 2, beta: 0.5), [a, b, O.t([2], [1, 2])], expected)
        let at = Transpose.permute(a, [1, 0]), bt = Transpose.permute(b, [1, 0])
        try O.assertForward(Gemm(alpha: 2, beta: 0.5, transA: true, transB: true), [at, bt, O.t([2], [1, 2])], expected)
        try O.assertForward(Gemm(transB: true), [a, bt], O.t([2, 2], [58, 64, 139, 154]))
        try O.assertForward(Gemm(beta: 2), [a, b, O.t([2, 1], [1, -1])], O.t([2, 2], [60, 66, 137, 152]))
    }

    // MARK: Shapes

    func testReshapeCopiesZeroAndInfersMinusOne() throws {
        let x = O.arange([2, 3, 4])
        XCTAssertEqual(try O.run(Reshape(), [x, O.ints([0, -1])]).shape, [2, 12])
        XCTAssertEqual(try O.run(Reshape(), [x, O.ints([-1, 4])]).shape, [6, 4])
        XCTAssertEqual(try O.run(Reshape(), [x, O.ints([4, 0, 2])]).shape, [4, 3, 2])
        XCTAssertEqual(try O.run(Reshape(), [x, O.ints([4, 0, 2])]).storage, x.storage)
        XCTAssertEqual(try O.run(Reshape(allowZero: true), [Tensor(shape: [0, 3]), O.ints([3, 0])]).shape, [3, 0])
    }

    func testTransposePermutesAndReverses() throws {
        try O.assertForward(Transpose(), [O.t([2, 3], [1, 2, 3, 4, 5, 6])], O.t([3, 2], [1, 4, 2, 5, 3, 6]))
        let x = O.arange([2, 3, 4])
        let y = try O.run(Transpose(perm: [1, 2, 0]), [x])
        XCTAssertEqual(y.shape, [3, 4, 2])
        for i in 0..<2 {
            for j in 0..<3 {
                for k in 0..<4 { XCTAssertEqual(y[j, k, i], x[i, j, k]) }
            }
        }
    }

    func testSqueezeUnsqueezeFlatten() throws {
        let x = O.arange([1, 3, 1, 2])
        XCTAssertEqual(try O.run(Squeeze(), [x]).shape, [3, 2])
        XCTAssertEqual(try O.run(Squeeze(axes: [-2]), [x]).shape, [1, 3, 2])
        XCTAssertEqual(try O.run(Squeeze(), [x, O.ints([0])]).shape, [3, 1, 2])
        XCTAssertEqual(try O.run(Unsqueeze(axes: [0, -1]), [O.arange([3, 2])]).shape, [1, 3, 2, 1])
        XCTAssertEqual(try O.run(Unsqueeze(), [O.arange([3, 2]), O.ints([1])]).shape, [3, 1, 2])
        XCTAssertEqual(try O.run(Unsqueeze(), [O.t([], [5]), O.ints([0])]).shape, [1])
        let y = O.arange([2, 3, 4, 5])
        XCTAssertEqual(try O.run(Flatten(axis: 2), [y]).shape, [6, 20])
        XCTAssertEqual(try O.run(Flatten(axis: 0), [y]).shape, [1, 120])
        XCTAssertEqual(try O.run(Flatten(axis: -1), [y]).shape, [24, 5])
        XCTAssertEqual(try O.run(Flatten(), [y]).shape, [2, 60])
        XCTAssertEqual(try O.run(Flatten(axis: 4), [y]).shape, [120, 1])
    }

    func testConcatAlongNegativeAxis() throws {
        try O.assertForward(Concat(axis: -1), [O.t([2, 1], [1, 2]), O.t([2, 2], [3, 4, 5, 6])],
                            O.t([2, 3], [1, 3, 4, 2, 5, 6]))
        try O.assertForward(Concat(axis: 0), [O.t([1, 2], [1, 2]), O.t([2, 2], [3, 4, 5, 6]), O.t([0, 2], [])],
                            O.t([3, 2], [1, 2, 3, 4, 5, 6]))
    }

    func testSliceNegativeStepsAndHugeEnds() throws {
        let x = O.arange([10])
        try O.assertForward(StridedSlice(), [x, O.ints([8]), O.ints([2]), O.ints([0]), O.ints([-2])], O.t([3], [8, 6, 4]))
        try O.assertForward(StridedSlice(), [x, O.ints([-3]), O.t([1], [int64Max])], O.t([3], [7, 8, 9]))
        try O.assertForward(StridedSlice(), [x, O.t([1], [int64Max]), O.t([1], [int64Min]), O.ints([0]), O.ints([-4])],
                            O.t([3], [9, 5, 1]))
        try O.assertForward(StridedSlice(), [x, O.ints([5]), O.ints([2])], O.t([0], []))
        let m = O.arange([3, 4])
        try O.assertForward(StridedSlice(), [m, O.ints([0, 3]), O.t([2], [int64Max, int64Min]), O.ints([0, -1]), O.ints([2, -1])],
                            O.t([2, 4], [3, 2, 1, 0, 11, 10, 9, 8]))
        // Only the second axis, default step.
        try O.assertForward(StridedSlice(), [m, O.ints([1]), O.ints([-1]), O.ints([1])], O.t([3, 2], [1, 2, 5, 6, 9, 10]))
    }

    func testGatherNegativeAndMatrixIndices() throws {
        let data = O.t([3, 2], [1, 2, 3, 4, 5, 6])
        try O.assertForward(Gather(axis: 0), [data, O.ints([-1, 0])], O.t([2, 2], [5, 6, 1, 2]))
        try O.assertForward(Gather(axis: 1), [data, O.t([2, 2], [1, 0, 0, -2])],
                            O.t([3, 2, 2], [2, 1, 1, 1, 4, 3, 3, 3, 6, 5, 5, 5]))
        // A scalar index drops the axis (a ViT's class token: x[:, 0]).
        try O.assertForward(Gather(axis: -2), [data, O.t([], [1])], O.t([2], [3, 4]))
    }

    func testExpandBroadcastsBothWays() throws {
        let y = try O.run(Expand(), [O.t([3, 1], [1, 2, 3]), O.ints([2, 1, 2])])
        XCTAssertEqual(y.shape, [2, 3, 2])
        XCTAssertEqual(y.storage, [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
    }

    func testPadConstantAndCrop() throws {
        let x = O.t([2, 3], [1, 2, 3, 4, 5, 6])
        // One row before, one column cropped after, filled with 9.
        try O.assertForward(Pad(), [x, O.ints([1, 0, 0, -1]), O.t([], [9])], O.t([3, 2], [9, 9, 1, 2, 4, 5]))
        // Only axis 1, by the axes input; the value defaults to 0 when empty.
        try O.assertForward(Pad(), [x, O.ints([2, 1]), O.t([0], []), O.ints([-1])],
                            O.t([2, 6], [0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0]))
        try O.assertForward(Pad(), [x, O.ints([-1, -1, 0, -1])], O.t([1, 1], [5]))
    }

    func testShapeConstantOfShapeCastArange() throws {
        let x = Tensor(shape: [2, 3, 4])
        try O.assertForward(ShapeOf(), [x], O.t([3], [2, 3, 4]))
        try O.assertForward(ShapeOf(start: -2), [x], O.t([2], [3, 4]))
        try O.assertForward(ShapeOf(start: 1, end: -1), [x], O.t([1], [3]))
        try O.assertForward(ShapeOf(start: 5), [x], O.t([0], []))
        try O.assertForward(ConstantOfShape(value: 7), [O.ints([2, 3])], Tensor(shape: [2, 3], repeating: 7))
        try O.assertForward(ConstantOfShape(value: 7), [O.t([0], [])], O.t([], [7]))
        let values = O.t([6], [-2.7, -0.5, 0.5, 2.7, 300, .nan])
        try O.assertForward(Cast(to: .int8), [values], O.t([6], [-2, 0, 0, 2, 127, 0]))
        try O.assertForward(Cast(to: .uint8), [values], O.t([6], [0, 0, 0, 2, 255, 0]))
        try O.assertForward(Cast(to: .int64), [values], O.t([6], [-2, 0, 0, 2, 300, 0]))
        try O.assertForward(Cast(to: .bool), [O.t([3], [0, -0.1, .nan])], O.t([3], [0, 1, 1]))
        try O.assertForward(Cast(to: .float), [values], values)
        XCTAssertTrue(Cast(to: .float).isDifferentiable)
        XCTAssertFalse(Cast(to: .int64).isDifferentiable || ShapeOf().isDifferentiable
                       || ConstantOfShape(value: 0).isDifferentiable || Arange().isDifferentiable)
        try O.assertForward(Arange(), [O.t([], [1]), O.t([], [10]), O.t([], [3])], O.t([3], [1, 4, 7]))
        try O.assertForward(Arange(), [O.t([], [10]), O.t([], [4]), O.t([], [-2])], O.t([3], [10, 8, 6]))
        try O.assertForward(Arange(), [O.t([], [0]), O.t([], [-5]), O.t([], [1])], O.t([0], []))
    }

    func testScatterNDReplacesAndAddsSlices() throws {
        let data = O.arange([4, 2])
        let indices = O.t([2, 1], [1, -1])
        let updates = O.t([2, 2], [10, 11, 12, 13])
        try O.assertForward(ScatterND(), [data, indices, updates], O.t([4, 2], [0, 1, 10, 11, 4, 5, 12, 13]))
        try O.assertForward(ScatterND(reduction: "add"), [data, indices, updates],
                            O.t([4, 2], [0, 1, 12, 14, 4, 5, 18, 20]))
        // Element indices (q = rank).
        try O.assertForward(ScatterND(), [data, O.t([1, 2], [2, 1]), O.t([1], [-1])],
                            O.t([4, 2], [0, 1, 2, 3, 4, -1, 6, 7]))
    }

    // MARK: Normalisation and reductions

    func testLayerNormalization() throws {
        let x = O.t([2, 3], [1, 2, 3, 2, 4, 6])
        let z: Float = 1.2247449
        try O.assertForward(LayerNormalization(axis: -1, epsilon: 0), [x, O.t([3], [1, 1, 1])],
                            O.t([2, 3], [-z, 0, z, -z, 0, z]), accuracy: 1e-5)
        try O.assertForward(LayerNormalization(axis: 1, epsilon: 0), [x, O.t([3], [1, 2, 3]), O.t([3], [0, 0, 1])],
                            O.t([2, 3], [-z, 0, 3 * z + 1, -z, 0, 3 * z + 1]), accuracy: 1e-5)
        // Over the last two axes at once, with epsilon.
        let y = try O.run(LayerNormalization(axis: 1, epsilon: 1e-5), [O.arange([2, 2, 2]), O.t([2, 2], [1, 1, 1, 1])])
        let expected = 1.5 / (1.25 + 1e-5 as Float).squareRoot()
        XCTAssertEqual(y[0, 0, 0], -expected, accuracy: 1e-5)
        XCTAssertEqual(y[1, 1, 1], expected, accuracy: 1e-5)
    }

    func testSoftmaxAlongLastAndInnerAxes() throws {
        try O.assertForward(Softmax(axis: -1), [O.t([1, 3], [0, Foundation.log(2), Foundation.log(3)])],
                            O.t([1, 3], [1.0 / 6, 2.0 / 6, 3.0 / 6]))
        try O.assertForward(Softmax(axis: 0), [O.t([2, 2], [0, 0, Foundation.log(3), 0])],
                            O.t([2, 2], [0.25, 0.5, 0.75, 0.5]))
        let logs = [1, 2, 3, 4].map { Foundation.log(Float($0)) }
        try O.assertForward(Softmax(axis: 1, coercesTo2D: true), [O.t([1, 2, 2], logs)],
                            O.t([1, 2, 2], [0.1, 0.2, 0.3, 0.4]))
        // Large values do not overflow.
        try O.assertForward(Softmax(), [O.t([2], [1000, 1000])], O.t([2], [0.5, 0.5]))
    }

    func testReduceMeanAndSum() throws {
        let x = O.t([2, 3], [1, 2, 3, 4, 5, 6])
        try O.assertForward(ReduceMean(axes: [1]), [x], O.t([2, 1], [2, 5]))
        try O.assertForward(ReduceMean(axes: [0], keepDims: false), [x], O.t([3], [2.5, 3.5, 4.5]))
        try O.assertForward(ReduceMean(), [x], O.t([1, 1], [3.5]))
        try O.assertForward(ReduceMean(keepDims: false), [x, O.t([0], [])], O.t([], [3.5]))
        try O.assertForward(ReduceMean(noopWithEmptyAxes: true), [x], x)
        try O.assertForward(ReduceMean(axes: [0]), [x, O.ints([-1])], O.t([2, 1], [2, 5]))
        try O.assertForward(ReduceSum(keepDims: false), [x, O.ints([-1])], O.t([2], [6, 15]))
        try O.assertForward(ReduceSum(axes: [0, 1], keepDims: false), [x], O.t([], [21]))
    }

    // MARK: Pooling

    func testAveragePoolMatchesPyTorchAndOnnxruntime() throws {
        let x = O.arange([1, 1, 4, 4])
        try O.assertForward(AveragePool2d(kernel: (2, 2), stride: (2, 2)), [x], O.t([1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5]))
        // torch.nn.functional.avg_pool2d(arange(1, 26).reshape(1, 1, 5, 5), 3, 2, padding=1, ceil_mode=True, …).
        let y = O.arange([1, 1, 5, 5], from: 1)
        try O.assertForward(AveragePool2d(kernel: (3, 3), stride: (2, 2), pads: (1, 1, 1, 1), ceilMode: true,
                                          countIncludePad: true), [y],
                            O.t([1, 1, 3, 3], [1.7777778, 3.6666667, 3.1111112, 7.6666665, 13, 9.666667, 8.444445,
                                               13.666667, 9.777778]), accuracy: 1e-5)
        try O.assertForward(AveragePool2d(kernel: (3, 3), stride: (2, 2), pads: (1, 1, 1, 1), ceilMode: true,
                                          countIncludePad: false), [y],
                            O.t([1, 1, 3, 3], [4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22]), accuracy: 1e-5)
        try O.assertForward(AveragePool2d(kernel: (2, 2), stride: (2, 2), pads: (1, 1, 1, 1), countIncludePad: true), [y],
                            O.t([1, 1, 3, 3], [0.25, 1.25, 2.25, 4.25, 10, 12, 9.25, 20, 22]), accuracy: 1e-5)
        try O.assertForward(AveragePool2d(kernel: (2, 2), stride: (3, 3), ceilMode: true), [O.arange([1, 1, 4, 4], from: 1)],
                            O.t([1, 1, 2, 2], [3.5, 6, 13.5, 16]), accuracy: 1e-5)
        // onnxruntime, AveragePool kernel 2×3, strides 2, pads [1, 0, 0, 2] on arange(1, 21) as [1, 1, 4, 5].
        let z = O.arange([1, 1, 4, 5], from: 1)
        try O.assertForward(AveragePool2d(kernel: (2, 3), stride: (2, 2), pads: (1, 0, 0, 2), countIncludePad: true), [z],
                            O.t([1, 1, 2, 3], [1, 2, 0.8333333, 9.5, 11.5, 4.1666665]), accuracy: 1e-5)
        try O.assertForward(AveragePool2d(kernel: (2, 3), stride: (2, 2), pads: (1, 0, 0, 2)), [z],
                            O.t([1, 1, 2, 3], [2, 4, 5, 9.5, 11.5, 12.5]), accuracy: 1e-5)
    }
}
