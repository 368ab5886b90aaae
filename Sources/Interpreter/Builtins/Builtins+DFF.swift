import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers `dff`: Deep Feature Factorization, pytorch-grad-cam's concept maps.
    mutating func registerDFFBuiltin() {
        register(Builtin(BuiltinSignature(
            name: "dff",
            parameters: [
                Parameter("model", [.object("model")], doc: "The classifier."),
                Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] or a batch [N, 3, H, W] (factorised together, as pytorch-grad-cam does)."),
                Parameter("layer", [.string], default: Value.none, keywordOnly: true,
                          doc: "The layer factorised; by default the one the classifier's pooling reads (layer4), so that the concepts get labels."),
                Parameter("components", [.integer], default: .number(5), keywordOnly: true,
                          doc: "The number of concepts (NMF components; run_dff_on_image's n_components, 5)."),
                Parameter("top_k", [.integer], default: .number(2), keywordOnly: true,
                          doc: "Labels per concept in the legend (create_labels_legend's top_k, 2)."),
            ],
            category: "CAM methods",
            summary: "Deep Feature Factorization: the layer's activations split by NMF into concepts, each with its map and, through the classifier, its labels.",
            details: "As pytorch-grad-cam 1.5.7's DeepFeatureFactorization with run_dff_on_image's picture: the activations of every image, channels × pixels, each channel shifted by its minimum, are factorised by scikit-learn's NMF (random init, random_state 0, coordinate descent, at most 200 sweeps); each concept's map is scaled to 0…1 and resized to the input. When the layer feeds the classifier (one linear layer after pooling), each concept vector goes through it, and its softmax's top_k classes label the concept. `show` draws the first image's picture: each pixel in the colour of its strongest concept (matplotlib's gist_rainbow), as bright as that concept's map, over the photo (weight 0.3), with the legend on the right. Members: maps ([k, H, W], [N, k, H, W] for a batch), concepts ([C, k]), labels, picture (a list for a batch), layer, iterations.",
            formula: "A' = A − min_channel(A) ≈ W·H (NMF, k components); concept j = W[:, j] + offset, its map H[j] scaled to 0…1; labels = top_k of softmax(fc(concept j))",
            paper: "Collins, Achanta and Süsstrunk, Deep Feature Factorization for Concept Discovery, ECCV 2018; as pytorch-grad-cam 1.5.7's DeepFeatureFactorization and run_dff_on_image",
            example: "d = dff model x components=4\nshow d\nprint d.labels")) { args, context in
            let callee = args.callee
            let model = try args.object("model", as: ModelObject.self)
            let x = try batch(try args.tensor("x"), callee)
            let network = model.network
            let layer: String
            if args.isNone("layer") {
                layer = network.linearClassifier?.featureLayer ?? network.defaultTargetLayer
                context.emit(.text("\(callee): using the layer \"\(layer)\" (choose another with layer=)"))
            } else {
                layer = try network.resolveLayer(try args.string("layer"))
            }
            let components = try args.integer("components"), topK = try args.integer("top_k")
            guard topK >= 1 else { throw RuntimeError("\(callee): top_k must be at least 1, got \(topK)") }
            let result = try DeepFeatureFactorization.compute(network: network, input: x, layer: layer, components: components,
                                                              cancellation: context.cancellation)
            let preset = (try args.tensor("x")).origin?.preset ?? network.preset
            return .object(DFFObject(result, input: x, mean: preset.mean, std: preset.std,
                                     classNames: network.classNames, topK: topK))
        })
    }
}

/// The result of `dff`: concept maps, concept vectors, their labels and the picture.
final class DFFObject: ScriptObject, @unchecked Sendable {
    let result: DeepFeatureFactorization
    let input: Tensor
    let mean: [Float]
    let std: [Float]
    /// Each concept's legend lines (`label:score`), empty without a classifier reading the layer.
    let labels: [String]
    private let lock = NSLock()
    private var drawn: [Int: RGBImage] = [:]

    init(_ result: DeepFeatureFactorization, input: Tensor, mean: [Float], std: [Float], classNames: [String], topK: Int) {
        self.result = result
        self.input = input
        self.mean = mean
        self.std = std
        labels = result.labels(classNames: classNames, topK: topK)
    }

    var typeName: String { "dff" }

    /// `DFF of layer4: 4 concepts over 1 image; concepts: tabby:0.71 | …`.
    var description: String {
        let (b, k) = (result.maps.shape[0], result.maps.shape[1])
        let named = labels.isEmpty ? "" : "; concepts: " + labels.map { $0.split(separator: "\n").first.map(String.init) ?? "" }.joined(separator: " | ")
        // The sweeps are worth a word only when NMF stopped before converging (scikit-learn warns then).
        let stopped = result.converged ? "" : " (NMF stopped at \(result.iterations) sweeps before converging)"
        return "DFF of \(result.layer): \(k) concepts over \(b) image\(b == 1 ? "" : "s")\(stopped)\(named)"
    }

    var memberNames: [String] { ["concepts", "iterations", "labels", "layer", "maps", "picture"] }

    func member(_ name: String) throws -> Value? {
        let b = result.maps.shape[0]
        switch name {
        case "maps": return .tensor(b == 1 ? result.maps.reshaped(Array(result.maps.shape.dropFirst())) : result.maps)
        case "concepts": return .tensor(result.concepts)
        case "labels": return .list(labels.map { .string($0) })
        case "layer": return .string(result.layer)
        case "iterations": return .number(Double(result.iterations))
        case "picture":
            let pictures = try (0..<b).map { Value.object(ImageObject(try picture($0))) }
            return b == 1 ? pictures[0] : .list(pictures)
        default: return nil
        }
    }

    /// The factorisation over image `index`, with the legend when the concepts have labels.
    func picture(_ index: Int) throws -> RGBImage {
        if let image = lock.withLock({ drawn[index] }) { return image }
        let one = input.slice(index)
        let photo = try exactPixels(one, mean: mean, std: std) ?? RGBImage(denormalizing: one, mean: mean, std: std)
        let image = try result.picture(photo, index: index, labels: labels.isEmpty ? nil : labels)
        lock.withLock { drawn[index] = image }
        return image
    }

    var displayImage: DisplayImage? {
        guard let image = try? picture(0) else { return nil }
        return DisplayImage(width: image.width, height: image.height, rgb: image.pixels)
    }
}
