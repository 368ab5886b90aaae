import Foundation
import XCTest
@testable import CAMRuntime

/// A stand-in for ResNet-50 at 224×224 whose forward and backward cost nothing, so that the
/// time measured is CAMScript's own work around the network (weights, maps, resizes, masks).
private final class InstantNetwork: CAMNetwork {
    let activation: Tensor, gradient: Tensor
    let biasShapes: [(Int, Int)]
    var classNames: [String] { ImageNetClasses.names }
    var defaultTargetLayer: String { "layer4" }
    let biasLayers: [(path: String, bias: Tensor)]

    init() {
        var rng = NumpyRandomState(seed: 5)
        activation = Tensor(shape: [1, 2048, 7, 7], storage: (0..<(2048 * 49)).map { _ in Float(rng.uniform(0, 2)) })
        gradient = Tensor(shape: [1, 2048, 7, 7], storage: (0..<(2048 * 49)).map { _ in Float(rng.uniform(-1e-3, 1e-3)) })
        // ResNet-50's BatchNorm layers (channels, side) at 224×224 input.
        var shapes: [(Int, Int)] = [(64, 112)]
        for (blocks, width, side, firstSide) in [(3, 64, 56, 56), (4, 128, 28, 56), (6, 256, 14, 28), (3, 512, 7, 14)] {
            for block in 0..<blocks {
                shapes += [(width, block == 0 ? firstSide : side), (width, side), (width * 4, side)]
                if block == 0 { shapes.append((width * 4, side)) }
            }
        }
        biasShapes = shapes
        biasLayers = shapes.enumerated().map { i, s in ("bn\(i)", Tensor(shape: [s.0], repeating: 0.1)) }
    }

    func forward(_ input: Tensor, recording: [String], retainForBackward: Bool,
                 cancellation: CancellationFlag?) throws -> ForwardResult {
        let n = input.shape[0]
        var logits = Tensor(shape: [n, 1000])
        for i in 0..<n { logits.storage[i * 1000 + 281] = 1 + Float(i % 7) }
        var acts: [String: Tensor] = [:]
        for r in recording { acts[r] = activation }
        return ForwardResult(logits: logits, activations: acts)
    }

    func backward(_ logitsGradient: Tensor, gradientsAt: [String], inputGradient: Bool,
                  reluMode: ReLUBackwardMode) throws -> BackwardResult {
        var result = BackwardResult(gradients: [:], input: inputGradient ? Tensor(shape: [1, 3, 224, 224], repeating: 1e-3) : nil)
        for name in gradientsAt {
            if name == "layer4" { result.gradients[name] = gradient; continue }
            guard let i = Int(name.dropFirst(2)) else { continue }
            let (c, s) = biasShapes[i]
            result.gradients[name] = Tensor(shape: [1, c, s, s], storage: (0..<(c * s * s)).map { Float($0 % 13) * 1e-4 })
        }
        return result
    }

    func forward(after layer: String, activation: Tensor, cancellation: CancellationFlag?) throws -> Tensor {
        Tensor(shape: [activation.shape[0], 1000], repeating: 0.5)
    }

    func resolveLayer(_ path: String) throws -> String { path }
}

/// Overhead of the CAM pipeline per 224×224 image, excluding the network (set CAM_BENCH=1;
/// meaningful in release: `swift test -c release --filter CAMOverheadBenchmarks`).
final class CAMOverheadBenchmarks: XCTestCase {
    func testPipelineOverheadPerImage() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["CAM_BENCH"] == "1", "set CAM_BENCH=1 to run")
        let net = InstantNetwork()
        let engine = CAMEngine(network: net)
        let input = Tensor(shape: [1, 3, 224, 224], repeating: 0.5)
        let methods: [(String, CAMMethod, Double)] = [("GradCAM", GradCAM(), 20), ("EigenCAM", EigenCAM(), 30),
                                                      ("ScoreCAM", ScoreCAM(), 3000), ("AblationCAM", AblationCAM(), 1000),
                                                      ("FullGrad", FullGrad(), 1000)]
        for (name, method, bound) in methods {
            _ = try engine.compute(method, input: input, layers: ["layer4"])
            let start = Date()
            let runs = name == "ScoreCAM" || name == "FullGrad" || name == "AblationCAM" ? 1 : 10
            for _ in 0..<runs { _ = try engine.compute(method, input: input, layers: ["layer4"]) }
            let ms = Date().timeIntervalSince(start) * 1000 / Double(runs)
            print(String(format: "CAM overhead %@: %.1f ms", name, ms))
            XCTAssertLessThan(ms, bound, name)
        }
    }
}
