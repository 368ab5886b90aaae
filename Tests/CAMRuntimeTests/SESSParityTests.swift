import Foundation
import XCTest
@testable import CAMRuntime

/// SESS (base method Grad-CAM) on the random-weight ResNet-18 and EfficientNet-Lite0 against
/// pytorch-grad-cam 1.5.7 (tools/fixtures/gen_sess.py): 2 to 6 scales (5 to 31 patches on the
/// 96×96 photo), logit and softmax targets, with the conditioning rule of CAMNetworkParityTests
/// and ScoreCAM's tolerance of 5e-3 (many passes weighed by their scores).
final class SESSParityTests: XCTestCase {
    private func checkEveryCase(_ architecture: String, cases expected: Int) throws {
        let manifest = try SeededWeights.load(architecture)
        let net = try Network.make(architecture: architecture)
        try net.load(manifest.stateDict().0)
        let (fixture, tensors) = try loadCAMFixture(architecture + "_sess")
        let input = try XCTUnwrap(tensors["input"])
        var checked = 0
        for c in fixture.cases {
            XCTAssertEqual(c.method, "SESS", c.name)
            let conditioning = try XCTUnwrap(c.conditioning), limit = try XCTUnwrap(c.conditioning_limit)
            XCTAssertEqual(limit, Double(camTolerance(c.method)) / 2, accuracy: limit * 1e-6, c.name)
            XCTAssertEqual(try XCTUnwrap(c.ill_conditioned), conditioning > limit, c.name)
            if conditioning > limit {
                print("\(architecture): skipping ill-conditioned reference case \(c.name) (\(conditioning) > \(limit))")
                continue
            }
            let scales = try XCTUnwrap(c.name.split(separator: "|").last.flatMap { Int($0.dropFirst("scales".count)) }, c.name)
            let targets = c.target.map { $0.classes.map { ClassTarget.index($0) } }
            let score: CAMScore = c.target?.kind == "softmax" ? .softmax : .logit
            let result = try CAMEngine(network: net).compute(SESS(scales: scales), input: input, layers: c.layers, targets: targets,
                                                             score: score)
            let reference = try XCTUnwrap(tensors[c.name])
            XCTAssertEqual(result.map.shape, reference.shape, c.name)
            guard result.map.shape == reference.shape else { continue }
            let diff = result.map.maxAbsDifference(reference)
            print("\(architecture) \(c.name): max abs diff \(diff) (conditioning \(conditioning))")
            XCTAssertLessThanOrEqual(diff, camTolerance(c.method), "\(architecture) \(c.name): max abs diff \(diff)")
            checked += 1
        }
        XCTAssertEqual(fixture.cases.count, expected)
        XCTAssertGreaterThanOrEqual(checked, expected - 1, "\(architecture): at most one case skipped")
    }

    func testResNet18MatchesPytorchGradCAM() throws { try checkEveryCase("resnet18", cases: 4) }

    func testEfficientNetLite0MatchesPytorchGradCAM() throws { try checkEveryCase("efficientnet_lite0", cases: 2) }

    /// The scales, windows and resized sizes follow pytorch-grad-cam's and torchvision's rules.
    func testPatchGeometry() {
        XCTAssertEqual(SESS.scaleSizes(window: 224, count: 12), [224, 288, 352, 416, 480, 544, 608, 672, 736, 800, 864, 928])
        XCTAssertEqual(SESS.scaleSizes(window: 96, count: 4), [96, 123, 150, 177])
        XCTAssertEqual(SESS.windowStarts(length: 224, step: 224, window: 224), [0])
        XCTAssertEqual(SESS.windowStarts(length: 672, step: 224, window: 224), [0, 224, 448])
        XCTAssertEqual(SESS.windowStarts(length: 736, step: 224, window: 224), [0, 224, 448, 512])
        XCTAssertEqual(SESS.resizedSize(width: 300, height: 200, shorter: 288).width, 432)
        XCTAssertEqual(SESS.resizedSize(width: 200, height: 333, shorter: 250).height, 416)
        // 122 patches for a 224×224 input at the default 12 scales.
        XCTAssertEqual(SESS().layout(width: 224, height: 224, window: 224).patches.count, 122)
    }

    /// OpenCV's Gaussian blur keeps a constant map, sums its kernel to 1 and reflects at borders
    /// without repeating the edge pixel.
    func testGaussianBlur() {
        let flat = SESS.gaussianBlur(Tensor(shape: [20, 30], repeating: 0.25))
        XCTAssertLessThanOrEqual(flat.storage.map { abs($0 - 0.25) }.max() ?? 1, 1e-6)
        var impulse = Tensor(shape: [21, 21])
        impulse.storage[10 * 21 + 10] = 1
        let blurred = SESS.gaussianBlur(impulse)
        XCTAssertEqual(blurred.storage.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertEqual(blurred.storage[10 * 21 + 10], blurred.storage[10 * 21 + 11] / Float(Foundation.exp(-1.0 / 50)), accuracy: 1e-6)
        // Next to the border, reflect-101 (…, 2, 1 | 0, 1, 2, …) counts pixel 1 twice for pixel 0,
        // and for pixel 1 itself once more through its mirror at −1.
        var edge = Tensor(shape: [1, 11])
        edge.storage[1] = 1
        let row = SESS.gaussianBlur(edge)
        let k = (0..<11).map { Foundation.exp(-Double(($0 - 5) * ($0 - 5)) / 50) }, total = k.reduce(0, +)
        XCTAssertEqual(Double(row.storage[0]), 2 * k[4] / total, accuracy: 1e-6)
        XCTAssertEqual(Double(row.storage[1]), (k[5] + k[3]) / total, accuracy: 1e-6)
    }
}
