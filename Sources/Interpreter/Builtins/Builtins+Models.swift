import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers the model loader (`.onnx`, `.pth`, `.pt`, `.safetensors`), the loader of built-in
    /// architecture names, `random_model`, `preprocess`, `predict` and `logits`.
    mutating func registerModelBuiltins() {
        let models = "Models"

        register(Loader(description: "model: an ONNX graph, or a checkpoint (safetensors or PyTorch) whose "
                                     + "architecture comes from its keys or arch=",
                        extensions: ["pth", "pt", "safetensors", "onnx"]) { path, args, context in
            if args.isGiven("weights") {
                throw RuntimeError("weights= is for architecture names (load \"resnet50\" weights=\"file.pth\"); "
                                   + "\(quote(try args.string("path"))) is already a checkpoint")
            }
            let arch = args.isNone("arch") ? nil : try args.string("arch")
            return try loadModel(at: path, architecture: arch, context: context)
        })

        register(Loader(description: "a built-in architecture name: " + Network.architectures.joined(separator: ", "),
                        extensions: [], acceptsName: { ModelStore.architecture(named: $0) != nil }) { name, args, context in
            guard let arch = ModelStore.architecture(named: name) else {
                throw RuntimeError("unknown architecture \(quote(name))")
            }
            if args.isGiven("arch") {
                throw RuntimeError("arch= is for checkpoint files; \(quote(name)) already names the architecture")
            }
            if case .string(let weights) = args["weights"] {
                return try loadModel(at: weights, architecture: arch, context: context)
            }
            if let published = PublishedWeights.table[arch] {
                return try loadModel(at: try fetch(published, context: context), architecture: arch, context: context)
            }
            let path: String
            do {
                path = try ModelStore.defaultCheckpointPath(for: arch, environment: context.environment)
            } catch let missing as MissingModelError {
                throw ScriptIOError(missing.message, missing: true)  // exit code 66, as any missing input file
            }
            return try loadModel(at: path, architecture: arch, context: context)
        })

        register(Builtin(BuiltinSignature(
            name: "random_model",
            parameters: [Parameter("arch", [.string], doc: "An architecture: " + Network.architectures.joined(separator: ", ") + "."),
                         Parameter("classes", [.integer], default: .number(1000), keywordOnly: true,
                                   doc: "The number of classes of its head (1: a binary classifier with one logit).")],
            category: models, summary: "A model with random (but always the same) weights, for trying the language without a checkpoint.",
            details: "Convolutions and linear layers get He-uniform weights from a fixed seed, batch norms are the identity. Its predictions mean nothing, but every builtin works on it, quickly for resnet18. The preset is the architecture's usual one. `save model \"m.safetensors\"` writes its weights with PyTorch's key names.",
            example: "model = random_model \"resnet18\"\nsmall = random_model \"resnet18\" classes=5")) { args, context in
            let classes = try args.integer("classes")
            guard (1...100_000).contains(classes) else {
                throw RuntimeError("random_model: classes must be 1…100000, got \(classes)")
            }
            let network = try ModelStore.randomNetwork(architecture: try args.string("arch"), classes: classes)
            context.record(.randomWeights(architecture: network.architecture))
            network.options = context.runtimeOptions
            return .object(ModelObject(network, source: "random"))
        })

        register(Saver(description: "model weights as safetensors (PyTorch's key names)", extensions: ["safetensors"], accepts: { value in
            if case .object(_ as ModelObject) = value { return true }
            return false
        }) { value, path, context in
            guard case .object(let model as ModelObject) = value else { return }
            try AtomicFile.write(SafeTensors.encode(ModelStore.stateDict(of: model.network)), to: path,
                                 cancellation: context.cancellation)
        })

        register(Builtin(BuiltinSignature(
            name: "preprocess",
            parameters: [Parameter("image", [.object("image"), .string], doc: "The picture, or the path of a PNG or JPEG file (relative to the script's folder)."),
                         Parameter("model", [.object("model")], default: Value.none, doc: "Whose preset to use (default: ImageNet V1, resize 256 bilinear, crop 224)."),
                         Parameter("resize", [.integer], default: Value.none, keywordOnly: true, doc: "The length of the shorter side after resizing."),
                         Parameter("crop", [.integer], default: Value.none, keywordOnly: true, doc: "The side of the centre crop."),
                         Parameter("mean", [.list], default: Value.none, keywordOnly: true, doc: "Three channel means."),
                         Parameter("std", [.list], default: Value.none, keywordOnly: true, doc: "Three channel standard deviations."),
                         Parameter("interpolation", [.string], default: Value.none, keywordOnly: true, doc: "bilinear, bicubic or nearest."),
                         Parameter("draft", [.bool], default: .bool(false), keywordOnly: true, doc: "With a JPEG file: decode it at 1/2, 1/4 or 1/8 of its size first, as Pillow's Image.draft (faster; not the reference pixels).")],
            category: models, summary: "The model input for a picture: resize the shorter side, centre-crop, /255, normalise.",
            details: "As torchvision's ImageClassification transforms compute it from a PIL image, in float32. The model's own preset is used unless overridden: ResNet-18/34 resize 256, ResNet-50/101/152 resize 232 (bilinear, crop 224, ImageNet mean/std); EfficientNet-Lite0 256 bicubic, crop 224, mean = std = 0.5. Without a model: resize 256 bilinear, crop 224, ImageNet mean/std (torchvision's V1 weights). Given a file path instead of a picture, the result is the same tensor as for the loaded picture, but only what the crop needs is decoded (a 12-megapixel JPEG in about half the time of load + preprocess), and the full-size picture is never held. draft=true (JPEG paths only) trades exactness for speed: the pixels differ from torchvision's by a few grey levels. Returns a tensor [3, H, W].",
            example: "x = preprocess img model\nx = preprocess \"photo.jpg\" model")) { args, context in
            var preset = InputPreset.resnetV1
            if case .object(let m as ModelObject) = args["model"] { preset = m.network.preset }
            if !args.isNone("resize") { preset.resizeShorterSide = try args.integer("resize") }
            if !args.isNone("crop") { preset.cropSize = try args.integer("crop") }
            if let mean = try floats(args, "mean", count: 3) { preset.mean = mean }
            if let std = try floats(args, "std", count: 3) {
                guard !std.contains(0) else { throw RuntimeError("preprocess: std must not contain 0, got \(Value.list(std.map { numberValue($0) }).repr)") }
                preset.std = std
            }
            if !args.isNone("interpolation") { preset.interpolation = try interpolationNamed(try args.string("interpolation"), "preprocess") }
            guard preset.resizeShorterSide >= 1, preset.cropSize >= 1 else {
                throw RuntimeError("preprocess: resize and crop must be at least 1 pixel, got \(preset.resizeShorterSide) and \(preset.cropSize)")
            }
            let draft = try args.bool("draft")
            if case .string(let path) = args["image"] {
                let resolved = try existingFile(path, context)
                let file = try EncodedImage(contentsOf: URL(fileURLWithPath: resolved))
                context.recordInput(resolved)
                try checkCrop(preset, width: file.width, height: file.height)
                var x = try file.preprocessedCrop(preset: preset, draft: draft).normalizedTensor(mean: preset.mean, std: preset.std)
                x.origin = ImageOrigin(width: file.width, height: file.height, preset: preset)
                return .tensor(x)
            }
            if draft {
                throw RuntimeError("preprocess: draft=true is for a JPEG file's path (preprocess \"photo.jpg\" draft=true); this picture is already decoded")
            }
            let image = try args.object("image", as: ImageObject.self).image
            try checkCrop(preset, width: image.width, height: image.height)
            var x = CAMRuntime.preprocess(image, preset: preset)
            x.origin = ImageOrigin(width: image.width, height: image.height, preset: preset)
            return .tensor(x)
        })

        let modelParameter = Parameter("model", [.object("model")], doc: "The classifier.")
        let input = Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] or a batch [N, 3, H, W].")
        register(Builtin(BuiltinSignature(
            name: "predict",
            parameters: [modelParameter, input,
                         Parameter("top", [.integer], default: .number(5), keywordOnly: true, doc: "How many classes to list.")],
            category: models, summary: "The most probable classes with their labels and softmax probabilities (sigmoid for a one-logit binary classifier).",
            details: "Returns a prediction table (a list of tables for a batch): index it for rows (row.rank, row.class, row.label, row.prob); .labels, .classes, .probs list a column, .top is the first row.",
            example: "p = predict model x top=3\nprint p.top.label")) { args, _ in
            let model = try args.object("model", as: ModelObject.self)
            let top = try args.integer("top")
            let classes = model.network.classNames.count
            guard top >= 1 else { throw RuntimeError("predict: top must be at least 1, got \(top)") }
            let logits = try model.network.forward(try batch(try args.tensor("x"), "predict")).logits
            let k = logits.shape[1]
            let tables = (0..<logits.shape[0]).map { i -> Value in
                // One logit is a binary classifier: P(class 1) = sigmoid(logit), as torch.sigmoid.
                let probabilities = k == 1 ? binaryProbabilities(logits.storage[i])
                    : softmax(logits.storage[(i * k)..<((i + 1) * k)])
                let order = probabilities.indices.sorted { probabilities[$0] != probabilities[$1] ? probabilities[$0] > probabilities[$1] : $0 < $1 }
                let rows = order.prefix(min(top, probabilities.count)).enumerated().map { rank, c in
                    PredictionRow(rank: rank + 1, classIndex: c, label: c < classes ? model.network.classNames[c] : "class \(c)",
                                  probability: probabilities[c])
                }
                return .object(PredictionTable(rows: rows))
            }
            return tables.count == 1 ? tables[0] : .list(tables)
        })

        register(Builtin(BuiltinSignature(
            name: "stack",
            parameters: [Parameter("tensors", [.list], doc: "Tensors of one shape, e.g. preprocessed images [3, H, W].")],
            category: models, summary: "Tensors of one shape stacked along a new first dimension: a batch.",
            details: "stack([x, y]) of two [3, 224, 224] inputs is a [2, 3, 224, 224] batch, which predict, logits and the CAM methods accept (a CAM then holds one map per image).",
            example: "xs = stack([x1, x2])\ncams = gradcam model xs target=[281, \"goldfish\"]")) { args, _ in
            let items = try args.list("tensors")
            guard !items.isEmpty else { throw RuntimeError("stack: needs at least one tensor, got an empty list") }
            var tensors: [Tensor] = []
            for (i, item) in items.enumerated() {
                guard case .tensor(let t) = item else {
                    throw RuntimeError("stack: expected tensors, found \(item.typeName) at position \(i + 1)")
                }
                if let first = tensors.first, first.shape != t.shape {
                    throw RuntimeError("stack: every tensor must have the shape \(Network.describeShape(first.shape)), "
                                       + "found \(Network.describeShape(t.shape)) at position \(i + 1)")
                }
                tensors.append(t)
            }
            return .tensor(Tensor.stack(tensors))
        })

        register(Builtin(BuiltinSignature(
            name: "logits", parameters: [modelParameter, input],
            category: models, summary: "The raw output of the model: a tensor [N, classes].",
            details: "A [3, H, W] input is treated as a batch of one, so the result is [1, classes].",
            example: "z = logits model x\nprint z.argmax")) { args, _ in
            let model = try args.object("model", as: ModelObject.self)
            return .tensor(try model.network.forward(try batch(try args.tensor("x"), "logits")).logits)
        })

        register(Builtin(BuiltinSignature(
            name: "layers",
            parameters: [modelParameter,
                         Parameter("x", [.tensor], default: Value.none, doc: "An input whose size the shapes are for (default: a blank image of the preset's crop size)."),
                         Parameter("match", [.string], default: Value.none, keywordOnly: true,
                                   doc: "Only the paths that contain this text (\"layer4\", \"conv\").")],
            category: models, summary: "Lists the model's layers — the names layer= takes — with the shape of each one's output.",
            details: "One line per module path in forward order with its output [C, H, W] for one image, as a forward hook sees it; the model's default CAM layer is marked. A module called more than once (a Bottleneck's relu) shows its first call, as pytorch-grad-cam's hook records it. A CAM needs a layer with a spatial size above 1×1 (the last one before the global pooling is the usual choice). Prints the list and returns none; model.layers gives the names as a list.",
            example: "layers model match=\"layer4\"")) { args, context in
            let model = try args.object("model", as: ModelObject.self)
            let network = model.network
            let x: Tensor
            if args.isNone("x") {
                x = Tensor(shape: [1, 3, network.preset.cropSize, network.preset.cropSize])
            } else {
                x = try batch(try args.tensor("x"), "layers")
            }
            let first = x.shape[0] == 1 ? x : x.slice(0).reshaped([1] + x.shape.dropFirst())
            let wanted = args.isNone("match") ? nil : try args.string("match")
            let names = network.layerNames.filter { wanted.map($0.contains) ?? true }
            guard !names.isEmpty else {
                throw RuntimeError("layers: no layer path contains \(quote(wanted ?? "")); model.layers lists them all")
            }
            let outputs = try network.forward(first, recording: names, cancellation: context.cancellation).activations
            let width = max(names.map(\.count).max() ?? 0, "layer".count)
            var lines = ["layer".padding(toLength: width, withPad: " ", startingAt: 0) + "  output"]
            for name in names {
                let shape = outputs[name].map { Network.describeShape(Array($0.shape.dropFirst())) } ?? "?"
                let mark = name == network.defaultTargetLayer ? "  (default CAM layer)" : ""
                lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + shape + mark)
            }
            context.emit(.text(lines.joined(separator: "\n")))
            return .none
        })

        register(Builtin(BuiltinSignature(
            name: "activations",
            parameters: [modelParameter, input,
                         Parameter("layer", [.string], default: Value.none, keywordOnly: true,
                                   doc: "A module path (\"layer4\", \"layer4[-1]\", \"_blocks.15\"); without it, the model's default CAM layer.")],
            category: models, summary: "The output of one layer of the model: for a convolutional layer a tensor [N, C, H, W], the feature maps a CAM weights.",
            details: "What pytorch-grad-cam's forward hook records at the layer: the module's output (a block's output is after its last ReLU; \"layer4.2.conv3\" is the convolution alone). t[0] is the first image's [C, H, W], t[0][c] the map of channel c, which show displays as a picture. A [3, H, W] input is treated as a batch of one.",
            example: "a = activations model x layer=\"layer4\"\nprint a.shape\nshow a[0][7]")) { args, context in
            let model = try args.object("model", as: ModelObject.self)
            let x = try batch(try args.tensor("x"), "activations")
            var path = model.network.defaultTargetLayer
            if args.isNone("layer") {
                context.noteOnce("activations: using the default layer \"\(path)\" (choose another with layer=)")
            } else {
                path = try args.string("layer")
            }
            let layer = try model.network.resolveLayer(path)
            let result = try model.network.forward(x, recording: [layer], cancellation: context.cancellation)
            guard let maps = result.activations[layer] else {
                throw RuntimeError("layer \"\(path)\" produced no output in the forward pass")
            }
            return .tensor(maps)
        })
    }
}

