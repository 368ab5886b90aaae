import Foundation
import XCTest
@testable import CAMRuntime

/// The oneDNN inference path (blocked layouts, fused conv + BN + activation + residual, max
/// pooling, inner product) against the OpenBLAS path of the same network.
final class LayerOneDNNTests: XCTestCase {
    typealias S = LayerTestSupport

    /// A network with its He-random convolutions and non-trivial batch norms, so that folding matters.
    private func network(_ architecture: String) throws -> Network {
        try S.networkWithRandomBatchNorms(architecture, seed: 7)
    }

    /// Runs `body` on the OpenBLAS path, then restores oneDNN.
    private func onOpenBLAS<R>(_ network: Network, _ body: () throws -> R) rethrows -> R {
        network.options.allowsOneDNN = false
        defer { network.options.allowsOneDNN = true }
        return try body()
    }

    private func checkAgainstOpenBLAS(_ architecture: String, recording paths: [String], after: String) throws {
        let network = try network(architecture)
        let recording = paths + [after]
        XCTAssertNotNil(network.workspace.oneDNN, "oneDNN engine unavailable")
        // Odd sizes: padding on every side, strides that drop the last row and column.
        let input = S.random([2, 3, 61, 47], seed: 3)
        let reference = try onOpenBLAS(network) { try network.forward(input, recording: recording) }
        let result = try network.forward(input, recording: recording)
        S.assertClose(result.logits, reference.logits, "\(architecture) logits")
        for path in recording {
            S.assertClose(result.activations[path], reference.activations[path], "\(architecture) \(path)")
        }
        // Runs again from cached primitives.
        S.assertClose(try network.forward(input).logits, reference.logits, "\(architecture) logits, second pass")
        guard let activation = reference.activations[after] else { return XCTFail("\(after) not recorded") }
        let tail = try onOpenBLAS(network) { try network.forward(after: after, activation: activation) }
        S.assertClose(try network.forward(after: after, activation: activation), tail, "\(architecture) after \(after)")
        S.assertClose(tail, reference.logits, "\(architecture) after \(after) vs full pass")
    }

    func testResNet50OnOneDNNMatchesOpenBLAS() throws {
        try checkAgainstOpenBLAS("resnet50", recording: ["maxpool", "layer2.1", "layer3", "layer4.2.conv2"],
                                 after: "layer3.2")
    }

    func testResNet18OnOneDNNMatchesOpenBLAS() throws {
        try checkAgainstOpenBLAS("resnet18", recording: ["layer1.0.bn1", "layer4"], after: "layer2")
    }

    func testEfficientNetLite0OnOneDNNMatchesOpenBLAS() throws {
        try checkAgainstOpenBLAS("efficientnet_lite0", recording: ["_blocks.3", "_blocks.9._depthwise_conv"],
                                 after: "_blocks.3")
    }

    /// A batch gives each image's result: the primitives of two batch sizes coexist.
    func testBatchAndSingleImagesAgree() throws {
        let network = try network("resnet18")
        let batch = S.random([3, 3, 40, 36], seed: 5)
        let all = try network.forward(batch).logits
        for i in 0..<3 {
            let one = try network.forward(batch.slice(i).reshaped([1, 3, 40, 36])).logits
            S.assertClose(one.reshaped([1000]), all.slice(i), "image \(i)")
        }
    }

    /// Loading new weights replaces the cached primitives (with their folded weights).
    func testNewWeightsInvalidateCachedPrimitives() throws {
        let network = try network("resnet18")
        let input = S.random([1, 3, 32, 32], seed: 9)
        let before = try network.forward(input).logits
        guard let bn = network.node(named: "layer2.0.bn2")?.op as? BatchNorm2d,
              let fc = network.node(named: "fc")?.op as? Linear else {
            return XCTFail("modules not found")
        }
        bn.setParameter("weight", S.random([bn.channels], seed: 11, low: 2, high: 3))
        fc.setParameter("bias", S.random([1000], seed: 12, low: 1, high: 2))
        let after = try network.forward(input).logits
        XCTAssertGreaterThan(after.maxAbsDifference(before), 1e-2)
        S.assertClose(after, try onOpenBLAS(network) { try network.forward(input).logits }, "after new weights")
    }

