import Foundation

/// ARCC's three parts and their combination for one map.
public struct ARCCScore: Sendable, Equatable {
    /// The harmonic mean of coherency, 1 − complexity and the scaled ROAD: higher is better.
    public var arcc: Float
    /// The mean absolute value of the map (0: empty, 1: everywhere).
    public var complexity: Float
    /// `(ρ + 1) / 2`, ρ the Pearson correlation of the map with the map of the input masked by it.
    public var coherency: Float
    /// ROAD combined at ARCC's percentiles, before it is scaled to 0…1.
    public var road: Float

    /// Creates a score.
    public init(arcc: Float, complexity: Float, coherency: Float, road: Float) {
        self.arcc = arcc
        self.complexity = complexity
        self.coherency = coherency
        self.road = road
    }
}

extension PerturbationMetrics {
    /// ARCC's default ROAD percentiles.
    public static let arccPercentiles: [Double] = [20, 40, 60, 80]

    /// ARCC as pytorch-grad-cam 1.5.7's `metrics/arcc.py` computes it: Complexity (the map's
    /// mean |value|), Coherency (the map recomputed by the same method on the input multiplied by
    /// the map, Pearson-correlated with the map and mapped to 0…1), and ROAD combined at
    /// `percentiles` scaled by 2 and clipped to 0…1, combined as
    /// `3 / (1/(coherency + ε) + 1/(1 − complexity + ε) + 1/(road + ε))`, ε = 1e-8.
    ///
    /// - Parameter recompute: the CAM method's maps `[B, H, W]` of a batch, with the same layers
    ///   and targets as `maps` (pytorch-grad-cam's `base_method`).
    public func arcc(input: Tensor, maps: Tensor, targets wanted: MetricTargets, recompute: (Tensor) throws -> Tensor,
                     percentiles: [Double] = PerturbationMetrics.arccPercentiles, noise: Float = 0.01,
                     seed: UInt32 = 0) throws -> [ARCCScore] {
        let (b, _, plane) = try check(input: input, maps: maps)
        try cancellation?.check()
        let again = try recompute(Tensor(shape: input.shape, storage: Self.masked(input, by: maps)))
        guard again.shape == maps.shape else {
            throw RuntimeError("ARCC's recomputed maps are \(again.shape), not \(maps.shape)")
        }
        let roads = try road(input: input, maps: maps, targets: wanted, order: .combined, percentiles: percentiles,
                             noise: noise, seed: seed)
        let epsilon: Float = 1e-8
        return (0..<b).map { i in
            let map = maps.storage[(i * plane)..<((i + 1) * plane)]
            let complexity = Self.complexity(map)
            let coherency = (Self.pearson(again.storage[(i * plane)..<((i + 1) * plane)], map) + 1) / 2
            let scaled = Swift.min(Swift.max(roads[i] * 2, 0), 1)
            let arcc = 3 / (1 / (coherency + epsilon) + 1 / ((1 - complexity) + epsilon) + 1 / (scaled + epsilon))
            return ARCCScore(arcc: arcc, complexity: complexity, coherency: coherency, road: roads[i])
        }
    }

    /// pytorch-grad-cam's `Complexity`: the L1 norm of the map over its pixel count.
    static func complexity(_ map: ArraySlice<Float>) -> Float {
        var sum = 0.0
        for v in map { sum += Double(abs(v)) }
        return Float(sum / Double(Swift.max(map.count, 1)))
    }

    /// pytorch-grad-cam's `batch_pearson_coherency` for one pair: the covariance over the product
    /// of the standard deviations (both with n − 1) plus 1e-8; 0 for a constant map.
    static func pearson(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        let n = Double(a.count)
        guard a.count == b.count, a.count > 1 else { return 0 }
        let meanA = a.reduce(0.0) { $0 + Double($1) } / n
        let meanB = b.reduce(0.0) { $0 + Double($1) } / n
        var covariance = 0.0, varianceA = 0.0, varianceB = 0.0
        for (x, y) in zip(a, b) {
            let (dx, dy) = (Double(x) - meanA, Double(y) - meanB)
            covariance += dx * dy
            varianceA += dx * dx
            varianceB += dy * dy
        }
        let scale = n - 1
        return Float((covariance / scale) / ((varianceA / scale).squareRoot() * (varianceB / scale).squareRoot() + 1e-8))
    }
}

extension CAMEngine {
    /// The maps of `result`'s method (at its default options), layers and targets for another
    /// input batch of the same size: what ARCC's coherency recomputes on the masked image.
    public func recompute(_ result: CAMResult, on input: Tensor, cancellation: CancellationFlag? = nil) throws -> Tensor {
        let info = try CAMMethods.info(named: result.method)
        let softmax = result.targets.contains { if case .softmax = $0 { return true } else { return false } }
        let again = try compute(info.make(CAMOptionValues()), input: input, layers: info.usesLayers ? result.layers : nil,
                                targets: result.targets.map { .index($0.classIndex) }, score: softmax ? .softmax : .logit,
                                cancellation: cancellation)
        return again.map
    }
}
