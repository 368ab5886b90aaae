import XCTest
@testable import CAMRuntime

/// Finite-difference checks of every layer's backward (gradient with respect to the input).
final class LayerGradientTests: XCTestCase {
    typealias S = LayerTestSupport

    private func conv(_ cin: Int, _ cout: Int, _ k: (Int, Int), stride: (Int, Int) = (1, 1),
                      padding: ConvPadding = .explicit(0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1,
                      bias: Bool = false) -> Conv2d {
        let c = Conv2d(inChannels: cin, outChannels: cout, kernelSize: k, stride: stride, padding: padding,
                       dilation: dilation, groups: groups, bias: bias)
        S.randomize(c, seed: 11)
        return c
    }

    func testConvGeneralStridedDilatedGroupedWithBias() throws {
        let c = conv(4, 6, (3, 2), stride: (2, 1), padding: .explicit(2, 1), dilation: (2, 3), groups: 2, bias: true)
        try S.gradientCheck(c, input: S.random([2, 4, 9, 8], seed: 1))
    }

    func testConvBatchedSmallPlanes() throws {
        // Batches with planes up to 10×10 go through one GEMM for all images.
        let c = conv(3, 4, (3, 3), stride: (2, 1), padding: .explicit(1, 2), dilation: (1, 2), bias: true)
        try S.gradientCheck(c, input: S.random([3, 3, 7, 6], seed: 28))
        let single = try S.run(c, S.random([3, 3, 7, 6], seed: 28).slice(1).reshaped([1, 3, 7, 6]))
        let batch = try S.run(c, S.random([3, 3, 7, 6], seed: 28))
        XCTAssertLessThanOrEqual(single.reshaped(Array(single.shape.dropFirst())).maxAbsDifference(batch.slice(1)), 1e-6)
    }

    func testConvPointwise() throws {
        try S.gradientCheck(conv(5, 3, (1, 1), bias: true), input: S.random([2, 5, 4, 3], seed: 2))
    }

    func testConvPointwiseStrided() throws {
        try S.gradientCheck(conv(4, 6, (1, 1), stride: (2, 2)), input: S.random([1, 4, 7, 6], seed: 3))
    }

    func testConvSamePaddingAsymmetric() throws {
        let c = conv(3, 4, (3, 3), stride: (2, 2), padding: .same)
        try S.gradientCheck(c, input: S.random([1, 3, 8, 7], seed: 4))
    }

    func testDepthwiseSameStrideTwo() throws {
        let c = conv(5, 5, (5, 5), stride: (2, 2), padding: .same, groups: 5)
        XCTAssertTrue(c.isDepthwise)
        try S.gradientCheck(c, input: S.random([2, 5, 10, 9], seed: 5))
    }

    func testDepthwiseStrideOneExplicitPadding() throws {
        let c = conv(3, 3, (3, 3), padding: .explicit(1, 1), groups: 3)
        try S.gradientCheck(c, input: S.random([1, 3, 6, 6], seed: 6))
    }

    func testBatchNorm() throws {
        let bn = BatchNorm2d(channels: 3, eps: 1e-3)
        S.randomize(bn, seed: 12)
        try S.gradientCheck(bn, input: S.random([2, 3, 4, 5], seed: 7))
    }

    func testReLUAndReLU6() throws {
        try S.gradientCheck(ReLU(.relu), input: S.awayFromZero([2, 3, 4, 4], seed: 8),
                            step: 1e-3)
        // ReLU6 around both kinks: values in ±(0.1…5.9) and 6.1…8.
        var x = S.awayFromZero([2, 3, 4, 4], seed: 9, gap: 0.1, limit: 5.9)
        for i in stride(from: 0, to: x.count, by: 5) { x.storage[i] = 6.1 + abs(x.storage[i]) / 3 }
        try S.gradientCheck(ReLU(.relu6), input: x, step: 1e-3)
    }

    func testGuidedReLURule() throws {
        let graph = S.graph(ReLU(.relu6))
        let x = Tensor(shape: [4], storage: [1, -1, 2, 7])
        let g = Tensor(shape: [4], storage: [-3, 5, 4, 2])
        XCTAssertEqual(try S.forwardBackward(graph, x, { _ in g }, mode: .standard).input?.storage, [-3, 0, 4, 0])
        XCTAssertEqual(try S.forwardBackward(graph, x, { _ in g }, mode: .guided).input?.storage, [0, 0, 4, 0])
    }

    func testMaxPool() throws {
        // Distinct values 0.01 apart so that no two elements of a window tie within the step.
        let n = 2 * 3 * 9 * 8
        var rng = SplitMix64(seed: 10)
        var values = (0..<n).map { Float($0) * 0.01 }
        for i in stride(from: n - 1, to: 0, by: -1) { values.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let pool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
        try S.gradientCheck(pool, input: Tensor(shape: [2, 3, 9, 8], storage: values), step: 1e-3)
    }

    func testGlobalAveragePoolFlattenLinearDropout() throws {
        try S.gradientCheck(GlobalAveragePool(), input: S.random([2, 3, 5, 4], seed: 13))
        try S.gradientCheck(Flatten(), input: S.random([2, 3, 2, 2], seed: 14))
        try S.gradientCheck(Identity(layer: "Dropout"), input: S.random([2, 6], seed: 15))
        let linear = Linear(inFeatures: 6, outFeatures: 4)
        S.randomize(linear, seed: 16)
        try S.gradientCheck(linear, input: S.random([3, 6], seed: 17))
    }

    func testBasicBlockWithDownsampleAndResidualAdd() throws {
        let block = S.graph { b in ResNetBuilder.basicBlock(b, b.input, "b", inPlanes: 3, planes: 4, stride: 2) }
        XCTAssertTrue(block.nodes.contains { $0.name == "b.downsample.0" })
        S.randomize(block, seed: 18)
        try S.gradientCheck(block, input: S.random([2, 3, 6, 6], seed: 19), step: 1e-3)
    }

    func testBottleneckIdentityShortcut() throws {
        let block = S.graph { b in ResNetBuilder.bottleneck(b, b.input, "b", inPlanes: 8, planes: 2, stride: 1) }
        XCTAssertFalse(block.nodes.contains { $0.name.contains("downsample") })
        S.randomize(block, seed: 20)
        try S.gradientCheck(block, input: S.random([1, 8, 5, 5], seed: 21), step: 1e-3)
    }

    func testMBConvBlockWithSkip() throws {
        let block = S.graph { b in
            EfficientNetLiteBuilder.mbConv(b, b.input, "m", kernel: 3, stride: 1, expansion: 2, inChannels: 3, outChannels: 3)
        }
        XCTAssertTrue(block.nodes.contains { $0.op is Add })
        S.randomize(block, seed: 22)
        try S.gradientCheck(block, input: S.random([1, 3, 5, 6], seed: 23), step: 1e-3)
    }

    func testSequential() throws {
        let seq = S.chain([
            Conv2d(inChannels: 2, outChannels: 3, kernelSize: (3, 3), padding: .explicit(1, 1)),
            BatchNorm2d(channels: 3, eps: 1e-5),
            GlobalAveragePool(),
        ])
        S.randomize(seq, seed: 24)
        try S.gradientCheck(seq, input: S.random([2, 2, 4, 4], seed: 25))
    }

    func testFusedConvBNActivationEqualsSeparateLayers() throws {
        let seq = S.chain([
            Conv2d(inChannels: 3, outChannels: 4, kernelSize: (3, 3), stride: (2, 2), padding: .same, bias: true),
            BatchNorm2d(channels: 4, eps: 1e-3),
            ReLU(.relu6),
        ])
        S.randomize(seq, seed: 26)
        let x = S.random([2, 3, 9, 8], seed: 27, low: -3, high: 3)
        let separate = try S.run(seq, x, retain: true)
        let fused = try S.run(seq, x, retain: false)
        XCTAssertEqual(fused.shape, [2, 4, 5, 4])
        XCTAssertLessThanOrEqual(fused.maxAbsDifference(separate), 1e-5)
        XCTAssertGreaterThan(separate.max, 0)
    }

    func testWrongInputChannelsIsAUserFacingError() {
        let c = conv(3, 4, (3, 3))
        XCTAssertThrowsError(try S.run(c, Tensor(shape: [1, 2, 5, 5]))) { error in
            XCTAssertTrue("\(error)".contains("expected input [N, 3, H, W]"), "\(error)")
        }
        XCTAssertThrowsError(try S.run(c, Tensor(shape: [1, 3, 2, 2]))) { error in
            XCTAssertTrue("\(error)".contains("smaller than"), "\(error)")
        }
    }
}

