import CAMRuntime
import Foundation

/// What `help` says about one CAM method.
struct CAMMethodDoc {
    var builtin: String
    var method: String
    var summary: String
    var formula: String
    var paper: String
}

extension BuiltinRegistry {
    /// The CAM methods as builtins, in pytorch-grad-cam's order.
    static let camMethodDocs: [CAMMethodDoc] = [
        CAMMethodDoc(builtin: "gradcam", method: "gradcam", summary: "Grad-CAM: activations weighted by the spatial mean of their gradients.",
                     formula: "w_c = mean_ij dS/dA_c,ij; map = ReLU(Σ_c w_c A_c)",
                     paper: "Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization, ICCV 2017 (Eq. 1-2)"),
        CAMMethodDoc(builtin: "gradcampp", method: "gradcam++", summary: "Grad-CAM++: channel weights from positive gradients with pixel-wise α.",
                     formula: "α_ij = g²/(2g² + Σ_ab A_ab·g³ + 1e-6), w_c = Σ_ij α_ij·ReLU(g_ij); map = ReLU(Σ_c w_c A_c)",
                     paper: "Chattopadhay et al., Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks, WACV 2018 (Eq. 10, 19)"),
        CAMMethodDoc(builtin: "xgradcam", method: "xgradcam", summary: "XGrad-CAM: gradients weighted by the normalised activations.",
                     formula: "w_c = Σ_ij (A_c,ij / (Σ_ab A_c,ab + 1e-7)) · dS/dA_c,ij; map = ReLU(Σ_c w_c A_c)",
                     paper: "Fu et al., Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of CNNs, BMVC 2020 (Eq. 8)"),
        CAMMethodDoc(builtin: "hirescam", method: "hirescam", summary: "HiResCAM: the element-wise product of gradients and activations, summed over channels.",
                     formula: "map = ReLU(Σ_c dS/dA_c ⊙ A_c)",
                     paper: "Draelos and Carin, Use HiResCAM instead of Grad-CAM for faithful explanations of convolutional neural networks, arXiv:2011.08891 (2020)"),
        CAMMethodDoc(builtin: "gradcam_elementwise", method: "gradcam_elementwise", summary: "Grad-CAM element-wise: ReLU of each gradient × activation product, summed.",
                     formula: "map = ReLU(Σ_c ReLU(dS/dA_c ⊙ A_c))",
                     paper: "pytorch-grad-cam's GradCAMElementWise (Gildenblat et al.), after HiResCAM (Draelos and Carin, 2020)"),
        CAMMethodDoc(builtin: "layercam", method: "layercam", summary: "LayerCAM: activations weighted pixel-wise by their positive gradients.",
                     formula: "map = ReLU(Σ_c ReLU(dS/dA_c) ⊙ A_c)",
                     paper: "Jiang et al., LayerCAM: Exploring Hierarchical Class Activation Maps for Localization, IEEE TIP 2021 (Eq. 6-7)"),
        CAMMethodDoc(builtin: "eigencam", method: "eigencam", summary: "EigenCAM: the first principal component of the activations (no gradients, no target).",
                     formula: "map = A·v₁ where v₁ is the first right singular vector of the activations [HW, C] (sign as numpy's SVD)",
                     paper: "Muhammad and Yeasin, Eigen-CAM: Class Activation Map using Principal Components, IJCNN 2020"),
        CAMMethodDoc(builtin: "eigengradcam", method: "eigengradcam", summary: "EigenGradCAM: the first principal component of gradients × activations.",
                     formula: "map = first principal component of (dS/dA ⊙ A) over channels",
                     paper: "pytorch-grad-cam's EigenGradCAM (Gildenblat et al.), after Eigen-CAM (Muhammad and Yeasin, IJCNN 2020)"),
        CAMMethodDoc(builtin: "scorecam", method: "scorecam", summary: "Score-CAM: each channel weighted by the score of the input masked with it (no gradients; slow).",
                     formula: "M_c = normalise(upsample(A_c)); w = softmax_c(S(x ⊙ M_c)); map = ReLU(Σ_c w_c A_c)",
                     paper: "Wang et al., Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural Networks, CVPR-W 2020 (Eq. 3-6)"),
        CAMMethodDoc(builtin: "ablationcam", method: "ablationcam", summary: "Ablation-CAM: each channel weighted by how much the score drops when it is zeroed.",
                     formula: "w_c = (S − S_c) / S, S_c the score with channel c of the layer zeroed; map = ReLU(Σ_c w_c A_c)",
                     paper: "Desai and Ramaswamy, Ablation-CAM: Visual Explanations for Deep Convolutional Network via Gradient-free Localization, WACV 2020 (Eq. 3)"),
        CAMMethodDoc(builtin: "fullgrad", method: "fullgrad", summary: "FullGrad: input-gradient × input plus every bias-gradient × bias, over all layers (layer= is ignored).",
                     formula: "map = Σ_layers upsample(Σ_c |∇b ⊙ b|) + |∇x ⊙ x|, each part min-max normalised",
                     paper: "Srinivas and Fleuret, Full-Gradient Representation for Neural Network Visualization, NeurIPS 2019 (Eq. 5)"),
        CAMMethodDoc(builtin: "fem", method: "fem", summary: "FEM: channels whose mean activation is unusually high (mean + k·std), no gradients.",
                     formula: "w_c = [mean_ij A_c > μ + 2σ over channels] · mean_ij A_c; map = Σ_c w_c A_c",
                     paper: "Fuad et al., Features Understanding in 3D CNNs for Actions Recognition in Video, IPTA 2020"),
        CAMMethodDoc(builtin: "randomcam", method: "randomcam", summary: "RandomCAM: random channel weights in [-1, 1] (a baseline for metrics); seed= makes it reproducible.",
                     formula: "w_c ~ Uniform(-1, 1) (numpy's Mersenne Twister, seeded); map = ReLU(Σ_c w_c A_c)",
                     paper: "pytorch-grad-cam's RandomCAM (a sanity-check baseline)"),
    ]

