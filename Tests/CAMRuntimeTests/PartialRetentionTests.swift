import Foundation
import XCTest
@testable import CAMRuntime

/// Forwards that keep only what a backward to the target layers needs (the layers before them
/// run as inference, on oneDNN) give the gradients of a fully retained forward.
final class PartialRetentionTests: XCTestCase {
    typealias S = LayerTestSupport

    /// A network with non-trivial batch norms, so that the inference part's folding matters.
    private func network(_ architecture: String) throws -> Network {
        try S.networkWithRandomBatchNorms(architecture, seed: 21)
    }

    private func logitsGradient(_ logits: Tensor) -> Tensor {
        var g = Tensor(shape: logits.shape)
        for i in 0..<logits.shape[0] { g[i, (7 * i + 3) % logits.shape[1]] = 1 }
        return g
    }

    /// Gradients at `layers` from a partial and from a full retention, and the recorded outputs.
    private func check(_ network: Network, _ layers: [String], input: Tensor,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let full = try network.forward(input, recording: layers, retainForBackward: true)
        let expected = try network.backward(logitsGradient(full.logits), gradientsAt: layers).gradients
        let partial = try network.forward(input, recording: layers, retainingFor: layers)
        S.assertClose(partial.logits, full.logits, "\(layers) logits", file: file, line: line)
        let gradients = try network.backward(logitsGradient(partial.logits), gradientsAt: layers).gradients
        for layer in layers {
            S.assertClose(partial.activations[layer], full.activations[layer], "\(layer) output", file: file, line: line)
            S.assertClose(gradients[layer], expected[layer], "\(layer) gradient", file: file, line: line)
            XCTAssertGreaterThan(gradients[layer]?.storage.contains { $0 != 0 } == true ? 1 : 0, 0,
                                 "\(layer): an all-zero gradient tests nothing", file: file, line: line)
        }
    }

    func testResNet50GradientsEqualAFullyRetainedPass() throws {
        let network = try network("resnet50")
        let input = S.random([1, 3, 64, 64], seed: 5)
        for layers in [["layer4"], ["layer4.2"], ["layer3.1.conv2"], ["conv1"], ["bn1"], ["layer2", "layer4.1"],
                       ["layer4.2.bn3", "layer4"], ["layer1.0.downsample.1"]] {
            try check(network, layers, input: input)
        }
    }

    func testEfficientNetLite0GradientsEqualAFullyRetainedPass() throws {
        let network = try network("efficientnet_lite0")
        let input = S.random([1, 3, 64, 64], seed: 6)
        for layers in [["_blocks.15"], ["_blocks.10._depthwise_conv"], ["_conv_head"], ["_blocks.3", "_blocks.12"]] {
            try check(network, layers, input: input)
        }
    }

    func testABatchGivesEachImagesGradients() throws {
        let network = try network("resnet18")
        try check(network, ["layer3"], input: S.random([3, 3, 40, 36], seed: 8))
    }

    /// Exactly the nodes downstream of the targets retain: the layers after them, and inside a
    /// block only the part after the target (not the shortcut).
    func testWhichNodesRetain() throws {
        let network = try network("resnet50")
        XCTAssertEqual(try network.retainingNodes(for: ["layer4"]), ["avgpool", "flatten", "fc"])
        XCTAssertEqual(try network.retainingNodes(for: ["layer4.2"]), ["avgpool", "flatten", "fc"])
        XCTAssertEqual(try network.retainingNodes(for: ["layer4.2.conv3"]),
                       ["layer4.2.bn3", "layer4.2.add", "layer4.2.relu#3", "avgpool", "flatten", "fc"])
        XCTAssertEqual(Array(try network.retainingNodes(for: ["layer4.0.downsample.1"]).prefix(3)),
                       ["layer4.0.add", "layer4.0.relu#3", "layer4.1.conv1"])
        XCTAssertEqual(try network.retainingNodes(for: ["layer4", "layer2.1"]).first, "layer2.2.conv1")
        XCTAssertEqual(try network.retainingNodes(for: ["bn1"]).first, "relu")
        XCTAssertEqual(try network.retainingNodes(for: []), [])
    }

    /// A backward past the retained part is refused with a message, not a crash; a full
    /// retention afterwards works again.
    func testABackwardPastTheRetainedPartIsRefused() throws {
        let network = try network("resnet18")
        let input = S.random([1, 3, 32, 32], seed: 9)
        let partial = try network.forward(input, recording: [], retainingFor: ["layer3"])
        let g = logitsGradient(partial.logits)
        XCTAssertThrowsError(try network.backward(g, gradientsAt: ["layer2"])) { error in
            XCTAssertTrue("\(error)".contains("\"layer2\""), "\(error)")
        }
        XCTAssertThrowsError(try network.backward(g, gradientsAt: ["layer3"], inputGradient: true)) { error in
            XCTAssertTrue("\(error)".contains("the input"), "\(error)")
        }
        XCTAssertNotNil(try network.backward(g, gradientsAt: ["layer3"]).gradients["layer3"])
        _ = try network.forward(input, retainForBackward: true)
        XCTAssertNotNil(try network.backward(g, gradientsAt: ["layer2"], inputGradient: true).input)
    }
}
