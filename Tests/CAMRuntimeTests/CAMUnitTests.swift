import Foundation
import XCTest
@testable import CAMRuntime

/// The numeric building blocks against OpenCV, PyTorch and numpy references, and the label lookup.
final class CAMUnitTests: XCTestCase {
    private var tensors = StateDict()

    override func setUpWithError() throws {
        tensors = try SafeTensors.read(contentsOf: camFixtures.appendingPathComponent("interp.safetensors"))
    }

    private func t(_ key: String) throws -> Tensor { try XCTUnwrap(tensors[key], key) }

    func testOpenCVLinearResizeMatchesCV2() throws {
        let src = try t("src"), big = try t("big"), square = try t("square")
        let cases: [(Tensor, Int, Int, String)] = [(src, 19, 11, "cv2_up_19x11"), (src, 3, 2, "cv2_down_3x2"),
                                                   (big, 7, 5, "cv2_half_7x5"), (square, 224, 224, "cv2_square_224")]
        for (input, w, h, key) in cases {
            let ours = CAMInterpolation.resizeLinear(input, toWidth: w, height: h)
            let reference = try t(key)
            XCTAssertEqual(ours.shape, reference.shape, key)
            XCTAssertLessThan(ours.maxAbsDifference(reference), 1e-5, key)
        }
    }

    func testAlignCornersUpsampleMatchesPyTorch() throws {
        let ours = CAMInterpolation.upsampleAlignCorners(try t("src"), toWidth: 19, height: 11)
        XCTAssertLessThan(ours.maxAbsDifference(try t("torch_aligned_19x11")), 1e-6)
        // The two conventions really differ, so the test above can tell them apart.
        XCTAssertGreaterThan(ours.maxAbsDifference(try t("cv2_up_19x11")), 1e-2)
    }

    func testNumpyLegacyGeneratorIsReproducedBitForBit() throws {
        var rng = NumpyRandomState(seed: 1234)
        let reference = try t("numpy_uniform_1234")
        let ours = (0..<reference.count).map { _ in Float(rng.uniform(-1, 1)) }
        XCTAssertEqual(ours, reference.storage)
    }

    func testSeededWeightManifestsRebuildTheFixtureNetworks() throws {
        for stem in ["resnet18", "efficientnet_lite0"] {
            let manifest = try SeededWeights.load(stem)
            let (dict, total) = manifest.stateDict()
            XCTAssertEqual(dict.count, manifest.tensors.count)
            XCTAssertEqual(total, manifest.checksum_sum, accuracy: abs(manifest.checksum_sum) * 1e-9 + 1e-6, stem)
        }
    }

    func testScaleCAMIsMinMaxThenResize() {
        let maps = Tensor(shape: [2, 1, 2], storage: [2, 4, -1, -1])
        let scaled = CAMMath.scaleCAM(maps)
        XCTAssertEqual(scaled.storage[0], 0)
        XCTAssertEqual(scaled.storage[1], 2 / (1e-7 + 2), accuracy: 1e-7)
        XCTAssertEqual(Array(scaled.storage[2...]), [0, 0], "a constant map becomes zeros")
        XCTAssertEqual(CAMMath.scaleCAM(maps, width: 4, height: 3).shape, [2, 3, 4])
    }

    func testLabelsResolveToClassIndices() throws {
        let names = ImageNetClasses.names
        XCTAssertEqual(try ClassTarget.resolve("tabby", classNames: names), 281)
        XCTAssertEqual(try ClassTarget.resolve("  Tabby ", classNames: names), 281)
        XCTAssertEqual(try ClassTarget.resolve("great_white_shark", classNames: names), 2)
        XCTAssertThrowsError(try ClassTarget.resolve("tabbby", classNames: names)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("unknown label \"tabbby\""), text)
            XCTAssertTrue(text.contains("\"tabby\" (281)"), text)
        }
        XCTAssertThrowsError(try ClassTarget.resolve("cat", classNames: ["cat", "dog", "Cat"])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("ambiguous") && text.contains("0") && text.contains("2"), text)
        }
    }

    func testTargetsScoreAndGradient() {
        let logits: ArraySlice<Float> = [1, 3, 2]
        XCTAssertEqual(CAMTarget.logit(2).score(logits), 2)
        XCTAssertEqual(CAMTarget.logit(2).gradient(logits), [0, 0, 1])
        let p = CAMTarget.probabilities(logits)
        XCTAssertEqual(CAMTarget.softmax(1).score(logits), p[1], accuracy: 1e-7)
        let g = CAMTarget.softmax(1).gradient(logits)
        // Finite differences of the softmax probability.
        for j in 0..<3 {
            var bumped = Array(logits)
            bumped[j] += 1e-3
            let numeric = (CAMTarget.softmax(1).score(bumped[...]) - p[1]) / 1e-3
            XCTAssertEqual(g[j], numeric, accuracy: 1e-3)
        }
        XCTAssertEqual(ClassTarget.argmax([1, 5, 5, 2]), 1, "first index on ties")
    }

    func testProjectionSignRuleAndCentring() throws {
        // One channel varying over 4 pixels: the projection is the centred channel itself,
        // signed so that the largest magnitude is positive.
        let x = Tensor(shape: [1, 1, 2, 2], storage: [1, 2, 3, 10])
        let p = try Projection.firstComponent(x)
        let centred: [Float] = [-3, -2, -1, 6]
        for i in 0..<4 { XCTAssertEqual(p.storage[i], centred[i], accuracy: 1e-5) }
        // Negating the input negates M, and the rule makes the map independent of that sign.
        let negated = try Projection.firstComponent(x.map { -$0 })
        for i in 0..<4 { XCTAssertEqual(negated.storage[i], centred[i], accuracy: 1e-5) }
    }
}