    /// Registers every CAM method as a builtin, the generic `cam`, `guided_backprop`,
    /// `guided_gradcam`, and the `.npy` saver for CAMs.
    mutating func registerCAMBuiltins() {
        let category = "CAM methods"
        for doc in BuiltinRegistry.camMethodDocs {
            register(Builtin(BuiltinSignature(
                name: doc.builtin, parameters: camParameters(method: nil),
                category: category, summary: doc.summary,
                details: camDetails, formula: doc.formula, paper: doc.paper,
                example: "c = \(doc.builtin) model x layer=\"layer4\" target=\"tabby\"")) { args, context in
                try computeCAM(method: doc.method, args, context)
            })
        }

        register(Builtin(BuiltinSignature(
            name: "cam", parameters: camParameters(method: Parameter("method", [.string], default: .string("gradcam"), keywordOnly: true,
                                                                       doc: "One of " + CAMMethods.names.joined(separator: ", ") + ".")),
            category: category, summary: "Any CAM method by name: cam MODEL X method=\"gradcam++\".",
            details: camDetails + " The method names: " + CAMMethods.names.joined(separator: ", ") + " (case, _ and - do not matter).",
            example: "for m in [\"gradcam\", \"hirescam\"]:\n    show overlay(cam(model, x, method=m), x)")) { args, context in
            try computeCAM(method: try args.string("method"), args, context)
        })

        register(Builtin(BuiltinSignature(
            name: "guided_backprop",
            parameters: [Parameter("model", [.object("model")], doc: "The classifier."),
                         Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] (a batch: its first image)."),
                         Parameter("target", [.integer, .string], default: Value.none, keywordOnly: true, doc: "A class index or label; the top class when omitted."),
                         Parameter("raw", [.bool], default: .bool(false), keywordOnly: true, doc: "Return the [H, W, 3] float tensor instead of the picture.")],
            category: category, summary: "Guided backpropagation: the input gradient through ReLUs that pass only positive gradients, as a picture.",
            details: "The gradient [H, W, 3] is drawn as pytorch-grad-cam's deprocess_image does: (g − mean)/(std + 1e-5)·0.1 + 0.5, clipped to [0, 1], times 255. With raw=true the gradient itself is returned as a tensor [H, W, 3] (channels last, as pytorch-grad-cam returns it).",
            formula: "ReLU backward: dL/dx = [x > 0]·[g > 0]·g",
            paper: "Springenberg et al., Striving for Simplicity: The All Convolutional Net, ICLR-W 2015 (Eq. 6, Fig. 1)",
            example: "show guided_backprop model x")) { args, context in
            let model = try args.object("model", as: ModelObject.self)
            let x = try batch(try args.tensor("x"), "guided_backprop")
            let (gradient, _) = try GuidedBackprop.gradient(network: model.network, input: x, target: try classTarget(args["target"], "guided_backprop"),
                                                            cancellation: context.cancellation)
            if try args.bool("raw") { return .tensor(gradient) }
            return .object(ImageObject(try bytesImage(GuidedBackprop.deprocess(gradient))))
        })

