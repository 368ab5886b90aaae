import Foundation

/// Which way a perturbation curve goes: pixels taken away, or put back.
public enum CurveKind: String, Sendable, CaseIterable {
    /// Deletion (RISE): the most relevant pixels are replaced by the baseline first; a faithful
    /// map makes the score fall fast (a low AUC is better).
    case deletion
    /// Insertion (RISE): starting from the baseline, the most relevant pixels are restored
    /// first; a faithful map makes the score rise fast (a high AUC is better).
    case insertion

    /// Whether a higher AUC means a more faithful map.
    public var higherIsBetter: Bool { self == .insertion }
}

/// Whose definition of the curve and of its area is used; they differ in what is perturbed,
/// where the curve starts, and what the AUC's x axis is.
public enum CurveDefinition: String, Sendable, CaseIterable {
    /// TorchCAM 0.5.0's `DeletionInsertionMetric`: positions (a pixel in every channel at once)
    /// ranked by the map, ties in pixel order; `steps` intervals of ⌈HW / steps⌉ positions; the
    /// curve has `steps + 1` points from the unperturbed (deletion) or fully perturbed
    /// (insertion) input; the AUC is the trapezoid rule over the perturbed fraction (0 to 1).
    case torchcam
    /// Quantus 0.6's `PixelFlipping` (deletion only): features (each channel of each pixel)
    /// ranked by the map broadcast over the channels; ⌈CHW / steps⌉ features per step; the curve
    /// has one point after each step and none for the unperturbed input; the AUC is
    /// `np.trapz` with a spacing of 1 (it grows with the number of steps).
    case quantus
}

/// What the removed pixels become.
public enum CurveBaseline: String, Sendable, CaseIterable {
    /// Zeros of the normalised input — the dataset's mean colour (TorchCAM's default).
    case zero
    /// The image blurred by RISE's Gaussian: an 11 × 11 kernel of σ = 5 per channel, zero padded
    /// (RISE's insertion substrate).
    case blur
    /// The image's smallest value over all channels (Quantus' `"black"`).
    case black
    /// The image's mean value over all channels (Quantus' `"mean"`).
    case mean
}

/// One deletion or insertion curve of one image: where it was measured and its area.
public struct PerturbationCurve: Sendable, Equatable {
    /// Deletion or insertion.
    public var kind: CurveKind
    /// The share of the image perturbed at each point, 0 to 1.
    public var fractions: [Float]
    /// The target's score at each point.
    public var scores: [Float]
    /// The area under the curve, as `definition` defines it.
    public var auc: Float

    /// Creates a curve.
    public init(kind: CurveKind, fractions: [Float], scores: [Float], auc: Float) {
        self.kind = kind
        self.fractions = fractions
        self.scores = scores
        self.auc = auc
    }
}

extension PerturbationMetrics {
    /// Deletion and insertion curves (Petsiuk et al., RISE, BMVC 2018) as TorchCAM 0.5.0's
    /// `DeletionInsertionMetric` computes them: positions ranked by the map (highest first, ties
    /// in pixel order), `steps` intervals of ⌈HW / steps⌉ positions, the trapezoid AUC over the
    /// perturbed fraction. The perturbed images of every curve run as batches of `batchSize`,
    /// and the all-baseline image is scored once for both curves.
    ///
    /// - Returns: for each image, one curve per entry of `kinds`, in that order.
    public func curves(input: Tensor, maps: Tensor, targets wanted: MetricTargets, kinds: [CurveKind],
                       steps: Int, baseline: CurveBaseline) throws -> [[PerturbationCurve]] {
        let (b, c, plane) = try checkCurves(input: input, maps: maps, steps: steps)
        guard !kinds.isEmpty else { throw RuntimeError("a curve metric needs deletion, insertion or both") }
        let stepSize = (plane + steps - 1) / steps
        let counts = Array(stride(from: 0, to: plane, by: stepSize)) + [plane]
        let fractions = counts.map { Float($0) / Float(plane) }
        let base = try Self.substitutes(baseline, for: input)
        let ranks: [[Int32]] = (0..<b).map { i in
            Self.ranks(maps.storage[(i * plane)..<((i + 1) * plane)])
        }
        // The jobs: per image, the all-baseline input, then each interior point of each kind.
        struct Job { var image: Int; var kind: CurveKind?; var count: Int }
        var jobs: [Job] = []
        for i in 0..<b {
            jobs.append(Job(image: i, kind: nil, count: plane))
            for count in counts.dropFirst().dropLast() {
                for kind in kinds { jobs.append(Job(image: i, kind: kind, count: count)) }
            }
        }
        let (targets, before) = try self.baseline(input, wanted)
        let per = c * plane
        let after = try scores(count: jobs.count, channels: c, height: input.shape[2], width: input.shape[3],
                               targets: { targets[jobs[$0].image] }) { j, out in
            let job = jobs[j]
            let rank = ranks[job.image]
            let source = input.storage[(job.image * per)..<((job.image + 1) * per)]
            let substitute = base[(job.image * per)..<((job.image + 1) * per)]
            // Deletion keeps the original where the rank is at or past the count; insertion
            // keeps it where the rank is below (the all-baseline image keeps it nowhere).
            let insertion = job.kind == .insertion
            for ch in 0..<c {
                let offset = ch * plane
                for p in 0..<plane {
                    let original = (rank[p] < job.count) == insertion
                    out[offset + p] = original ? source[source.startIndex + offset + p] : substitute[substitute.startIndex + offset + p]
                }
            }
        }
        var results: [[PerturbationCurve]] = []
        var cursor = 0
        for i in 0..<b {
            let empty = after[cursor]
            cursor += 1
            var interior: [CurveKind: [Float]] = [:]
            for _ in counts.dropFirst().dropLast() {
                for kind in kinds {
                    interior[kind, default: []].append(after[cursor])
                    cursor += 1
                }
            }
            results.append(kinds.map { kind -> PerturbationCurve in
                let middle: [Float] = interior[kind] ?? []
                let (first, last): (Float, Float) = kind == .deletion ? (before[i], empty) : (empty, before[i])
                let points: [Float] = [first] + middle + [last]
                return PerturbationCurve(kind: kind, fractions: fractions, scores: points,
                                         auc: Self.trapezoid(points, fractions))
            })
        }
        return results
    }

