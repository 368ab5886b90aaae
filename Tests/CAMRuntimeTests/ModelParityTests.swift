import Foundation
import XCTest
@testable import CAMRuntime

/// Whole networks against PyTorch: logits, module outputs, gradients at module outputs and at
/// the input (standard and guided), all within 1e-4 of the reference's largest magnitude.
final class ModelParityTests: XCTestCase {
    typealias S = LayerTestSupport

    private struct Meta: Decodable {
        struct Weight: Decodable { let key: String; let shape: [Int]; let seed: UInt64; let low: Double; let high: Double }
        let record: [String]
        let gradients: [String]
        let targets: [Int]
        let weights: [Weight]?
    }

    private func meta(_ name: String) throws -> Meta {
        let data = try Data(contentsOf: S.fixtures.appendingPathComponent(name + ".json"))
        return try JSONDecoder().decode(Meta.self, from: data)
    }

    /// The gradient of Σ_b logits[b, targets[b]].
    private func oneHot(_ targets: [Int], classes: Int) -> Tensor {
        var g = Tensor(shape: [targets.count, classes])
        for (b, t) in targets.enumerated() { g[b, t] = 1 }
        return g
    }

    private func checkParity(_ network: Network, fixture name: String) throws {
        let m = try meta(name)
        let io = try S.fixture(name + ".io.safetensors")
        guard let input = io["input"], let logits = io["logits"] else { return XCTFail("fixture incomplete") }

        // Inference path (BN folded, fused activations).
        let fused = try network.forward(input)
        S.assertClose(fused.logits, logits, "\(name) logits (fused)")

        // Recording and retaining path.
        let result = try network.forward(input, recording: m.record, retainForBackward: true)
        S.assertClose(result.logits, logits, "\(name) logits")
        XCTAssertEqual(Set(result.activations.keys), Set(m.record))
        for path in m.record {
            S.assertClose(result.activations[path], io["act." + path], "\(name) activation \(path)")
        }
        try adoptFixtureKinkGates(network, fixture: name)
        let g = oneHot(m.targets, classes: logits.shape[1])
        let back = try network.backward(g, gradientsAt: m.gradients, inputGradient: true)
        for path in m.gradients {
            S.assertClose(back.gradients[path], io["grad." + path], "\(name) gradient at \(path)")
        }
        S.assertClose(back.input, io["grad_input"], "\(name) input gradient")

        // Early stop: only the gradient at the deepest layer, no input gradient.
        if let last = m.gradients.first {
            let partial = try network.backward(g, gradientsAt: [last], inputGradient: false)
            XCTAssertNil(partial.input)
            S.assertClose(partial.gradients[last], io["grad." + last], "\(name) gradient at \(last) (early stop)")
        }

        let guided = try network.backward(g, gradientsAt: [], inputGradient: true, reluMode: .guided)
        S.assertClose(guided.input, io["guided_input"], "\(name) guided input gradient")
    }

