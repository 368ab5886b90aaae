import Foundation
import XCTest
@testable import CAMRuntime

/// Every pytorch-grad-cam method on a tiny network whose forward and backward are written by hand
/// in the test, against references computed by pytorch-grad-cam on the same weights.
final class CAMTinyParityTests: XCTestCase {
    /// The fixture, its tensors, the hand-written network and the input batch.
    private func tinySetup() throws -> (CAMFixture, StateDict, TinyNetwork, Tensor) {
        let (fixture, tensors) = try loadCAMFixture("tiny")
        return (fixture, tensors, try TinyNetwork(parameters: tensors), try XCTUnwrap(tensors["input"]))
    }

    func testTheTestNetworkMatchesPyTorch() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        let forward = try network.forward(input, recording: ["pool1", "conv2"], retainForBackward: true, cancellation: nil)
        let logits = try XCTUnwrap(tensors["logits|explicit"])
        XCTAssertLessThan(forward.logits.maxAbsDifference(logits), 1e-5)
        let targets: [CAMTarget] = [.logit(1), .logit(3)]
        let backward = try network.backward(CAMEngine.logitsGradient(targets, logits: forward.logits),
                                            gradientsAt: ["pool1", "conv2"], inputGradient: false, reluMode: .standard)
        for layer in ["pool1", "conv2"] {
            let a = try XCTUnwrap(tensors["A|\(layer)|explicit"]), g = try XCTUnwrap(tensors["G|\(layer)|explicit"])
            XCTAssertLessThan(try XCTUnwrap(forward.activations[layer]).maxAbsDifference(a), 1e-5, layer)
            XCTAssertLessThan(try XCTUnwrap(backward.gradients[layer]).maxAbsDifference(g), 1e-6, layer)
        }
    }

    func testEveryMethodEveryLayerSetTargetAndSmoothingMatchesTheReference() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        let seed = fixture.random_cam_seed ?? 1234
        var checked = 0
        var seen = Set<String>()
        for c in fixture.cases where c.method != "GuidedBackprop" {
            let (ours, reference, tolerance) = try runCAMCase(c, network: network, input: input, tensors: tensors, seed: seed)
            XCTAssertEqual(ours.map.shape, reference.shape, c.name)
            guard ours.map.shape == reference.shape else { continue }
            let diff = ours.map.maxAbsDifference(reference)
            XCTAssertLessThanOrEqual(diff, tolerance, "\(c.name): max abs diff \(diff)")
            XCTAssertGreaterThan(reference.max, 0.1, "\(c.name): a flat reference cannot tell methods apart")
            checked += 1
            seen.insert(c.method)
        }
        XCTAssertEqual(seen.count, 13, "methods covered: \(seen.sorted())")
        XCTAssertEqual(checked, fixture.cases.filter { $0.method != "GuidedBackprop" }.count)
        XCTAssertGreaterThan(checked, 240)
    }

    func testMethodsDifferFromEachOtherAtAGradientVaryingLayer() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        // At conv2 (before the ReLU) the gradient varies over pixels, so these must differ.
        let c = fixture.cases.filter { $0.layers == ["conv2"] && $0.target?.kind == "logit" && $0.aug_smooth == false && $0.eigen_smooth == false }
        let grad = try XCTUnwrap(tensors[try XCTUnwrap(c.first { $0.method == "GradCAM" }).name])
        for other in ["HiResCAM", "XGradCAM", "GradCAMPlusPlus"] {
            let m = try XCTUnwrap(tensors[try XCTUnwrap(c.first { $0.method == other }).name])
            XCTAssertGreaterThan(grad.maxAbsDifference(m), 0.01, other)
        }
    }

    func testChannelWeightsMatchTheReference() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        let seed = fixture.random_cam_seed ?? 1234
        var compared = 0
        for key in tensors.keys where key.hasPrefix("weights|") {
            let name = String(key.dropFirst("weights|".count))
            let parts = name.split(separator: "|").map(String.init)
            let (method, layer, target) = (parts[0], parts[1], parts[2])
            let expected = try XCTUnwrap(tensors[key])
            let targets: [CAMTarget]
            let forward = try network.forward(input, recording: [layer], retainForBackward: true, cancellation: nil)
            if target == "explicit" { targets = [.logit(1), .logit(3)] } else {
                targets = (0..<2).map { i in .logit(ClassTarget.argmax(forward.logits.storage[(i * 5)..<(i * 5 + 5)])) }
            }
            let g = try network.backward(CAMEngine.logitsGradient(targets, logits: forward.logits), gradientsAt: [layer],
                                         inputGradient: false, reluMode: .standard).gradients[layer]
            let capture = LayerCapture(name: layer, activations: try XCTUnwrap(forward.activations[layer]), gradients: g)
            let context = CAMContext(network: network, input: input, logits: forward.logits, targets: targets)
            let ours: Tensor
            switch method {
            case "RandomCAM":
                var rng = NumpyRandomState(seed: seed)
                ours = Tensor(shape: expected.shape, storage: (0..<expected.count).map { _ in Float(rng.uniform(-1, 1)) })
            default:
                guard let weighted = try makeCAMMethod(method, seed: seed) as? ChannelWeightedCAMMethod else {
                    XCTFail("\(method) has weights in the fixture but no channel weights here"); continue
                }
                ours = try weighted.channelWeights(capture, context: context)
            }
            // AblationCAM's weights are (S − S_c) / S: float32 cancellation between two forward
            // passes gives ~1e-8 absolute noise however the forward is written, so tiny weights
            // are compared against 1 % of the largest one.
            assertRelativelyClose(ours, expected, key, floor: method == "AblationCAM" ? 1e-2 : 1e-3)
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 20)
    }

    func testTopClassIsReportedPerImage() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        let result = try CAMEngine(network: network).compute(GradCAM(), input: input, layers: ["conv2"])
        let logits = try XCTUnwrap(tensors["logits|top"])
        XCTAssertEqual(result.targetClasses, (0..<2).map { ClassTarget.argmax(logits.storage[($0 * 5)..<($0 * 5 + 5)]) })
        XCTAssertEqual(result.labels, result.targetClasses.map { network.classNames[$0] })
        XCTAssertEqual(result.map.shape, [2, 16, 20])
        XCTAssertTrue(result.description.hasPrefix("GradCAM 16×20 ×2 images at conv2 → "), result.description)
        let defaulted = try CAMEngine(network: network).compute(GradCAM(), input: input)
        XCTAssertTrue(defaulted.usedDefaultLayer)
        XCTAssertEqual(defaulted.layers, ["conv2"])
        XCTAssertEqual(defaulted.map, result.map)
    }

    func testGuidedBackpropAndGuidedGradCAMMatchTheReference() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        for (tag, target, layer) in [("top", ClassTarget.top, "pool1"), ("explicit", ClassTarget.index(4), "conv2")] {
            let (gradient, cls) = try GuidedBackprop.gradient(network: network, input: input, target: target)
            let expected = try XCTUnwrap(tensors["guided_backprop_\(tag)"])
            assertRelativelyClose(gradient, expected, "guided backprop \(tag)")
            let first = input.slice(0)
            let cam = try CAMEngine(network: network).compute(GradCAM(), input: first.reshaped([1] + first.shape),
                                                              layers: [layer], targets: [.index(cls)])
            let mask = cam.map.reshaped([16, 20])
            XCTAssertLessThan(mask.maxAbsDifference(try XCTUnwrap(tensors["guided_gradcam_mask_\(tag)"])), 1e-3)
            let combined = try GuidedBackprop.guidedGradCAM(mask: mask, gradient: gradient)
            let reference = try XCTUnwrap(tensors["guided_gradcam_\(tag)"])
            XCTAssertLessThanOrEqual(combined.maxAbsDifference(reference), 1, "guided Grad-CAM \(tag) (uint8 levels)")
            let image = GuidedBackprop.deprocess(gradient)
            XCTAssertLessThanOrEqual(image.maxAbsDifference(try XCTUnwrap(tensors["guided_backprop_image_\(tag)"])), 1)
            let differing = zip(combined.storage, reference.storage).filter { $0 != $1 }.count
            XCTAssertLessThan(differing, combined.count / 100, "\(tag): \(differing) uint8 values differ")
        }
    }

    func testAblationReRunsOnlyTheLayersAfterTheTarget() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        network.forwardCalls = 0
        network.afterCalls = 0
        _ = try CAMEngine(network: network).compute(AblationCAM(), input: input, layers: ["pool1"])
        XCTAssertEqual(network.forwardCalls, 1)
        XCTAssertEqual(network.afterCalls, 2, "one batch of 8 channels per image")
    }

    func testScoreCAMReportsProgressAndStopsWhenCancelled() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        var steps: [(Int, Int)] = []
        _ = try CAMEngine(network: network).compute(ScoreCAM(batchSize: 3), input: input, layers: ["pool1"],
                                                    progress: { steps.append(($0, $1)) })
        XCTAssertEqual(steps.map(\.0), [1, 2, 3, 4, 5, 6])
        XCTAssertTrue(steps.allSatisfy { $0.1 == 6 })
        let flag = CancellationFlag()
        flag.cancel()
        XCTAssertThrowsError(try CAMEngine(network: network).compute(ScoreCAM(), input: input, layers: ["pool1"],
                                                                     cancellation: flag)) { error in
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
    }

    func testUserErrorsAreReported() throws {
        let (fixture, tensors, network, input) = try tinySetup()
        _ = (fixture, tensors, network, input)
        let engine = CAMEngine(network: network)
        XCTAssertThrowsError(try engine.compute(GradCAM(), input: input, targets: [.index(9), .index(0)])) { error in
            XCTAssertTrue("\(error)".contains("out of range"), "\(error)")
        }
        XCTAssertThrowsError(try engine.compute(GradCAM(), input: input, targets: [.index(1), .index(2), .index(3)])) { error in
            XCTAssertTrue("\(error)".contains("one target per image"), "\(error)")
        }
        XCTAssertThrowsError(try engine.compute(GradCAM(), input: input, layers: ["conv9"])) { error in
            XCTAssertTrue("\(error)".contains("conv9"), "\(error)")
        }
        XCTAssertThrowsError(try engine.compute(GradCAM(), input: Tensor(shape: [3, 16, 20]))) { error in
            XCTAssertTrue("\(error)".contains("[N, 3, H, W]"), "\(error)")
        }
        let labelled = try engine.compute(GradCAM(), input: input, layers: ["conv2"], targets: [.label("Three")])
        XCTAssertEqual(labelled.targetClasses, [3, 3])
    }
}
