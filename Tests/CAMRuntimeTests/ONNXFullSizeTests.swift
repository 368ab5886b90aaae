import Foundation
import XCTest
@testable import CAMRuntime

/// The full-size graphs of the nine families (224 px, 1000 classes; tools/fixtures/gen_onnx_full.py)
/// load and run: the committed `.onnx` files hold the graphs only, their weights live in an
/// external `weights.bin` that each test writes with deterministic random values (uniform in
/// the bounds the generator lists per tensor) beside a copy of the graph.
final class ONNXFullSizeTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx-full")

    private struct Meta: Decodable {
        struct Entry: Decodable {
            var name: String
            var offset: Int
            var length: Int
            var low: Float
            var high: Float
        }
        var weights_bytes: Int
        var nodes: Int
        var tensors: [Entry]
    }

    /// Loads `stem` with random weights; checks the logits and the default layer; returns the network.
    @discardableResult
    private func check(_ stem: String, defaultLayer: String, file: StaticString = #filePath, line: UInt = #line) throws -> Network {
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: Self.folder.appendingPathComponent(stem + ".json")))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-onnx-full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.copyItem(at: Self.folder.appendingPathComponent(stem + ".onnx"),
                                         to: scratch.appendingPathComponent(stem + ".onnx"))
        var bytes = [UInt8](repeating: 0, count: meta.weights_bytes)
        var rng = SplitMix64(seed: 0xF011)
        bytes.withUnsafeMutableBytes { raw in
            for entry in meta.tensors {
                for i in 0..<(entry.length / 4) {
                    raw.storeBytes(of: rng.uniform(entry.low, entry.high).bitPattern.littleEndian,
                                   toByteOffset: entry.offset + 4 * i, as: UInt32.self)
                }
            }
        }
        try Data(bytes).write(to: scratch.appendingPathComponent("weights.bin"))
        bytes = []

        let network = try ONNXImporter.network(contentsOf: scratch.appendingPathComponent(stem + ".onnx"))
        XCTAssertEqual(network.outputCount, 1000, "\(stem) classes", file: file, line: line)
        XCTAssertEqual(network.graph.nodes.count > 0, true, file: file, line: line)
        XCTAssertEqual(network.defaultTargetLayer, defaultLayer, "\(stem) default layer", file: file, line: line)
        XCTAssertEqual(network.importedInputShape, [1, 3, 224, 224], file: file, line: line)
        var x = Tensor(shape: [1, 3, 224, 224])
        for i in 0..<x.count { x.storage[i] = Float((i * 2654435761) % 1000) / 500 - 1 }
        let logits = try network.forward(x).logits
        XCTAssertEqual(logits.shape, [1, 1000], file: file, line: line)
        XCTAssertTrue(logits.storage.allSatisfy(\.isFinite), "\(stem): logits not finite", file: file, line: line)
        XCTAssertGreaterThan((logits.storage.max() ?? 0) - (logits.storage.min() ?? 0), 0,
                             "\(stem): constant logits test nothing", file: file, line: line)
        return network
    }

    func testResNet50() throws {
        try check("resnet50", defaultLayer: "layer4")
    }

    func testVGG16BN() throws {
        try check("vgg16_bn", defaultLayer: "features")
    }

    func testDenseNet121() throws {
        try check("densenet121", defaultLayer: "features")
    }

    func testMobileNetV3Large() throws {
        try check("mobilenet_v3_large", defaultLayer: "features")
    }

    func testEfficientNetB0() throws {
        try check("efficientnet_b0", defaultLayer: "features")
    }

    func testConvNeXtTiny() throws {
        try check("convnext_tiny", defaultLayer: "features")
    }

    /// ViT-B/16 also explains: Grad-CAM at its default layer gives a 14 × 14 grid upsampled to the input.
    func testViTB16() throws {
        let network = try check("vit_b_16", defaultLayer: "encoder.layers.encoder_layer_11.ln_1")
        var x = Tensor(shape: [1, 3, 224, 224])
        for i in 0..<x.count { x.storage[i] = Float((i * 40503) % 997) / 500 - 1 }
        let forward = try network.forward(x, recording: [network.defaultTargetLayer], retainForBackward: true)
        XCTAssertEqual(forward.activations[network.defaultTargetLayer]?.shape, [1, 768, 14, 14])
        let cam = try CAMEngine(network: network).compute(GradCAM(), input: x, layers: nil, targets: [.index(3)])
        XCTAssertEqual(cam.map.shape, [1, 224, 224])
        XCTAssertGreaterThan(cam.map.max, 0, "an all-zero Grad-CAM tests nothing")
    }

    func testSwinT() throws {
        try check("swin_t", defaultLayer: "features.7.1.norm1")
    }

    func testTimmViTSmall() throws {
        try check("timm_vit_small_patch16_224", defaultLayer: "blocks.11.norm1")
    }
}
