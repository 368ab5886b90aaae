import XCTest
@testable import CAMRuntime

/// Finite-difference checks of the ONNX tensor operators' backward, with respect to every
/// differentiable input (the others are graph constants).
final class OperatorGradientTests: XCTestCase {
    typealias O = OperatorTestSupport
    typealias S = LayerTestSupport

    func testBinaryWithBroadcastingBothInputs() throws {
        let a = O.random([2, 3, 4], seed: 1), b = O.random([3, 1], seed: 2)
        for kind in [Binary.Kind.add, .sub, .mul] {
            try O.check(Binary(kind), [a, b], wrt: 0)
            try O.check(Binary(kind), [a, b], wrt: 1)
            // The broadcast operand first.
            try O.check(Binary(kind), [b, a], wrt: 0)
        }
        let divisor = S.awayFromZero([4], seed: 3, gap: 0.5, limit: 2)
        try O.check(Binary(.div), [a, divisor], wrt: 0)
        try O.check(Binary(.div), [a, divisor], wrt: 1, step: 1e-3)
        let base = O.random([2, 3, 4], seed: 4, low: 0.5, high: 2), exponent = O.random([4], seed: 5, low: -1, high: 2)
        try O.check(Binary(.pow), [base, exponent], wrt: 0, step: 1e-3)
        try O.check(Binary(.pow), [base, exponent], wrt: 1, step: 1e-3)
        try O.check(Binary(.pow), [a, O.t([], [2])], wrt: 0)
    }

    func testPowExponentGradientIsZeroForNonPositiveBases() throws {
        let g = try O.gradient(Binary(.pow), [O.t([3], [-2, 0, 2]), O.t([3], [2, 2, 2])], wrt: 1)
        XCTAssertEqual(g?.storage[0], 0)
        XCTAssertEqual(g?.storage[1], 0)
        XCTAssertEqual(g?.storage[2] ?? 0, 4 * Foundation.log(2), accuracy: 1e-6)
    }

    func testBackwardComputesOnlyWhatIsNeeded() throws {
        let op = Binary(.mul)
        var step = ForwardStep(retain: true, workspace: Workspace())
        _ = try op.forward([O.random([2, 3], seed: 6), O.random([3], seed: 7)], &step)
        let grads = try op.backward(Tensor(shape: [2, 3], repeating: 1), step.saved,
                                    BackwardStep(needs: [true, false], reluMode: .standard, workspace: Workspace()))
        XCTAssertEqual(grads.count, 2)
        XCTAssertNotNil(grads[0])
        XCTAssertNil(grads[1])
        var inference = ForwardStep(retain: false, workspace: Workspace())
        _ = try op.forward([O.random([2, 3], seed: 6), O.random([3], seed: 7)], &inference)
        XCTAssertTrue(inference.saved.tensors.isEmpty && inference.saved.shapes.isEmpty, "kept without retain")
    }

    func testAddBroadcastingGradientsAndFusion() throws {
        let a = O.random([2, 3, 4], seed: 8), b = O.random([3, 1], seed: 9)
        try O.check(Add(), [a, b], wrt: 0)
        try O.check(Add(), [a, b], wrt: 1)
        // Add → ReLU runs as one fused step; a broadcast bias must survive it, retaining or not.
        let bias = O.random([4], seed: 10)
        let graph = S.graph { b in
            let sum = b.node(Add(), [b.input, b.constant(bias, name: "bias")], path: "add", isNamed: false)
            return b.node(ReLU(), [sum], path: "relu")
        }
        let x = S.awayFromZero([3, 4], seed: 11)
        let expected = try Broadcast.map(x, bias) { Swift.max($0 + $1, 0) }
        XCTAssertEqual(try S.run(graph, x, retain: false), expected)
        XCTAssertEqual(try S.run(graph, x, retain: true), expected)
        let biasGraph = S.graph { b in
            let sum = b.node(Add(), [b.constant(x, name: "x"), b.input], path: "add", isNamed: false)
            return b.node(ReLU(), [sum], path: "relu")
        }
        try S.gradientCheck(biasGraph, input: bias, step: 1e-3)
    }

