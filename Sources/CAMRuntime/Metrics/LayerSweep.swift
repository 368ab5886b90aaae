import Foundation

/// "Which layer?": one CAM per layer, each measured by a faithfulness metric, the best named.
///
/// pytorch-grad-cam leaves the target layer to the user (its most asked question, #8, #20,
/// #43, #140, #153, #513); a sweep answers it the way a careful user would by hand: the same
/// method and target at every candidate layer, each map scored on the same images by the same
/// metric, averaged over the batch. The metric is a closure so that any of them (ROAD,
/// confidence change) can rank the layers.
public struct LayerSweep {
    /// The layers compared, in forward order.
    public let layers: [String]
    /// Each layer's CAM.
    public let results: [CAMResult]
    /// Each layer's metric, averaged over the images.
    public let scores: [Float]
    /// The index of the best score (the first of equal ones).
    public let best: Int

    /// The layers a sweep compares by default: paths that end in a block number with no other
    /// number before it (`layer1.0`, `_blocks.7`, `features.3`) and whose output for `first` is a
    /// grid above 1×1 (or more than one token), in forward order.
    public static func defaultLayers(of network: Network, for first: Tensor,
                                     cancellation: CancellationFlag? = nil) throws -> [String] {
        let candidates = network.layerNames.filter { path in
            let parts = path.split(separator: ".")
            guard let last = parts.last, last.allSatisfy(\.isNumber) else { return false }
            return parts.dropLast().allSatisfy { !$0.allSatisfy(\.isNumber) }
        }
        guard !candidates.isEmpty else { return [] }
        let outputs = try network.forward(first, recording: candidates, cancellation: cancellation).activations
        return candidates.filter { path in
            guard let a = outputs[path] else { return false }
            if a.rank == 4 { return a.shape[2] * a.shape[3] > 1 }
            if a.rank == 3 { return a.shape[1] > 1 }
            return false
        }
    }

    /// Runs the sweep.
    /// - Parameters:
    ///   - method: makes a fresh method for each layer (methods may keep per-run state).
    ///   - measure: the metric of one layer's CAM, one value per image.
    ///   - higherIsBetter: which way `measure` ranks.
    ///   - work: checks each CAM's planned work against the caller's ceiling.
    ///   - progress: called with (layers done, layers) after each layer.
    public init(network: Network, input: Tensor, layers: [String], method: () -> any CAMMethod,
                targets: [ClassTarget]?, score: CAMScore, higherIsBetter: Bool,
                cancellation: CancellationFlag? = nil, work: ((CAMWork) throws -> Void)? = nil,
                progress: ((Int, Int) -> Void)? = nil,
                measure: (CAMResult) throws -> [Float]) throws {
        guard !layers.isEmpty else { throw RuntimeError("a sweep needs at least one layer") }
        let engine = CAMEngine(network: network)
        var results: [CAMResult] = []
        var scores: [Float] = []
        for (index, layer) in layers.enumerated() {
            try cancellation?.check()
            let result = try engine.compute(method(), input: input, layers: [layer], targets: targets, score: score,
                                            cancellation: cancellation, work: work)
            let values = try measure(result)
            guard !values.isEmpty else { throw RuntimeError("the metric gave no value for layer \(layer)") }
            scores.append(values.reduce(0, +) / Float(values.count))
            results.append(result)
            progress?(index + 1, layers.count)
        }
        var best = 0
        for i in scores.indices where higherIsBetter ? scores[i] > scores[best] : scores[i] < scores[best] { best = i }
        self.layers = layers
        self.results = results
        self.scores = scores
        self.best = best
    }
}