/// The method math on real ResNet-18 / EfficientNet-Lite0 activations and gradients (saved by
/// the fixture generator at layer3 / _blocks.10), independent of any network implementation.
final class CAMRealActivationTests: XCTestCase {
    func testWeightsAndMapsFromSavedActivationsMatchTheReference() throws {
        for (stem, layer) in [("resnet18", "layer3"), ("efficientnet_lite0", "_blocks.10")] {
            let (fixture, tensors) = try loadCAMFixture(stem)
            let a = try XCTUnwrap(tensors["A|\(layer)|explicit"]), g = try XCTUnwrap(tensors["G|\(layer)|explicit"])
            let input = try XCTUnwrap(tensors["input"]), logits = try XCTUnwrap(tensors["logits"])
            let name = "GradCAM|\(layer)|explicit|aug0|eigen0"
            let cls = try XCTUnwrap(fixture.cases.first { $0.name == name }?.target?.classes.first)
            let capture = LayerCapture(name: layer, activations: a, gradients: g)
            let context = CAMContext(network: try TinyNetwork(parameters: try loadCAMFixture("tiny").1), input: input,
                                     logits: logits, targets: [.logit(cls)])
            for method in ["GradCAM", "GradCAMPlusPlus", "XGradCAM"] {
                let m = try XCTUnwrap(makeCAMMethod(method, seed: 0) as? ChannelWeightedCAMMethod)
                let expected = try XCTUnwrap(tensors["weights|\(method)|\(layer)|explicit|aug0|eigen0"])
                assertRelativelyClose(try m.channelWeights(capture, context: context), expected, "\(stem) \(method) weights")
            }
            var compared = 0
            for method in ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "HiResCAM", "GradCAMElementWise", "LayerCAM",
                           "EigenCAM", "EigenGradCAM", "FEM", "RandomCAM"] {
                let c = try XCTUnwrap(fixture.cases.first { $0.name == "\(method)|\(layer)|explicit|aug0|eigen0" })
                let reference = try XCTUnwrap(tensors[c.sign_rule_variant ?? c.name])
                let m = try makeCAMMethod(method, seed: fixture.random_cam_seed ?? 1234)
                let map = CAMScaling.pytorchGradCAM.finish(CAMMath.fuse([try m.layerMap(capture, context: context, eigenSmooth: false)],
                                                                        width: input.shape[3], height: input.shape[2]))
                let diff = map.maxAbsDifference(reference)
                XCTAssertLessThanOrEqual(diff, 1e-3, "\(stem) \(method): max abs diff \(diff)")
                compared += 1
            }
            XCTAssertEqual(compared, 10)
            let maps = try ["GradCAM", "HiResCAM", "XGradCAM"].map { try XCTUnwrap(tensors["\($0)|\(layer)|explicit|aug0|eigen0"]) }
            XCTAssertGreaterThan(maps[0].maxAbsDifference(maps[1]), 0.01, "\(stem): GradCAM and HiResCAM must differ here")
            XCTAssertGreaterThan(maps[0].maxAbsDifference(maps[2]), 0.01, "\(stem): GradCAM and XGradCAM must differ here")
        }
    }
}

final class CAMMethodNameTests: XCTestCase {
    func testEveryNameMakesItsMethodAndTyposAreExplained() throws {
        let expected = ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "HiResCAM", "GradCAMElementWise", "LayerCAM", "EigenCAM",
                        "EigenGradCAM", "ScoreCAM", "AblationCAM", "FullGrad", "FEM", "RandomCAM", "KPCA_CAM", "ShapleyCAM", "FinerCAM",
                        "SegEigenCAM", "RefineCAM", "SESS", "CAM", "ISCAM", "SSCAM", "SmoothGradCAMpp", "LeGrad", "Saliency",
                        "SmoothGrad", "IntegratedGradients"]
        XCTAssertEqual(try CAMMethods.names.map { try CAMMethods.make(named: $0).name }, expected)
        XCTAssertEqual(try CAMMethods.make(named: "KPCA_CAM").name, "KPCA_CAM")
        XCTAssertEqual(try CAMMethods.make(named: "Seg-Eigen-CAM").name, "SegEigenCAM")
        XCTAssertEqual(try CAMMethods.make(named: "GradCAM++").name, "GradCAMPlusPlus")
        XCTAssertEqual(try CAMMethods.make(named: "gradcampp").name, "GradCAMPlusPlus")
        XCTAssertEqual(try CAMMethods.make(named: "GradCAMElementWise").name, "GradCAMElementWise")
        XCTAssertThrowsError(try CAMMethods.make(named: "gradcm")) { error in
            XCTAssertTrue("\(error)".contains("did you mean \"gradcam\""), "\(error)")
        }
    }
}
