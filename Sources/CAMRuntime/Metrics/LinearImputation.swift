/// ROAD's noisy linear imputation (Rong et al., "A Consistent and Efficient Evaluation Strategy
/// for Attribution Methods", ICML 2022, §4; pytorch-grad-cam's `NoisyLinearImputer`): each removed
/// pixel becomes the weighted mean of its 8 neighbours (1/6 for the 4 sides, 1/12 for the 4
/// corners, over the neighbours inside the image), kept or imputed alike — one sparse linear
/// system per image, shared by its channels — plus Gaussian noise.
public enum LinearImputation {
    /// (row offset, column offset, weight) of the neighbours, in pytorch-grad-cam's order.
    static let neighbours: [(dy: Int, dx: Int, weight: Double)] = [
        (1, 1, 1.0 / 12), (0, 1, 1.0 / 6), (-1, 1, 1.0 / 12), (1, -1, 1.0 / 12),
        (0, -1, 1.0 / 6), (-1, -1, 1.0 / 12), (1, 0, 1.0 / 6), (-1, 0, 1.0 / 6),
    ]

    /// The image `[C, H, W]` (channel planes in `image`) with every pixel where `keep` is false
    /// replaced by the solution of the imputation system (rounded to float32) plus
    /// `noise · N(0, 1)`, drawn from `random` in channel-major order.
    ///
    /// The system, for removed pixel i with in-image neighbours N(i):
    /// `(Σ_{j∈N(i)} w_j) x_i − Σ_{j∈N(i) removed} w_j x_j = Σ_{j∈N(i) kept} w_j v_j`, which is
    /// pytorch-grad-cam's `A x = b` with both sides negated, so that the matrix is symmetric positive
    /// definite whenever every removed region touches a kept pixel.
    public static func impute(_ image: [Float], channels: Int, height: Int, width: Int, keep: [Bool],
                              noise: Float, random: inout NumpyRandomState) throws -> [Float] {
        let plane = height * width
        precondition(image.count == channels * plane && keep.count == plane, "image \(image.count) / mask \(keep.count) for \(channels)×\(height)×\(width)")
        var unknownIndex = [Int](repeating: -1, count: plane)
        var unknowns: [Int] = []
        for p in 0..<plane where !keep[p] {
            unknownIndex[p] = unknowns.count
            unknowns.append(p)
        }
        guard !unknowns.isEmpty else { return image }
        guard unknowns.count < plane else {
            throw RuntimeError("the imputation removes every pixel of the image, so there is nothing to impute from (is the map constant?)")
        }
        let n = unknowns.count
        var system = SparseSymmetricSystem(order: n)
        var rhs = [Double](repeating: 0, count: n * channels)
        var entries: [(row: Int, value: Double)] = []
        for (column, p) in unknowns.enumerated() {
            let (y, x) = (p / width, p % width)
            var diagonal: Double = 0
            entries.removeAll(keepingCapacity: true)
            for neighbour in neighbours {
                let (ny, nx) = (y + neighbour.dy, x + neighbour.dx)
                guard ny >= 0, nx >= 0, ny < height, nx < width else { continue }
                diagonal += neighbour.weight
                let q = ny * width + nx
                if keep[q] {
                    for c in 0..<channels { rhs[c * n + column] += neighbour.weight * Double(image[c * plane + q]) }
                } else if unknownIndex[q] > column {
                    entries.append((unknownIndex[q], -neighbour.weight))
                }
            }
            entries.append((column, diagonal))
            system.appendColumn(entries)
        }
        let solution = try system.solve(rhs, columns: channels)
        var filled = image
        for c in 0..<channels {
            for (k, p) in unknowns.enumerated() {
                filled[c * plane + p] = Float(solution[c * n + k]) + (noise == 0 ? 0 : noise * Float(random.standardNormal()))
            }
        }
        return filled
    }

    /// numpy's `np.percentile(values, q)` (method "linear") of float32 values, bit for bit: the
    /// virtual index `n·q + (1 − q) − 1` in float64, and numpy's two-sided float32 interpolation.
    public static func percentile(_ values: [Float], _ percent: Double) -> Float {
        percentile(sorted: values.sorted(), percent)
    }

    /// `percentile` of values already sorted ascending (one sort serves every percentile).
    static func percentile(sorted: [Float], _ percent: Double) -> Float {
        guard !sorted.isEmpty else { return .nan }
        let n = sorted.count
        let q = percent / 100
        let virtual = Double(n) * q + (1 + q * (1 - 1 - 1)) - 1
        let floorIndex = virtual.rounded(.down)
        let lower = Swift.max(0, Swift.min(n - 1, Int(floorIndex)))
        let upper = Swift.min(lower + 1, n - 1)
        let gamma = virtual - floorIndex
        let (a, b) = (sorted[lower], sorted[upper])
        let difference = b - a
        if gamma >= 0.5 { return b - difference * Float(1 - gamma) }
        return a + difference * Float(gamma)
    }
}
