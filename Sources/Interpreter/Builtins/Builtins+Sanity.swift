import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers `sanity`: Adebayo et al.'s model-randomisation and random-target checks.
    mutating func registerSanityBuiltins() {
        register(Builtin(BuiltinSignature(
            name: "sanity",
            parameters: [
                Parameter("model", [.object("model")], doc: "The classifier."),
                Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] or a batch [N, 3, H, W] (similarities are averaged over its images)."),
                Parameter("method", [.string], default: .string("gradcam"), keywordOnly: true,
                          doc: "The CAM method checked: " + CAMMethods.names.joined(separator: ", ") + "."),
                Parameter("test", [.string], default: .string("model"), keywordOnly: true,
                          doc: "\"model\": cascading parameter randomisation from the top layer down; \"target\": the map of the class against the map of a random other class."),
                Parameter("layer", [.string], default: Value.none, keywordOnly: true, doc: "The method's target layer (its default when omitted)."),
                Parameter("target", [.integer, .string, .list], default: Value.none, keywordOnly: true,
                          doc: "The class explained (index, label, or one per image); the top class when omitted."),
                Parameter("granularity", [.string], default: .string("block"), keywordOnly: true,
                          doc: "test=\"model\": \"block\" randomises a numbered block (layer4.1) or a module outside blocks (fc, conv1) per step; \"layer\" one module per step (Quantus' MPRT)."),
                Parameter("seed", [.integer], default: .number(0), keywordOnly: true, doc: "Seeds the random parameters or the random class."),
                Parameter("threshold", [.number], default: .number(0.5), keywordOnly: true,
                          doc: "The check passes when the last step's rank correlation with the original map is below this."),
            ],
            category: "Metrics",
            summary: "Sanity checks for a CAM method: does its map change when the model's parameters are randomised, or when another class is explained?",
            details: "test=\"model\" resets the model's parameters as PyTorch's reset_parameters() would, from the classifier down, one block (or layer) more per step, recomputes the map after each step and compares it with the original: Spearman's rank correlation (also on absolute values), SSIM and HOG similarity. A method that explains the model loses the original map's structure as the model is randomised; one that stays similar (an edge detector) does not depend on the model. test=\"target\" compares the map of the class with the map of a random other class. The model is restored afterwards, even after an error or Ctrl-C. The result prints as the table and the verdict; `show` draws the maps in a strip; members: passed, table, image, steps, spearman, spearman_abs, ssim, hog, cams.",
            formula: "ρ_s(M, M_k), SSIM(M, M_k), ρ(HOG(M), HOG(M_k)) for the map M_k after step k; passed when ρ_s(M, M_last) < threshold",
            paper: "Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018 (§3, cascading randomisation; §4, data randomisation); randomisation as Quantus 0.6's MPRT",
            example: "s = sanity model x method=\"gradcam\"\nshow s\ns.passed")) { args, context in
            try runSanity(args, context)
        })
    }
}

extension BuiltinRegistry {
    /// Registers `similarity`: the sanity checks' measures between any two maps.
    mutating func registerSimilarityBuiltin() {
        register(Builtin(BuiltinSignature(
            name: "similarity",
            parameters: [
                Parameter("a", [.object("cam"), .tensor], doc: "A CAM or a map [H, W] (a batch: its first map)."),
                Parameter("b", [.object("cam"), .tensor], doc: "Another map of the same size."),
            ],
            category: "Metrics",
            summary: "How alike two maps are: Spearman's rank correlation (also of absolute values), SSIM and HOG similarity, as a table.",
            details: "The measures of the sanity checks, for maps you made yourself: two models (e.g. one trained on shuffled labels, Adebayo et al.'s data randomisation test), two methods, two layers. SSIM is scikit-image's with Quantus' data range; HOG similarity is the Pearson correlation of scikit-image's default HOG descriptors.",
            formula: "ρ_s(a, b), ρ_s(|a|, |b|), SSIM(a, b), ρ(HOG(a), HOG(b))",
            paper: "Adebayo et al., Sanity Checks for Saliency Maps, NeurIPS 2018 (§3)",
            example: "similarity(gradcam(model, x), scorecam(model, x))")) { args, _ in
            func map(_ name: String) throws -> Tensor {
                switch args[name] {
                case .object(let cam as CAMObject): return cam.result.map.slice(0).reshaped([1] + cam.result.map.shape.dropFirst())
                case .tensor(let t) where t.rank == 2: return t.reshaped([1] + t.shape)
                case .tensor(let t) where t.rank == 3 && t.shape[0] >= 1: return t.slice(0).reshaped([1] + t.shape.dropFirst())
                case .tensor(let t): throw RuntimeError("similarity: a map is a tensor [H, W], got \(Network.describeShape(t.shape))")
                default: throw RuntimeError("similarity: argument `\(name)` must be a cam or a tensor, got \(args[name].typeName)")
                }
            }
            let (a, b) = (try map("a"), try map("b"))
            guard a.shape == b.shape else {
                throw RuntimeError("similarity: the maps are \(a.shape[2])×\(a.shape[1]) and \(b.shape[2])×\(b.shape[1]); compare maps of the same size")
            }
            let step = try SanityCheck.step("", original: a, maps: b)
            let measures: [(String, Float)] = [("spearman", step.spearman), ("spearman_abs", step.spearmanAbs), ("ssim", step.ssim), ("hog", step.hog)]
            let rows: [[Value]] = measures.map { [.string($0.0), numberValue($0.1)] }
            return .object(TableObject(title: "similarity", columns: ["measure", "value"], rows: rows))
        })
    }
}

