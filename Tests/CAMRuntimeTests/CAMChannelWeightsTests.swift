import Foundation
import XCTest
@testable import CAMRuntime

/// `CAMResult.channelWeights`: the weights of `Σ_c w_c A_c` that the engine used, kept for the
/// methods that weight channels, equal to pytorch-grad-cam's `get_cam_weights`, and exactly the
/// ones that give the map.
final class CAMChannelWeightsTests: XCTestCase {
    /// The weights that the engine keeps rebuild its map: fuse(Σ_c w_c A_c) is the result's map.
    func testKeptWeightsRebuildTheMapForEveryChannelWeightingMethod() throws {
        let (_, tensors) = try loadCAMFixture("tiny")
        let network = try TinyNetwork(parameters: tensors)
        let input = try XCTUnwrap(tensors["input"])
        let batch = input.shape[0]
        for name in ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "ScoreCAM", "AblationCAM", "FEM", "RandomCAM"] {
            for layers in [["conv2"], ["pool1", "conv2"]] {
                let result = try CAMEngine(network: network).compute(try makeCAMMethod(name, seed: 7), input: input, layers: layers,
                                                                      targets: [.index(1), .index(3)])
                XCTAssertEqual(result.channelWeights.keys.sorted(), layers.sorted(), "\(name) \(layers)")
                let recorded = try network.forward(input, recording: layers, retainForBackward: false, cancellation: nil)
                let maps = try layers.map { layer -> Tensor in
                    let a = try XCTUnwrap(recorded.activations[layer])
                    let w = try XCTUnwrap(result.channelWeights[layer])
                    XCTAssertEqual(w.shape, [batch, a.shape[1]], "\(name) \(layer)")
                    XCTAssertGreaterThan(w.storage.map(abs).max() ?? 0, 0, "\(name) \(layer): the weights are not all zero")
                    return try CAMMath.weightedMap(a, weights: w, eigenSmooth: false)
                }
                let rebuilt = CAMScaling.pytorchGradCAM.finish(CAMMath.fuse(maps, width: input.shape[3], height: input.shape[2]))
                // FEM and RandomCAM sum in float64 (as numpy does); the rebuild sums in float32.
                let tolerance: Float = ["FEM", "RandomCAM"].contains(name) ? 1e-5 : 1e-6
                XCTAssertLessThanOrEqual(rebuilt.maxAbsDifference(result.map), tolerance, "\(name) \(layers)")
            }
        }
    }

    /// The other methods keep none, and neither does augmentation smoothing (six passes).
    func testNoWeightsWhereTheMapIsNotAWeightedSum() throws {
        let (_, tensors) = try loadCAMFixture("tiny")
        let network = try TinyNetwork(parameters: tensors)
        let input = try XCTUnwrap(tensors["input"])
        for name in ["HiResCAM", "GradCAMElementWise", "LayerCAM", "EigenCAM", "EigenGradCAM", "FullGrad"] {
            let result = try CAMEngine(network: network).compute(try makeCAMMethod(name, seed: 0), input: input, layers: ["conv2"])
            XCTAssertTrue(result.channelWeights.isEmpty, name)
        }
        let smoothed = try CAMEngine(network: network).compute(GradCAM(), input: input, layers: ["conv2"], augSmooth: true)
        XCTAssertTrue(smoothed.channelWeights.isEmpty)
    }

    /// On real ResNet-18 and EfficientNet-Lite0 activations and gradients, the weights that come
    /// with the map are pytorch-grad-cam's.
    func testWeightsThatComeWithTheMapArePytorchGradCAMs() throws {
        for (stem, layer) in [("resnet18", "layer3"), ("efficientnet_lite0", "_blocks.10")] {
            let (fixture, tensors) = try loadCAMFixture(stem)
            let a = try XCTUnwrap(tensors["A|\(layer)|explicit"]), g = try XCTUnwrap(tensors["G|\(layer)|explicit"])
            let input = try XCTUnwrap(tensors["input"]), logits = try XCTUnwrap(tensors["logits"])
            let cls = try XCTUnwrap(fixture.cases.first { $0.name == "GradCAM|\(layer)|explicit|aug0|eigen0" }?.target?.classes.first)
            let context = CAMContext(network: try TinyNetwork(parameters: try loadCAMFixture("tiny").1), input: input,
                                     logits: logits, targets: [.logit(cls)])
            let capture = LayerCapture(name: layer, activations: a, gradients: g)
            for method in ["GradCAM", "GradCAMPlusPlus", "XGradCAM"] {
                let (map, weights) = try makeCAMMethod(method, seed: 0).weightedLayerMap(capture, context: context, eigenSmooth: false)
                let expected = try XCTUnwrap(tensors["weights|\(method)|\(layer)|explicit|aug0|eigen0"])
                assertRelativelyClose(try XCTUnwrap(weights), expected, "\(stem) \(method) weights")
                XCTAssertEqual(map.storage, try makeCAMMethod(method, seed: 0).layerMap(capture, context: context, eigenSmooth: false).storage)
            }
        }
    }
}
