import CAMRuntime
import Foundation

/// An RGB picture in a script: what `load "cat.png"`, `overlay`, `hstack` and friends return.
public final class ImageObject: ScriptObject {
    /// The picture and its caption bands, which `grid` and `hstack` line up.
    public let tile: CaptionedImage
    /// The picture, captions included.
    public var image: RGBImage { tile.image }

    /// Wraps a picture without captions.
    public init(_ image: RGBImage) { self.tile = CaptionedImage(image) }

    /// Wraps a picture that `label` gave caption bands.
    public init(_ tile: CaptionedImage) { self.tile = tile }

    /// `"image"`.
    public var typeName: String { "image" }
    /// `image 451×300 RGB`.
    public var description: String { image.description }
    /// The members: `size` ([w, h]), `width`, `height`.
    public var memberNames: [String] { ["size", "width", "height"] }

    /// The member called `name`.
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "size": return .list([.number(Double(image.width)), .number(Double(image.height))])
        case "width": return .number(Double(image.width))
        case "height": return .number(Double(image.height))
        default: return nil
        }
    }

    /// The picture itself.
    public var displayImage: DisplayImage? {
        DisplayImage(width: image.width, height: image.height, rgb: image.pixels)
    }
}

/// A loaded classifier in a script: what `load "efficientnet_lite0"` returns.
public final class ModelObject: ScriptObject, @unchecked Sendable {
    /// The network. A session runs one statement at a time, so the network is never used by
    /// two threads at once.
    public let network: Network
    /// Where the weights came from, for the echo ("efficientnet-lite0-57934424.pth", "random weights").
    public let source: String

    /// Wraps a network.
    public init(_ network: Network, source: String) {
        self.network = network
        self.source = source
    }

    /// `"model"`.
    public var typeName: String { "model" }

    /// Names the classes with a labels file's names, one per class of the head.
    func setClassNames(_ names: [String], from file: String) throws {
        let classes = network.classNames.count
        guard names.count == classes else {
            let head = network.isBinary ? "is a binary classifier (one logit): 2 classes, class 0 and class 1"
                : "has \(classes) classes"
            throw RuntimeError("labels file \(file) has \(names.count) name\(names.count == 1 ? "" : "s"), but the model's head \(head)")
        }
        network.classNames = names
    }

    /// `model resnet50 (25.6M parameters, weights resnet50.pth), default layer "layer4", preset …`.
    public var description: String {
        let millions = Double(ModelStore.parameterCount(of: network)) / 1e6
        let count = String(format: "%.1fM", millions)
        let classes = network.isBinary ? "binary classifier" : "\(network.classNames.count) classes"
        return "model \(network.architecture) (\(count) parameters, \(classes), weights \(source)), default layer "
            + "\"\(network.defaultTargetLayer)\", preset \(ModelObject.describe(network.preset))"
    }

    /// `resize 232 bilinear, crop 224, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]`.
    static func describe(_ preset: InputPreset) -> String {
        func list(_ v: [Float]) -> String { "[" + v.map { numberValue($0).repr }.joined(separator: ", ") + "]" }
        return "resize \(preset.resizeShorterSide) \(preset.interpolation.rawValue), crop \(preset.cropSize), "
            + "mean \(list(preset.mean)), std \(list(preset.std))"
    }

    /// The members.
    public var memberNames: [String] { ["architecture", "attention_blocks", "classes", "default_layer", "layers", "parameters", "preset"] }

    /// The member called `name`.
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "architecture": return .string(network.architecture)
        case "attention_blocks": return .list(network.attentionBlocks.map { .string($0) })
        case "classes": return .list(network.classNames.map { .string($0) })
        case "default_layer": return .string(network.defaultTargetLayer)
        case "layers": return .list(network.layerNames.map { .string($0) })
        case "parameters": return .number(Double(ModelStore.parameterCount(of: network)))
        case "preset": return .string(ModelObject.describe(network.preset))
        default: return nil
        }
    }
}

/// A class activation map in a script: the maps of one or more images and what they explain.
public final class CAMObject: ScriptObject, @unchecked Sendable {
    /// The computed maps (`[B, H, W]`) and their description.
    public let result: CAMResult
    /// The normalisation of the model the map was computed with (used by `overlay` to turn a
    /// preprocessed tensor back into a picture).
    public let mean: [Float]
    /// See `mean`.
    public let std: [Float]
    /// The picture and preprocessing of the input, when `preprocess` made it from one picture:
    /// `overlay cam photo` draws the map back over that picture.
    public let origin: ImageOrigin?

