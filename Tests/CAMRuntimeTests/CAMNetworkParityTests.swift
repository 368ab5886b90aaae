import Foundation
import XCTest
@testable import CAMRuntime

/// Every CAM method on the real architectures (random weights rebuilt from the fixtures' seeded
/// manifests) against pytorch-grad-cam 1.5.7 on the same weights and input (96×96 photo).
///
/// Ill-conditioned references are skipped, by rule, not by hand: gen_cam.py also computes every
/// case in float64 and records `conditioning` = max |float32 reference − float64 reference|. When
/// that exceeds half our tolerance (`conditioning_limit`: 0.5e-3, 2.5e-3 for ScoreCAM/AblationCAM)
/// the reference is decided by float32 rounding luck (a ReLU6 gate input within ~1e-5 of 0 or 6
/// flips with the summation order; PyTorch on 2 threads misses its own 1-thread reference by as
/// much as float64 does), so it is flagged `ill_conditioned` and not used as an expectation. The
/// test logs each skipped case with its number, checks that the flag follows from the number and
/// that the limit is half the tolerance used here, allows at most 2 flagged cases per network (so
/// a generator bug cannot silently skip everything), and holds every other case to the unchanged
/// tolerance.
final class CAMNetworkParityTests: XCTestCase {
    private func network(_ architecture: String) throws -> Network {
        let manifest = try SeededWeights.load(architecture)
        let (dict, total) = manifest.stateDict()
        XCTAssertEqual(total, manifest.checksum_sum, accuracy: abs(manifest.checksum_sum) * 1e-9 + 1e-6)
        let net = try Network.make(architecture: architecture)
        try net.load(dict)
        return net
    }

    private func checkEveryCase(_ architecture: String, primary: String, secondary: String) throws {
        let (fixture, tensors) = try loadCAMFixture(architecture)
        let net = try network(architecture)
        let input = try XCTUnwrap(tensors["input"])

        // The network itself: logits, A and G at the secondary layer for the explicit target.
        let forward = try net.forward(input, recording: [secondary], retainForBackward: true)
        let logits = try XCTUnwrap(tensors["logits"])
        let scale = max(logits.storage.map(abs).max() ?? 1, 1)
        XCTAssertLessThan(forward.logits.maxAbsDifference(logits) / scale, 1e-4, "logits")
        let a = try XCTUnwrap(tensors["A|\(secondary)|explicit"]), g = try XCTUnwrap(tensors["G|\(secondary)|explicit"])
        XCTAssertLessThan(try XCTUnwrap(forward.activations[secondary]).maxAbsDifference(a) / max(a.max, 1), 1e-4)
        let explicitCase = try XCTUnwrap(fixture.cases.first { $0.name == "GradCAM|\(secondary)|explicit|aug0|eigen0" })
        let explicitClass = try XCTUnwrap(explicitCase.target?.classes.first)
        var oneHot = Tensor(shape: forward.logits.shape)
        oneHot.storage[explicitClass] = 1
        let backward = try net.backward(oneHot, gradientsAt: [secondary])
        let ours = try XCTUnwrap(backward.gradients[secondary])
        XCTAssertLessThan(ours.maxAbsDifference(g) / max(g.storage.map(abs).max() ?? 1, 1e-12), 1e-3, "G")

        // Channel weights at the secondary layer, straight from the fixture's A and G.
        let capture = LayerCapture(name: secondary, activations: a, gradients: g)
        let context = CAMContext(network: net, input: input, logits: logits, targets: [.logit(explicitClass)])
        for method in ["GradCAM", "GradCAMPlusPlus", "XGradCAM"] {
            let weights = try XCTUnwrap(tensors["weights|\(method)|\(secondary)|explicit|aug0|eigen0"])
            let m = try XCTUnwrap(makeCAMMethod(method, seed: 0) as? ChannelWeightedCAMMethod)
            assertRelativelyClose(try m.channelWeights(capture, context: context), weights, "\(architecture) \(method) weights")
        }

        // Every method, target, layer set and smoothing variant, end to end.
        var seen = Set<String>()
        var skipped: [String] = []
        for c in fixture.cases where c.method != "GuidedBackprop" {
            let conditioning = try XCTUnwrap(c.conditioning, "\(c.name): no conditioning number; regenerate with gen_cam.py")
            let limit = try XCTUnwrap(c.conditioning_limit, "\(c.name): no conditioning_limit")
            let flagged = try XCTUnwrap(c.ill_conditioned, "\(c.name): no ill_conditioned flag")
            XCTAssertEqual(limit, Double(camTolerance(c.method)) / 2, accuracy: limit * 1e-6, "\(c.name): limit is not half the tolerance")
            XCTAssertEqual(flagged, conditioning > limit, "\(c.name): flag disagrees with conditioning \(conditioning)")
            if flagged {
                let note = "\(c.name): float32 vs float64 reference differ by \(conditioning) > \(limit)"
                print("\(architecture): skipping ill-conditioned reference case \(note)")
                skipped.append(note)
                continue
            }
            let (result, reference, tolerance) = try runCAMCase(c, network: net, input: input, tensors: tensors,
                                                                seed: fixture.random_cam_seed ?? 1234)
            XCTAssertEqual(result.map.shape, reference.shape, c.name)
            guard result.map.shape == reference.shape else { continue }
            let diff = result.map.maxAbsDifference(reference)
            XCTAssertLessThanOrEqual(diff, tolerance, "\(architecture) \(c.name): max abs diff \(diff)")
            seen.insert(c.method)
        }
        XCTAssertEqual(seen.count, 13, "methods covered: \(seen.sorted())")
        XCTAssertLessThanOrEqual(skipped.count, 2, "\(architecture): too many ill-conditioned cases: \(skipped)")

        // Not only the last block: GradCAM, HiResCAM and XGradCAM must differ at the secondary layer.
        let maps = try ["GradCAM", "HiResCAM", "XGradCAM"].map { try XCTUnwrap(tensors["\($0)|\(secondary)|explicit|aug0|eigen0"]) }
        XCTAssertGreaterThan(maps[0].maxAbsDifference(maps[1]), 0.01)
        XCTAssertGreaterThan(maps[0].maxAbsDifference(maps[2]), 0.01)
        _ = primary
    }

