import Foundation
import XCTest
@testable import CAMRuntime

/// Deletion and insertion curves against the libraries that define them (gen_curves.py):
/// TorchCAM 0.5.0's `DeletionInsertionMetric` and Quantus 0.6's `PixelFlipping`, on the metric
/// fixtures' random-weight ResNet-18, its batch of 2 images and their stored GradCAM maps.
///
/// Tolerances: a logit is compared within 1e-4 × max |logit| (the network matches PyTorch to
/// ~1e-5 of the logits' scale); a softmax probability within 2e-3 of itself plus 1e-9, because
/// it is `exp` of a logit difference whose absolute error (~1e-4 here, logits near 60) becomes a
/// relative one; an AUC as its points.
final class CurveParityTests: XCTestCase {
    private static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/metrics")

    private struct Fixture: Decodable {
        var target_class: Int
    }

    /// Loaded once: building the seeded ResNet-18 takes seconds in a debug build.
    private static let loaded = Result { try loadFixture() }

    private func load() throws -> (Int, StateDict, StateDict, Network) { try Self.loaded.get() }

    private static func loadFixture() throws -> (Int, StateDict, StateDict, Network) {
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: folder.appendingPathComponent("curves.json")))
        let curves = try SafeTensors.read(contentsOf: folder.appendingPathComponent("curves.safetensors"))
        let metrics = try SafeTensors.read(contentsOf: folder.appendingPathComponent("resnet18.safetensors"))
        let (dict, _) = try SeededWeights.load("resnet18").stateDict()
        let net = try Network.make(architecture: "resnet18")
        try net.load(dict)
        return (fixture.target_class, curves, metrics, net)
    }

    private func values(_ tensors: StateDict, _ key: String) throws -> [Float] {
        try XCTUnwrap(tensors[key], "fixture has no \(key)").storage
    }

    private func assertClose(_ ours: [Float], _ reference: [Float], softmax: Bool, scale: Float, _ key: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, reference.count, key, file: file, line: line)
        for (k, (a, b)) in zip(ours, reference).enumerated() {
            let tolerance = softmax ? 2e-3 * abs(b) + 1e-9 : 1e-4 * scale
            XCTAssertEqual(a, b, accuracy: tolerance, "\(key)[\(k)]", file: file, line: line)
        }
    }

    func testTheCurvesAndAreasEqualTorchCAM() throws {
        let (target, curves, metrics, net) = try load()
        let input = try XCTUnwrap(metrics["input"]), maps = try XCTUnwrap(metrics["maps"])
        let scale = max(1, try values(metrics, "logits").map(abs).max() ?? 1)
        let measure = PerturbationMetrics(network: net)
        let cases: [(CurveBaseline, Bool, Int)] = [(.zero, true, 20), (.zero, true, 7), (.zero, false, 20), (.zero, false, 7), (.blur, true, 20)]
        for (baseline, softmax, steps) in cases {
            let key = "torchcam|\(baseline.rawValue)|\(softmax ? "softmax" : "logit")|\(steps)"
            let targets = MetricTargets.classes([.index(target)], score: softmax ? .softmax : .logit)
            let ours = try measure.curves(input: input, maps: maps, targets: targets, kinds: [.deletion, .insertion],
                                          steps: steps, baseline: baseline)
            let fractions = try values(curves, "torchcam|fractions|\(steps)")
            let points = fractions.count
            for (k, kind) in [CurveKind.deletion, .insertion].enumerated() {
                let reference = try values(curves, "\(key)|\(kind.rawValue)")
                let areas = try values(curves, "\(key)|\(kind.rawValue)_auc")
                for i in 0..<2 {
                    let curve = ours[i][k]
                    XCTAssertEqual(curve.kind, kind)
                    XCTAssertEqual(curve.fractions, fractions, "\(key) fractions")
                    assertClose(curve.scores, Array(reference[(i * points)..<((i + 1) * points)]), softmax: softmax, scale: scale,
                                "\(key)|\(kind.rawValue) image \(i)")
                    assertClose([curve.auc], [areas[i]], softmax: softmax, scale: scale, "\(key)|\(kind.rawValue)_auc image \(i)")
                }
            }
        }
    }

    func testTheCurvesMove() throws {
        // A test that could pass on constant curves would not test the perturbation: the
        // reference's deletion curve must fall and its insertion curve rise by a visible amount.
        let (_, curves, _, _) = try load()
        let deletion = try values(curves, "torchcam|zero|logit|20|deletion")
        let insertion = try values(curves, "torchcam|zero|logit|20|insertion")
        XCTAssertGreaterThan(abs(deletion[0] - deletion[20]), 1)
        XCTAssertGreaterThan(Set(insertion.prefix(21)).count, 15)
    }

    func testTheBlurIsRISEs() throws {
        let (_, curves, metrics, _) = try load()
        let input = try XCTUnwrap(metrics["input"])
        let first = Tensor(shape: [1, 3, 96, 96], storage: Array(input.storage.prefix(3 * 96 * 96)))
        let ours = PerturbationMetrics.riseBlur(first)
        let reference = try values(curves, "blur")
        let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, "blur differs by \(worst)")
        let kernel = PerturbationMetrics.riseKernel()
        XCTAssertEqual(kernel.count, 11)
        XCTAssertEqual(kernel.flatMap { $0 }.reduce(0, +), 1, accuracy: 1e-5, "the folded kernel keeps the mass")
    }

    func testPixelFlippingEqualsQuantus() throws {
        let (target, curves, metrics, net) = try load()
        let input = try XCTUnwrap(metrics["input"])
        let maps = try XCTUnwrap(curves["quantus_maps"])
        let measure = PerturbationMetrics(network: net)
        let ours = try measure.pixelFlipping(input: input, maps: maps, targets: .classes([.index(target)], score: .softmax),
                                             steps: 24, baseline: .black)
        let reference = try values(curves, "quantus|black|24")
        let areas = try values(curves, "quantus|black|24|auc")
        for i in 0..<2 {
            XCTAssertEqual(ours[i].fractions.count, 24)
            XCTAssertEqual(ours[i].fractions.last, 1)
            assertClose(ours[i].scores, Array(reference[(i * 24)..<((i + 1) * 24)]), softmax: true, scale: 1, "quantus image \(i)")
            assertClose([ours[i].auc], [areas[i]], softmax: true, scale: 1, "quantus auc image \(i)")
        }
    }

    func testStepsOutsideTheImageAreRefused() throws {
        let (target, _, metrics, net) = try load()
        let input = try XCTUnwrap(metrics["input"]), maps = try XCTUnwrap(metrics["maps"])
        let measure = PerturbationMetrics(network: net)
        for steps in [0, 96 * 96 + 1] {
            XCTAssertThrowsError(try measure.curves(input: input, maps: maps, targets: .classes([.index(target)], score: .logit),
                                                    kinds: [.deletion], steps: steps, baseline: .zero)) { error in
                XCTAssertTrue("\(error)".contains("between 1 and 9216 steps"), "\(error)")
            }
        }
    }

    func testThePassCountIsWhatTheCurvesRun() {
        // 20 steps of 9216 positions: 461 per step, 20 intervals, 19 interior points per curve.
        XCTAssertEqual(PerturbationMetrics.curvePasses(kinds: 2, steps: 20, positions: 9216), 2 + 2 * 19)
        XCTAssertEqual(PerturbationMetrics.curvePasses(kinds: 1, steps: 7, positions: 9216), 2 + 6)
        XCTAssertEqual(PerturbationMetrics.curvePasses(kinds: 2, steps: 224, positions: 224 * 224), 2 + 2 * 223)
    }
}
