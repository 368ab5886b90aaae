import Foundation

/// How alike two maps are, as the sanity checks of Adebayo et al. (NeurIPS 2018) measure it: rank
/// correlation, structural similarity and the correlation of their gradient histograms.
public enum MapSimilarity {
    /// Spearman's rank correlation as `scipy.stats.spearmanr` computes it: the Pearson
    /// correlation of the values' ranks, ties given their average rank; 0 when either map is
    /// constant (scipy returns NaN there).
    public static func spearman(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count, a.count > 1 else { return 0 }
        return pearson(ranks(a), ranks(b))
    }

    /// The Pearson correlation of two equally long vectors, in double precision; 0 when either
    /// is constant.
    public static func pearson(_ a: [Double], _ b: [Double]) -> Float {
        let n = Double(a.count)
        guard a.count == b.count, a.count > 1 else { return 0 }
        let meanA = a.reduce(0, +) / n, meanB = b.reduce(0, +) / n
        var covariance = 0.0, varianceA = 0.0, varianceB = 0.0
        for (x, y) in zip(a, b) {
            covariance += (x - meanA) * (y - meanB)
            varianceA += (x - meanA) * (x - meanA)
            varianceB += (y - meanB) * (y - meanB)
        }
        guard varianceA > 0, varianceB > 0 else { return 0 }
        return Float(covariance / (varianceA * varianceB).squareRoot())
    }