    /// Gives the reference's gate at the fixture's kink ties (`adoptReferenceGatesAtKinks`,
    /// KinkTieSupport.swift): every ReLU6 element whose reference input lies within 1e-4 × that
    /// tensor's largest magnitude (the activation tolerance above) of 0 or 6 and whose retained
    /// gate differs, then checks how many there were. A fixture without a kinks file changes nothing.
    private func adoptFixtureKinkGates(_ network: Network, fixture name: String) throws {
        let url = S.fixtures.appendingPathComponent(name + ".kinks.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let adoption = try adoptReferenceGatesAtKinks(network, kinks: try SafeTensors.read(contentsOf: url))
        XCTAssertEqual(adoption.unretained, [], "\(name): a forward retaining for backward kept no output at these ReLU6")
        reportKinkTies(adoption, name)
    }

    private func tinyResNet(bottleneck: Bool, blocks: [Int], widths: [Int], weights: String) throws -> Network {
        let network = Network(architecture: "tiny", graph: ResNetBuilder.graph(bottleneck: bottleneck, blocks: blocks,
                                                                                 widths: widths, stemWidth: widths[0], classes: 10),
                              defaultTargetLayer: "layer4", preset: .resnetV1, classNames: (0..<10).map { "c\($0)" })
        try network.load(try S.fixture(weights))
        return network
    }

    func testBasicBlockResNetMatchesPyTorch() throws {
        let network = try tinyResNet(bottleneck: false, blocks: [2, 1, 1, 1], widths: [8, 16, 32, 64],
                                     weights: "resnet_basic.weights.safetensors")
        try checkParity(network, fixture: "resnet_basic")
    }

    func testBottleneckResNetMatchesPyTorch() throws {
        let network = try tinyResNet(bottleneck: true, blocks: [1, 2, 1, 1], widths: [4, 8, 16, 32],
                                     weights: "resnet_bottleneck.weights.safetensors")
        try checkParity(network, fixture: "resnet_bottleneck")
    }

    /// The real EfficientNet-Lite0 structure with the generator's deterministic weights.
    private func efficientNet() throws -> Network {
        let m = try meta("efficientnet_lite0")
        guard let weights = m.weights else { throw RuntimeError("fixture has no weight spec") }
        var dict = StateDict()
        for w in weights {
            var rng = SplitMix64(seed: w.seed)
            let count = w.shape.reduce(1, *)
            let (low, high) = (Float(w.low), Float(w.high))
            dict.set(w.key, Tensor(shape: w.shape, storage: (0..<count).map { _ in rng.uniform(low, high) }))
        }
        let network = try Network.make(architecture: "efficientnet_lite0")
        XCTAssertEqual(try Network.detectArchitecture(dict), "efficientnet_lite0")
        try network.load(dict)
        return network
    }

    func testEfficientNetLite0MatchesPyTorch() throws {
        try checkParity(try efficientNet(), fixture: "efficientnet_lite0")
    }

    func testForwardAfterCachedActivationsGivesTheSameLogits() throws {
        let network = try efficientNet()
        let io = try S.fixture("efficientnet_lite0.io.safetensors")
        guard let input = io["input"], let logits = io["logits"] else { return XCTFail("fixture incomplete") }
        let result = try network.forward(input, recording: ["_blocks.15", "_blocks.7", "_blocks"])
        for layer in ["_blocks.15", "_blocks.7", "_blocks"] {
            guard let activation = result.activations[layer] else { return XCTFail("\(layer) not recorded") }
            S.assertClose(try network.forward(after: layer, activation: activation), logits, "logits after \(layer)")
        }
    }

    func testBatchEqualsPerImageResults() throws {
        let network = try tinyResNet(bottleneck: false, blocks: [2, 1, 1, 1], widths: [8, 16, 32, 64],
                                     weights: "resnet_basic.weights.safetensors")
        let batch = S.random([3, 3, 40, 36], seed: 31)
        let g = oneHot([1, 4, 8], classes: 10)
        let all = try network.forward(batch, recording: ["layer3"], retainForBackward: true)
        let allBack = try network.backward(g, gradientsAt: ["layer3"], inputGradient: true)
        for i in 0..<3 {
            let one = try network.forward(batch.slice(i).reshaped([1, 3, 40, 36]), recording: ["layer3"], retainForBackward: true)
            let oneBack = try network.backward(g.slice(i).reshaped([1, 10]), gradientsAt: ["layer3"], inputGradient: true)
            S.assertClose(one.logits.reshaped([10]), all.logits.slice(i), "logits of image \(i)")
            S.assertClose(one.activations["layer3"]?.slice(0), all.activations["layer3"]?.slice(i), "layer3 of image \(i)")
            S.assertClose(oneBack.gradients["layer3"]?.slice(0), allBack.gradients["layer3"]?.slice(i), "layer3 gradient \(i)")
            S.assertClose(oneBack.input?.slice(0), allBack.input?.slice(i), "input gradient \(i)")
        }
    }
}