    func testResNet18EveryMethodMatchesPytorchGradCAM() throws {
        try checkEveryCase("resnet18", primary: "layer4", secondary: "layer3")
    }

    func testEfficientNetLite0EveryMethodMatchesPytorchGradCAM() throws {
        try checkEveryCase("efficientnet_lite0", primary: "_blocks.15", secondary: "_blocks.10")
    }

    func testResNet18GuidedBackpropAndGuidedGradCAM() throws {
        let (_, tensors) = try loadCAMFixture("resnet18")
        let net = try network("resnet18")
        let input = try XCTUnwrap(tensors["input"])
        let (gradient, cls) = try GuidedBackprop.gradient(network: net, input: input)
        assertRelativelyClose(gradient, try XCTUnwrap(tensors["guided_backprop_top"]), "guided backprop", floor: 1e-2)
        let cam = try CAMEngine(network: net).compute(GradCAM(), input: input, layers: ["layer3"], targets: [.index(cls)])
        let mask = cam.map.reshaped(Array(cam.map.shape.dropFirst()))
        XCTAssertLessThan(mask.maxAbsDifference(try XCTUnwrap(tensors["guided_gradcam_mask_top"])), 1e-3)
        let combined = try GuidedBackprop.guidedGradCAM(mask: mask, gradient: gradient)
        XCTAssertLessThanOrEqual(combined.maxAbsDifference(try XCTUnwrap(tensors["guided_gradcam_top"])), 1)
    }

    func testEfficientNetLite0ReferenceGuidedBackpropIsThePlainGradient() throws {
        // pytorch-grad-cam replaces only torch.nn.ReLU modules; EfficientNet-Lite0's ReLU6 are
        // left alone, so its "guided" gradient is the ordinary input gradient. The contract's
        // `.guided` mode also guides ReLU6, so CAMScript deliberately differs here; this checks
        // the plain gradient, which is what the reference computed.
        let (_, tensors) = try loadCAMFixture("efficientnet_lite0")
        let net = try network("efficientnet_lite0")
        let input = try XCTUnwrap(tensors["input"])
        let forward = try net.forward(input, recording: [], retainForBackward: true)
        var oneHot = Tensor(shape: forward.logits.shape)
        oneHot.storage[forward.logits.argmax] = 1
        let plain = try XCTUnwrap(try net.backward(oneHot, gradientsAt: [], inputGradient: true).input)
        let (h, w) = (input.shape[2], input.shape[3])
        let hwc = Tensor(shape: [h, w, 3]) { out in
            for y in 0..<h { for x in 0..<w { for c in 0..<3 { out[(y * w + x) * 3 + c] = plain.storage[(c * h + y) * w + x] } } }
        }
        assertRelativelyClose(hwc, try XCTUnwrap(tensors["guided_backprop_top"]), "plain input gradient", floor: 1e-2)
    }
}
