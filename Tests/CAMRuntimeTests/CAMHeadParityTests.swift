import Foundation
import XCTest
@testable import CAMRuntime

/// Fine-tuned heads against pytorch-grad-cam 1.5.7 (tools/fixtures/gen_heads.py): a ResNet-18
/// with 5 classes, an EfficientNet-Lite0 with 3, and a ResNet-18 with one logit explained with
/// `BinaryClassifierOutputTarget`. The networks are built from the checkpoint alone (the head's
/// size read from `fc.weight` / `_fc.weight`), and every case is held to the tolerance and the
/// conditioning rule of `CAMNetworkParityTests`.
///
/// EfficientNet-Lite0's ReLU6 inputs that lie within rounding of a kink are given the reference's
/// gate, counted and bounded (`KinkAdoptingNetwork`, as in `ModelParityTests`; docs/reliability.md,
/// "Parity on every x86-64 CPU"): on the AVX2 kernels one head gate falls on the other side and
/// moves Grad-CAM by 1e-2. Every tolerance is unchanged.
final class CAMHeadParityTests: XCTestCase {
    private struct Meta: Decodable {
        var classes: Int
        var layer: String
    }

    /// With `kinks`, every retaining forward of the fixture's input gets the reference's gates at
    /// the elements `<stem>.kinks.safetensors` lists (gen_heads.py), and each is reported and bounded.
    private func check(_ stem: String, kinks: Bool = false) throws {
        let manifest = try SeededWeights.load(stem)
        let (dict, total) = manifest.stateDict()
        XCTAssertEqual(total, manifest.checksum_sum, accuracy: abs(manifest.checksum_sum) * 1e-9 + 1e-6)
        let network = try Network.make(from: dict)
        let meta = try JSONDecoder().decode(Meta.self, from: Data(contentsOf: camFixtures.appendingPathComponent(stem + ".json")))
        XCTAssertEqual(network.outputCount, meta.classes, "\(stem): head size")
        XCTAssertEqual(network.classNames.count, max(meta.classes, 2), "\(stem): class names")

        let (fixture, tensors) = try loadCAMFixture(stem)
        let input = try XCTUnwrap(tensors["input"]), logits = try XCTUnwrap(tensors["logits"])
        let ours = try network.forward(input).logits
        XCTAssertLessThan(ours.maxAbsDifference(logits) / max(logits.storage.map(abs).max() ?? 1, 1), 1e-4, "\(stem) logits")

        let kinkNetwork = kinks ? KinkAdoptingNetwork(network, input: input, kinks: try SafeTensors.read(
            contentsOf: camFixtures.appendingPathComponent(stem + ".kinks.safetensors"))) : nil
        let camNetwork: CAMNetwork = kinkNetwork ?? network

        var skipped = 0, compared = 0
        for c in fixture.cases {
            let conditioning = try XCTUnwrap(c.conditioning), limit = try XCTUnwrap(c.conditioning_limit)
            XCTAssertEqual(limit, Double(camTolerance(c.method)) / 2, accuracy: limit * 1e-6)
            if conditioning > limit {
                print("\(stem): skipping ill-conditioned reference case \(c.name): float32 vs float64 differ by \(conditioning)")
                skipped += 1
                continue
            }
            var run = c
            // pytorch-grad-cam without targets takes argmax over the single column: class 0 as
            // ClassifierOutputTarget(0), the raw logit, which is the binary target of class 1.
            if meta.classes == 1 && c.target == nil { run.target = .init(kind: "binary", classes: [1]) }
            // The kinks describe the fixture's input alone: no augmentation-smoothing pass adopts.
            kinkNetwork?.enabled = !(c.aug_smooth ?? false)
            let adopted = kinkNetwork?.adoptions.count ?? 0
            let (result, reference, tolerance) = try runCAMCase(run, network: camNetwork, input: input, tensors: tensors,
                                                                seed: fixture.random_cam_seed ?? 1234)
            for adoption in kinkNetwork?.adoptions.dropFirst(adopted) ?? [] { reportKinkTies(adoption, "\(stem) \(c.name)") }
            let diff = result.map.maxAbsDifference(reference)
            XCTAssertLessThanOrEqual(diff, tolerance, "\(stem) \(c.name): max abs diff \(diff)")
            compared += 1
        }
        if let kinkNetwork {
            XCTAssertFalse(kinkNetwork.adoptions.isEmpty, "\(stem): no retaining forward of the fixture's input")
        }
        XCTAssertLessThanOrEqual(skipped, 2, "\(stem): too many ill-conditioned cases")
        XCTAssertGreaterThanOrEqual(compared, fixture.cases.count - 2)
    }

    func testFiveClassResNetMatchesPytorchGradCAM() throws {
        try check("resnet18_head5")
    }

    func testThreeClassEfficientNetLite0MatchesPytorchGradCAM() throws {
        try check("efficientnet_lite0_head3", kinks: true)
    }

    /// The kinks describe the fixture's forward alone: another image, a batch or a disabled
    /// wrapper (augmentation smoothing) gives no gate of the reference's.
    func testKinkGatesAreAdoptedForTheFixtureInputAlone() throws {
        let stem = "efficientnet_lite0_head3"
        let network = try Network.make(from: try SeededWeights.load(stem).stateDict().0)
        let input = try XCTUnwrap(loadCAMFixture(stem).1["input"])
        let kinks = try SafeTensors.read(contentsOf: camFixtures.appendingPathComponent(stem + ".kinks.safetensors"))
        let wrapped = KinkAdoptingNetwork(network, input: input, kinks: kinks)
        let engine = CAMEngine(network: wrapped)
        _ = try engine.compute(GradCAM(), input: input.map { $0 * 0.9 }, layers: ["_blocks.15"], targets: nil)
        let batch = Tensor(shape: [2] + input.shape.dropFirst(), storage: input.storage + input.storage)
        _ = try engine.compute(GradCAM(), input: batch, layers: ["_blocks.15"], targets: nil)
        wrapped.enabled = false
        _ = try engine.compute(GradCAM(), input: input, layers: ["_blocks.15"], targets: nil)
        XCTAssertEqual(wrapped.adoptions.count, 0)
        wrapped.enabled = true
        _ = try engine.compute(GradCAM(), input: input, layers: ["_blocks.15"], targets: nil)
        XCTAssertEqual(wrapped.adoptions.count, 1)
    }

    func testBinaryResNetMatchesPytorchGradCAMsBinaryTarget() throws {
        try check("resnet18_binary")
        // Without a target, CAMScript explains the predicted class: class 1 where the logit is
        // positive, else class 0 with the negated logit (BinaryClassifierOutputTarget(0)).
        let (fixture, tensors) = try loadCAMFixture("resnet18_binary")
        let network = try Network.make(from: try SeededWeights.load("resnet18_binary").stateDict().0)
        let input = try XCTUnwrap(tensors["input"]), logit = try XCTUnwrap(tensors["logits"]).storage[0]
        let predicted = logit > 0 ? 1 : 0
        let top = try CAMEngine(network: network).compute(GradCAM(), input: input, layers: ["layer4"], targets: nil)
        XCTAssertEqual(top.targets, [.binary(predicted)])
        let reference = try XCTUnwrap(fixture.cases.first { $0.name == "GradCAM|layer4|binary\(predicted)|aug0|eigen0" })
        XCTAssertLessThanOrEqual(top.map.maxAbsDifference(try XCTUnwrap(tensors[reference.name])), camTolerance("GradCAM"))
    }
}
