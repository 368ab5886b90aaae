import COpenBLAS
import Foundation

/// Non-negative matrix factorisation `X ≈ W·H` as scikit-learn's `NMF(init="random",
/// random_state=seed)` computes it with its default solver: coordinate descent (Cichocki and
/// Phan 2009; `shuffle=False`, no regularisation) on the Frobenius loss, at most `maxIterations`
/// sweeps, stopping when the projected-gradient violation falls to `tolerance` × the first one.
///
/// The initialisation is scikit-learn's: `avg = sqrt(mean(X) / k)`, then `H` and `W` (in that
/// order) from numpy's legacy `standard_normal` of `RandomState(seed)`, times `avg`, made
/// non-negative. Float32 throughout, as scikit-learn runs on float32 activations; its BLAS sums in
/// another order, so factors agree closely, not bit for bit.
enum NMF {
    /// scikit-learn's `max_iter`.
    static let maximumSweeps = 200

    /// `W` (`rows × k`, row-major), `H` (`k × columns`, row-major), the sweeps made and whether
    /// the violation fell to the tolerance within them (scikit-learn warns when it did not).
    static func factorize(_ x: [Float], rows: Int, columns: Int, components k: Int, seed: UInt32 = 0,
                          maxIterations: Int = maximumSweeps, tolerance: Float = 1e-4,
                          cancellation: CancellationFlag? = nil) throws -> (w: [Float], h: [Float], iterations: Int, converged: Bool) {
        precondition(x.count == rows * columns && k > 0)
        var mean: Double = 0
        for v in x { mean += Double(v) }
        mean /= Double(Swift.max(x.count, 1))
        let avg = Float((mean / Double(k)).squareRoot())
        var random = NumpyRandomState(seed: seed)
        var h = (0..<(k * columns)).map { _ in abs(avg * Float(random.standardNormal())) }
        var w = (0..<(rows * k)).map { _ in abs(avg * Float(random.standardNormal())) }
        // Xᵀ, for the sweep over H's columns (scikit-learn updates Hᵀ against Xᵀ).
        var xt = [Float](repeating: 0, count: x.count)
        for r in 0..<rows { for c in 0..<columns { xt[c * rows + r] = x[r * columns + c] } }
        var ht = [Float](repeating: 0, count: columns * k)
        var firstViolation: Float = 0
        var iterations = 0, converged = false
        for sweep in 1...Swift.max(maxIterations, 1) {
            try cancellation?.check()
            iterations = sweep
            for c in 0..<columns { for j in 0..<k { ht[c * k + j] = h[j * columns + c] } }
            var violation = update(&w, samples: rows, against: ht, features: columns, data: x, components: k)
            violation += update(&ht, samples: columns, against: w, features: rows, data: xt, components: k)
            for c in 0..<columns { for j in 0..<k { h[j * columns + c] = ht[c * k + j] } }
            if sweep == 1 { firstViolation = violation }
            if firstViolation == 0 || violation / firstViolation <= tolerance {
                converged = true
                break
            }
        }
        return (w, h, iterations, converged)
    }

    /// One coordinate-descent sweep over the `samples × k` factor `a` with the other factor
    /// `b` (`features × k`, row-major) fixed, for data `samples × features`; returns the sum of
    /// the projected gradients' magnitudes (scikit-learn's `_update_cdnmf_fast`).
    private static func update(_ a: inout [Float], samples: Int, against b: [Float], features: Int, data: [Float],
                               components k: Int) -> Float {
        var bb = [Float](repeating: 0, count: k * k)   // bᵀb
        var xb = [Float](repeating: 0, count: samples * k)   // data · b
        b.withUnsafeBufferPointer { bp in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(k), Int32(features), 1,
                        bp.baseAddress, Int32(k), bp.baseAddress, Int32(k), 0, &bb, Int32(k))
            data.withUnsafeBufferPointer { dp in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(samples), Int32(k), Int32(features), 1,
                            dp.baseAddress, Int32(features), bp.baseAddress, Int32(k), 0, &xb, Int32(k))
            }
        }
        var violation: Float = 0
        for t in 0..<k {
            for i in 0..<samples {
                var gradient = -xb[i * k + t]
                for r in 0..<k { gradient += bb[t * k + r] * a[i * k + r] }
                let projected = a[i * k + t] == 0 ? Swift.min(0, gradient) : gradient
                violation += abs(projected)
                let hessian = bb[t * k + t]
                if hessian != 0 { a[i * k + t] = Swift.max(a[i * k + t] - gradient / hessian, 0) }
            }
        }
        return violation
    }
}