    /// Quantus 0.6's `PixelFlipping`: features (channel × pixel) ranked by the map broadcast over
    /// the channels, highest first (ties in feature order, where Quantus' unstable argsort has
    /// none), ⌈CHW / steps⌉ of them replaced by the baseline at each step, the score after each
    /// step, and `np.trapz` with unit spacing as the AUC.
    public func pixelFlipping(input: Tensor, maps: Tensor, targets wanted: MetricTargets, steps: Int,
                              baseline: CurveBaseline) throws -> [PerturbationCurve] {
        let (b, c, plane) = try checkCurves(input: input, maps: maps, steps: steps)
        let features = c * plane
        let perStep = (features + steps - 1) / steps
        let points = (features + perStep - 1) / perStep
        let base = try Self.substitutes(baseline, for: input)
        let orders: [[Int]] = (0..<b).map { i in
            let map = maps.storage[(i * plane)..<((i + 1) * plane)]
            return (0..<features).sorted { f, g in
                let (u, v) = (map[map.startIndex + f % plane], map[map.startIndex + g % plane])
                return u != v ? u > v : f < g
            }
        }
        // Position of each feature in its image's order: a feature is flipped after step s
        // when its position is below (s + 1) · perStep.
        let positions: [[Int32]] = orders.map { order in
            var position = [Int32](repeating: 0, count: features)
            for (k, f) in order.enumerated() { position[f] = Int32(k) }
            return position
        }
        let (targets, _) = try self.baseline(input, wanted)
        let after = try scores(count: b * points, channels: c, height: input.shape[2], width: input.shape[3],
                               targets: { targets[$0 / points] }) { j, out in
            let (i, step) = (j / points, j % points)
            let limit = Int32(Swift.min((step + 1) * perStep, features))
            let position = positions[i]
            for f in 0..<features {
                out[f] = position[f] < limit ? base[i * features + f] : input.storage[i * features + f]
            }
        }
        let fractions = (0..<points).map { Float(Swift.min(($0 + 1) * perStep, features)) / Float(features) }
        return (0..<b).map { i in
            let curve = Array(after[(i * points)..<((i + 1) * points)])
            var auc: Float = 0
            for k in 1..<Swift.max(curve.count, 1) { auc += (curve[k - 1] + curve[k]) / 2 }
            return PerturbationCurve(kind: .deletion, fractions: fractions, scores: curve, auc: auc)
        }
    }

    /// Forward passes per image of `curves` for `kinds` at `steps`: the unperturbed and the
    /// all-baseline images, and each interior point of each curve.
    public static func curvePasses(kinds: Int, steps: Int, positions: Int) -> Int {
        let stepSize = (positions + steps - 1) / Swift.max(steps, 1)
        let interior = (positions + stepSize - 1) / Swift.max(stepSize, 1) - 1
        return 2 + kinds * Swift.max(interior, 0)
    }

