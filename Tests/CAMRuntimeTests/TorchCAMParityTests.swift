import Foundation
import XCTest
@testable import CAMRuntime

/// TorchCAM 0.5.0's original CAM, IS-CAM, SS-CAM and Smooth Grad-CAM++ on the random-weight
/// ResNet-18 and EfficientNet-Lite0 (tools/fixtures/gen_torchcam.py): TorchCAM's channel weights,
/// and its map through the ending every CAMScript method shares (ReLU, min-max, resize, min-max).
/// The random methods draw PyTorch's noise for the case's seed. A reference that float32 rounding
/// decides (the generator's float64 rerun differs by more than half the 1e-3 tolerance) is
/// skipped by CAMNetworkParityTests' rule, at most one per network.
final class TorchCAMParityTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Case: Decodable {
            var name: String
            var method: String
            var layer: String
            var `class`: Int
            var samples: Int?
            var noise: Float?
            var seed: UInt32?
            var conditioning: Double
            var ill_conditioned: Bool
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
        XCTAssertEqual(Set(fixture.cases.map(\.method)), ["CAM", "ISCAM", "SSCAM", "SmoothGradCAMpp"])
        var skipped: [String] = []
        for c in fixture.cases {
            XCTAssertEqual(c.ill_conditioned, c.conditioning > 0.5e-3, c.name)
            if c.ill_conditioned {
                print("\(architecture): skipping ill-conditioned reference case \(c.name) (\(c.conditioning))")
                skipped.append(c.name)
                continue
            }
            let method: any CAMMethod
            switch c.method {
            case "ISCAM": method = ISCAM(samples: try XCTUnwrap(c.samples))
            case "SSCAM": method = SSCAM(samples: try XCTUnwrap(c.samples), noise: try XCTUnwrap(c.noise), seed: try XCTUnwrap(c.seed))
            case "SmoothGradCAMpp":
                method = SmoothGradCAMPlusPlus(samples: try XCTUnwrap(c.samples), noise: try XCTUnwrap(c.noise), seed: try XCTUnwrap(c.seed))
            default: method = OriginalCAM()
            }
            let result = try CAMEngine(network: net).compute(method, input: input, layers: [c.layer], targets: [.index(c.class)])
            let weights = try XCTUnwrap(result.channelWeights[c.layer], c.name)
            let expected = try XCTUnwrap(tensors["weights|\(c.name)"])
            if c.method != "CAM" {
                // Softmax weights: log w_c is the channel's mean score gain less a constant, so
                // their relative error is the gains' absolute error — float32 noise of logits in
                // the tens (PyTorch and oneDNN sum in different orders), ~1e-4…1e-3. Smooth
                // Grad-CAM++'s are sums of products of noisy-input gradients: 1.6e-4 measured.
                XCTAssertEqual(weights.shape, expected.shape)
                let worst = zip(weights.storage, expected.storage).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 2e-3, "\(architecture) \(c.name) weights: worst relative error \(worst)")
            } else {
                assertRelativelyClose(weights, expected, "\(architecture) \(c.name) weights")
            }
            let reference = try XCTUnwrap(tensors[c.name])
            XCTAssertGreaterThan(reference.max, 0.5, "\(c.name): a degenerate reference")
            let diff = result.map.maxAbsDifference(reference)
            XCTAssertLessThanOrEqual(diff, 1e-3, "\(architecture) \(c.name): max abs diff \(diff)")
        }
        XCTAssertLessThanOrEqual(skipped.count, 1, "\(architecture): \(skipped)")
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
