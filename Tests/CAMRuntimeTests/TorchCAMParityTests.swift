import Foundation
import XCTest
@testable import CAMRuntime

/// TorchCAM 0.5.0's original CAM and IS-CAM on the random-weight ResNet-18 and EfficientNet-Lite0
/// (tools/fixtures/gen_torchcam.py): TorchCAM's channel weights, and its map through the ending
/// every CAMScript method shares (ReLU, min-max, resize, min-max).
final class TorchCAMParityTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Case: Decodable {
            var name: String
            var method: String
            var layer: String
            var `class`: Int
            var samples: Int?
        }
        var cases: [Case]
    }

    private func check(_ architecture: String) throws {
        let manifest = try SeededWeights.load(architecture)
        let net = try Network.make(architecture: architecture)
        try net.load(manifest.stateDict().0)
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: camFixtures.appendingPathComponent(architecture + "_torchcam.json")))
        let tensors = try SafeTensors.read(contentsOf: camFixtures.appendingPathComponent(architecture + "_torchcam.safetensors"))
        let input = try XCTUnwrap(tensors["input"])
        XCTAssertEqual(Set(fixture.cases.map(\.method)), ["CAM", "ISCAM"])
        for c in fixture.cases {
            let method: any CAMMethod = c.method == "ISCAM" ? ISCAM(samples: try XCTUnwrap(c.samples)) : OriginalCAM()
            let result = try CAMEngine(network: net).compute(method, input: input, layers: [c.layer], targets: [.index(c.class)])
            let weights = try XCTUnwrap(result.channelWeights[c.layer], c.name)
            let expected = try XCTUnwrap(tensors["weights|\(c.name)"])
            if c.method == "ISCAM" {
                // Softmax weights: log w_c is the channel's mean score gain less a constant, so
                // their relative error is the gains' absolute error — float32 noise of logits in
                // the tens (PyTorch and oneDNN sum in different orders), ~1e-4…1e-3.
                XCTAssertEqual(weights.shape, expected.shape)
                let worst = zip(weights.storage, expected.storage).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 2e-3, "\(architecture) \(c.name) weights: worst relative error \(worst)")
            } else {
                assertRelativelyClose(weights, expected, "\(architecture) \(c.name) weights")
            }
            let diff = result.map.maxAbsDifference(try XCTUnwrap(tensors[c.name]))
            XCTAssertLessThanOrEqual(diff, 1e-3, "\(architecture) \(c.name): max abs diff \(diff)")
        }
    }

    func testResNet18MatchesTorchCAM() throws { try check("resnet18") }

    func testEfficientNetLite0MatchesTorchCAM() throws { try check("efficientnet_lite0") }

    /// Without `layer=` the original CAM takes the layer the classifier's pooling reads, which
    /// is not the default CAM layer of EfficientNet-Lite0; a layer of another width is refused
    /// with that layer named.
    func testOriginalCAMDefaultLayerAndRefusal() throws {
        let net = try Network.make(architecture: "efficientnet_lite0")
        XCTAssertEqual(net.linearClassifier?.path, "_fc")
        XCTAssertEqual(net.linearClassifier?.featureLayer, "_bn1")
        XCTAssertEqual(try Network.make(architecture: "resnet18").linearClassifier?.featureLayer, "layer4")
        let x = Tensor(shape: [1, 3, 64, 64], storage: (0..<(3 * 64 * 64)).map { Float($0 % 17) / 17 - 0.5 })
        let result = try CAMEngine(network: net).compute(OriginalCAM(), input: x)
        XCTAssertEqual(result.layers, ["_bn1"])
        XCTAssertThrowsError(try CAMEngine(network: net).compute(OriginalCAM(), input: x, layers: ["_blocks.15"])) { error in
            XCTAssertTrue("\(error)".contains("such as layer=\"_bn1\""), "\(error)")
        }
    }
}