/// The input as a batch `[N, 3, H, W]`: a `[3, H, W]` tensor gets a batch dimension of 1.
func batch(_ x: Tensor, _ callee: String) throws -> Tensor {
    let x = x.rank == 3 && x.shape[0] == 3 ? x.reshaped([1] + x.shape) : x
    guard x.rank == 4, x.shape[1] == 3, x.shape[0] > 0 else {
        throw RuntimeError("\(callee): expected a preprocessed image [3, H, W] or a batch [N, 3, H, W], got a tensor of shape "
                           + Network.describeShape(x.shape))
    }
    return x
}

/// Softmax in float32 with the maximum subtracted first, as PyTorch computes it.
func softmax(_ x: ArraySlice<Float>) -> [Float] {
    let m = x.max() ?? 0
    let e = x.map { Foundation.exp($0 - m) }
    var sum: Float = 0
    for v in e { sum += v }
    return e.map { $0 / sum }
}

/// [P(class 0), P(class 1)] of a single-logit binary classifier, in float32.
private func binaryProbabilities(_ logit: Float) -> [Float] {
    let one = 1 / (1 + Foundation.exp(-logit))
    return [1 - one, one]
}

/// torchvision's published weights for a built-in ResNet, from the models folder, fetched there
/// first when missing (progress through the session's output; Ctrl-C stops it and keeps what arrived).
private func fetch(_ published: PublishedWeights, context: CallContext) throws -> String {
    let folder = ModelStore.modelsFolder(environment: context.environment)
    let downloader = WeightsDownloader(baseURL: WeightsDownloader.baseURL(environment: context.environment))
    let reporter = ProgressReporter(name: "load: fetching \(published.fileName)", unit: .megabytes, context: context)
    defer { reporter.finish() }
    do {
        return try downloader.fetch(published.fileName, hashPrefix: published.hashPrefix, into: folder,
                                    progress: { @Sendable done, total in reporter.report(Int(done), total.map(Int.init)) },
                                    cancellation: context.cancellation)
    } catch let error as WeightsDownloadError {
        throw ScriptIOError(error.message)  // exit code 74, an input that could not be read
    }
}