        register(Builtin(BuiltinSignature(
            name: "guided_gradcam",
            parameters: [Parameter("model", [.object("model")], doc: "The classifier."),
                         Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] (a batch: its first image)."),
                         Parameter("layer", [.string, .list], default: Value.none, keywordOnly: true, doc: "The Grad-CAM target layer(s)."),
                         Parameter("target", [.integer, .string], default: Value.none, keywordOnly: true, doc: "A class index or label; the top class when omitted."),
                         Parameter("raw", [.bool], default: .bool(false), keywordOnly: true, doc: "Return the [H, W, 3] float tensor instead of the picture.")],
            category: category, summary: "Guided Grad-CAM: the guided-backpropagation gradient times the Grad-CAM map, as a picture.",
            details: "Both are computed for the same image and class; the product is drawn as pytorch-grad-cam's deprocess_image does (raw=true: the product itself, a tensor [H, W, 3]).",
            formula: "deprocess(GradCAM[h, w] · guided_gradient[h, w, c])",
            paper: "Selvaraju et al., Grad-CAM, ICCV 2017 (§3.1)",
            example: "show guided_gradcam model x target=\"tabby\"")) { args, context in
            let model = try args.object("model", as: ModelObject.self)
            let full = try batch(try args.tensor("x"), "guided_gradcam")
            let first = full.slice(0)
            let x = first.reshaped([1] + first.shape)
            let target = try classTarget(args["target"], "guided_gradcam")
            let (gradient, cls) = try GuidedBackprop.gradient(network: model.network, input: x, target: target,
                                                              cancellation: context.cancellation)
            let layers = try layerList(args["layer"], "guided_gradcam")
            let result = try CAMEngine(network: model.network).compute(try CAMMethods.make(named: "gradcam"), input: x, layers: layers,
                                                                     targets: [.index(cls)], cancellation: context.cancellation)
            announceDefaultLayer(result, "guided_gradcam", context)
            let mask = result.map.slice(0)
            if try args.bool("raw") {
                let c = gradient.shape[2]
                return .tensor(Tensor(shape: gradient.shape) { out in
                    for i in 0..<gradient.count { out[i] = mask.storage[i / c] * gradient.storage[i] }
                })
            }
            return .object(ImageObject(try bytesImage(try GuidedBackprop.guidedGradCAM(mask: mask, gradient: gradient))))
        })

        register(Saver(description: "NumPy array of a CAM's map ([H, W], or [N, H, W] for a batch)", extensions: ["npy"], accepts: { value in
            if case .object(let o) = value { return o is CAMObject }
            return false
        }) { value, path, context in
            guard case .object(let o as CAMObject) = value else { return }
            let map = o.batchCount == 1 ? o.result.map.slice(0) : o.result.map
            try AtomicFile.write(NPY.encode(map), to: path, cancellation: context.cancellation)
        })
    }
}

private let camDetails = "X is a preprocessed image [3, H, W] or a batch [N, 3, H, W]. layer= is a module path (\"layer4\", \"layer4.2\", \"layer4[-1]\", \"_blocks.15\") or a list of them (their maps are averaged); without it the model's default layer is used and named in the output. target= is a class index, a label (\"tabby\") or a list with one per image; without it, the top class. softmax=true explains the softmax probability instead of the logit. aug_smooth=true averages 6 flipped and scaled passes; eigen_smooth=true keeps the first principal component. Computed as pytorch-grad-cam 1.5.7: ReLU, min-max per image, bilinear resize to the input, mean over layers, min-max again. scorecam, ablationcam and fullgrad show progress on a terminal's stderr; Ctrl-C stops them."

