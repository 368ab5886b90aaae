import Foundation
import XCTest
@testable import CAMRuntime

/// ARCC against pytorch-grad-cam 1.5.7's `metrics/arcc.py` (gen_arcc.py) on the metric fixtures'
/// random-weight ResNet-18, its 2 images and their stored GradCAM maps at layer4, with GradCAM at
/// layer4 as the base method and the noise-free imputer in ROAD.
///
/// Tolerances: complexity 1e-6 (a mean of stored values); coherency 1e-4 (a correlation of a
/// recomputed map that matches PyTorch's to ~1e-5); ROAD 1e-4 × max |logit| as in
/// MetricsParityTests; ARCC 1e-3 (a harmonic mean of the three).
final class ARCCParityTests: XCTestCase {
    private static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/metrics")

    private struct Fixture: Decodable {
        var target_class: Int
    }

    func testARCCAndItsPartsEqualPytorchGradCAM() throws {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Self.folder.appendingPathComponent("resnet18.json")))
        let metrics = try SafeTensors.read(contentsOf: Self.folder.appendingPathComponent("resnet18.safetensors"))
        let stored = try SafeTensors.read(contentsOf: Self.folder.appendingPathComponent("arcc.safetensors"))
        let (dict, _) = try SeededWeights.load("resnet18").stateDict()
        let net = try Network.make(architecture: "resnet18")
        try net.load(dict)
        let input = try XCTUnwrap(metrics["input"]), maps = try XCTUnwrap(metrics["maps"])
        let scale = max(1, try XCTUnwrap(metrics["logits"]).storage.map(abs).max() ?? 1)
        let target = CAMTarget.logit(fixture.target_class)
        // The base method's result as the CAM builtin makes it: GradCAM at layer4, the class's logit.
        let result = CAMResult(map: maps, method: "GradCAM", layers: ["layer4"], usedDefaultLayer: false,
                               targets: [target, target], labels: [])
        let engine = CAMEngine(network: net)
        let scores = try PerturbationMetrics(network: net).arcc(
            input: input, maps: maps, targets: .explained([target, target]),
            recompute: { try engine.recompute(result, on: $0) }, noise: 0)
        func reference(_ key: String) throws -> [Float] { try XCTUnwrap(stored[key], key).storage }
        for i in 0..<2 {
            XCTAssertEqual(scores[i].complexity, try reference("complexity")[i], accuracy: 1e-6, "complexity \(i)")
            XCTAssertEqual(scores[i].coherency, try reference("coherency")[i], accuracy: 1e-4, "coherency \(i)")
            XCTAssertEqual(scores[i].road, try reference("road")[i], accuracy: 1e-4 * scale, "road \(i)")
            XCTAssertEqual(scores[i].arcc, try reference("arcc")[i], accuracy: 1e-3, "arcc \(i)")
        }
        // The fixture exercises the parts: a coherency that is neither 0 nor 1, a map that is
        // neither empty nor full.
        XCTAssertTrue(try reference("coherency").allSatisfy { $0 > 0.05 && $0 < 0.999 })
        XCTAssertTrue(try reference("complexity").allSatisfy { $0 > 0.01 && $0 < 0.99 })
    }

    func testPearsonIsNumpysAndAConstantMapCorrelatesWithNothing() {
        XCTAssertEqual(PerturbationMetrics.pearson([1, 2, 3, 4], [2, 4, 6, 8]), 1, accuracy: 1e-6)
        XCTAssertEqual(PerturbationMetrics.pearson([1, 2, 3, 4], [8, 6, 4, 2]), -1, accuracy: 1e-6)
        XCTAssertEqual(PerturbationMetrics.pearson([1, 1, 1, 1], [8, 6, 4, 2]), 0)
        XCTAssertEqual(PerturbationMetrics.complexity([0.5, -0.5, 1, 0]), 0.5)
    }
}
