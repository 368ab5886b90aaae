import Foundation
import XCTest
@testable import CAMRuntime

/// ShapleyCAM on the random-weight ResNet-18 and EfficientNet-Lite0 against pytorch-grad-cam
/// 1.5.7 (tools/fixtures/gen_shapley.py), whose Hessian-vector product is PyTorch's double
/// backward: logit targets (the product vanishes through ReLUs, the map is Grad-CAM's) and
/// softmax targets (it does not: the generator checks that the weights differ from Grad-CAM's).
final class ShapleyCAMParityTests: XCTestCase {
    private func checkEveryCase(_ architecture: String) throws {
        let manifest = try SeededWeights.load(architecture)
        let net = try Network.make(architecture: architecture)
        try net.load(manifest.stateDict().0)
        let (fixture, tensors) = try loadCAMFixture(architecture + "_shapley")
        let input = try XCTUnwrap(tensors["input"])
        var checked = 0
        for c in fixture.cases {
            let conditioning = try XCTUnwrap(c.conditioning), limit = try XCTUnwrap(c.conditioning_limit)
            XCTAssertEqual(try XCTUnwrap(c.ill_conditioned), conditioning > limit, c.name)
            if conditioning > limit {
                print("\(architecture): skipping ill-conditioned reference case \(c.name) (\(conditioning) > \(limit))")
                continue
            }
            let (result, reference, tolerance) = try runCAMCase(c, network: net, input: input, tensors: tensors, seed: 0)
            let diff = result.map.maxAbsDifference(reference)
            XCTAssertLessThanOrEqual(diff, tolerance, "\(architecture) \(c.name): max abs diff \(diff)")
            let layer = try XCTUnwrap(result.layers.first)
            let weights = try XCTUnwrap(result.channelWeights[layer], c.name)
            let expected = try XCTUnwrap(tensors["weights|\(c.name)"])
            let scale = expected.storage.map(abs).max() ?? 1
            let weightDiff = weights.maxAbsDifference(expected) / scale
            print("\(architecture) \(c.name): map \(diff), weights \(weightDiff) of their largest")
            XCTAssertLessThanOrEqual(weightDiff, 1e-3, "\(architecture) \(c.name) weights")
            checked += 1
        }
        XCTAssertEqual(fixture.cases.count, 4)
        XCTAssertGreaterThanOrEqual(checked, 3, "\(architecture): at most one case skipped")
    }

    func testResNet18MatchesPytorchGradCAM() throws { try checkEveryCase("resnet18") }

    func testEfficientNetLite0MatchesPytorchGradCAM() throws { try checkEveryCase("efficientnet_lite0") }

    /// The softmax probability's Hessian-vector product equals central differences of its
    /// gradient, and a logit's is zero.
    func testSoftmaxHessianVectorProduct() {
        var generator = SplitMix64(seed: 3)
        let logits = (0..<6).map { _ in Float.random(in: -2...2, using: &generator) }
        let v = (0..<6).map { _ in Float.random(in: -1...1, using: &generator) }
        let target = CAMTarget.softmax(2)
        let hv = target.hessianVectorProduct(logits[...], v[...]) ?? []
        func gradient(_ x: [Double]) -> [Double] {
            let m = x.max() ?? 0, e = x.map { Foundation.exp($0 - m) }, s = e.reduce(0, +), p = e.map { $0 / s }
            return (0..<x.count).map { p[2] * (($0 == 2 ? 1 : 0) - p[$0]) }
        }
        let h = 1e-4
        let up = gradient(zip(logits, v).map { Double($0) + h * Double($1) })
        let down = gradient(zip(logits, v).map { Double($0) - h * Double($1) })
        for k in 0..<6 { XCTAssertEqual(Double(hv[k]), (up[k] - down[k]) / (2 * h), accuracy: 1e-5, "component \(k)") }
        XCTAssertEqual(CAMTarget.logit(2).hessianVectorProduct(logits[...], v[...]), [Float](repeating: 0, count: 6))
    }

    /// Forward-mode differentiation through the head equals the change of the logits along the
    /// direction (the head after layer4 is affine: pooling and fc), and a network with smooth
    /// layers after the target is refused, naming one.
    func testTangentsAndRefusals() throws {
        let net = try Network.make(architecture: "resnet18")
        try net.load(try SeededWeights.load("resnet18").stateDict().0)
        let (_, tensors) = try loadCAMFixture("resnet18_shapley")
        let input = try XCTUnwrap(tensors["input"])
        let a = try XCTUnwrap(try net.forward(input, recording: ["layer4"]).activations["layer4"])
        let (logits, tangent) = try net.logitsTangent(after: "layer4", activation: a, direction: a)
        let doubled = try net.forward(after: "layer4", activation: a.map { $0 * 2 })
        // logits(2A) − logits(A) = J·A exactly for an affine head.
        let expected = Tensor(shape: logits.shape, storage: zip(doubled.storage, logits.storage).map { $0 - $1 })
        XCTAssertLessThanOrEqual(tangent.maxAbsDifference(expected), 1e-3 * max(expected.storage.map(abs).max() ?? 1, 1))

        let vit = try ONNXImporter.network(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/onnx/vit_b_16.onnx"))
        let vitInput = try XCTUnwrap(try SafeTensors.read(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/onnx/vit_b_16.safetensors"))["input"])
        XCTAssertThrowsError(try CAMEngine(network: vit).compute(ShapleyCAM(), input: vitInput, targets: [.index(1)], score: .softmax)) {
            XCTAssertTrue("\($0)".contains("not piecewise linear"), "\($0)")
        }
    }
}