/// Loads a checkpoint as a model and records the file with its SHA-256, so a report names the
/// exact weights that produced it.
private func loadModel(at path: String, architecture: String?, context: CallContext) throws -> Value {
    let network = try ModelStore.load(contentsOf: path, architecture: architecture)
    network.options = context.runtimeOptions
    context.recordInput(path)
    try context.recordLoadedFile(at: path, kind: "model")
    return .object(ModelObject(network, source: (path as NSString).lastPathComponent))
}

/// Refuses a preset whose resized picture would be absurdly large or smaller than its crop
/// (torchvision would pad the crop with black; a script asking for that has a mistake).
func checkCrop(_ preset: InputPreset, width: Int, height: Int) throws {
    // A longer side past 10^15 is reported as Int.max by validateSize's message.
    let resized = RGBImage.sizeResizingShorterSide(width: width, height: height, to: preset.resizeShorterSide)
        ?? (width <= height ? (preset.resizeShorterSide, Int.max) : (Int.max, preset.resizeShorterSide))
    try RGBImage.validateSize(width: resized.width, height: resized.height)
    guard preset.cropSize <= min(resized.width, resized.height) else {
        throw RuntimeError("preprocess: the crop \(preset.cropSize) is larger than the resized picture "
                           + "\(resized.width)×\(resized.height); use a crop of at most \(min(resized.width, resized.height))")
    }
}
