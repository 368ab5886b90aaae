import CAMRuntime
import Foundation
import XCTest

/// The default model (the pretrained EfficientNet-Lite0 that scripts/setup.sh installs) on the
/// four sample photos, with its own preprocessing, must say what PyTorch says.
final class DefaultModelTests: XCTestCase {
    /// Top-5 labels and probabilities as PyTorch computes them with the same checkpoint and
    /// preprocessing (shorter side 256 bicubic, centre crop 224, /255, mean = std = 0.5), printed
    /// to 5 decimals by tools/fixtures/gen_default_model_top5.py.
    ///
    /// The shared data README's table lists the same classes and, to 3 decimals, the same
    /// values except three that it rounds up from PyTorch's x.xxx48 (consomme .008 for
    /// 0.00748, projectile .190 for 0.18948, mosque .018 for 0.01748): a double rounding
    /// there, not a difference of this runtime, which matches PyTorch to 5 decimals.
    static let expected: [(photo: String, top5: [(label: String, probability: Double)])] = [
        ("chelsea.png", [("tiger cat", 0.39281), ("Egyptian cat", 0.35632), ("tabby", 0.16953), ("lynx", 0.0143), ("window screen", 0.00116)]),
        ("coffee.png", [("espresso", 0.95141), ("cup", 0.01511), ("consomme", 0.00748), ("chocolate sauce", 0.00407), ("coffee mug", 0.00338)]),
        ("astronaut.png", [("football helmet", 0.16157), ("bobsled", 0.10601), ("go-kart", 0.06503), ("barbell", 0.04551), ("punching bag", 0.02896)]),
        ("rocket.jpg", [("missile", 0.27359), ("projectile", 0.18948), ("drilling platform", 0.1031), ("space shuttle", 0.05872), ("mosque", 0.01748)]),
    ]

    func testTop5OnTheSamplePhotosMatchesPyTorch() throws {
        let environment = ProcessInfo.processInfo.environment
        let network: Network
        do {
            network = try ModelStore.loadDefault(architecture: "efficientnet_lite0", environment: environment)
        } catch let error as MissingModelError {
            throw XCTSkip("the default model is absent (\(error.message))")
        }
        XCTAssertEqual(network.preset, .efficientNetLite0)
        let photos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/images")
        for (photo, top5) in DefaultModelTests.expected {
            let image = try RGBImage(contentsOf: photos.appendingPathComponent(photo))
            let x = preprocess(image, preset: network.preset)
            let logits = try network.forward(x.reshaped([1] + x.shape)).logits
            let m = logits.storage.max() ?? 0
            let e = logits.storage.map { Foundation.exp($0 - m) }
            let total = e.reduce(0, +)
            let probabilities = e.map { $0 / total }
            let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
            for (rank, want) in top5.enumerated() {
                let c = order[rank]
                XCTAssertEqual(network.classNames[c], want.label, "\(photo) rank \(rank + 1)")
                // Equal to PyTorch's value printed to 5 decimals (so also to 3 decimals).
                XCTAssertEqual(Double(probabilities[c]), want.probability, accuracy: 0.00001, "\(photo) \(want.label)")
            }
        }
    }
}
