import Foundation
import XCTest
@testable import CAMRuntime

/// The faithfulness metrics against pytorch-grad-cam 1.5.7's own classes (gen_metrics.py) on the
/// random-weight ResNet-18 of the CAM fixtures, a batch of 2 images and their stored GradCAM maps.
///
/// Tolerances: a score change is a difference of two logits of a network whose forward matches
/// PyTorch to ~1e-5 of the logits' scale, so it is compared within 1e-4 × max(1, max |logit|);
/// the imputation (a sparse solve) within 1e-4 of the pixel values' scale, as the issue asks of
/// scipy's spsolve; percentiles bit for bit.
final class MetricsParityTests: XCTestCase {
    private static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/metrics")

    private struct Fixture: Decodable {
        var target_class: Int
        var percentiles: [Double]
        var sweep_layers: [String]
    }

    private func load() throws -> (Fixture, StateDict, Network) {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Self.folder.appendingPathComponent("resnet18.json")))
        let tensors = try SafeTensors.read(contentsOf: Self.folder.appendingPathComponent("resnet18.safetensors"))
        let (dict, _) = try SeededWeights.load("resnet18").stateDict()
        let net = try Network.make(architecture: "resnet18")
        try net.load(dict)
        return (fixture, tensors, net)
    }

    private func values(_ tensors: StateDict, _ key: String) throws -> [Float] {
        try XCTUnwrap(tensors[key], "fixture has no \(key)").storage
    }

    func testPercentilesAreNumpysBitForBit() throws {
        let (fixture, tensors, _) = try load()
        let map0 = Array(try XCTUnwrap(tensors["maps"]).storage.prefix(96 * 96))
        for p in fixture.percentiles + [33.3] {
            let key = p == 33.3 ? "percentile|33.3" : "percentile|\(Int(p))"
            XCTAssertEqual(LinearImputation.percentile(map0, p), try values(tensors, key)[0], key)
        }
    }

    func testTheImputationEqualsSpsolve() throws {
        let (_, tensors, _) = try load()
        let input = try XCTUnwrap(tensors["input"])
        let mask = try values(tensors, "imputed_mask")
        var random = NumpyRandomState(seed: 0)
        let ours = try LinearImputation.impute(Array(input.storage.prefix(3 * 96 * 96)), channels: 3, height: 96, width: 96,
                                               keep: mask.map { $0 > 0.5 }, noise: 0, random: &random)
        let reference = try values(tensors, "imputed")
        let scale = reference.map(abs).max() ?? 1
        let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4 * scale, "imputation differs by \(worst)")
        XCTAssertGreaterThan(mask.filter { $0 < 0.5 }.count, 3000, "the mask removes too little to test the solve")
    }

    func testConfidenceChangeAndROADEqualPytorchGradCAM() throws {
        let (fixture, tensors, net) = try load()
        let input = try XCTUnwrap(tensors["input"]), maps = try XCTUnwrap(tensors["maps"])
        let logits = try values(tensors, "logits")
        let tolerance = 1e-4 * max(1, logits.map(abs).max() ?? 1)
        let metrics = PerturbationMetrics(network: net)
        let logit = MetricTargets.explained([.logit(fixture.target_class), .logit(fixture.target_class)])
        func check(_ ours: [Float], _ key: String, _ tolerance: Float) throws {
            let reference = try values(tensors, key)
            XCTAssertEqual(ours.count, reference.count, key)
            for (a, b) in zip(ours, reference) { XCTAssertEqual(a, b, accuracy: tolerance, key) }
        }
        try check(try metrics.confidenceChange(input: input, maps: maps, targets: logit), "confidence|change|logit", tolerance)
        try check(try metrics.confidenceChange(input: input, maps: maps, targets: logit, report: .drop), "confidence|drop|logit", tolerance)
        try check(try metrics.confidenceChange(input: input, maps: maps, targets: logit, report: .increase), "confidence|increase|logit", 0)
        let softmax = MetricTargets.classes([.index(fixture.target_class)], score: .softmax)
        try check(try metrics.confidenceChange(input: input, maps: maps, targets: softmax), "confidence|change|softmax", 1e-6)
        try check(try metrics.road(input: input, maps: maps, targets: logit, order: .most, noise: 0), "road|most|80", tolerance)
        try check(try metrics.road(input: input, maps: maps, targets: logit, order: .least, noise: 0), "road|least|20", tolerance)
        try check(try metrics.road(input: input, maps: maps, targets: logit, order: .most, percentiles: [30, 70], noise: 0),
                  "road|most|30+70", tolerance)
        try check(try metrics.road(input: input, maps: maps, targets: logit, order: .combined, noise: 0), "road|combined", tolerance)
    }

    func testNoiseIsSeededAndSmall() throws {
        let (fixture, tensors, net) = try load()
        let input = try XCTUnwrap(tensors["input"]), maps = try XCTUnwrap(tensors["maps"])
        // The imputation's noise is numpy's standard_normal from the seed: the same seed, the
        // same image; another seed, another image.
        let image = Array(input.storage.prefix(3 * 96 * 96))
        let keep = try values(tensors, "imputed_mask").map { $0 > 0.5 }
        func imputed(_ seed: UInt32) throws -> [Float] {
            var random = NumpyRandomState(seed: seed)
            return try LinearImputation.impute(image, channels: 3, height: 96, width: 96, keep: keep, noise: 0.01, random: &random)
        }
        XCTAssertEqual(try imputed(3), try imputed(3))
        XCTAssertNotEqual(try imputed(3), try imputed(4))
        var numpy = NumpyRandomState(seed: 0)
        // np.random.seed(0); np.random.standard_normal(3)
        XCTAssertEqual((0..<3).map { _ in numpy.standardNormal() }, [1.764052345967664, 0.4001572083672233, 0.9787379841057392])
        // Noise of 0.01 moves ROAD's score a little, not a lot.
        let targets = MetricTargets.explained([.logit(fixture.target_class), .logit(fixture.target_class)])
        let noisy = try PerturbationMetrics(network: net).road(input: input, maps: maps, targets: targets, order: .most, seed: 3)
        for (x, y) in zip(noisy, try values(tensors, "road|most|80")) {
            XCTAssertEqual(x, y, accuracy: 0.05 * max(1, abs(y)), "noise 0.01 moves the score a little")
        }
    }

    func testWhereEveryPixelWouldGoTheROADPaperRankingKeepsTheShare() {
        // 40 % zeros: pytorch-grad-cam's threshold at 10 % is 0 and keeps nothing (`map < 0`);
        // the exact share of lowest-ranked pixels is kept instead, ties in pixel order.
        let map: [Float] = [0, 0, 0, 0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        XCTAssertEqual(PerturbationMetrics.kept(map, percent: 10), [true] + [Bool](repeating: false, count: 9))
        XCTAssertEqual(PerturbationMetrics.kept(map, percent: 20), [true, true] + [Bool](repeating: false, count: 8))
        // Where the threshold keeps something, it is pytorch-grad-cam's mask: pixels below it.
        XCTAssertEqual(PerturbationMetrics.kept(map, percent: 60), map.map { $0 < LinearImputation.percentile(map, 60) })
    }

    func testPointingGameAndEnergyEqualQuantus() throws {
        let (_, tensors, _) = try load()
        let maps = try XCTUnwrap(tensors["maps"])
        for name in ["a", "b"] {
            let box = try values(tensors, "box|\(name)").map { Int($0) }
            let mask = Localisation.boxMask(x0: box[0], y0: box[1], x1: box[2], y1: box[3], width: 96, height: 96)
            let hits = try values(tensors, "pointing|\(name)"), energies = try values(tensors, "energy|\(name)")
            for i in 0..<2 {
                let map = maps.storage[(i * 96 * 96)..<((i + 1) * 96 * 96)]
                XCTAssertEqual(Localisation.pointingGame(map, inside: mask), hits[i] == 1, "box \(name) map \(i)")
                XCTAssertEqual(try XCTUnwrap(Localisation.energy(map, inside: mask)), energies[i], accuracy: 1e-6, "box \(name) map \(i)")
            }
        }
        XCTAssertNil(Localisation.pointingGame([1, 2][...], inside: [false, false]), "an empty mask has no answer")
    }

    func testAMapThatRemovesEveryPixelIsRefused() throws {
        var random = NumpyRandomState(seed: 0)
        XCTAssertThrowsError(try LinearImputation.impute([Float](repeating: 1, count: 3 * 16), channels: 3, height: 4, width: 4,
                                                         keep: [Bool](repeating: false, count: 16), noise: 0, random: &random)) { error in
            XCTAssertTrue("\(error)".contains("removes every pixel"), "\(error)")
        }
    }

    /// "Which layer?" answered as pytorch-grad-cam's users would by hand: GradCAM at each of
    /// ResNet-18's blocks, ROADCombined (noise-free) of each map, averaged over the batch. The
    /// sweep's default layers are those eight blocks, every score matches, and the best layer
    /// is the reference's.
    func testTheSweepNamesTheReferenceBestLayer() throws {
        let (fixture, tensors, net) = try load()
        let input = try XCTUnwrap(tensors["input"])
        let tolerance = 1e-4 * max(1, try values(tensors, "logits").map(abs).max() ?? 1)
        let first = input.slice(0).reshaped([1, 3, 96, 96])
        XCTAssertEqual(try LayerSweep.defaultLayers(of: net, for: first), fixture.sweep_layers)
        let metrics = PerturbationMetrics(network: net)
        let sweep = try LayerSweep(network: net, input: input, layers: fixture.sweep_layers,
                                   method: { GradCAM() }, targets: [.index(fixture.target_class)], score: .logit,
                                   higherIsBetter: true) { result in
            try metrics.road(input: input, maps: result.map, targets: .explained(result.targets), order: .combined, noise: 0)
        }
        var reference: [Float] = []
        for (i, layer) in fixture.sweep_layers.enumerated() {
            let perImage = try values(tensors, "sweep|\(layer)")
            let mean = perImage.reduce(0, +) / Float(perImage.count)
            reference.append(mean)
            XCTAssertEqual(sweep.scores[i], mean, accuracy: tolerance, layer)
        }
        let best = Int(try values(tensors, "sweep|best")[0])
        XCTAssertEqual(sweep.layers[sweep.best], fixture.sweep_layers[best])
        // The answer is not a near-tie that the tolerance could flip.
        let runnerUp = reference.indices.filter { $0 != best }.map { reference[$0] }.max() ?? -.infinity
        XCTAssertGreaterThan(reference[best] - runnerUp, 4 * tolerance, "the reference's best layer wins by too little to test")
    }
}