    /// Wraps a result.
    public init(_ result: CAMResult, mean: [Float], std: [Float], origin: ImageOrigin? = nil) {
        self.result = result
        self.mean = mean
        self.std = std
        self.origin = origin
    }

    /// `"cam"`.
    public var typeName: String { "cam" }
    /// `GradCAM 224×224 at layer4 → 281 "tabby", min 0.0 max 1.0`.
    public var description: String { result.description }

    /// The number of images.
    public var batchCount: Int { result.map.shape.first ?? 0 }

    /// The members.
    public var memberNames: [String] { ["label", "layers", "map", "max", "method", "min", "range", "shape", "target", "weights"] }

    /// The member called `name`.
    public func member(_ name: String) throws -> Value? {
        let single = batchCount == 1
        switch name {
        case "shape":
            let dims = single ? Array(result.map.shape.dropFirst()) : result.map.shape
            return .list(dims.map { .number(Double($0)) })
        case "min": return numberValue(result.map.min)
        case "max": return numberValue(result.map.max)
        case "target":
            let classes = result.targetClasses.map { Value.number(Double($0)) }
            return single ? classes[0] : .list(classes)
        case "label":
            let labels = result.labels.map { Value.string($0) }
            return single ? labels[0] : .list(labels)
        case "method": return .string(result.method)
        case "layers": return .list(result.layers.map { .string($0) })
        case "map": return .tensor(single ? result.map.slice(0) : result.map)
        case "range": return .list([numberValue(result.colorRange.lowerBound), numberValue(result.colorRange.upperBound)])
        case "weights": return try channelWeights()
        default: return nil
        }
    }

    /// The colormap a map is drawn in when none is named: JET (pytorch-grad-cam's), or for a
    /// signed map blue–white–red, whose white middle is zero evidence.
    public var defaultColormap: Colormap { result.colorRange.lowerBound < 0 ? .bwr : .jet }

    /// The first map in its default colormap.
    public var displayImage: DisplayImage? {
        guard batchCount > 0, let picture = try? defaultColormap.colorized(result.unitMap.slice(0)) else { return nil }
        return DisplayImage(width: picture.width, height: picture.height, rgb: picture.pixels)
    }

    /// Indexable by image: `cam[1]` is the CAM of the second image.
    public var elementCount: Int? { batchCount }

    /// The CAM of image `index` alone.
    public func element(at index: Int) throws -> Value? {
        guard index >= 0 && index < batchCount else { return nil }
        var one = result
        one.map = result.map.slice(index).reshaped([1] + Array(result.map.shape.dropFirst()))
        one.targets = [result.targets[index]]
        one.labels = [result.labels[index]]
        one.channelWeights = result.channelWeights.mapValues { $0.slice(index).reshaped([1] + Array($0.shape.dropFirst())) }
        return .object(CAMObject(one, mean: mean, std: std, origin: batchCount == 1 ? origin : nil))
    }

    /// `cam.weights`: the channel weights of the target layer, `[C]` for one image or `[N, C]`
    /// for a batch; a list of them, in layer order, for several layers.
    private func channelWeights() throws -> Value {
        let perLayer = result.layers.compactMap { result.channelWeights[$0] }
        guard !perLayer.isEmpty, perLayer.count == result.layers.count else {
            let weighting = CAMMethods.all.filter(\.weightsChannels).map(\.className)
            throw RuntimeError("\(result.method) kept no channel weights: only " + weighting.dropLast().joined(separator: ", ")
                               + " and " + (weighting.last ?? "") + " weight channels (the others combine gradients and "
                               + "activations element by element or by a principal component), and not with aug_smooth=true")
        }
        let values = perLayer.map { Value.tensor(batchCount == 1 ? $0.slice(0) : $0) }
        return values.count == 1 ? values[0] : .list(values)
    }