/// Deep Feature Factorization (Collins, Achanta and Süsstrunk, ECCV 2018), as pytorch-grad-cam's
/// `DeepFeatureFactorization`: the layer's activations of every image, channels × pixels, each
/// channel shifted by its minimum, factorised by NMF into `k` concepts (a channel vector each) and
/// their maps (where each concept is present); each map scaled to 0…1 and resized to the input.
/// The classifier, when it reads the layer's channels, scores each concept (the legend's labels).
public struct DeepFeatureFactorization {
    /// The concepts, `[C, k]` (NMF's `W` plus the channels' offsets).
    public var concepts: Tensor
    /// Each image's concept maps, `[B, k, H, W]`, each in [0, 1].
    public var maps: Tensor
    /// The classifier's logits for each concept, `[k, classes]`, when the layer feeds it.
    public var conceptLogits: Tensor?
    /// The layer factorised.
    public var layer: String
    /// NMF sweeps made (scikit-learn stops at 200).
    public var iterations: Int
    /// Whether NMF converged within them.
    public var converged: Bool

    /// Factorises `layer`'s activations for `input` into `components` concepts.
    public static func compute(network: CAMNetwork, input: Tensor, layer: String, components k: Int,
                               cancellation: CancellationFlag? = nil) throws -> DeepFeatureFactorization {
        let forward = try network.forward(input, recording: [layer], retainForBackward: false, cancellation: cancellation)
        guard let a = forward.activations[layer], a.rank == 4 else {
            throw RuntimeError("the network did not record a [N, C, h, w] output for layer \"\(layer)\"")
        }
        let (b, c, h, w) = (a.shape[0], a.shape[1], a.shape[2], a.shape[3])
        let hw = h * w, columns = b * hw
        guard k >= 1, k <= Swift.min(c, columns) else {
            throw RuntimeError("components= must be between 1 and \(Swift.min(c, columns)) (the layer's \(c) channels and \(columns) pixels), got \(k)")
        }
        // X = A transposed to channels × (images · pixels), NaN → 0, each row minus its minimum.
        var x = [Float](repeating: 0, count: c * columns)
        for image in 0..<b { for ch in 0..<c { for p in 0..<hw {
            let v = a.storage[(image * c + ch) * hw + p]
            x[ch * columns + image * hw + p] = v.isNaN ? 0 : v
        } } }
        var offsets = [Float](repeating: 0, count: c)
        for ch in 0..<c {
            let row = (ch * columns)..<((ch + 1) * columns)
            offsets[ch] = x[row].min() ?? 0
            for i in row { x[i] -= offsets[ch] }
        }
        let (wf, hf, iterations, converged) = try NMF.factorize(x, rows: c, columns: columns, components: k, cancellation: cancellation)
        var concepts = wf
        for ch in 0..<c { for j in 0..<k { concepts[ch * k + j] += offsets[ch] } }
        // H → [B, k, h, w], then pytorch-grad-cam's scale_cam_image per image (min-max per map, resize).
        var raw = [Float](repeating: 0, count: b * k * hw)
        for j in 0..<k { for image in 0..<b { for p in 0..<hw {
            raw[(image * k + j) * hw + p] = hf[j * columns + image * hw + p]
        } } }
        let maps = CAMMath.scaleCAM(Tensor(shape: [b, k, h, w], storage: raw), width: input.shape[3], height: input.shape[2])
        var logits: Tensor?
        if let classifier = network.linearClassifier, classifier.weight.shape[1] == c {
            let classes = classifier.weight.shape[0]
            var out = [Float](repeating: 0, count: k * classes)
            for j in 0..<k { for cls in 0..<classes {
                var acc: Float = classifier.bias?.storage[cls] ?? 0
                for ch in 0..<c { acc += concepts[ch * k + j] * classifier.weight.storage[cls * c + ch] }
                out[j * classes + cls] = acc
            } }
            logits = Tensor(shape: [k, classes], storage: out)
        }
        return DeepFeatureFactorization(concepts: Tensor(shape: [c, k], storage: concepts), maps: maps,
                                        conceptLogits: logits, layer: layer, iterations: iterations, converged: converged)
    }

    /// pytorch-grad-cam's `create_labels_legend` on the softmax of each concept's logits:
    /// `label:0.71` for its `topK` classes, one per line (a label's first three comma-separated
    /// names); empty when the classifier does not read the layer.
    public func labels(classNames: [String], topK: Int) -> [String] {
        guard let logits = conceptLogits else { return [] }
        let (k, classes) = (logits.shape[0], logits.shape[1])
        return (0..<k).map { j in
            let p = CAMTarget.probabilities(logits.storage[(j * classes)..<((j + 1) * classes)])
            let order = p.indices.sorted { (p[$0], $1) > (p[$1], $0) }
            return order.prefix(topK).map { c in
                let name = c < classNames.count ? classNames[c].split(separator: ",").prefix(3).joined(separator: ",") : "class \(c)"
                return "\(name):\(String(format: "%.2f", p[c]))"
            }.joined(separator: "\n")
        }
    }

