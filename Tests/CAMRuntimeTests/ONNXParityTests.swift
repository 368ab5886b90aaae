import Foundation
import XCTest
@testable import CAMRuntime

/// ONNX exports of reduced-width random-weight torchvision and timm classifiers
/// (tools/fixtures/gen_onnx.py), imported with `ONNXImporter` and checked against PyTorch and
/// pytorch-grad-cam 1.5.7 on the PyTorch model: logits and the target layer's activation and
/// gradient within 1e-4 relative, every CAM case within 1e-3 (5e-3 ScoreCAM/AblationCAM),
/// ill-conditioned reference cases skipped by the rule of `CAMNetworkParityTests`.
final class ONNXParityTests: XCTestCase {
    typealias S = LayerTestSupport

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx")

    private struct Meta: Decodable {
        var classes: Int
        var explicit_class: Int
        var target_layer: String
        var target_module: String
        var target_raw_shape: [Int]
        var A_shape: [Int]
        var cases: [CAMCase]
        var random_cam_seed: UInt32?
        var files: [String]
    }

    /// Max |a − e| relative to max |e|.
    private func relative(_ a: Tensor, _ e: Tensor) -> Float {
        a.maxAbsDifference(e) / max(e.storage.map(abs).max() ?? 1, 1e-12)
    }

    private func check(_ stem: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: Self.folder.appendingPathComponent(stem + ".json")))
        let network = try ONNXImporter.network(contentsOf: Self.folder.appendingPathComponent(stem + ".onnx"))
        let tensors = try SafeTensors.read(contentsOf: Self.folder.appendingPathComponent(stem + ".safetensors"))
        XCTAssertEqual(network.outputCount, meta.classes, "\(stem): classes", file: file, line: line)

        let input = try XCTUnwrap(tensors["input"]), logits = try XCTUnwrap(tensors["logits"])
        let layer = try network.resolveLayer(meta.target_layer)
        XCTAssertEqual(try network.value(ofLayer: layer), try network.value(ofLayer: try network.resolveLayer(meta.target_module)),
                       "\(stem): \(meta.target_layer) and \(meta.target_module) name one value", file: file, line: line)
        XCTAssertEqual(try network.value(ofLayer: try network.resolveLayer(network.defaultTargetLayer)),
                       try network.value(ofLayer: layer), "\(stem): the default layer \(network.defaultTargetLayer) is "
                       + "pytorch-grad-cam's tutorial target \(meta.target_layer)", file: file, line: line)
        let forward = try network.forward(input, recording: [layer], retainForBackward: true)
        XCTAssertEqual(forward.logits.shape, logits.shape, file: file, line: line)
        XCTAssertLessThanOrEqual(relative(forward.logits, logits), 1e-4, "\(stem) logits", file: file, line: line)
        // What a CAM sees: the activation after pytorch-grad-cam's reshape_transform (the
        // network's own for token and channels-last layers).
        let activation = try XCTUnwrap(forward.activations[layer])
        XCTAssertEqual(activation.shape, meta.A_shape, "\(stem) target shape", file: file, line: line)
        let expectedActivation = try XCTUnwrap(tensors["A"])
        XCTAssertLessThanOrEqual(relative(activation, expectedActivation), 1e-4, "\(stem) activation at \(layer)",
                                 file: file, line: line)
        // The gradient pytorch-grad-cam records for the explicit class (the raw logit's).
        var seed = Tensor(shape: forward.logits.shape)
        seed[0, meta.explicit_class] = 1
        let gradient = try XCTUnwrap(try network.backward(seed, gradientsAt: [layer]).gradients[layer])
        XCTAssertLessThanOrEqual(relative(gradient, try XCTUnwrap(tensors["G"])), 1e-4, "\(stem) gradient at \(layer)",
                                 file: file, line: line)

        var skipped = 0, compared = 0
        for c in meta.cases {
            let conditioning = try XCTUnwrap(c.conditioning), limit = try XCTUnwrap(c.conditioning_limit)
            if conditioning > limit {
                print("\(stem): skipping ill-conditioned reference case \(c.name): float32 vs float64 differ by \(conditioning)")
                skipped += 1
                continue
            }
            let (result, reference, tolerance) = try runCAMCase(c, network: network, input: input, tensors: tensors,
                                                                seed: meta.random_cam_seed ?? 1234)
            let diff = result.map.maxAbsDifference(reference)
            XCTAssertLessThanOrEqual(diff, tolerance, "\(stem) \(c.name): max abs diff \(diff)", file: file, line: line)
            compared += 1
        }
        XCTAssertLessThanOrEqual(skipped, 2, "\(stem): too many ill-conditioned cases", file: file, line: line)
        XCTAssertGreaterThan(compared, 0, file: file, line: line)
    }

    func testResNet50TorchScriptExport() throws {
        try check("resnet50")
    }

    func testResNet50DynamoExport() throws {
        try check("resnet50_dynamo")
    }

    func testVGG16BN() throws {
        try check("vgg16_bn")
    }

    func testDenseNet121() throws {
        try check("densenet121")
    }

    func testMobileNetV3Large() throws {
        try check("mobilenet_v3_large")
    }

    func testEfficientNetB0() throws {
        try check("efficientnet_b0")
    }

    func testConvNeXtTiny() throws {
        try check("convnext_tiny")
        // Each block's two pointwise linear layers (MatMul + bias Add) run as one product each.
        let network = try ONNXImporter.network(contentsOf: Self.folder.appendingPathComponent("convnext_tiny.onnx"))
        let kinds = network.graph.nodes.map(\.op.kind)
        XCTAssertEqual(kinds.filter { $0 == "MatMul+Add" }.count, 10)
        XCTAssertFalse(kinds.contains("MatMul"))
    }

    func testViTB16() throws {
        try check("vit_b_16")
        // The exporter's Div–Erf–Add–Mul–Mul spelling of GELU runs as one operator.
        let network = try ONNXImporter.network(contentsOf: Self.folder.appendingPathComponent("vit_b_16.onnx"))
        XCTAssertEqual(network.graph.nodes.filter { $0.op.kind == "GELU" }.count, 2)
        XCTAssertFalse(network.graph.nodes.contains { $0.op.kind == "Erf" })
        // Its linear layers (QKV, out-projection, both MLP layers, per block) run as MatMul+Add; the
        // attention's two products have no bias.
        let kinds = network.graph.nodes.map(\.op.kind)
        XCTAssertEqual(kinds.filter { $0 == "MatMul+Add" }.count, 6)
        XCTAssertEqual(kinds.filter { $0 == "MatMul" }.count, 4)
    }

    func testViTB16DynamoExport() throws {
        try check("vit_b_16_dynamo")
    }

    func testTimmViTSmall() throws {
        try check("timm_vit_small_patch16_224")
    }

    func testSwinT() throws {
        try check("swin_t")
    }
}
