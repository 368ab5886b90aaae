import Foundation
import XCTest
@testable import CAMRuntime

/// The sanity checks (Adebayo et al., NeurIPS 2018): the similarity measures against scipy,
/// scikit-image and Quantus (gen_similarity.py), and the check itself — GradCAM passes it, an
/// edge detector written here, which never looks at the model, fails it.
final class SanityCheckTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/metrics")

    /// A "CAM method" that ignores the model: the gradient magnitude of the image, pooled to the
    /// layer's size — the kind of map the sanity check exists to expose.
    struct EdgeDetector: CAMMethod {
        static let info = CAMMethodInfo(
            name: "edges", className: "EdgeDetector", summary: "Image edges, whatever the model.",
            formula: "|∂x/∂u| + |∂x/∂v| pooled", paper: "none (a test double)",
            needsGradients: false, usesTarget: false, weightsChannels: false) { _ in EdgeDetector() }

        func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
            let x = context.input
            let (b, c, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let (h, w) = (layer.activations.shape[2], layer.activations.shape[3])
            var out = [Float](repeating: 0, count: b * h * w)
            for i in 0..<b {
                for y in 1..<(height - 1) {
                    for u in 1..<(width - 1) {
                        var edge: Float = 0
                        for ch in 0..<c {
                            let base = (i * c + ch) * height * width
                            edge += abs(x.storage[base + y * width + u + 1] - x.storage[base + y * width + u - 1])
                                + abs(x.storage[base + (y + 1) * width + u] - x.storage[base + (y - 1) * width + u])
                        }
                        out[(i * h + y * h / height) * w + u * w / width] += edge
                    }
                }
            }
            return Tensor(shape: [b, h, w], storage: out)
        }
    }

    func testSimilaritiesEqualScipyAndScikitImage() throws {
        let stored = try SafeTensors.read(contentsOf: Self.folder.appendingPathComponent("similarity.safetensors"))
        func values(_ key: String) throws -> [Float] { try XCTUnwrap(stored[key], key).storage }
        let a = try values("a")
        let ours = MapSimilarity.hog(a, width: 96, height: 96)
        let reference = try values("hog|a")
        XCTAssertEqual(ours.count, reference.count)
        XCTAssertLessThan(zip(ours, reference).map { abs($0 - Double($1)) }.max() ?? 1, 1e-4)
        XCTAssertGreaterThan(Set(reference).count, 500, "the HOG fixture is not flat")
        for other in ["b", "noisy"] {
            let b = try values(other)
            XCTAssertEqual(MapSimilarity.spearman(a, b), try values("spearman|a|\(other)")[0], accuracy: 1e-5, "spearman \(other)")
            XCTAssertEqual(MapSimilarity.ssim(a, b, width: 96, height: 96), try values("ssim|a|\(other)")[0], accuracy: 1e-4, "ssim \(other)")
            XCTAssertEqual(MapSimilarity.hogSimilarity(a, b, width: 96, height: 96), try values("hogsim|a|\(other)")[0], accuracy: 1e-4, "hog \(other)")
        }
    }

    func testRanksAverageTies() {
        XCTAssertEqual(MapSimilarity.ranks([3, 1, 3, 2]), [3.5, 1, 3.5, 2])
        XCTAssertEqual(MapSimilarity.spearman([1, 2, 3], [1, 1, 1]), 0, "a constant map correlates with nothing")
    }

    func testBlocksAreTheSweepsAndTheHeadComesFirst() throws {
        let net = try Network.make(architecture: "resnet18")
        let steps = SanityCheck(network: net).randomisationSteps(.block).map(\.name)
        XCTAssertEqual(steps, ["fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1", "layer2.0", "layer1.1", "layer1.0", "bn1", "conv1"])
        let layers = SanityCheck(network: net).randomisationSteps(.layer).map(\.name)
        XCTAssertEqual(layers.first, "fc")
        XCTAssertEqual(layers.last, "conv1")
        XCTAssertEqual(layers.count, 20 + 20 + 1, "ResNet-18: 20 convolutions (3 of them downsamples), a batch norm each, and fc")
    }

    func testGradCAMPassesAndAnEdgeDetectorFailsAndTheModelIsRestored() throws {
        let net = try Network.make(architecture: "resnet18")
        let metrics = try SafeTensors.read(contentsOf: Self.folder.appendingPathComponent("resnet18.safetensors"))
        let whole = try XCTUnwrap(metrics["input"])
        let x = Tensor(shape: [1, 3, 96, 96], storage: Array(whole.storage.prefix(3 * 96 * 96)))
        let before = try net.forward(x).logits
        let engine = CAMEngine(network: net)
        let check = SanityCheck(network: net)
        let gradcam = try check.modelRandomisation(granularity: .block, seed: 1) {
            try engine.compute(GradCAM(), input: x, layers: ["layer3"], targets: [.index(3)]).map
        }
        XCTAssertEqual(gradcam.steps.count, 11)
        let last = try XCTUnwrap(gradcam.steps.last)
        XCTAssertLessThan(last.spearman, 0.5, "GradCAM's map should lose its rank order once the model is random")
        // The parameters are the same tensors again; the logits may differ in the last digits
        // only because the first passes ran before oneDNN's warm-up switched kernels.
        let scale = before.storage.map(abs).max() ?? 1
        func assertRestored(file: StaticString = #filePath, line: UInt = #line) throws {
            let after = try net.forward(x).logits.storage
            let worst = zip(after, before.storage).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4 * scale, "the check must put the parameters back", file: file, line: line)
        }
        try assertRestored()

        let edges = try check.modelRandomisation(granularity: .block, seed: 1) {
            try engine.compute(EdgeDetector(), input: x, layers: ["layer3"], targets: [.index(3)]).map
        }
        for step in edges.steps {
            XCTAssertGreaterThan(step.spearman, 0.99, "an edge detector ignores the model, so its map stays: \(step.name)")
            XCTAssertGreaterThan(step.ssim, 0.99)
        }
        try assertRestored()
    }
}