    /// matplotlib's `gist_rainbow` at `i / k` for concept `i` of `k` (its 256-entry table).
    public static func color(_ i: Int, of k: Int) -> RGBColor {
        // The colormap's anchors: position, red, green, blue.
        let anchors: [(Double, Double, Double, Double)] = [
            (0.000, 1.00, 0.00, 0.16), (0.030, 1.00, 0.00, 0.00), (0.215, 1.00, 1.00, 0.00), (0.400, 0.00, 1.00, 0.00),
            (0.586, 0.00, 1.00, 1.00), (0.770, 0.00, 0.00, 1.00), (0.954, 1.00, 0.00, 1.00), (1.000, 1.00, 0.00, 0.75)]
        let index = Swift.min(Int(Double(i) / Double(Swift.max(k, 1)) * 256), 255)
        let position = Double(index) / 255
        var rgb = (anchors[0].1, anchors[0].2, anchors[0].3)
        for n in 1..<anchors.count where position <= anchors[n].0 || n == anchors.count - 1 {
            let (p0, p1) = (anchors[n - 1], anchors[n])
            let t = p1.0 > p0.0 ? Swift.min(Swift.max((position - p0.0) / (p1.0 - p0.0), 0), 1) : 0
            rgb = (p0.1 + (p1.1 - p0.1) * t, p0.2 + (p1.2 - p0.2) * t, p0.3 + (p1.3 - p0.3) * t)
            break
        }
        func byte(_ v: Double) -> UInt8 { UInt8(Swift.max(0, Swift.min(255, (v * 255).rounded(.down)))) }
        return RGBColor(red: byte(rgb.0), green: byte(rgb.1), blue: byte(rgb.2))
    }

    /// pytorch-grad-cam's `show_factorization_on_image` for image `index`: each pixel takes the
    /// colour of its strongest concept, as bright as that concept's map there (HSV value), blended
    /// with the picture (`imageWeight` of the picture); with `labels`, a legend of each concept's
    /// colour and labels is set on the right, as pytorch-grad-cam's matplotlib legend is.
    public func picture(_ image: RGBImage, index: Int, imageWeight: Float = 0.3, labels: [String]? = nil) throws -> RGBImage {
        let (k, height, width) = (maps.shape[1], maps.shape[2], maps.shape[3])
        guard image.width == width, image.height == height else {
            throw RuntimeError("the picture is \(image.width)×\(image.height) but the concept maps are \(width)×\(height); show the image the factorisation was computed for")
        }
        let colors = (0..<k).map { Self.color($0, of: k) }
        var out = image
        let plane = width * height
        for p in 0..<plane {
            var best = 0
            for j in 1..<k where maps.storage[(index * k + j) * plane + p] > maps.storage[(index * k + best) * plane + p] { best = j }
            let value = maps.storage[(index * k + best) * plane + p]
            let color = colors[best]
            // HSV value set to 255·value: a saturated colour scaled by value / its own maximum.
            let top = Float(Swift.max(color.red, color.green, color.blue, 1))
            let v = Float(UInt8(Swift.max(0, Swift.min(255, 255 * value))))
            for (channel, c) in [color.red, color.green, color.blue].enumerated() {
                let mask = (Float(c) * v / top).rounded() / 255
                let pictureValue = Float(image.pixels[p * 3 + channel]) / 255
                out.pixels[p * 3 + channel] = UInt8(Swift.max(0, Swift.min(255, (pictureValue * imageWeight + mask * (1 - imageWeight)) * 255)))
            }
        }
        guard let labels, !labels.isEmpty else { return out }
        return try Self.withLegend(out, labels: labels, colors: colors)
    }

    /// The picture with a legend to its right: a colour patch and the label of each concept.
    static func withLegend(_ picture: RGBImage, labels: [String], colors: [RGBColor]) throws -> RGBImage {
        let font = try FontFace.standard()
        let size = 12
        let metrics = font.lineMetrics(pixelSize: size)
        let lines = labels.map { $0.split(separator: "\n").map(String.init) }
        let lineHeight = Swift.max(metrics.height, 14)
        let textWidth = lines.flatMap { $0 }.map { font.width(of: $0, pixelSize: size) }.max() ?? 0
        let legendWidth = 8 + 14 + 6 + textWidth + 8
        let entryHeights = lines.map { Swift.max($0.count, 1) * lineHeight + 6 }
        let height = Swift.max(picture.height, 8 + entryHeights.reduce(0, +))
        var canvas = RGBImage(width: picture.width + legendWidth, height: height,
                              pixels: [UInt8](repeating: 255, count: (picture.width + legendWidth) * height * 3))
        canvas.paste(picture, x: 0, y: 0)
        var y = 8
        for (n, entry) in lines.enumerated() {
            canvas.fill(x: picture.width + 8, y: y + 2, width: 14, height: 10, color: colors[n % colors.count])
            for (m, line) in entry.enumerated() {
                font.draw(line, on: &canvas, x: picture.width + 28, baseline: y + m * lineHeight + metrics.ascent,
                          pixelSize: size, color: .black)
            }
            y += entryHeights[n]
        }
        return canvas
    }
}
