import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers every CAM method as a builtin, the generic `cam`, `guided_backprop`,
    /// `guided_gradcam`, and the `.npy` saver for CAMs.
    mutating func registerCAMBuiltins() {
        let category = "CAM methods"
        for info in CAMMethods.all {
            var signature = BuiltinSignature(
                name: info.builtin, parameters: camParameters(for: info),
                category: category, summary: info.summary,
                details: camDetails, formula: info.formula, paper: info.paper,
                example: "c = \(info.builtin) model x layer=\"layer4\" target=\"tabby\"")
            signature.notApplicable = camOptionsNotTaken(by: info)
            register(Builtin(signature) { args, context in
                try computeCAM(info, args, context)
            })
        }

        register(Builtin(BuiltinSignature(
            name: "cam", parameters: camParametersForAnyMethod(),
            category: category, summary: "Any CAM method by name: cam MODEL X method=\"gradcam++\".",
            details: camDetails + " The method names: " + CAMMethods.names.joined(separator: ", ") + " (case, _ and - do not matter). An option only some methods take (" + camOptionNames().map { "\($0)=" }.joined(separator: ", ") + ") is an error with the others, but for max_passes=, a ceiling any method is within.",
            example: "for m in [\"gradcam\", \"hirescam\"]:\n    show overlay(cam(model, x, method=m), x)")) { args, context in
            try computeCAM(try CAMMethods.info(named: try args.string("method")), args, context)
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
            let result = try CAMEngine(network: model.network).compute(GradCAM(), input: x, layers: layers,
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

        register(Builtin(BuiltinSignature(
            name: "shared_scale", parameters: [],
            variadic: Parameter("cams", [.object("cam"), .list], doc: "CAMs computed with scale=\"raw\", or lists of them."),
            category: category,
            summary: "The CAMs with one colour range spanning them all, so that their colours compare: other classes, layers, methods, models.",
            details: "Each CAM keeps its values; its colour range (what overlay, colorbar, the pictures and the metrics see) becomes 0…the largest value of them all, or ± the largest magnitude when any is signed. The CAMs must be raw (scale=\"raw\"): a map min-max scaled per image has lost the values to compare. The images of one raw CAM share a scale already.",
            formula: "range = [0, max_k max(cam_k)], or [−m, m] with m = max_k max |cam_k| when signed",
            example: "both = shared_scale(gradcam(model, x, target=\"tabby\", scale=\"raw\"), gradcam(model, x, target=\"tiger cat\", scale=\"raw\"))\nsave hstack(overlay(both[0], img), overlay(both[1], img), colorbar(both[0])) \"shared.png\"")) { args, _ in
            var cams: [CAMObject] = []
            for value in args.flattenedVariadic {
                guard case .object(let cam as CAMObject) = value else {
                    throw RuntimeError("shared_scale: expected CAMs, got \(value.typeName)")
                }
                guard cam.result.scaling.scale == .raw else {
                    throw RuntimeError("shared_scale: the \(cam.result.method) map (CAM \(cams.count + 1)) is min-max scaled per image, which has lost "
                                       + "the values to compare; compute it with scale=\"raw\"")
                }
                cams.append(cam)
            }
            guard !cams.isEmpty else { throw RuntimeError("shared_scale: needs at least one CAM, got none") }
            let signed = cams.contains { $0.result.colorRange.lowerBound < 0 }
            let top = cams.map { max(abs($0.result.colorRange.lowerBound), $0.result.colorRange.upperBound) }.max() ?? 1
            let range: ClosedRange<Float> = signed ? -top...top : 0...top
            return .list(cams.map { cam in
                var result = cam.result
                result.colorRange = range
                return .object(CAMObject(result, mean: cam.mean, std: cam.std, origin: cam.origin))
            })
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

private let camDetails: String = "X is a preprocessed image [3, H, W] or a batch [N, 3, H, W]. layer= is a module path (\"layer4\", \"layer4.2\", \"layer4[-1]\", \"_blocks.15\") or a list of them (their maps are averaged); without it the model's default layer is used and named in the output. target= is a class index, a label (\"tabby\") or a list with one per image; without it, the top class. softmax=true explains the softmax probability instead of the logit. aug_smooth=true averages 6 flipped and scaled passes; eigen_smooth=true keeps the first principal component. Computed as pytorch-grad-cam 1.5.7: ReLU, min-max per image, bilinear resize to the input, mean over layers, min-max again. scale=\"raw\" leaves out the min-max (the method's own values, one colour scale for the batch; shared_scale puts several CAMs on one), signed=true the ReLU (negative evidence, drawn in bwr)." + " " + listedLongMethods() + " show progress on a terminal's stderr; Ctrl-C stops them."

/// The builtins of the methods whose work is long, e.g. `scorecam, ablationcam and fullgrad`.
private func listedLongMethods() -> String { listed(CAMMethods.all.filter(\.cost.isLong).map(\.builtin)) }

/// The parameters every CAM builtin takes.
private func commonCAMParameters() -> [Parameter] {
    [
        Parameter("model", [.object("model")], doc: "The classifier."),
        Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] or a batch [N, 3, H, W]."),
        Parameter("layer", [.string, .list], default: Value.none, keywordOnly: true, doc: "Target layer path, or a list of paths."),
        Parameter("target", [.integer, .string, .list], default: Value.none, keywordOnly: true, doc: "Class index, label, or a list (one per image); the top class when omitted."),
        Parameter("softmax", [.bool], default: .bool(false), keywordOnly: true, doc: "Explain the softmax probability (ClassifierOutputSoftmaxTarget)."),
        Parameter("aug_smooth", [.bool], default: .bool(false), keywordOnly: true, doc: "Average over flips and scalings (6 passes)."),
        Parameter("eigen_smooth", [.bool], default: .bool(false), keywordOnly: true, doc: "Use the first principal component of the weighted activations."),
        Parameter("scale", [.string], default: .string("image"), keywordOnly: true,
                  doc: "\"image\": min-max per image (pytorch-grad-cam); \"raw\": the method's own values, comparable across images (one colour scale per batch; shared_scale for several CAMs)."),
        Parameter("signed", [.bool], default: .bool(false), keywordOnly: true,
                  doc: "Keep negative evidence (no ReLU): scaled by the largest magnitude, drawn in bwr with white at zero."),
        Parameter("tokens", [.integer, .string], default: Value.none, keywordOnly: true,
                  doc: "How a transformer layer's output becomes a grid: the number of prefix tokens to drop from [N, T, C] (1 for a class token), or \"nhwc\" for [N, H, W, C]; guessed when omitted."),
    ]
}

/// The ceiling on the forward passes of the long methods.
private let maxPassesParameter = Parameter(
    "max_passes", [.integer], default: Value.none, keywordOnly: true,
    doc: "Refuse the work above this many forward passes (default $CAMSCRIPT_MAX_PASSES or \(CAMWorkCeiling.defaultMaxPasses)).")

/// One method's builtin parameters: the common ones, its own options, and `max_passes` when its
/// work is long.
private func camParameters(for info: CAMMethodInfo) -> [Parameter] {
    var parameters = commonCAMParameters()
    for option in info.options {
        parameters.append(Parameter(option.name, [option.isInteger ? .integer : .number], default: .number(option.defaultValue),
                                    keywordOnly: true, doc: option.doc))
    }
    if info.cost.isLong { parameters.append(maxPassesParameter) }
    return parameters
}

/// `cam`'s parameters: the common ones, `method`, every method's options and `max_passes`.
private func camParametersForAnyMethod() -> [Parameter] {
    var parameters = commonCAMParameters()
    parameters.insert(Parameter("method", [.string], default: .string("gradcam"), keywordOnly: true,
                                doc: "One of " + CAMMethods.names.joined(separator: ", ") + "."), at: 2)
    for name in camOptionNames() {
        let takers = CAMMethods.methods(taking: name)
        let option = takers.first?.options.first { $0.name == name }
        parameters.append(Parameter(name, [option?.isInteger ?? true ? .integer : .number], default: Value.none, keywordOnly: true,
                                    doc: "For " + takers.map(\.builtin).joined(separator: ", ") + ": " + (option?.doc ?? "")))
    }
    parameters.append(maxPassesParameter)
    return parameters
}

/// Every method option's keyword, once each, in registry order.
private func camOptionNames() -> [String] {
    var names: [String] = []
    for info in CAMMethods.all { for option in info.options where !names.contains(option.name) { names.append(option.name) } }
    return names
}

/// `x= only applies to a and b, not M` for the options and `max_passes=` other methods take.
private func camOptionsNotTaken(by info: CAMMethodInfo) -> [String: String] {
    var messages: [String: String] = [:]
    for name in camOptionNames() where !info.options.contains(where: { $0.name == name }) {
        messages[name] = "\(name)= only applies to \(listed(CAMMethods.methods(taking: name).map(\.builtin))), not \(info.className)"
    }
    if !info.cost.isLong {
        let long = CAMMethods.all.filter(\.cost.isLong).map(\.builtin)
        messages[maxPassesParameter.name] = "max_passes= only applies to the methods whose work is long (\(listed(long))), not \(info.className)"
    }
    return messages
}

/// `a`, `a and b`, `a, b and c`.
private func listed(_ names: [String]) -> String {
    guard let last = names.last else { return "" }
    return names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " and " + last
}

/// Runs one CAM method with the call's arguments.
private func computeCAM(_ info: CAMMethodInfo, _ args: BoundArguments, _ context: CallContext) throws -> Value {
    let callee = args.callee
    let model = try args.object("model", as: ModelObject.self)
    let x = try batch(try args.tensor("x"), callee)
    var values = CAMOptionValues()
    for name in camOptionNames() where !args.isNone(name) {
        guard let option = info.options.first(where: { $0.name == name }) else {
            throw RuntimeError("\(callee): \(name)= only applies to \(listed(CAMMethods.methods(taking: name).map(\.builtin))), not \(info.className)")
        }
        let value = option.isInteger ? Double(try args.integer(name)) : try args.number(name)
        if let problem = option.problem(with: value) { throw RuntimeError("\(callee): \(problem)") }
        values.given[name] = value
    }
    let method = info.make(values)
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
private func runCAM(_ method: any CAMMethod, _ callee: String, _ args: BoundArguments, _ model: ModelObject, _ x: Tensor,
                    _ layers: [String]?, _ targets: [ClassTarget]?, _ context: CallContext) throws -> Value {
    let ceiling = try CAMWorkCeiling(argument: args.isNone("max_passes") ? nil : try args.integer("max_passes"),
                                     environment: context.environment, callee: callee)
    let reporter = method.info.cost.isLong ? ProgressReporter(name: callee, context: context) : nil
    defer { reporter?.finish() }
    var progress: ((Int, Int) -> Void)?
    if let reporter { progress = { done, total in reporter.report(done, total) } }
    let scaleName = try args.string("scale")
    guard let scale = CAMScaling.Scale(rawValue: scaleName.lowercased()) else {
        throw RuntimeError("\(callee): scale= is \"image\" (min-max per image, as pytorch-grad-cam) or \"raw\" (the method's own values), not \"\(scaleName)\"")
    }
    let result = try CAMEngine(network: model.network).compute(
        method, input: x, layers: layers, targets: targets, score: try args.bool("softmax") ? .softmax : .logit,
        augSmooth: try args.bool("aug_smooth"), eigenSmooth: try args.bool("eigen_smooth"),
        scaling: CAMScaling(scale: scale, signed: try args.bool("signed")),
        progress: progress,
        cancellation: context.cancellation,
        work: { work in
            try ceiling.check(work)
            // Said once a session for each cost: a dataset loop's batches all cost the same.
            context.noteOnce(CAMWorkCeiling.announcement(work))
        })
    announceDefaultLayer(result, callee, context)
    // Options the method does not use are said to be ignored, not silently dropped.
    if !method.usesTarget && targets != nil {
        context.emit(.text("\(callee): target= is ignored: \(method.name)'s map does not depend on the class"))
    }
    if !method.usesLayers && layers != nil {
        let uses = method.name == FullGrad.info.className ? "every bias layer and the input" : "the gradient with respect to the input"
        context.emit(.text("\(callee): layer= is ignored: \(method.name) uses \(uses), not a target layer"))
    }
    return .object(CAMObject(result, mean: model.network.preset.mean, std: model.network.preset.std,
                             origin: try args.tensor("x").origin))
}

/// Tells which layer was used when the user named none, so that users learn it — once a
/// session for each method and layer, not for every batch of a loop.
private func announceDefaultLayer(_ result: CAMResult, _ callee: String, _ context: CallContext) {
    if result.usedDefaultLayer, let layer = result.layers.first {
        context.noteOnce("\(callee): using the default layer \"\(layer)\" (choose another with layer=)")
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
func classTarget(_ value: Value, _ callee: String) throws -> ClassTarget {
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
func targetList(_ value: Value, _ callee: String) throws -> [ClassTarget]? {
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
        let name = (try? CAMMethods.info(named: work.method).builtin) ?? work.method.lowercased()
        if work.patches > 0 {
            let images = work.images == 1 ? "" : " per image, \(work.images) images"
            let smoothing = work.repetitions == 1 ? "" : " (× \(work.repetitions) with aug_smooth)"
            return "\(name): \(work.patches) patches at \(work.scales) scale\(work.scales == 1 ? "" : "s")\(images)\(smoothing): "
                + "\(work.forwardPasses / 2) forward passes to score them, then as many forward and backward passes for their maps, "
                + "\(work.batchSize) at a time"
        }
        if work.channels.isEmpty, work.biasLayers == 0 {
            if work.batches == work.forwardPasses {
                return "\(name): \(work.forwardPasses) forward and backward pass\(work.forwardPasses == 1 ? "" : "es"), one image at a time"
            }
            return "\(name): \(work.forwardPasses) forward and backward passes in \(work.batches) batch\(work.batches == 1 ? "" : "es") of up to \(work.batchSize)"
        }
        if work.channels.isEmpty {
            let passes = work.repetitions == 1 ? "1 forward and backward pass" : "\(work.repetitions) forward and backward passes"
            return "\(name): \(passes) over \(work.images) image\(work.images == 1 ? "" : "s"), then \(work.biasLayers) bias layers"
        }
        return "\(name): \(work.forwardPasses) forward passes in \(work.batches) batch\(work.batches == 1 ? "" : "es") of \(work.batchSize)"
    }
}
