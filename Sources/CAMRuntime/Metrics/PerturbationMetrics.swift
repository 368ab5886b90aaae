import Foundation

/// Which pixels ROAD removes first.
public enum ROADOrder: String, Sendable, CaseIterable {
    /// `ROADMostRelevantFirst`: remove the pixels the map rates highest; a faithful map makes the
    /// score drop (a more negative change is better).
    case most
    /// `ROADLeastRelevantFirst`: remove the pixels the map rates lowest; a faithful map keeps the
    /// score (a change near 0 is better).
    case least
    /// `ROADCombined`: `(least − most) / 2`, higher is better.
    case combined

    /// pytorch-grad-cam's default percentiles: 80 for `most`, 20 for `least` (one threshold
    /// each), 10, 20, …, 90 for `combined`.
    public var defaultPercentiles: [Double] {
        switch self {
        case .most: return [80]
        case .least: return [20]
        case .combined: return [10, 20, 30, 40, 50, 60, 70, 80, 90]
        }
    }

    /// Forward passes per image at the default percentiles: the unperturbed input and one
    /// perturbed image per percentile and removal order.
    public var forwardPasses: Int { 1 + defaultPercentiles.count * (self == .combined ? 2 : 1) }
}

/// How the score change of `confidence_change` is reported (pytorch-grad-cam's three classes).
public enum ConfidenceReport: String, Sendable, CaseIterable {
    /// `CamMultImageConfidenceChange`: score(x ⊙ map) − score(x).
    case change
    /// `DropInConfidence`: max(score(x) − score(x ⊙ map), 0).
    case drop
    /// `IncreaseInConfidence`: 1 when score(x ⊙ map) > score(x), else 0.
    case increase
}

/// The scores a metric measures: the ones a CAM explained, or classes asked for by the user.
public enum MetricTargets: Sendable {
    /// The targets of the CAM being measured, one per image.
    case explained([CAMTarget])
    /// Classes (one per image or one for all; nil: the top class), as logits or softmax.
    case classes([ClassTarget]?, score: CAMScore)
}

/// Faithfulness metrics that perturb the input according to a map and measure how the target's
/// score changes, as pytorch-grad-cam 1.5.7's `PerturbationConfidenceMetric` does: one forward of
/// the inputs, one of the perturbed inputs (batched), the difference of the target scores.
public struct PerturbationMetrics {
    /// The network whose scores are measured.
    public let network: CAMNetwork
    /// Perturbed images per forward pass.
    public var batchSize = 16
    /// Polled between batches and imputations.
    public var cancellation: CancellationFlag?
    /// Called with (done, total) perturbed images after each batch of a curve.
    public var progress: ((Int, Int) -> Void)?

    /// Creates the metrics for a network.
    public init(network: CAMNetwork, cancellation: CancellationFlag? = nil) {
        self.network = network
        self.cancellation = cancellation
    }

    /// pytorch-grad-cam's `CamMultImageConfidenceChange` (and `DropInConfidence`,
    /// `IncreaseInConfidence`): the input multiplied by its map, one value per image.
    ///
    /// - Parameters:
    ///   - input: the normalised batch `[B, C, H, W]`.
    ///   - maps: the maps `[B, H, W]` (in [0, 1], the input's size).
    ///   - targets: the scores measured.
    public func confidenceChange(input: Tensor, maps: Tensor, targets wanted: MetricTargets,
                                 report: ConfidenceReport = .change) throws -> [Float] {
        let b = try check(input: input, maps: maps).0
        let (targets, before) = try baseline(input, wanted)
        let after = try scores(Self.masked(input, by: maps), shape: input.shape, targets: targets, images: Array(0..<b))
        return zip(after, before).map { after, before in
            let change = after - before
            switch report {
            case .change: return change
            case .drop: return Swift.max(-change, 0)
            case .increase: return change > 0 ? 1 : 0
            }
        }
    }