/// The parameters every CAM builtin takes (plus `method` for `cam`).
private func camParameters(method: Parameter?) -> [Parameter] {
    var parameters = [
        Parameter("model", [.object("model")], doc: "The classifier."),
        Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] or a batch [N, 3, H, W]."),
        Parameter("layer", [.string, .list], default: Value.none, keywordOnly: true, doc: "Target layer path, or a list of paths."),
        Parameter("target", [.integer, .string, .list], default: Value.none, keywordOnly: true, doc: "Class index, label, or a list (one per image); the top class when omitted."),
        Parameter("softmax", [.bool], default: .bool(false), keywordOnly: true, doc: "Explain the softmax probability (ClassifierOutputSoftmaxTarget)."),
        Parameter("aug_smooth", [.bool], default: .bool(false), keywordOnly: true, doc: "Average over flips and scalings (6 passes)."),
        Parameter("eigen_smooth", [.bool], default: .bool(false), keywordOnly: true, doc: "Use the first principal component of the weighted activations."),
        Parameter("seed", [.integer], default: .number(0), keywordOnly: true, doc: "The random seed of randomcam."),
        Parameter("tokens", [.integer, .string], default: Value.none, keywordOnly: true,
                  doc: "How a transformer layer's output becomes a grid: the number of prefix tokens to drop from [N, T, C] (1 for a class token), or \"nhwc\" for [N, H, W, C]; guessed when omitted."),
        Parameter("batch_size", [.integer], default: Value.none, keywordOnly: true, doc: "Masked inputs per batch for scorecam (16) and ablationcam (32)."),
        Parameter("max_passes", [.integer], default: Value.none, keywordOnly: true,
                  doc: "Refuse scorecam, ablationcam and fullgrad above this many forward passes (default $CAMSCRIPT_MAX_PASSES or \(CAMWorkCeiling.defaultMaxPasses))."),
    ]
    if let method { parameters.insert(method, at: 2) }
    return parameters
}

/// Runs one CAM method with the call's arguments.
private func computeCAM(method name: String, _ args: BoundArguments, _ context: CallContext) throws -> Value {
    let callee = args.callee
    let model = try args.object("model", as: ModelObject.self)
    let x = try batch(try args.tensor("x"), callee)
    let seed = try args.integer("seed")
    guard seed >= 0, seed <= Int(UInt32.max) else {
        throw RuntimeError("\(callee): seed must be between 0 and \(UInt32.max), got \(seed)")
    }
    var method = try CAMMethods.make(named: name, seed: UInt32(seed))
    if !args.isNone("batch_size") {
        let size = try args.integer("batch_size")
        guard size >= 1 else { throw RuntimeError("\(callee): batch_size must be at least 1, got \(size)") }
        if method is ScoreCAM {
            method = ScoreCAM(batchSize: size)
        } else if method is AblationCAM {
            method = AblationCAM(batchSize: size)
        } else {
            throw RuntimeError("\(callee): batch_size= only applies to scorecam and ablationcam, not \(method.name)")
        }
    }
    let layers = try layerList(args["layer"], callee)
    let targets = try targetList(args["target"], callee)
    let network = model.network
    if !args.isNone("tokens") {
        let layout: ActivationLayout
        switch args["tokens"] {
        case .string("nhwc"): layout = .channelsLast
        case .string("nchw"): layout = .channelsFirst
        case .string(let other):
            throw RuntimeError("\(callee): tokens= is a number of prefix tokens, \"nhwc\" or \"nchw\", not \"\(other)\"")
        default:
            let prefix = try args.integer("tokens")
            guard prefix >= 0 else { throw RuntimeError("\(callee): tokens= must be at least 0, got \(prefix)") }
            layout = .tokens(prefix: prefix)
        }
        let saved = network.layoutOverrides
        defer { network.layoutOverrides = saved }
        for layer in try (layers ?? [network.defaultTargetLayer]).map({ try network.resolveLayer($0) }) {
            network.layoutOverrides[layer] = layout
        }
        return try runCAM(method, callee, args, model, x, layers, targets, context)
    }
    return try runCAM(method, callee, args, model, x, layers, targets, context)
}