    /// The map of the one image as its colours show it (`[H, W]` in 0…1, through the colour
    /// range of a raw or signed map); an error for a batch.
    func singleMap(_ callee: String) throws -> Tensor {
        guard batchCount == 1 else {
            throw RuntimeError("\(callee): the CAM holds \(batchCount) maps (a batch); pick one with cam[i]")
        }
        return result.unitMap.slice(0)
    }
}

/// One row of a prediction table: rank, class index, label, probability.
public final class PredictionRow: ScriptObject {
    /// 1 for the most probable class.
    public let rank: Int
    /// The class index.
    public let classIndex: Int
    /// The class name.
    public let label: String
    /// The softmax probability.
    public let probability: Float

    /// Creates a row.
    public init(rank: Int, classIndex: Int, label: String, probability: Float) {
        self.rank = rank
        self.classIndex = classIndex
        self.label = label
        self.probability = probability
    }

    /// `"prediction"`.
    public var typeName: String { "prediction" }
    /// `1  282  tiger cat  0.393`.
    public var description: String {
        "\(rank)  \(classIndex)  \(label)  \(String(format: "%.3f", probability))"
    }
    /// The members.
    public var memberNames: [String] { ["class", "label", "prob", "rank"] }

    /// The member called `name`.
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "rank": return .number(Double(rank))
        case "class": return .number(Double(classIndex))
        case "label": return .string(label)
        case "prob": return numberValue(probability)
        default: return nil
        }
    }
}

/// The top classes of one image with their probabilities: what `predict` returns.
public final class PredictionTable: ScriptObject {
    /// The rows, most probable first.
    public let rows: [PredictionRow]

    /// Creates a table.
    public init(rows: [PredictionRow]) { self.rows = rows }

    /// `"predictions"`.
    public var typeName: String { "predictions" }

    /// `predictions: tiger cat 0.393, Egyptian cat 0.356, tabby 0.170, …`.
    public var description: String {
        let shown = rows.prefix(3).map { "\($0.label) \(String(format: "%.3f", $0.probability))" }
        return "predictions: " + shown.joined(separator: ", ") + (rows.count > 3 ? ", …" : "")
    }

    /// Aligned rows with a header.
    public var echoDescription: String {
        let labelWidth = max(5, rows.map(\.label.count).max() ?? 0)
        var lines = ["rank  class  " + "label".padding(toLength: labelWidth, withPad: " ", startingAt: 0) + "  probability"]
        for row in rows {
            let rank = String(row.rank), cls = String(row.classIndex)
            lines.append(String(repeating: " ", count: max(0, 4 - rank.count)) + rank + "  "
                         + String(repeating: " ", count: max(0, 5 - cls.count)) + cls + "  "
                         + row.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + "  "
                         + String(format: "%.3f", row.probability))
        }
        return lines.joined(separator: "\n")
    }

    /// The rows as a table, for reports.
    public var table: TextTable? {
        TextTable(columns: ["rank", "class", "label", "probability"], alignments: [.right, .right, .left, .right],
                  rows: rows.map { [String($0.rank), String($0.classIndex), $0.label, String(format: "%.3f", $0.probability)] })
    }

    /// The members.
    public var memberNames: [String] { ["classes", "labels", "probs", "top"] }

    /// The member called `name`.
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "labels": return .list(rows.map { .string($0.label) })
        case "classes": return .list(rows.map { .number(Double($0.classIndex)) })
        case "probs": return .list(rows.map { numberValue($0.probability) })
        case "top": return rows.first.map { .object($0) } ?? Value.none
        default: return nil
        }
    }

    /// One element per row.
    public var elementCount: Int? { rows.count }

    /// The row at `index`.
    public func element(at index: Int) throws -> Value? {
        index >= 0 && index < rows.count ? .object(rows[index]) : nil
    }
}

/// `builtins`: every builtin by name, so that one a variable hides stays reachable
/// (`builtins.cam(model, x, method="gradcam")` after `cam = …`), as Python's `builtins` module.
public struct BuiltinNamespace: ScriptObject {
    let registry: BuiltinRegistry

    /// `"builtins"`.
    public var typeName: String { "builtins" }
    /// What it is.
    public var description: String { "builtins (every builtin by name: builtins.gradcam, …)" }
    /// The builtins' names.
    public var memberNames: [String] { registry.names }

    /// The builtin called `name`.
    public func member(_ name: String) throws -> Value? {
        registry.builtins[name].map { .builtin($0) }
    }
}