    func testConvolutionFollowedByBroadcastingAdd() throws {
        // An ONNX graph may add a per-channel constant after a convolution: the executor's fused
        // convolution + add + ReLU must broadcast it instead of failing.
        let conv = Conv2d(inChannels: 2, outChannels: 3, kernelSize: (3, 3), padding: .explicit(1, 1))
        S.randomize(conv, seed: 12)
        let bias = O.random([3, 1, 1], seed: 13)
        let graph = S.graph { b in
            let y = b.node(conv, [b.input], path: "conv")
            let sum = b.node(Add(), [y, b.constant(bias, name: "bias")], path: "add", isNamed: false)
            return b.node(ReLU(), [sum], path: "relu")
        }
        let x = O.random([2, 2, 5, 4], seed: 14)
        let separate = try Broadcast.map(try S.run(conv, x), bias) { Swift.max($0 + $1, 0) }
        XCTAssertLessThanOrEqual(try S.run(graph, x, retain: false).maxAbsDifference(separate), 1e-5)
        let network = Workspace()
        network.oneDNNWarmUpPasses = 0
        XCTAssertLessThanOrEqual(try S.run(graph, x, retain: false, workspace: network).maxAbsDifference(separate), 1e-4)
        try S.gradientCheck(graph, input: x, step: 1e-3)
    }

    func testWhereGradientsFollowTheCondition() throws {
        let condition = O.t([3, 1], [1, 0, 1])
        let x = O.random([3, 4], seed: 15), y = O.random([4], seed: 16)
        try O.check(Where(), [condition, x, y], wrt: 1)
        try O.check(Where(), [condition, x, y], wrt: 2)
        XCTAssertEqual(try O.gradient(Where(), [condition, O.t([1], [5]), y], wrt: 1)?.storage, [8])
    }

    func testModGradients() throws {
        // Quotients away from integers, where the remainder is smooth.
        let a = O.t([4], [7.5, -7.5, 5.2, -4.1]), b = O.t([4], [3, 3, -2, -2.5])
        for fmod in [true, false] {
            try O.check(Mod(fmod: fmod), [a, b], wrt: 0, step: 1e-3)
            try O.check(Mod(fmod: fmod), [a, b], wrt: 1, step: 1e-3)
        }
    }

    func testUnaryDerivatives() throws {
        let x = S.awayFromZero([2, 3, 4], seed: 17, gap: 0.1, limit: 2.5)
        let kinds: [Unary.Kind] = [.sigmoid, .tanh, .erf, .gelu(tanhApproximation: false), .gelu(tanhApproximation: true),
                                   .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish, .leakyRelu(alpha: 0.1),
                                   .clip(min: -0.5, max: 1.5), .neg, .exp, .abs, .softplus, .silu]
        for kind in kinds {
            try O.check(Unary(kind), [x], step: 1e-3)
        }
        // Beyond the kinks of the piecewise ones (|x| up to 5, none within 0.1 of ±3).
        let wide = x.map { $0 * 2 + ($0 > 0 ? 0.2 : -0.2) }.map { abs(abs($0) - 3) < 0.1 ? $0 + 0.3 : $0 }
        try O.check(Unary(.hardSwish), [wide], step: 1e-3)
        try O.check(Unary(.hardSigmoid(alpha: 1.0 / 6, beta: 0.5)), [wide], step: 1e-3)
        let positive = O.random([2, 3, 4], seed: 18, low: 0.5, high: 2)
        for kind in [Unary.Kind.sqrt, .reciprocal, .log] {
            try O.check(Unary(kind), [positive], step: 1e-3)
        }
        try O.check(Unary(.softplus), [O.t([3], [25, -3, 19])], step: 1e-3)
    }

    func testPReluInputAndSlope() throws {
        let x = S.awayFromZero([2, 3, 2, 2], seed: 19), slope = O.random([3, 1, 1], seed: 20)
        try O.check(PRelu(), [x, slope], wrt: 0)
        try O.check(PRelu(), [x, slope], wrt: 1)
    }