/// Runs a CAM method once its arguments are read.
private func runCAM(_ method: CAMMethod, _ callee: String, _ args: BoundArguments, _ model: ModelObject, _ x: Tensor,
                    _ layers: [String]?, _ targets: [ClassTarget]?, _ context: CallContext) throws -> Value {
    let ceiling = try CAMWorkCeiling(argument: args.isNone("max_passes") ? nil : try args.integer("max_passes"),
                                     environment: context.environment, callee: callee)
    let isLong = method is ScoreCAM || method is AblationCAM || method is FullGrad
    let reporter = isLong ? ProgressReporter(name: callee, context: context) : nil
    defer { reporter?.finish() }
    var progress: ((Int, Int) -> Void)?
    if let reporter { progress = { done, total in reporter.report(done, total) } }
    let result = try CAMEngine(network: model.network).compute(
        method, input: x, layers: layers, targets: targets, score: try args.bool("softmax") ? .softmax : .logit,
        augSmooth: try args.bool("aug_smooth"), eigenSmooth: try args.bool("eigen_smooth"),
        progress: progress,
        cancellation: context.cancellation,
        work: { work in
            try ceiling.check(work)
            context.emit(.text(CAMWorkCeiling.announcement(work)))
        })
    announceDefaultLayer(result, callee, context)
    // Options the method does not use are said to be ignored, not silently dropped.
    if !method.usesTarget && targets != nil {
        context.emit(.text("\(callee): target= is ignored: \(method.name)'s map does not depend on the class"))
    }
    if !method.usesLayers && layers != nil {
        context.emit(.text("\(callee): layer= is ignored: \(method.name) uses every bias layer and the input, not a target layer"))
    }
    return .object(CAMObject(result, mean: model.network.preset.mean, std: model.network.preset.std,
                             origin: try args.tensor("x").origin))
}

/// Tells which layer was used when the user named none, so that users learn it.
private func announceDefaultLayer(_ result: CAMResult, _ callee: String, _ context: CallContext) {
    if result.usedDefaultLayer, let layer = result.layers.first {
        context.emit(.text("\(callee): using the default layer \"\(layer)\" (choose another with layer=)"))
    }
}

/// `layer=` as a list of paths, or `nil` for the default.
private func layerList(_ value: Value, _ callee: String) throws -> [String]? {
    switch value {
    case .none: return nil
    case .string(let s): return [s]
    case .list(let items):
        guard !items.isEmpty else { throw RuntimeError("\(callee): layer= needs at least one layer, got an empty list") }
        return try items.map { item in
            guard case .string(let s) = item else {
                throw RuntimeError("\(callee): layer= must be a string or a list of strings, found \(item.typeName) in the list")
            }
            return s
        }
    default: throw RuntimeError("\(callee): layer= must be a string or a list of strings, got \(value.typeName)")
    }
}

/// One target from a number or label.
private func classTarget(_ value: Value, _ callee: String) throws -> ClassTarget {
    switch value {
    case .none: return .top
    case .string(let label): return .label(label)
    case .number:
        guard let i = value.integerValue else {
            throw RuntimeError("\(callee): target must be a whole class index or a label, got \(value.repr)")
        }
        return .index(i)
    default: throw RuntimeError("\(callee): target must be a class index or a label, got \(value.typeName)")
    }
}

/// `target=` as one target per image (or one for all), or `nil` for the top class.
private func targetList(_ value: Value, _ callee: String) throws -> [ClassTarget]? {
    switch value {
    case .none: return nil
    case .list(let items):
        guard !items.isEmpty else { throw RuntimeError("\(callee): target= needs at least one target, got an empty list") }
        return try items.map { try classTarget($0, callee) }
    default: return [try classTarget(value, callee)]
    }
}

/// A `[H, W, 3]` tensor of values 0…255 as a picture.
private func bytesImage(_ t: Tensor) throws -> RGBImage {
    guard t.rank == 3, t.shape[2] == 3 else { throw RuntimeError("expected a picture tensor [H, W, 3], got \(Network.describeShape(t.shape))") }
    return RGBImage(width: t.shape[1], height: t.shape[0], pixels: t.storage.map { UInt8(Swift.max(0, Swift.min(255, $0))) })
}