/// `sanity`.
private func runSanity(_ args: BoundArguments, _ context: CallContext) throws -> Value {
    let callee = args.callee
    let model = try args.object("model", as: ModelObject.self)
    guard let network = model.network as? Network else {
        throw RuntimeError("\(callee): this model's parameters cannot be randomised")
    }
    let input = try batch(try args.tensor("x"), callee)
    let info = try CAMMethods.info(named: try args.string("method"))
    let testName = try args.string("test")
    guard testName == "model" || testName == "target" else {
        throw RuntimeError("\(callee): test= is \"model\" or \"target\", not \"\(testName)\"" + didYouMean(testName, ["model", "target"]))
    }
    let granularityName = try args.string("granularity")
    guard let granularity = RandomisationGranularity(rawValue: granularityName) else {
        throw RuntimeError("\(callee): granularity= is \"block\" or \"layer\", not \"\(granularityName)\"" + didYouMean(granularityName, ["block", "layer"]))
    }
    let seed = try args.integer("seed")
    guard seed >= 0 else { throw RuntimeError("\(callee): seed must be 0 or more, got \(seed)") }
    let threshold = try args.number("threshold")
    guard threshold > 0, threshold <= 1 else { throw RuntimeError("\(callee): threshold= is above 0 and at most 1, got \(Value.number(threshold).repr)") }
    var layers: [String]?
    if !args.isNone("layer") {
        guard info.usesLayers else { throw RuntimeError("\(callee): \(info.className) does not use a target layer; leave out layer=") }
        layers = [try network.resolveLayer(try args.string("layer"))]
    }
    let classes = try targetList(args["target"], callee)
    let engine = CAMEngine(network: network)
    let reporter = ProgressReporter(name: callee, context: context)
    defer { reporter.finish() }
    func compute(_ targets: [ClassTarget]?) throws -> CAMResult {
        try engine.compute(info.make(CAMOptionValues()), input: input, layers: layers, targets: targets, score: .logit,
                           cancellation: context.cancellation)
    }
    let original = try compute(classes)
    let mean = network.preset.mean, std = network.preset.std
    if testName == "target" {
        var random = SplitMix64(seed: UInt64(seed))
        let classCount = network.outputCount
        guard classCount >= 2 else { throw RuntimeError("\(callee): a model with one output has no other class to compare with") }
        let others = original.targets.map { target -> Int in
            var other = Int(random.next() % UInt64(classCount - 1))
            if other >= target.classIndex { other += 1 }
            return other
        }
        let names = network.classNames
        let describe = { (k: Int) in k < names.count ? "\(k) \"\(names[k])\"" : "\(k)" }
        let other = try compute(others.map { .index($0) })
        let name = "class " + others.map(describe).joined(separator: ", ")
        let step = try SanityCheck.step(name, original: original.map, maps: other.map)
        let captions = ["class " + original.targets.map { describe($0.classIndex) }.joined(separator: ", ") + " (explained)",
                        name + " (random)"]
        let picture = try overlayGrid(input, maps: [original.map.slice(0), other.map.slice(0)], captions: captions,
                                      mean: mean, std: std, columns: 2)
        return .object(SanityObject(method: info.className, test: "target", steps: [step], threshold: Float(threshold),
                                    image: picture, cams: [original, other].map { CAMObject($0, mean: mean, std: std) }))
    }
    let check = SanityCheck(network: network, cancellation: context.cancellation,
                            progress: { done, total in reporter.report(done, total) })
    let groups = check.randomisationSteps(granularity).count
    context.emit(.text("\(callee): \(groups) randomisation steps × \(info.builtin) (\(granularity.rawValue) by \(granularity.rawValue), from the top)"))
    let targets = original.targets.map { ClassTarget.index($0.classIndex) }
    let result = try check.modelRandomisation(granularity: granularity, seed: UInt64(seed)) { try compute(targets).map }
    // The strip: the original and at most 11 steps, evenly spaced, always the last.
    let count = result.steps.count
    let shown = count <= 11 ? Array(0..<count) : Array(Set((0..<11).map { $0 * (count - 1) / 10 })).sorted()
    let captions = ["original"] + shown.map { i in
        "\(result.steps[i].name) ρ \(TableObject.cell(numberValue(result.steps[i].spearman)))"
    }
    let picture = try overlayGrid(input, maps: [original.map.slice(0)] + shown.map { result.steps[$0].maps.slice(0) },
                                  captions: captions, mean: mean, std: std, columns: min(6, shown.count + 1))
    var cams = [CAMObject(original, mean: mean, std: std)]
    for step in result.steps {
        var randomised = original
        randomised.map = step.maps
        cams.append(CAMObject(randomised, mean: mean, std: std))
    }
    return .object(SanityObject(method: info.className, test: "model", steps: result.steps, threshold: Float(threshold),
                                image: picture, cams: cams))
}

