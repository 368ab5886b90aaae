import Foundation
import XCTest
@testable import CAMRuntime

/// Raw and signed maps (`scale="raw"`, `signed=true`) against pytorch-grad-cam's own pieces:
/// the channel weights and activations gen_cam.py recorded from pytorch-grad-cam 1.5.7 on the
/// seeded ResNet-18, combined as `get_cam_image` does, then resized with OpenCV's bilinear
/// filter (`CAMInterpolation`, itself checked against cv2 by the interpolation fixture) —
/// pytorch-grad-cam's pipeline with only its min-max (raw) or its ReLUs (signed) left out.
final class CAMScalingTests: XCTestCase {
    private struct Setup {
        let network: Network
        let input: Tensor
        let target: Int
        /// `Σ_c w_c A_c` at layer3 for the explicit target, from the fixture, `[1, h, w]`.
        let weighted: Tensor
    }

    private func setup() throws -> Setup {
        let (fixture, tensors) = try loadCAMFixture("resnet18")
        let network = try Network.make(architecture: "resnet18")
        try network.load(try SeededWeights.load("resnet18").stateDict().0)
        let explicit = try XCTUnwrap(fixture.cases.first { $0.name == "GradCAM|layer3|explicit|aug0|eigen0" })
        let target = try XCTUnwrap(explicit.target?.classes.first)
        let a = try XCTUnwrap(tensors["A|layer3|explicit"])
        let w = try XCTUnwrap(tensors["weights|GradCAM|layer3|explicit|aug0|eigen0"])
        let weighted = try CAMMath.weightedMap(a, weights: w, eigenSmooth: false)
        return Setup(network: network, input: try XCTUnwrap(tensors["input"]), target: target, weighted: weighted)
    }

    private func gradCAM(_ s: Setup, _ scaling: CAMScaling, input: Tensor? = nil) throws -> CAMResult {
        try CAMEngine(network: s.network).compute(GradCAM(), input: input ?? s.input, layers: ["layer3"],
                                                  targets: [.index(s.target)], scaling: scaling)
    }