/// A one-line progress display on stderr, overwriting itself and erased when done: `name: 12/64`
/// for long CAM methods, `name: 12.3/97.8 MB` for a download. Made only when stderr is a terminal.
final class ProgressReporter: @unchecked Sendable {
    /// How the counts are shown.
    enum Unit { case count, megabytes }

    let name: String
    let unit: Unit
    private let context: CallContext
    private let lock = NSLock()
    private var shown = false

    init(name: String, unit: Unit = .count, context: CallContext) {
        self.name = name
        self.unit = unit
        self.context = context
    }

    func report(_ done: Int, _ total: Int?) {
        let text: String
        switch unit {
        case .count:
            text = "\(done)/\(total.map(String.init) ?? "?")"
        case .megabytes:
            let mb = { (bytes: Int) in String(format: "%.1f", Double(bytes) / 1_048_576) }
            text = "\(mb(done))" + (total.map { "/\(mb($0)) MB" } ?? " MB")
        }
        lock.withLock {
            shown = true
            context.emit(.progress("\(name): \(text)", finished: false))
        }
    }

    func finish() {
        lock.withLock {
            if shown { context.emit(.progress("", finished: true)) }
        }
    }
}

/// The ceiling on the forward passes of ScoreCAM, AblationCAM and FullGrad: `max_passes=`, else
/// `$CAMSCRIPT_MAX_PASSES`, else `defaultMaxPasses`.
struct CAMWorkCeiling {
    /// ResNet-50's layer4 (2048 channels) with ScoreCAM for a batch of 4 images.
    static let defaultMaxPasses = 8192
    /// The environment variable that sets the ceiling for a whole run.
    static let environmentVariable = "CAMSCRIPT_MAX_PASSES"

    let maxPasses: Int
    let source: String
    let callee: String

    /// Reads the ceiling from the keyword (if given) or the environment.
    init(argument: Int?, environment: [String: String], callee: String) throws {
        self.callee = callee
        if let argument {
            guard argument >= 1 else { throw RuntimeError("\(callee): max_passes must be at least 1, got \(argument)") }
            maxPasses = argument
            source = "max_passes=\(argument)"
        } else if let text = environment[Self.environmentVariable] {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let value = Int(trimmed), value >= 1 else {
                throw RuntimeError("\(callee): \(Self.environmentVariable) must be a whole number of at least 1, got \"\(text)\"")
            }
            maxPasses = value
            source = "\(Self.environmentVariable)=\(value)"
        } else {
            maxPasses = Self.defaultMaxPasses
            source = "the default"
        }
    }

    /// Throws when `work` needs more forward passes than the ceiling allows.
    func check(_ work: CAMWork) throws {
        guard work.forwardPasses > maxPasses else { return }
        var why = ""
        if !work.channels.isEmpty {
            let channels = work.channels.map(String.init).joined(separator: " + ")
            why = " (\(work.channels.count > 1 ? "(\(channels))" : channels) channels × \(work.images) image\(work.images == 1 ? "" : "s")\(work.repetitions > 1 ? " × \(work.repetitions) aug_smooth passes" : ""))"
        }
        throw RuntimeError("\(work.method) would run \(work.forwardPasses) forward passes\(why), more than the limit of \(maxPasses) (\(source)); "
            + "raise it with max_passes= or \(Self.environmentVariable), or use fewer images, a layer with fewer channels or a cheaper method")
    }

    /// The line printed before a long run, e.g. `scorecam: 2048 forward passes in 128 batches of 16`.
    static func announcement(_ work: CAMWork) -> String {
        let name = work.method.lowercased()
        if work.channels.isEmpty {
            let passes = work.repetitions == 1 ? "1 forward and backward pass" : "\(work.repetitions) forward and backward passes"
            return "\(name): \(passes) over \(work.images) image\(work.images == 1 ? "" : "s"), then \(work.biasLayers) bias layers"
        }
        return "\(name): \(work.forwardPasses) forward passes in \(work.batches) batch\(work.batches == 1 ? "" : "es") of \(work.batchSize)"
    }
}