/// What `sanity` returns: the steps' similarities as a table, the verdict, and the maps.
final class SanityObject: ScriptObject, @unchecked Sendable {
    let method: String
    let test: String
    let steps: [SanityStep]
    let threshold: Float
    let image: RGBImage
    let cams: [CAMObject]

    init(method: String, test: String, steps: [SanityStep], threshold: Float, image: RGBImage, cams: [CAMObject]) {
        self.method = method
        self.test = test
        self.steps = steps
        self.threshold = threshold
        self.image = image
        self.cams = cams
    }

    var typeName: String { "sanity" }

    /// Whether the last step's map lost the original's rank order: its rank correlation is below
    /// the threshold (a strongly negative one is a changed map too).
    var passed: Bool { (steps.last?.spearman ?? 1) < threshold }

    /// `sanity check of GradCAM (model randomisation, 11 steps): passed, …`.
    var description: String {
        let last = TableObject.cell(numberValue(steps.last?.spearman ?? 0))
        let what = test == "model" ? "model randomisation, \(steps.count) steps" : "random target"
        let after = test == "model" ? "after the last step" : "against the random class"
        if passed {
            return "sanity check of \(method) (\(what)): passed — \(after) the map's rank correlation with the original is \(last), below \(TableObject.cell(numberValue(threshold)))"
        }
        let reason = test == "model" ? "the map does not depend on the model's parameters" : "the map does not depend on the class"
        return "sanity check of \(method) (\(what)): FAILED — \(after) the map's rank correlation with the original is still \(last): \(reason)"
    }

    private var tableObject: TableObject {
        TableObject(title: "sanity check of \(method)", columns: [test == "model" ? "randomised" : "compared with", "spearman", "spearman_abs", "ssim", "hog"],
                    rows: steps.map { [.string($0.name), numberValue($0.spearman), numberValue($0.spearmanAbs), numberValue($0.ssim), numberValue($0.hog)] })
    }

    var echoDescription: String { tableObject.echoDescription + "\n" + description }

    var table: TextTable? { tableObject.table }

    var displayImage: DisplayImage? { DisplayImage(width: image.width, height: image.height, rgb: image.pixels) }

    var memberNames: [String] { ["cams", "hog", "image", "passed", "spearman", "spearman_abs", "ssim", "steps", "table"] }

    func member(_ name: String) throws -> Value? {
        switch name {
        case "passed": return .bool(passed)
        case "steps": return .list(steps.map { .string($0.name) })
        case "spearman": return .list(steps.map { numberValue($0.spearman) })
        case "spearman_abs": return .list(steps.map { numberValue($0.spearmanAbs) })
        case "ssim": return .list(steps.map { numberValue($0.ssim) })
        case "hog": return .list(steps.map { numberValue($0.hog) })
        case "image": return .object(ImageObject(image))
        case "table": return .object(tableObject)
        case "cams": return .list(cams.map { .object($0) })
        default: return nil
        }
    }
}
