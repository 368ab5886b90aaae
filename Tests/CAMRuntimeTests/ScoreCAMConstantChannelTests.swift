import Foundation
import XCTest
@testable import CAMRuntime

/// ScoreCAM's shortcut for constant channels (one forward of the zero image for all of them)
/// gives the weights of masking and running every channel, as pytorch-grad-cam does.
final class ScoreCAMConstantChannelTests: XCTestCase {
    typealias S = LayerTestSupport

    func testConstantChannelsShareTheZeroImagesScore() throws {
        let network = try Network.make(architecture: "resnet18")
        let input = S.random([2, 3, 32, 32], seed: 31)
        let logits = try network.forward(input).logits
        // Channels 0, 3 and 5 are constant (zero, a positive constant, zero); the others vary.
        let (c, h, w) = (7, 3, 3)
        var activations = S.random([2, c, h, w], seed: 32, low: 0, high: 2)
        for image in 0..<2 {
            for (channel, value) in [(0, Float(0)), (3, 1.5), (5, 0)] {
                for p in 0..<(h * w) { activations.storage[(image * c + channel) * h * w + p] = value }
            }
        }
        let targets: [CAMTarget] = [.logit(3), .softmax(10)]
        let context = CAMContext(network: network, input: input, logits: logits, targets: targets)
        let capture = LayerCapture(name: "layer4", activations: activations, gradients: nil)
        var steps: [(Int, Int)] = []
        var reporting = context
        reporting.progress = { steps.append(($0, $1)) }
        let weights = try ScoreCAM(batchSize: 3).channelWeights(capture, context: reporting)
        XCTAssertEqual(steps.map(\.0), [1, 2, 3, 4, 5, 6])

        // Every channel masked and run on its own, as the reference does.
        for image in 0..<2 {
            var scores: [Float] = []
            let picture = input.slice(image)
            for channel in 0..<c {
                let start = (image * c + channel) * h * w
                let map = Tensor(shape: [1, h, w], storage: Array(activations.storage[start..<(start + h * w)]))
                let up = CAMInterpolation.upsampleAlignCorners(map, toWidth: 32, height: 32).storage
                let lo = up.min() ?? 0, hi = up.max() ?? 0
                let masked = Tensor(shape: [1, 3, 32, 32], storage: (0..<(3 * 32 * 32)).map {
                    picture.storage[$0] * ((up[$0 % (32 * 32)] - lo) / (hi - lo + 1e-8))
                })
                scores.append(targets[image].score(try network.forward(masked).logits.storage[...]))
            }
            let expected = CAMTarget.probabilities(scores[...])
            for channel in 0..<c {
                XCTAssertEqual(weights[image, channel], expected[channel], accuracy: 1e-6, "image \(image) channel \(channel)")
            }
            XCTAssertEqual(weights[image, 0], weights[image, 3], "constant channels share one score")
            XCTAssertNotEqual(weights[image, 0], weights[image, 1], "a varying channel has its own score")
        }
    }
}