    /// The target score of `count` generated images, `batchSize` at a time: `fill(j, &image)`
    /// writes image `j` (`[C, H, W]`), `targets(j)` is what is measured on it. Only one batch is
    /// in memory at a time, so a curve of hundreds of points stays small.
    func scores(count: Int, channels: Int, height: Int, width: Int, targets: (Int) -> CAMTarget,
                fill: (Int, inout UnsafeMutableBufferPointer<Float>) -> Void) throws -> [Float] {
        let per = channels * height * width
        var out: [Float] = []
        out.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: batchSize) {
            try cancellation?.check()
            let n = Swift.min(batchSize, count - start)
            var storage = [Float](repeating: 0, count: n * per)
            storage.withUnsafeMutableBufferPointer { all in
                for row in 0..<n {
                    guard let base = all.baseAddress else { return }
                    var image = UnsafeMutableBufferPointer(start: base + row * per, count: per)
                    fill(start + row, &image)
                }
            }
            let logits = try network.forward(Tensor(shape: [n, channels, height, width], storage: storage),
                                             recording: [], retainForBackward: false, cancellation: cancellation).logits
            let k = logits.shape[1]
            for row in 0..<n {
                out.append(targets(start + row).score(logits.storage[(row * k)..<((row + 1) * k)]))
            }
            progress?(start + n, count)
        }
        return out
    }

    /// Each position's rank when the map is sorted from highest to lowest, ties in position
    /// order (`argsort(argsort(-map, stable))`).
    static func ranks(_ map: ArraySlice<Float>) -> [Int32] {
        let order = map.indices.sorted { p, q in map[p] != map[q] ? map[p] > map[q] : p < q }
        var rank = [Int32](repeating: 0, count: map.count)
        for (k, p) in order.enumerated() { rank[p - map.startIndex] = Int32(k) }
        return rank
    }

    /// `torch.trapezoid(y, x)` in float32.
    static func trapezoid(_ y: [Float], _ x: [Float]) -> Float {
        var sum: Float = 0
        for k in 1..<Swift.max(y.count, 1) { sum += (x[k] - x[k - 1]) * (y[k] + y[k - 1]) }
        return sum / 2
    }

    /// The baseline images `[B, C, H, W]` of a batch.
    static func substitutes(_ kind: CurveBaseline, for input: Tensor) throws -> [Float] {
        let per = input.shape[1] * input.shape[2] * input.shape[3]
        switch kind {
        case .zero:
            return [Float](repeating: 0, count: input.count)
        case .black, .mean:
            var out = [Float](repeating: 0, count: input.count)
            for i in 0..<input.shape[0] {
                let image = input.storage[(i * per)..<((i + 1) * per)]
                let value: Float
                if kind == .black {
                    value = image.min() ?? 0
                } else {
                    var sum = 0.0
                    for v in image { sum += Double(v) }
                    value = Float(sum / Double(Swift.max(per, 1)))
                }
                for k in 0..<per { out[i * per + k] = value }
            }
            return out
        case .blur:
            return riseBlur(input)
        }
    }

    /// RISE's blur: each channel convolved with the 11 × 11 kernel `gkern(11, 5)` — scipy's
    /// `gaussian_filter(σ = 5)` of a centred impulse (a Gaussian of radius 20 folded back by
    /// half-sample reflection) — with zero padding of 5.
    static func riseBlur(_ input: Tensor) -> [Float] {
        let (b, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let kernel = riseKernel()
        let size = kernel.count, radius = kernel.count / 2
        var out = [Float](repeating: 0, count: input.count)
        for plane in 0..<(b * c) {
            let offset = plane * h * w
            for y in 0..<h {
                for x in 0..<w {
                    var sum: Float = 0
                    for ky in 0..<size {
                        let sy = y + ky - radius
                        if sy < 0 || sy >= h { continue }
                        for kx in 0..<size {
                            let sx = x + kx - radius
                            if sx < 0 || sx >= w { continue }
                            sum += kernel[ky][kx] * input.storage[offset + sy * w + sx]
                        }
                    }
                    out[offset + y * w + x] = sum
                }
            }
        }
        return out
    }

    /// The 11 × 11 kernel of RISE's `gkern(11, 5)`, in float32 as RISE stores it.
    static func riseKernel(length: Int = 11, sigma: Double = 5) -> [[Float]] {
        // scipy's gaussian_filter1d: weights exp(−k²/2σ²) for |k| ≤ 4σ, normalised, applied
        // with mode "reflect" (… c b a | a b c … ), once per axis of the impulse.
        let truncate = Int(4 * sigma + 0.5)
        var weights = (-truncate...truncate).map { k in exp(-0.5 * Double(k * k) / (sigma * sigma)) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        let centre = length / 2
        let period = 2 * length
        var line = [Double](repeating: 0, count: length)
        for i in 0..<length {
            for (n, k) in (-truncate...truncate).enumerated() {
                var j = (i + k) % period
                if j < 0 { j += period }
                if j >= length { j = period - 1 - j }
                if j == centre { line[i] += weights[n] }
            }
        }
        return line.map { a in line.map { b in Float(a * b) } }
    }

    /// (B, C, H·W) after checking the maps and the step count.
    private func checkCurves(input: Tensor, maps: Tensor, steps: Int) throws -> (Int, Int, Int) {
        let (b, c, plane) = try check(input: input, maps: maps)
        guard steps >= 1, steps <= plane else {
            throw RuntimeError("a curve has between 1 and \(plane) steps (one per pixel of the \(input.shape[3])×\(input.shape[2]) image), got \(steps)")
        }
        return (b, c, plane)
    }
}
