import Foundation
import XCTest
@testable import CAMRuntime

/// Deep Feature Factorization against pytorch-grad-cam 1.5.7 (tools/fixtures/gen_dff.py: the
/// random-weight ResNet-18's layer4 on a batch of 2 photos, 4 components).
///
/// scikit-learn's NMF runs in float32 with its own BLAS order, so coordinate descent from the same
/// start follows the same path only to rounding: measured 1.7e-6 (concepts) and 1.3e-6 (maps)
/// after the 200 sweeps; held to 1e-4 relative and the 1e-3 for maps. The colours and
/// the sweeps are exact; the picture within 3 grey levels (OpenCV's 8-bit HSV round trip, which
/// scales a colour by its value with its own rounding, is computed here in one step).
final class DFFParityTests: XCTestCase {
    private struct Fixture: Decodable {
        var layer: String
        var components: Int
        var nmf_iterations: Int
    }

    private func relative(_ a: Tensor, _ b: Tensor) -> Float {
        a.maxAbsDifference(b) / max(b.storage.map(abs).max() ?? 1, 1e-12)
    }

    func testResNet18MatchesPytorchGradCAM() throws {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: camFixtures.appendingPathComponent("dff.json")))
        let tensors = try SafeTensors.read(contentsOf: camFixtures.appendingPathComponent("dff.safetensors"))
        let net = try Network.make(architecture: "resnet18")
        try net.load(try SeededWeights.load("resnet18").stateDict().0)
        let x = try XCTUnwrap(tensors["input"])
        let dff = try DeepFeatureFactorization.compute(network: net, input: x, layer: fixture.layer, components: fixture.components)
        XCTAssertEqual(dff.iterations, fixture.nmf_iterations)
        let concepts = relative(dff.concepts, try XCTUnwrap(tensors["concepts"]))
        let maps = dff.maps.maxAbsDifference(try XCTUnwrap(tensors["maps"]))
        let logits = relative(try XCTUnwrap(dff.conceptLogits), try XCTUnwrap(tensors["concept_logits"]))
        XCTAssertLessThan(concepts, 1e-4, "concepts, relative to their largest value")
        XCTAssertLessThan(maps, 1e-3, "maps")
        XCTAssertLessThan(logits, 1e-4, "concept logits, relative to their largest value")

        let colors = try XCTUnwrap(tensors["colors"])
        for j in 0..<fixture.components {
            let c = DeepFeatureFactorization.color(j, of: fixture.components)
            XCTAssertEqual([Float(c.red), Float(c.green), Float(c.blue)], Array(colors.storage[(j * 3)..<(j * 3 + 3)]), "colour \(j)")
        }
        let reference = try XCTUnwrap(tensors["picture"])
        let photo = RGBImage(width: 128, height: 128, pixels: (0..<(128 * 128 * 3)).map { i in
            let (p, ch) = (i / 3, i % 3)
            let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
            let v = x.storage[ch * 128 * 128 + p] * std[ch] + mean[ch]
            return UInt8((Swift.max(0, Swift.min(1, v)) * 255).rounded())
        })
        let picture = try dff.picture(photo, index: 0)
        let worst = zip(picture.pixels, reference.storage).map { abs(Float($0) - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 3, "picture")
    }
}