    /// ROAD (Rong et al., ICML 2022) as pytorch-grad-cam 1.5.7 computes it: for each percentile,
    /// the pixels above it (`most`) or below it (`least`) are removed and filled by
    /// `LinearImputation`, and the score change is averaged over the percentiles; `combined` is
    /// `(least − most) / 2`. One value per image.
    ///
    /// - Parameters:
    ///   - percentiles: the thresholds, in percent of the map's values (`np.percentile`).
    ///   - noise: the standard deviation of the imputation's noise (pytorch-grad-cam: 0.01).
    ///   - seed: seeds numpy's generator for the noise (pytorch-grad-cam draws it from torch's).
    public func road(input: Tensor, maps: Tensor, targets wanted: MetricTargets, order: ROADOrder,
                     percentiles: [Double]? = nil, noise: Float = 0.01, seed: UInt32 = 0) throws -> [Float] {
        let (b, c, plane) = try check(input: input, maps: maps)
        let percentiles = percentiles ?? order.defaultPercentiles
        guard !percentiles.isEmpty else { throw RuntimeError("ROAD needs at least one percentile") }
        for p in percentiles where !(p >= 0 && p <= 100) {
            throw RuntimeError("a ROAD percentile is between 0 and 100, got \(p)")
        }
        let orders: [ROADOrder] = order == .combined ? [.least, .most] : [order]
        let (height, width) = (input.shape[2], input.shape[3])
        // Every perturbed image of every image, order and percentile: the masks first, then the
        // imputations (independent sparse solves, run on every core), then the noise in job
        // order from one generator, so that the result does not depend on the thread count.
        var jobs: [(image: Int, keep: [Bool])] = []
        for i in 0..<b {
            let map = Array(maps.storage[(i * plane)..<((i + 1) * plane)])
            for removal in orders {
                // RemoveLeastRelevantFirst thresholds `1 − map` (in float32) the same way.
                let ranked = removal == .most ? map : map.map { 1 - $0 }
                let sorted = ranked.sorted()
                for percent in percentiles {
                    let keep = Self.kept(ranked, percent: percent, sorted: sorted)
                    guard keep.contains(true) else {
                        throw RuntimeError("ROAD (\(removal.rawValue) relevant first) at percentile \(Self.describe(percent)) would remove every pixel of image \(i), "
                                           + "so nothing is left to impute from; use percentiles above 0 (percentiles=)")
                    }
                    jobs.append((i, keep))
                }
            }
        }
        let solved = JobResults(count: jobs.count)
        DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
            guard !solved.failed else { return }
            do {
                try cancellation?.check()
                let (i, keep) = jobs[j]
                var unused = NumpyRandomState(seed: 0)
                let image = Array(input.storage[(i * c * plane)..<((i + 1) * c * plane)])
                solved.set(j, try LinearImputation.impute(image, channels: c, height: height, width: width,
                                                          keep: keep, noise: 0, random: &unused))
            } catch {
                solved.fail(error)
            }
        }
        if let error = solved.error { throw error }
        var random = NumpyRandomState(seed: seed)
        var perturbed: [Float] = []
        perturbed.reserveCapacity(jobs.count * c * plane)
        for (j, job) in jobs.enumerated() {
            var filled = solved.items[j] ?? []
            if noise != 0, job.keep.contains(false) {
                for ch in 0..<c {
                    for p in 0..<plane where !job.keep[p] { filled[ch * plane + p] += noise * Float(random.standardNormal()) }
                }
            }
            perturbed += filled
        }
        let owners = jobs.map(\.image)
        let (targets, before) = try baseline(input, wanted)
        let after = try scores(perturbed, shape: [owners.count, c, height, width], targets: targets, images: owners)
        let count = percentiles.count
        return (0..<b).map { i -> Float in
            // Each order's mean change over the percentiles, in float32 as numpy's mean of float32.
            let means = orders.indices.map { o -> Float in
                let start = (i * orders.count + o) * count
                var sum: Float = 0
                for k in 0..<count { sum += after[start + k] - before[i] }
                return sum / Float(count)
            }
            return order == .combined ? (means[0] - means[1]) / 2 : means[0]
        }
    }

    /// The target score of each image of a `[N, C, H, W]` batch (`images[n]`: whose target), run
    /// `batchSize` at a time.
    func scores(_ storage: [Float], shape: [Int], targets: [CAMTarget], images: [Int]) throws -> [Float] {
        let per = shape[1] * shape[2] * shape[3]
        return try scores(count: images.count, channels: shape[1], height: shape[2], width: shape[3],
                          targets: { targets[images[$0]] }) { n, out in
            for k in 0..<per { out[k] = storage[n * per + k] }
        }
    }

    /// The input with each image's channels multiplied by its map (`x ⊙ M`, pytorch-grad-cam's
    /// `input_tensor * tensor_cams`), as `confidence_change` and ARCC's coherency perturb it.
    static func masked(_ input: Tensor, by maps: Tensor) -> [Float] {
        let (b, c, plane) = (input.shape[0], input.shape[1], input.shape[2] * input.shape[3])
        var out = input.storage
        for i in 0..<b {
            for ch in 0..<c {
                let base = (i * c + ch) * plane
                for p in 0..<plane { out[base + p] *= maps.storage[i * plane + p] }
            }
        }
        return out
    }

    /// The targets of the input's images and their scores on the unperturbed input.
    func baseline(_ input: Tensor, _ wanted: MetricTargets) throws -> ([CAMTarget], [Float]) {
        try cancellation?.check()
        let logits = try network.forward(input, recording: [], retainForBackward: false, cancellation: cancellation).logits
        let targets: [CAMTarget]
        switch wanted {
        case .explained(let given):
            guard given.count == input.shape[0] else {
                throw RuntimeError("a metric needs one target per image (\(input.shape[0])), got \(given.count)")
            }
            targets = given
        case .classes(let classes, let score):
            targets = try CAMEngine.targets(classes, score: score, logits: logits, classNames: network.classNames)
        }
        let k = logits.shape[1]
        let scores = targets.enumerated().map { i, target in target.score(logits.storage[(i * k)..<((i + 1) * k)]) }
        return (targets, scores)
    }

    /// The pixels ROAD keeps at `percent` of the ranked map (the rest are imputed).
    ///
    /// pytorch-grad-cam keeps the pixels strictly below `np.percentile(ranked, percent)`. When
    /// that keeps none — at least `percent` % of the map shares its smallest value, as the zeros
    /// of a ReLU'd map often do — its imputation is a singular system and its score NaN or noise;
    /// there CAMScript keeps the `percent` % lowest-ranked pixels exactly, ties in pixel order (the
    /// ranking of the ROAD paper's own code). Everywhere else the masks are pytorch-grad-cam's.
    static func kept(_ ranked: [Float], percent: Double, sorted: [Float]? = nil) -> [Bool] {
        let threshold = LinearImputation.percentile(sorted: sorted ?? ranked.sorted(), percent)
        let keep = ranked.map { $0 < threshold }
        if keep.contains(true) { return keep }
        let count = Int((Double(ranked.count) * percent / 100).rounded())
        var fallback = [Bool](repeating: false, count: ranked.count)
        for index in ranked.indices.sorted(by: { ranked[$0] != ranked[$1] ? ranked[$0] < ranked[$1] : $0 < $1 }).prefix(count) {
            fallback[index] = true
        }
        return fallback
    }

    /// `80` for 80.0, `33.3` for 33.3.
    static func describe(_ percent: Double) -> String {
        percent == percent.rounded() && abs(percent) < 1e15 ? String(Int(percent)) : String(percent)
    }

    /// (B, C, H·W) after checking that the maps fit the input.
    func check(input: Tensor, maps: Tensor) throws -> (Int, Int, Int) {
        guard input.rank == 4 else { throw RuntimeError("a metric needs an input batch [N, C, H, W], got \(input.shape)") }
        let (b, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        guard maps.shape == [b, h, w] else {
            throw RuntimeError("the map is \(maps.shape.map(String.init).joined(separator: "×")) but the input needs \(b)×\(h)×\(w) (one \(h)×\(w) map per image)")
        }
        return (b, c, h * w)
    }
}

/// The imputed images of concurrent jobs, and the first error one of them threw.
private final class JobResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var items: [[Float]?]
    private(set) var error: Error?

    init(count: Int) { items = Array(repeating: nil, count: count) }

    /// Whether a job has failed (the others then stop early).
    var failed: Bool { lock.withLock { error != nil } }

    func set(_ index: Int, _ value: [Float]) { lock.withLock { items[index] = value } }

    func fail(_ error: Error) { lock.withLock { if self.error == nil { self.error = error } } }
}
