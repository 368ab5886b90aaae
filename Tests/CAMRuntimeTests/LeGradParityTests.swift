import Foundation
import XCTest
@testable import CAMRuntime

/// LeGrad against TorchCAM 0.5.0's on the reduced torchvision ViT (both exporters' ONNX files)
/// and against the same definition applied by hand to timm's ViT, which TorchCAM cannot hook
/// (tools/fixtures/gen_legrad.py): the relevance on the patch grid within 1e-4 of its largest
/// value, the shown map within 1e-4 (measured: 1.1e-6 at most).
final class LeGradParityTests: XCTestCase {
    private struct Case: Decodable {
        var name: String
        var network: String
        var blocks: [Int]
        var classes: [Int]
    }

    private struct Fixture: Decodable {
        var cases: [Case]
    }

    private static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    private func loadFixture() throws -> (Fixture, StateDict) {
        let json = try Data(contentsOf: Self.folder.appendingPathComponent("cam/vit_legrad.json"))
        return (try JSONDecoder().decode(Fixture.self, from: json),
                try SafeTensors.read(contentsOf: Self.folder.appendingPathComponent("cam/vit_legrad.safetensors")))
    }

    private func network(_ stem: String) throws -> Network {
        try ONNXImporter.network(contentsOf: Self.folder.appendingPathComponent("onnx/\(stem).onnx"))
    }

    /// Every case of one network's fixture, on the ONNX file `file` (the TorchScript or the
    /// dynamo export of the same weights).
    private func checkCases(of stem: String, file: String, blockPaths: ([Int]) -> [String]) throws {
        let (fixture, tensors) = try loadFixture()
        let net = try network(file)
        let input = try XCTUnwrap(tensors["input|\(stem)"])
        let cases = fixture.cases.filter { $0.network == stem }
        XCTAssertEqual(cases.count, 4)
        for c in cases {
            let raw = try XCTUnwrap(tensors["raw|\(c.name)"])
            let shown = try XCTUnwrap(tensors["map|\(c.name)"])
            let targets = c.classes.map { CAMTarget.logit($0) }
            let relevance = try LeGrad.relevance(net, input: input, blocks: blockPaths(c.blocks), targets: targets)
            XCTAssertEqual(relevance.shape, raw.shape, c.name)
            let scale = raw.storage.map(abs).max() ?? 1
            XCTAssertGreaterThan(scale, 0, c.name)
            XCTAssertLessThanOrEqual(relevance.maxAbsDifference(raw), 1e-4 * scale, "\(file) \(c.name)")
            let result = try CAMEngine(network: net).compute(LeGrad(), input: input, layers: blockPaths(c.blocks),
                                                            targets: c.classes.map { .index($0) })
            XCTAssertEqual(result.map.shape, shown.shape, c.name)
            XCTAssertLessThanOrEqual(result.map.maxAbsDifference(shown), 1e-4, "\(file) \(c.name)")
        }
    }

    func testTorchvisionViTMatchesTorchCAM() throws {
        try checkCases(of: "vit_b_16", file: "vit_b_16") { $0.map { "encoder.layers[\($0)]" } }
    }

    func testDynamoExportMatchesTorchCAM() throws {
        try checkCases(of: "vit_b_16", file: "vit_b_16_dynamo") { $0.map { "encoder.layers.encoder_layer_\($0)" } }
    }

    func testTimmViTMatchesTheDefinition() throws {
        try checkCases(of: "timm_vit_small_patch16_224", file: "timm_vit_small_patch16_224") { $0.map { "blocks[\($0)]" } }
    }

    /// The blocks are found in the graph (the default is the last), a layer that is not a block
    /// is refused naming the blocks, and networks without global self-attention are refused
    /// with the reason.
    func testBlocksAndRefusals() throws {
        let vit = try network("vit_b_16")
        XCTAssertEqual(vit.attentionBlocks, ["encoder.layers.encoder_layer_0", "encoder.layers.encoder_layer_1"])
        XCTAssertEqual(LeGrad().defaultLayer(in: vit), "encoder.layers.encoder_layer_1")
        XCTAssertEqual(try network("timm_vit_small_patch16_224").attentionBlocks, ["blocks.0", "blocks.1"])
        let input = Tensor(shape: [1, 3, 64, 64])
        // The encoder's output is the last block's: the same block under its container's name.
        XCTAssertEqual(try CAMEngine(network: vit).compute(LeGrad(), input: input, layers: ["encoder.layers"]).map.shape,
                       [1, 64, 64])
        XCTAssertThrowsError(try CAMEngine(network: vit).compute(LeGrad(), input: input, layers: ["encoder.layers.encoder_layer_1.ln_1"])) {
            XCTAssertTrue("\($0)".contains("is not a transformer block") && "\($0)".contains("\"encoder.layers.encoder_layer_0\""), "\($0)")
        }
        let swin = try network("swin_t")
        XCTAssertThrowsError(try CAMEngine(network: swin).compute(LeGrad(), input: input)) {
            XCTAssertTrue("\($0)".contains("LeGrad"), "\($0)")
        }
        let resnet = try Network.make(architecture: "resnet18")
        XCTAssertEqual(resnet.attentionBlocks, [])
        XCTAssertThrowsError(try CAMEngine(network: resnet).compute(LeGrad(), input: Tensor(shape: [1, 3, 64, 64]))) {
            XCTAssertTrue("\($0)".contains("no transformer blocks"), "\($0)")
        }
        // LeGrad's passes leave no retained forward for a later backward to misread.
        _ = try vit.forward(input, recording: [], retainForBackward: true)
        _ = try CAMEngine(network: vit).compute(LeGrad(), input: input)
        XCTAssertThrowsError(try vit.backward(Tensor(shape: [1, 5]), gradientsAt: [], inputGradient: true))
    }
}