    func testMatMulGradients() throws {
        let cases: [([Int], [Int])] = [([2, 3, 4], [4, 5]), ([2, 1, 3, 4], [3, 4, 2]), ([3, 4], [2, 4, 2]),
                                       ([4], [2, 4, 3]), ([2, 3, 4], [4]), ([4], [4])]
        for (sa, sb) in cases {
            let a = O.random(sa, seed: 21), b = O.random(sb, seed: 22)
            try O.check(MatMul(), [a, b], wrt: 0)
            try O.check(MatMul(), [a, b], wrt: 1)
        }
    }

    /// The importer's fused linear layer: the bias's gradient is the result's summed over rows.
    func testMatMulWithBiasGradients() throws {
        for (sa, bias) in [([2, 3, 4], [5]), ([3, 4], [1, 5])] {
            let a = O.random(sa, seed: 26), b = O.random([4, 5], seed: 27), c = O.random(bias, seed: 28)
            for input in 0..<3 { try O.check(MatMul(addsBias: true), [a, b, c], wrt: input) }
        }
    }

    func testGemmGradients() throws {
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = O.random(transA ? [4, 3] : [3, 4], seed: 23), b = O.random(transB ? [5, 4] : [4, 5], seed: 24)
            let c = O.random([5], seed: 25)
            let op = Gemm(alpha: 0.7, beta: 1.3, transA: transA, transB: transB)
            try O.check(op, [a, b, c], wrt: 0)
            try O.check(op, [a, b, c], wrt: 1)
            try O.check(op, [a, b, c], wrt: 2)
        }
        try O.check(Gemm(), [O.random([2, 3], seed: 26), O.random([3, 2], seed: 27)], wrt: 1)
        try O.check(Gemm(beta: 2), [O.random([2, 3], seed: 26), O.random([3, 2], seed: 27), O.random([2, 1], seed: 28)],
                    wrt: 2)
    }

    func testShapeOperatorGradients() throws {
        let x = O.random([2, 3, 4], seed: 29)
        try O.check(Reshape(), [x, O.ints([0, -1])])
        try O.check(Transpose(perm: [2, 0, 1]), [x])
        try O.check(Transpose(), [x])
        try O.check(Squeeze(), [O.random([1, 3, 1, 2], seed: 30)])
        try O.check(Unsqueeze(), [x, O.ints([1, -1])])
        try O.check(Flatten(axis: 2), [x])
        try O.check(Expand(), [O.random([3, 1], seed: 31), O.ints([2, 3, 4])])
        try O.check(Cast(to: .float), [x])
    }

    func testConcatGradientsToEachInput() throws {
        let inputs = [O.random([2, 1, 3], seed: 32), O.random([2, 2, 3], seed: 33), O.random([2, 3, 3], seed: 34)]
        for k in inputs.indices { try O.check(Concat(axis: -2), inputs, wrt: k) }
    }

    func testSliceGradientWithNegativeSteps() throws {
        let x = O.random([4, 5, 3], seed: 35)
        try O.check(StridedSlice(), [x, O.ints([3, -1]), O.ints([0, 0]), O.ints([0, 1]), O.ints([-2, -2])])
        try O.check(StridedSlice(), [x, O.ints([1]), O.t([1], [Float(Int64.max)]), O.ints([-1])])
    }

    func testGatherScatterAddsRepeatedIndices() throws {
        let data = O.random([3, 4], seed: 36)
        try O.check(Gather(axis: 1), [data, O.t([2, 2], [0, -1, 3, 0])])
        try O.check(Gather(axis: 0), [data, O.t([], [-1])])
        // Index 0 picked twice gets twice the gradient.
        XCTAssertEqual(try O.gradient(Gather(axis: 0), [O.t([3], [1, 2, 3]), O.ints([0, 0, 2])])?.storage, [2, 0, 1])
    }

    func testPadGradientsToDataAndValue() throws {
        let x = O.random([3, 4], seed: 37)
        let inputs = [x, O.ints([1, -1, -1, 2]), O.t([], [0.5])]
        try O.check(Pad(), inputs, wrt: 0)
        try O.check(Pad(), inputs, wrt: 2)
    }

    func testScatterNDGradients() throws {
        let inputs = [O.random([4, 3], seed: 38), O.t([2, 1], [2, 0]), O.random([2, 3], seed: 39)]
        try O.check(ScatterND(), inputs, wrt: 0)
        try O.check(ScatterND(), inputs, wrt: 2)
        try O.check(ScatterND(reduction: "add"), inputs, wrt: 0)
        XCTAssertEqual(try O.gradient(ScatterND(), inputs, wrt: 0)?.storage,
                       [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1])
    }

    func testLayerNormalizationGradients() throws {
        let x = O.random([2, 3, 8], seed: 40, low: -2, high: 2)
        let scale = O.random([8], seed: 41, low: 0.5, high: 1.5), bias = O.random([8], seed: 42)
        let op = LayerNormalization(axis: -1, epsilon: 1e-5)
        try O.check(op, [x, scale, bias], wrt: 0, step: 1e-3)
        try O.check(op, [x, scale, bias], wrt: 1, step: 1e-3)
        try O.check(op, [x, scale, bias], wrt: 2, step: 1e-3)
        try O.check(LayerNormalization(axis: 1, epsilon: 1e-5), [x, O.random([3, 8], seed: 43)], wrt: 0, step: 1e-3)
        // A scale broadcast over the normalised axes sums its gradient.
        try O.check(LayerNormalization(axis: 1, epsilon: 1e-5), [x, O.random([8], seed: 44)], wrt: 1, step: 1e-3)
    }

    func testSoftmaxGradients() throws {
        let x = O.random([2, 3, 4], seed: 45, low: -2, high: 2)
        try O.check(Softmax(axis: -1), [x], step: 1e-3)
        try O.check(Softmax(axis: 1), [x], step: 1e-3)
        try O.check(Softmax(axis: 1, coercesTo2D: true), [x], step: 1e-3)
    }

    func testReductionGradients() throws {
        let x = O.random([2, 3, 4], seed: 46)
        try O.check(ReduceMean(axes: [-1, 0], keepDims: false), [x])
        try O.check(ReduceMean(), [x, O.ints([1])])
        try O.check(ReduceMean(keepDims: true), [x])
        try O.check(ReduceSum(axes: [1]), [x])
        try O.check(ReduceSum(keepDims: false), [x, O.ints([0, 2])])
    }

    func testAveragePoolGradients() throws {
        let x = O.random([2, 3, 7, 6], seed: 47)
        try O.check(AveragePool2d(kernel: (2, 2), stride: (2, 2)), [x])
        try O.check(AveragePool2d(kernel: (3, 3), stride: (2, 2), pads: (1, 1, 1, 1), ceilMode: true,
                                  countIncludePad: false), [x])
        try O.check(AveragePool2d(kernel: (3, 2), stride: (2, 3), pads: (1, 0, 2, 1), ceilMode: true,
                                  countIncludePad: true), [x])
    }

    func testMatMulAddGeluChainAsInAVisionTransformer() throws {
        // [tokens, features] through a linear layer as ONNX exports it, a GELU, a layer norm and
        // attention-like scores with a softmax.
        let w = O.random([6, 6], seed: 48), b = O.random([6], seed: 49)
        let scale = O.random([6], seed: 50, low: 0.5, high: 1.5)
        let graph = S.graph { g in
            let h = g.node(MatMul(), [g.input, g.constant(w, name: "w")], path: "fc")
            let biased = g.node(Add(), [h, g.constant(b, name: "b")], path: "bias", isNamed: false)
            let act = g.node(Unary(.gelu(tanhApproximation: false)), [biased], path: "act")
            let norm = g.node(LayerNormalization(axis: -1, epsilon: 1e-6), [act, g.constant(scale, name: "s")], path: "norm")
            let keys = g.node(Transpose(perm: [1, 0]), [norm], path: "t")
            let scores = g.node(MatMul(), [norm, keys], path: "scores")
            let attention = g.node(Softmax(axis: -1), [scores], path: "softmax")
            return g.node(MatMul(), [attention, norm], path: "mix")
        }
        try S.gradientCheck(graph, input: O.random([5, 6], seed: 51), step: 1e-3)
    }
}