    /// Retaining passes (for backward) never use oneDNN, so backward still has what it needs.
    func testRetainingPassesKeepTheOpenBLASPath() throws {
        let network = try network("resnet18")
        let input = S.random([1, 3, 32, 32], seed: 13)
        let inference = try network.forward(input).logits
        let retained = try network.forward(input, retainForBackward: true).logits
        S.assertClose(retained, inference, "retaining forward")
        var gradient = Tensor(shape: [1, 1000])
        gradient[0, 3] = 1
        XCTAssertNotNil(try network.backward(gradient, gradientsAt: ["layer3"], inputGradient: true).input)
    }
}

/// Single fused convolutions on oneDNN (plain NCHW and blocked) against the OpenBLAS kernels.
final class LayerOneDNNConvolutionTests: XCTestCase {
    typealias S = LayerTestSupport

    private func check(kernel: Int, stride: Int, padding: ConvPadding, groups: Int, channels: Int, out: Int,
                       size: (Int, Int), activation: Activation?) throws {
        let conv = Conv2d(inChannels: channels, outChannels: out, kernelSize: (kernel, kernel),
                          stride: (stride, stride), padding: padding, groups: groups)
        let bn = BatchNorm2d(channels: out, eps: 1e-3)
        S.randomize(conv, seed: 1)
        S.randomize(bn, seed: 2)
        let input = S.random([2, channels, size.0, size.1], seed: 3, low: -3, high: 3)
        let reference = Workspace(options: RuntimeOptions(allowsOneDNN: false))
        let expected = try conv.forwardFused(input, bn: bn, activation: activation, workspace: reference)
        let workspace = Workspace()
        workspace.oneDNNWarmUpPasses = 0
        guard let engine = workspace.oneDNN else { return XCTFail("oneDNN engine unavailable") }
        let name = "k\(kernel) s\(stride) \(padding) g\(groups) \(size)"
        S.assertClose(try conv.forwardFusedRetaining(input, bn: bn, activation: activation, workspace: workspace),
                      expected, "\(name) plain")
        S.assertClose(try conv.forwardFusedOneDNN(try OneDNNTensor(input, engine: engine), bn: bn,
                                                  activation: activation).tensor(), expected, "\(name) blocked")
    }

    /// Channel counts that are not a multiple of the 16-channel blocks (padded inside oneDNN).
    func testOddChannelCounts() throws {
        try check(kernel: 3, stride: 1, padding: .explicit(1, 1), groups: 1, channels: 2, out: 3, size: (4, 4), activation: nil)
        try check(kernel: 3, stride: 2, padding: .same, groups: 1, channels: 3, out: 5, size: (9, 8), activation: .relu6)
        try check(kernel: 3, stride: 1, padding: .same, groups: 5, channels: 5, out: 5, size: (6, 7), activation: .relu)
    }

    /// Primitives cached for one engine are not run with another's memory.
    func testAModuleRunsWithSeveralWorkspaces() throws {
        let seq = S.chain([
            Conv2d(inChannels: 2, outChannels: 3, kernelSize: (3, 3), padding: .explicit(1, 1)),
            BatchNorm2d(channels: 3, eps: 1e-5),
            MaxPool2d(kernelSize: 3, stride: 2, padding: 1),
        ])
        S.randomize(seq, seed: 4)
        let x = S.random([2, 2, 5, 5], seed: 5)
        func onOneDNN() -> Workspace {
            let workspace = Workspace()
            workspace.oneDNNWarmUpPasses = 0
            return workspace
        }
        let first = try S.run(seq, x, retain: false, workspace: onOneDNN())
        let second = try S.run(seq, x, retain: false, workspace: onOneDNN())
        S.assertClose(second, first, "second workspace")
        S.assertClose(first, try S.run(seq, x, retain: true), "against the retaining pass")
    }

    func testConvolutionsMatchOpenBLAS() throws {
        for (h, w) in [(15, 15), (14, 11), (7, 9)] {
            for stride in [1, 2] {
                for padding in [ConvPadding.same, .explicit(1, 1)] {
                    try check(kernel: 3, stride: stride, padding: padding, groups: 24, channels: 24, out: 24,
                              size: (h, w), activation: .relu6)
                    try check(kernel: 5, stride: stride, padding: padding, groups: 16, channels: 16, out: 16,
                              size: (h, w), activation: .relu6)
                    try check(kernel: 3, stride: stride, padding: padding, groups: 1, channels: 8, out: 16,
                              size: (h, w), activation: .relu)
                    try check(kernel: 1, stride: stride, padding: padding, groups: 1, channels: 16, out: 32,
                              size: (h, w), activation: nil)
                }
            }
        }
    }
}
