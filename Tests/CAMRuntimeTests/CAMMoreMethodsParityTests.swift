import Foundation
import XCTest
@testable import CAMRuntime

/// SegEigenCAM, KPCA-CAM, FinerCAM and RefineCAM on the random-weight ResNet-18 and
/// EfficientNet-Lite0 against pytorch-grad-cam 1.5.7 (tools/fixtures/gen_cam_more.py), with the
/// conditioning rule of CAMNetworkParityTests: a reference that float32 rounding decides is
/// flagged by the generator and skipped here, at most 2 per network.
final class CAMMoreMethodsParityTests: XCTestCase {
    private func checkEveryCase(_ architecture: String) throws {
        let manifest = try SeededWeights.load(architecture)
        let net = try Network.make(architecture: architecture)
        try net.load(manifest.stateDict().0)
        let (fixture, tensors) = try loadCAMFixture(architecture + "_more")
        let input = try XCTUnwrap(tensors["input"])
        var seen = Set<String>()
        var skipped: [String] = []
        for c in fixture.cases {
            let conditioning = try XCTUnwrap(c.conditioning), limit = try XCTUnwrap(c.conditioning_limit)
            XCTAssertEqual(limit, Double(camTolerance(c.method)) / 2, accuracy: limit * 1e-6, c.name)
            XCTAssertEqual(try XCTUnwrap(c.ill_conditioned), conditioning > limit, c.name)
            if conditioning > limit {
                print("\(architecture): skipping ill-conditioned reference case \(c.name) (\(conditioning) > \(limit))")
                skipped.append(c.name)
                continue
            }
            let (result, reference, tolerance) = try runCAMCase(c, network: net, input: input, tensors: tensors, seed: 0)
            XCTAssertEqual(result.map.shape, reference.shape, c.name)
            guard result.map.shape == reference.shape else { continue }
            let diff = result.map.maxAbsDifference(reference)
            XCTAssertLessThanOrEqual(diff, tolerance, "\(architecture) \(c.name): max abs diff \(diff)")
            seen.insert(c.method)
        }
        XCTAssertEqual(seen, ["SegEigenCAM", "KPCA_CAM", "FinerCAM", "RefineCAM"])
        XCTAssertLessThanOrEqual(skipped.count, 2, "\(architecture): \(skipped)")
    }

    func testResNet18MatchesPytorchGradCAM() throws { try checkEveryCase("resnet18") }

    func testEfficientNetLite0MatchesPytorchGradCAM() throws { try checkEveryCase("efficientnet_lite0") }

    /// FinerCAM's score and its hand-written gradient agree with a central difference.
    func testFinerTargetGradientMatchesFiniteDifferences() {
        var generator = SplitMix64(seed: 5)
        let logits = (0..<7).map { _ in Float.random(in: -3...3, using: &generator) }
        let target = CAMTarget.finer(main: 2, comparisons: [5, 0, 6], alpha: 0.7)
        let g = target.gradient(logits[...])
        for k in 0..<logits.count {
            var up = logits.map(Double.init), down = up
            up[k] += 1e-3
            down[k] -= 1e-3
            // The score in float64 (the float32 one is too coarse for a 1e-3 step).
            func score(_ x: [Double]) -> Double {
                let m = x.max() ?? 0
                let e = x.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
                let p = e.map { $0 / s }
                var n = 0.0, d = 0.0
                for j in [5, 0, 6] { n += p[j] * (x[2] - 0.7 * x[j]); d += p[j] }
                return n / (d + 1e-9)
            }
            XCTAssertEqual(Double(g[k]), (score(up) - score(down)) / 2e-3, accuracy: 1e-4, "∂S/∂y\(k)")
        }
        XCTAssertEqual(Double(target.score(logits[...])), {
            let x = logits.map(Double.init), m = x.max() ?? 0
            let e = x.map { Foundation.exp($0 - m) }, s = e.reduce(0, +), p = e.map { $0 / s }
            var n = 0.0, d = 0.0
            for j in [5, 0, 6] { n += p[j] * (x[2] - 0.7 * x[j]); d += p[j] }
            return n / (d + 1e-9)
        }(), accuracy: 1e-5)
    }

    /// The comparison classes are those with the nearest logits, and targets FinerCAM cannot
    /// compare are refused with a reason.
    func testFinerTargetsAndRefusals() throws {
        let logits = Tensor(shape: [1, 6], storage: [0.5, 3.0, 2.9, -1.0, 3.2, 2.0])
        let finer = try FinerCAM().explainedTargets([.logit(1)], logits: logits)
        XCTAssertEqual(finer, [.finer(main: 1, comparisons: [2, 4, 5], alpha: 1)])
        let three = Tensor(shape: [1, 3], storage: [1, 2, 3])
        XCTAssertEqual(try FinerCAM().explainedTargets([.logit(2)], logits: three),
                       [.finer(main: 2, comparisons: [1, 0], alpha: 1)])
        XCTAssertThrowsError(try FinerCAM().explainedTargets([.softmax(1)], logits: logits)) { error in
            XCTAssertTrue("\(error)".contains("leave out softmax="), "\(error)")
        }
        XCTAssertThrowsError(try FinerCAM().explainedTargets([.binary(1)], logits: Tensor(shape: [1, 1], storage: [0.3])))
    }
}