    private func assertClose(_ ours: Tensor, _ expected: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.shape, expected.shape, what, file: file, line: line)
        let scale = expected.storage.map(abs).max() ?? 1
        XCTAssertGreaterThan(scale, 0, what, file: file, line: line)
        XCTAssertLessThanOrEqual(ours.maxAbsDifference(expected) / scale, 1e-3, what, file: file, line: line)
    }

    func testRawMapIsTheResizedReLUOfTheWeightedActivations() throws {
        let s = try setup()
        let (h, w) = (s.input.shape[2], s.input.shape[3])
        let raw = try gradCAM(s, CAMScaling(scale: .raw))
        let expected = CAMInterpolation.resizeLinear(s.weighted.map { max($0, 0) }, toWidth: w, height: h)
        assertClose(raw.map, expected, "raw GradCAM")
        XCTAssertEqual(raw.colorRange.lowerBound, 0)
        XCTAssertEqual(raw.colorRange.upperBound, raw.map.max)
        // Not the min-max map: the values keep their units.
        let scaled = try gradCAM(s, .pytorchGradCAM)
        XCTAssertGreaterThan(scaled.map.maxAbsDifference(raw.map), 1e-2)
        XCTAssertEqual(scaled.colorRange, 0...1)
        XCTAssertEqual(scaled.unitMap, scaled.map, "a 0…1 map is measured and drawn as it is")
    }

    /// The fixture's class has no negative evidence at layer3, so the signed maps are checked on
    /// the first class (by logit, from the middle down) whose map has both signs, with Grad-CAM's
    /// weights (the gradient's spatial mean, checked against pytorch-grad-cam's by the parity
    /// tests) taken from the network's own pass.
    func testSignedMapsKeepNegativeEvidence() throws {
        let fixture = try setup()
        let (h, w) = (fixture.input.shape[2], fixture.input.shape[3])
        let network = fixture.network
        let logits = try network.forward(fixture.input, recording: [], retainForBackward: false).logits.storage
        let byLogit = logits.indices.sorted { logits[$0] < logits[$1] }
        var found: Setup?
        for target in byLogit[..<(byLogit.count / 2)].reversed().prefix(20) {
            let forward = try network.forward(fixture.input, recording: ["layer3"], retainForBackward: true)
            var oneHot = Tensor(shape: forward.logits.shape)
            oneHot.storage[target] = 1
            let g = try XCTUnwrap(try network.backward(oneHot, gradientsAt: ["layer3"]).gradients["layer3"])
            let a = try XCTUnwrap(forward.activations["layer3"])
            let hw = Float(a.shape[2] * a.shape[3])
            let weights = CAMMath.channelSums(a, g) { grad, _ in grad }.map { $0 / hw }
            let weighted = try CAMMath.weightedMap(a, weights: weights, eigenSmooth: false)
            if weighted.min < 0 && weighted.max > 0 {
                found = Setup(network: network, input: fixture.input, target: target, weighted: weighted)
                break
            }
        }
        let s = try XCTUnwrap(found, "no class among 20 has a map with both signs: nothing to test")
        let signedRaw = try gradCAM(s, CAMScaling(scale: .raw, signed: true))
        assertClose(signedRaw.map, CAMInterpolation.resizeLinear(s.weighted, toWidth: w, height: h), "signed raw GradCAM")
        let m = signedRaw.map.storage.map(abs).max() ?? 0
        XCTAssertEqual(signedRaw.colorRange, -m...m)

        let signed = try gradCAM(s, CAMScaling(signed: true))
        let expected = CAMMath.scaleMagnitude(CAMInterpolation.resizeLinear(CAMMath.scaleMagnitude(s.weighted), toWidth: w, height: h))
        assertClose(signed.map, expected, "signed GradCAM")
        XCTAssertLessThan(signed.map.min, 0)
        XCTAssertEqual(signed.map.storage.map(abs).max() ?? 0, 1, accuracy: 1e-5)
        XCTAssertEqual(signed.colorRange, -1...1)
        // Zero evidence is the middle of the colours.
        XCTAssertEqual(signed.unitMap.storage[0], (signed.map.storage[0] + 1) / 2, accuracy: 1e-6)
    }

    func testRawMapsOfABatchShareOneColourRange() throws {
        let s = try setup()
        let flipped = CAMEngine.horizontalFlip(s.input)
        let both = Tensor(shape: [2] + s.input.shape.dropFirst(), storage: s.input.storage + flipped.storage)
        let raw = try gradCAM(s, CAMScaling(scale: .raw), input: both)
        let alone = try gradCAM(s, CAMScaling(scale: .raw))
        XCTAssertLessThanOrEqual(raw.map.slice(0).maxAbsDifference(alone.map.slice(0)), 1e-4 * max(alone.map.max, 1e-6))
        XCTAssertEqual(raw.colorRange.upperBound, raw.map.max)
        XCTAssertGreaterThanOrEqual(raw.colorRange.upperBound, alone.colorRange.upperBound)
    }

    func testMethodsWithoutSignOrRawScaleAreRefused() throws {
        let s = try setup()
        let engine = CAMEngine(network: s.network)
        XCTAssertThrowsError(try engine.compute(RefineCAM(), input: s.input, layers: ["layer3", "layer4"], scaling: CAMScaling(signed: true))) {
            XCTAssertTrue("\($0)".contains("no sign"), "\($0)")
        }
        XCTAssertThrowsError(try engine.compute(FullGrad(), input: s.input, scaling: CAMScaling(scale: .raw))) {
            XCTAssertTrue("\($0)".contains("no raw scale"), "\($0)")
        }
        XCTAssertThrowsError(try engine.compute(Saliency(), input: s.input, scaling: CAMScaling(signed: true))) {
            XCTAssertTrue("\($0)".contains("absolute gradients"), "\($0)")
        }
        for info in CAMMethods.all where !info.hasSign || !info.hasRawScale {
            XCTAssertTrue(["RefineCAM", "FullGrad", "Saliency", "SmoothGrad", "LeGrad"].contains(info.className), info.className)
        }
    }

    /// matplotlib 3.11's `colormaps["bwr"](np.arange(256), bytes=True)` at a few entries,
    /// including those where float64 rounding truncates to one less than the exact value.
    func testBlueWhiteRedIsMatplotlibs() throws {
        let expected: [Int: [UInt8]] = [0: [0, 0, 255], 33: [65, 65, 255], 64: [128, 128, 255], 127: [254, 254, 255],
                                        128: [255, 254, 254], 160: [255, 190, 190], 255: [255, 0, 0]]
        let bwr = try Colormap.named("bwr")
        for (i, rgb) in expected {
            let c = bwr.color(at: UInt8(i))
            XCTAssertEqual([c.red, c.green, c.blue], rgb, "entry \(i)")
        }
        XCTAssertEqual(try Colormap.named("bwr_r").color(at: 0).red, 255)
    }

    func testColorbarOfARangeLabelsRoundValues() throws {
        let unit = try colorbar(.jet, length: 100)
        XCTAssertEqual(try colorbar(.jet, length: 100, range: 0...1), unit, "0…1 keeps the 1.0 / 0.5 / 0.0 legend")
        let raw = try colorbar(.bwr, length: 100, range: -0.004...0.004)
        XCTAssertEqual(raw.height, unit.height)
        XCTAssertNotEqual(raw, unit)
        XCTAssertEqual(colorbarTicks(-0.004...0.004, length: 100).map(\.text), ["0.004", "0.002", "0.000", "-0.002", "-0.004"])
        XCTAssertEqual(colorbarTicks(-0.004...0.004, length: 100).map(\.row), [0, 25, 50, 74, 99])
        XCTAssertEqual(colorbarTicks(0...0.4709, length: 224).map(\.text), ["0.4", "0.3", "0.2", "0.1", "0.0"])
        XCTAssertThrowsError(try colorbar(.jet, range: 1...1))
    }
}