/// The forwards of a cascading randomisation start from the block boundary below what changed
/// (ForwardReuse), and give the maps that whole forwards give.
final class ForwardReuseTests: XCTestCase {
    private func photo() throws -> Tensor {
        let metrics = try SafeTensors.read(contentsOf: SanityCheckTests.folder.appendingPathComponent("resnet18.safetensors"))
        let whole = try XCTUnwrap(metrics["input"])
        return Tensor(shape: [1, 3, 96, 96], storage: Array(whole.storage.prefix(3 * 96 * 96)))
    }

    func testCutsAreTheBlockOutputs() throws {
        let net = try Network.make(architecture: "resnet18")
        let cutValues = net.graph.cutValues
        let names = net.graph.cuts.map { net.graph.valueNames[$0.value] }
        for block in ["layer1.0", "layer1.1", "layer2.0", "layer3.1", "layer4.0", "layer4.1"] {
            let value = try net.value(ofLayer: block)
            XCTAssertTrue(cutValues.contains(value) || cutValues.contains(net.inPlaceReLU[value] ?? -1),
                          "\(block) should be a cut; cuts: \(names)")
        }
    }

    func testRandomisationWithReuseEqualsWholeForwards() throws {
        let x = try photo()
        for (method, layer, granularity) in [(GradCAM() as CAMMethod, "layer3", RandomisationGranularity.block),
                                            (EigenCAM(), "layer4", .block), (GradCAM(), "layer2.1", .layer)] {
            let net = try Network.make(architecture: "resnet18")
            net.oneDNNWarmUpPasses = 0  // every pass on the same kernels, so the two runs can agree exactly
            let engine = CAMEngine(network: net)
            let check = SanityCheck(network: net)
            let compute = { try engine.compute(method, input: x, layers: [layer], targets: [.index(3)]).map }
            let whole = try check.randomise(check.randomisationSteps(granularity), seed: 2, compute: compute)
            var starts: [Int] = []
            let reused = try net.reusingForwards { () throws -> (original: Tensor, steps: [SanityStep]) in
                let result = try check.randomise(check.randomisationSteps(granularity), seed: 2, compute: compute)
                starts = net.forwardReuse?.starts ?? []
                return result
            }
            // Float rounding only: keeping the block outputs, and starting from them in plain
            // layout, changes which oneDNN kernels and fusions run, which moves the last bits
            // (measured: 3.6e-6 on the original map, 3e-5 after the randomised layers amplify it;
            // a wrong start would change the maps wholesale).
            XCTAssertLessThanOrEqual(reused.original.maxAbsDifference(whole.original), 1e-5)
            XCTAssertEqual(reused.steps.count, whole.steps.count)
            for (a, b) in zip(reused.steps, whole.steps) {
                XCTAssertLessThanOrEqual(a.maps.maxAbsDifference(b.maps), 2e-4, "\(method.name) \(layer) step \(a.name)")
                XCTAssertEqual(a.spearman, b.spearman, accuracy: 1e-3, a.name)
            }
            // The first pass runs whole; the head's step starts at the target layer's block or
            // later; the steps below it start earlier and earlier, never after what changed.
            XCTAssertEqual(starts.first, 0, "\(starts)")
            XCTAssertGreaterThan(starts.dropFirst().first ?? 0, 0, "\(method.name): the head's step reused nothing: \(starts)")
            XCTAssertEqual(starts.dropFirst(), starts.dropFirst().sorted(by: >)[...], "\(starts)")
        }
    }
}

/// Passes that start after a layer (`forward(after:)`, AblationCAM's and the metrics') say where
/// they can start instead, and turn a recorded grid back the way it was made.
final class ResumableLayerTests: XCTestCase {
    func testAPassInsideABlockSuggestsTheBlockBefore() throws {
        let net = try Network.make(architecture: "resnet18")
        let x = Tensor(shape: [1, 3, 64, 64], repeating: 0.1)
        let a = try XCTUnwrap(try net.forward(x, recording: ["layer4.1.conv1"]).activations["layer4.1.conv1"])
        XCTAssertThrowsError(try net.forward(after: "layer4.1.conv1", activation: a)) {
            XCTAssertTrue("\($0)".contains("e.g. \"layer4.0\""), "\($0)")
        }
        XCTAssertTrue(net.resumableLayers.contains("layer3.1"))
        XCTAssertFalse(net.resumableLayers.contains("layer4.1.conv1"))
    }

    func testATokenGridIsRefusedWithTheReason() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx")
        let vit = try ONNXImporter.network(contentsOf: folder.appendingPathComponent("vit_b_16.onnx"))
        let input = try XCTUnwrap(try SafeTensors.read(contentsOf: folder.appendingPathComponent("vit_b_16.safetensors"))["input"])
        let block = "encoder.layers.encoder_layer_1"
        let grid = try XCTUnwrap(try vit.forward(input, recording: [block]).activations[block])
        XCTAssertEqual(grid.rank, 4)
        XCTAssertThrowsError(try vit.forward(after: block, activation: grid)) {
            XCTAssertTrue("\($0)".contains("class and prefix tokens are not in it"), "\($0)")
        }
    }
}