    /// The 1-based ranks of the values, ties averaged (`scipy.stats.rankdata`'s "average").
    static func ranks(_ values: [Float]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, values[order[end + 1]] == values[order[start]] { end += 1 }
            let average = Double(start + end) / 2 + 1
            for k in start...end { ranks[order[k]] = average }
            start = end + 1
        }
        return ranks
    }

    /// The mean structural similarity as scikit-image's `structural_similarity` computes it with
    /// its defaults (a 7 × 7 uniform window with reflected edges, K1 = 0.01, K2 = 0.03, sample
    /// covariances, the border of 3 pixels left out of the mean) and Quantus' data range
    /// (the larger maximum minus the smaller minimum of the two maps).
    public static func ssim(_ a: [Float], _ b: [Float], width: Int, height: Int) -> Float {
        precondition(a.count == width * height && b.count == a.count, "ssim of \(a.count) and \(b.count) values for \(width)×\(height)")
        let window = 7, pad = 3
        guard width >= window, height >= window else { return a == b ? 1 : 0 }
        let range = Double(max(a.max() ?? 0, b.max() ?? 0) - min(a.min() ?? 0, b.min() ?? 0))
        let x = a.map(Double.init), y = b.map(Double.init)
        let filter = { (values: [Double]) in uniformFilter(values, width: width, height: height, size: window) }
        let ux = filter(x), uy = filter(y)
        let uxx = filter(x.map { $0 * $0 }), uyy = filter(y.map { $0 * $0 }), uxy = filter(zip(x, y).map { $0 * $1 })
        let points = Double(window * window)
        let norm = points / (points - 1)
        let c1 = (0.01 * range) * (0.01 * range), c2 = (0.03 * range) * (0.03 * range)
        var sum = 0.0
        for row in pad..<(height - pad) {
            for column in pad..<(width - pad) {
                let k = row * width + column
                let vx = norm * (uxx[k] - ux[k] * ux[k]), vy = norm * (uyy[k] - uy[k] * uy[k])
                let vxy = norm * (uxy[k] - ux[k] * uy[k])
                let numerator = (2 * ux[k] * uy[k] + c1) * (2 * vxy + c2)
                let denominator = (ux[k] * ux[k] + uy[k] * uy[k] + c1) * (vx + vy + c2)
                sum += numerator / denominator
            }
        }
        return Float(sum / Double((height - 2 * pad) * (width - 2 * pad)))
    }

    /// `scipy.ndimage.uniform_filter(size=size)` with its default "reflect" edges (… c b a | a b c …).
    static func uniformFilter(_ values: [Double], width: Int, height: Int, size: Int) -> [Double] {
        let before = size / 2
        func reflect(_ i: Int, _ n: Int) -> Int {
            let period = 2 * n
            var j = i % period
            if j < 0 { j += period }
            return j < n ? j : period - 1 - j
        }
        // The reflected index of every position a window reaches, computed once per axis (the
        // sanity checks filter 5 maps per step; a modulo per tap was most of their time).
        let columns = (0..<(width + size - 1)).map { reflect($0 - before, width) }
        let rowsAt = (0..<(height + size - 1)).map { reflect($0 - before, height) * width }
        var rows = [Double](repeating: 0, count: values.count)
        for r in 0..<height {
            let base = r * width
            for c in 0..<width {
                var sum = 0.0
                for k in 0..<size { sum += values[base + columns[c + k]] }
                rows[base + c] = sum / Double(size)
            }
        }
        var out = [Double](repeating: 0, count: values.count)
        for r in 0..<height {
            for c in 0..<width {
                var sum = 0.0
                for k in 0..<size { sum += rows[rowsAt[r + k] + c] }
                out[r * width + c] = sum / Double(size)
            }
        }
        return out
    }

    /// The Pearson correlation of the two maps' HOG descriptors (Adebayo et al.'s "HOG
    /// similarity"), each as scikit-image's `hog` computes it with its defaults.
    public static func hogSimilarity(_ a: [Float], _ b: [Float], width: Int, height: Int) -> Float {
        pearson(hog(a, width: width, height: height), hog(b, width: width, height: height))
    }

    /// scikit-image's `feature.hog` with its defaults: 9 unsigned orientations, 8 × 8-pixel
    /// cells, 3 × 3-cell blocks normalised by L2-Hys, as one vector (blocks row by row, then
    /// cells, then orientations). Empty when the image holds fewer than 3 × 3 cells.
    public static func hog(_ image: [Float], width: Int, height: Int) -> [Double] {
        let cell = 8, block = 3, orientations = 9
        let cellsDown = height / cell, cellsAcross = width / cell
        guard cellsDown >= block, cellsAcross >= block else { return [] }
        var magnitude = [Double](repeating: 0, count: width * height)
        var angle = [Double](repeating: 0, count: width * height)
        for r in 0..<height {
            for c in 0..<width {
                // Central differences inside, zero on the image's first and last row (column).
                let gr = (r == 0 || r == height - 1) ? 0 : Double(image[(r + 1) * width + c]) - Double(image[(r - 1) * width + c])
                let gc = (c == 0 || c == width - 1) ? 0 : Double(image[r * width + c + 1]) - Double(image[r * width + c - 1])
                magnitude[r * width + c] = (gc * gc + gr * gr).squareRoot()
                var degrees = atan2(gr, gc) * 180 / Double.pi
                degrees = degrees.truncatingRemainder(dividingBy: 180)
                if degrees < 0 { degrees += 180 }
                angle[r * width + c] = degrees
            }
        }
        let binWidth = 180.0 / Double(orientations)
        var histogram = [Double](repeating: 0, count: cellsDown * cellsAcross * orientations)
        for cr in 0..<cellsDown {
            for cc in 0..<cellsAcross {
                for r in (cr * cell)..<((cr + 1) * cell) {
                    for c in (cc * cell)..<((cc + 1) * cell) {
                        let k = r * width + c
                        // Bin i holds [20 i, 20 (i + 1)) degrees.
                        let bin = min(Int(angle[k] / binWidth), orientations - 1)
                        let lower = binWidth * Double(bin)
                        let found = angle[k] < lower ? bin - 1 : (angle[k] >= lower + binWidth ? bin + 1 : bin)
                        guard found >= 0, found < orientations else { continue }
                        histogram[(cr * cellsAcross + cc) * orientations + found] += magnitude[k]
                    }
                }
                for o in 0..<orientations { histogram[(cr * cellsAcross + cc) * orientations + o] /= Double(cell * cell) }
            }
        }
        var features: [Double] = []
        let epsilon = 1e-5
        for br in 0...(cellsDown - block) {
            for bc in 0...(cellsAcross - block) {
                var values: [Double] = []
                for r in br..<(br + block) {
                    for c in bc..<(bc + block) {
                        values += histogram[((r * cellsAcross + c) * orientations)..<((r * cellsAcross + c + 1) * orientations)]
                    }
                }
                var norm = (values.reduce(0) { $0 + $1 * $1 } + epsilon * epsilon).squareRoot()
                values = values.map { min($0 / norm, 0.2) }
                norm = (values.reduce(0) { $0 + $1 * $1 } + epsilon * epsilon).squareRoot()
                features += values.map { $0 / norm }
            }
        }
        return features
    }
}
