import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers the faithfulness metrics: `confidence_change` and `road`.
    mutating func registerMetricBuiltins() {
        let category = "Metrics"
        register(Builtin(BuiltinSignature(
            name: "confidence_change",
            parameters: metricParameters() + [
                Parameter("report", [.string], default: .string("change"), keywordOnly: true,
                          doc: "\"change\": score(x·map) − score(x) (CamMultImageConfidenceChange); \"drop\": max(score(x) − score(x·map), 0) (DropInConfidence); \"increase\": 1 if the score rose, else 0 (IncreaseInConfidence)."),
            ],
            category: category,
            summary: "How the target's score changes when the image is multiplied by its map (pytorch-grad-cam's CamMultImageConfidenceChange).",
            details: "One number for an image, a list for a batch. The score is the CAM's own target (logit, or softmax probability with softmax=true when the CAM was made so) unless target= names another class. A map that keeps what the model needs keeps the score: a change near 0, or positive.",
            formula: "S(x ⊙ M) − S(x), M the map broadcast over the channels",
            paper: "pytorch-grad-cam 1.5.7 metrics (cam_mult_image.py); after Chattopadhay et al., Grad-CAM++, WACV 2018 (§6.1, average drop and increase in confidence)",
            example: "c = gradcam model x target=\"tabby\"\nprint confidence_change(model, x, c)")) { args, context in
            let (network, input, maps, targets) = try metricInputs(args)
            let reportName = try args.string("report")
            guard let report = ConfidenceReport(rawValue: reportName) else {
                throw RuntimeError("\(args.callee): report= is \"change\", \"drop\" or \"increase\", not \"\(reportName)\"" + didYouMean(reportName, ConfidenceReport.allCases.map(\.rawValue)))
            }
            let values = try PerturbationMetrics(network: network, cancellation: context.cancellation)
                .confidenceChange(input: input, maps: maps, targets: targets, report: report)
            return metricValue(values)
        })

        register(Builtin(BuiltinSignature(
            name: "pointing_game",
            parameters: [
                Parameter("cam", [.object("cam"), .tensor], doc: "A CAM, or a map as a tensor [H, W] ([N, H, W] for a batch)."),
                Parameter("box", [.list], default: Value.none, keywordOnly: true,
                          doc: "The object's box [x0, y0, x1, y1] in pixels of the map (the model's input after preprocess): x0 ≤ x < x1, y0 ≤ y < y1."),
                Parameter("mask", [.object("image"), .tensor], default: Value.none, keywordOnly: true,
                          doc: "The object's mask instead of a box: an image of the map's size (inside where it is brighter than mid-grey) or a tensor [H, W] (inside above 0.5)."),
                Parameter("energy", [.bool], default: .bool(false), keywordOnly: true,
                          doc: "Give the share of the map's mass inside (the energy-based pointing game) instead of whether its peak is inside."),
            ],
            category: category,
            summary: "The pointing game: whether the map's peak lies on the object (or, with energy=true, how much of its mass does).",
            details: "As Quantus 0.6's PointingGame (a hit when any pixel at the map's maximum is inside) and RelevanceMassAccuracy (Σ inside / Σ all, the energy-based pointing game of Score-CAM). One value per map: true/false, or a number in [0, 1]; a list for a batch.",
            formula: "hit = ∃ p ∈ argmax M with p inside; energy = Σ_{p inside} M_p / Σ_p M_p",
            paper: "Zhang et al., Top-down Neural Attention by Excitation Backprop, ECCV 2016 (pointing game); Wang et al., Score-CAM, CVPR-W 2020 (§4.2, energy-based pointing game)",
            example: "c = gradcam model x target=\"tabby\"\nprint pointing_game(c, box=[40, 60, 180, 200])")) { args, _ in
            try pointingGame(args)
        })

        register(Builtin(BuiltinSignature(
            name: "road",
            parameters: metricParameters() + [
                Parameter("order", [.string], default: .string("combined"), keywordOnly: true,
                          doc: "\"most\" (remove the most relevant pixels first), \"least\" (the least relevant first) or \"combined\" ((least − most) / 2)."),
                Parameter("percentiles", [.number, .list], default: Value.none, keywordOnly: true,
                          doc: "The thresholds in percent of the map's values, a number or a list (their changes are averaged); default 80 for most, 20 for least, 10, 20, …, 90 for combined."),
            ] + noiseParameters,
            category: category,
            summary: "ROAD: the score change when the pixels the map rates highest (or lowest) are removed and filled in from their neighbours.",
            details: "Removed pixels are filled by noisy linear imputation (each the weighted mean of its 8 neighbours, a sparse linear system solved by SuiteSparse's CHOLMOD), so the model sees no sharp mask edges. order=\"most\": a faithful map makes the score drop (more negative is better); \"least\": it keeps the score (near 0 is better); \"combined\": (least − most) / 2, higher is better. One number for an image, a list for a batch; the perturbed images run as batches.",
            formula: "most: mean_p [S(impute(x, M ≥ pct_p(M))) − S(x)]; least: the same with 1 − M; combined: (least − most) / 2",
            paper: "Rong et al., A Consistent and Efficient Evaluation Strategy for Attribution Methods, ICML 2022 (§4, noisy linear imputation); as pytorch-grad-cam 1.5.7's ROADMostRelevantFirst, ROADLeastRelevantFirst, ROADCombined",
            example: "c = gradcam model x target=281\nroad model x c target=281")) { args, context in
            let (network, input, maps, targets) = try metricInputs(args)
            let orderName = try args.string("order")
            guard let order = ROADOrder(rawValue: orderName) else {
                throw RuntimeError("\(args.callee): order= is \"most\", \"least\" or \"combined\", not \"\(orderName)\"" + didYouMean(orderName, ROADOrder.allCases.map(\.rawValue)))
            }
            var percentiles: [Double]?
            switch args["percentiles"] {
            case .none: percentiles = nil
            case .number(let p): percentiles = [p]
            case .list(let items):
                guard !items.isEmpty else { throw RuntimeError("\(args.callee): percentiles= needs at least one percentile, got an empty list") }
                percentiles = try items.map { item in
                    guard case .number(let p) = item else {
                        throw RuntimeError("\(args.callee): percentiles= must be numbers, found \(item.typeName) in the list")
                    }
                    return p
                }
            default: throw RuntimeError("\(args.callee): percentiles= must be a number or a list of numbers")
            }
            for p in percentiles ?? [] where !(p >= 0 && p <= 100) {
                throw RuntimeError("\(args.callee): a percentile is between 0 and 100, got \(Value.number(p).repr)")
            }
            let options = try metricOptions(args)
            let values = try PerturbationMetrics(network: network, cancellation: context.cancellation)
                .road(input: input, maps: maps, targets: targets, order: order, percentiles: percentiles,
                      noise: options.noise, seed: options.seed)
            return metricValue(values)
        })

        register(Builtin(BuiltinSignature(
            name: "arcc",
            parameters: metricParameters() + [
                Parameter("percentiles", [.list], default: .list(PerturbationMetrics.arccPercentiles.map { .number($0) }), keywordOnly: true,
                          doc: "ROAD's thresholds in percent (ARCC's 20, 40, 60, 80)."),
                Parameter("parts", [.bool], default: .bool(false), keywordOnly: true,
                          doc: "Return a table of ARCC and its three parts instead of the number."),
            ] + noiseParameters,
            category: category,
            summary: "ARCC: one number from a map's complexity, its coherency under its own masking, and ROAD (higher is better).",
            details: "Complexity is the map's mean |value| (a map that lights up everything is not an explanation); coherency recomputes the map with the same method, layers and target on the image multiplied by the map and correlates the two (Pearson, mapped to 0…1); ROAD is road(order=\"combined\") at the percentiles, doubled and clipped to 0…1. ARCC is the harmonic mean of coherency, 1 − complexity and that ROAD. The recomputation uses the method's default options. One number for an image, a list for a batch; parts=true gives a table with arcc, complexity, coherency and road (unscaled) per image.",
            formula: "ARCC = 3 / (1/Coherency + 1/(1 − Complexity) + 1/clip(2·ROAD, 0, 1)); Coherency = (ρ(CAM(x ⊙ M), M) + 1) / 2; Complexity = mean |M|",
            paper: "pytorch-grad-cam 1.5.7 metrics (arcc.py); Complexity and Coherency after Poppi et al., Revisiting the Evaluation of Class Activation Mapping for Explainability, CVPR Workshops 2021",
            example: "c = gradcam model x target=\"tabby\"\narcc model x c\narcc model x c parts=true")) { args, context in
            let (network, input, maps, targets) = try metricInputs(args)
            let cam = try args.object("cam", as: CAMObject.self)
            let percentiles = try args.list("percentiles").map { item -> Double in
                guard case .number(let p) = item, p > 0, p < 100 else {
                    throw RuntimeError("\(args.callee): percentiles= are numbers above 0 and below 100, found \(item.repr)")
                }
                return p
            }
            guard !percentiles.isEmpty else { throw RuntimeError("\(args.callee): percentiles= needs at least one percentile, got an empty list") }
            let options = try metricOptions(args)
            let scores = try PerturbationMetrics(network: network, cancellation: context.cancellation)
                .arcc(input: input, maps: maps, targets: targets,
                      recompute: { try CAMEngine(network: network).recompute(cam.result, on: $0, cancellation: context.cancellation) },
                      percentiles: percentiles, noise: options.noise, seed: options.seed)
            guard try args.bool("parts") else { return metricValue(scores.map(\.arcc)) }
            let columns = scores.count == 1 ? ["value"] : scores.indices.map { "image \($0)" }
            let parts: [(String, KeyPath<ARCCScore, Float>, String)] = [
                ("arcc", \.arcc, "higher"), ("complexity", \.complexity, "lower"), ("coherency", \.coherency, "higher"), ("road", \.road, "higher"),
            ]
            let rows = parts.map { name, path, better -> [Value] in
                [.string(name)] + scores.map { numberValue($0[keyPath: path]) } + [.string(better)]
            }
            return .object(TableObject(title: "ARCC of \(cam.result.method)", columns: ["part"] + columns + ["better"], rows: rows))
        })
    }
}

/// `pointing_game`: one hit or energy per map.
private func pointingGame(_ args: BoundArguments) throws -> Value {
    let callee = args.callee
    let maps: Tensor
    switch args["cam"] {
    case .object(let o as CAMObject): maps = o.result.unitMap
    case .tensor(let t) where t.rank == 2: maps = t.reshaped([1] + t.shape)
    case .tensor(let t) where t.rank == 3: maps = t
    case .tensor(let t): throw RuntimeError("\(callee): a map is a tensor [H, W] or [N, H, W], got \(Network.describeShape(t.shape))")
    default: throw RuntimeError("\(callee): argument `cam` must be a cam or a tensor, got \(args["cam"].typeName)")
    }
    let (count, height, width) = (maps.shape[0], maps.shape[1], maps.shape[2])
    let mask: [Bool]
    switch (args["box"], args["mask"]) {
    case (.none, .none):
        throw RuntimeError("\(callee): say where the object is, with box=[x0, y0, x1, y1] or mask=")
    case (.list(let items), .none):
        let numbers = items.compactMap(\.integerValue)
        guard items.count == 4, numbers.count == 4 else {
            throw RuntimeError("\(callee): box= is four whole pixel coordinates [x0, y0, x1, y1], got \(Value.list(items).repr)")
        }
        guard numbers[0] < numbers[2], numbers[1] < numbers[3] else {
            throw RuntimeError("\(callee): box= is [x0, y0, x1, y1] with x0 < x1 and y0 < y1, got \(Value.list(items).repr)")
        }
        mask = Localisation.boxMask(x0: numbers[0], y0: numbers[1], x1: numbers[2], y1: numbers[3], width: width, height: height)
    case (.none, .object(let o as ImageObject)):
        guard o.image.width == width, o.image.height == height else {
            throw RuntimeError("\(callee): the mask is \(o.image.width)×\(o.image.height) but the map is \(width)×\(height); resize or crop it as the model's input was")
        }
        mask = (0..<(width * height)).map { p in
            let rgb = o.image.pixels[(3 * p)..<(3 * p + 3)]
            return rgb.reduce(0) { $0 + Int($1) } > 3 * 127
        }
    case (.none, .tensor(let t)):
        guard t.shape == [height, width] else {
            throw RuntimeError("\(callee): the mask is \(Network.describeShape(t.shape)) but the map is [\(height), \(width)]")
        }
        mask = t.storage.map { $0 > 0.5 }
    case (.none, _):
        throw RuntimeError("\(callee): mask= must be an image or a tensor, got \(args["mask"].typeName)")
    default:
        throw RuntimeError("\(callee): give box= or mask=, not both")
    }
    guard mask.contains(true) else {
        throw RuntimeError("\(callee): the box or mask covers no pixel of the \(width)×\(height) map")
    }
    let energy = try args.bool("energy")
    let values = try (0..<count).map { i -> Value in
        let map = maps.storage[(i * height * width)..<((i + 1) * height * width)]
        if energy {
            guard let share = Localisation.energy(map, inside: mask) else {
                throw RuntimeError("\(callee): map \(i) is 0 everywhere, so it has no mass to share out")
            }
            return numberValue(share)
        }
        return .bool(Localisation.pointingGame(map, inside: mask) ?? false)
    }
    return values.count == 1 ? values[0] : .list(values)
}

/// The arguments every metric takes: the model, the image, the map, and the class measured.
func metricParameters() -> [Parameter] {
    [
        Parameter("model", [.object("model")], doc: "The classifier."),
        Parameter("x", [.tensor], doc: "The preprocessed image [3, H, W] or batch [N, 3, H, W] the map was computed for."),
        Parameter("cam", [.object("cam")], doc: "The map to measure (its size is the image's)."),
        Parameter("target", [.integer, .string, .list], default: Value.none, keywordOnly: true,
                  doc: "The class whose score is measured (index, label, or one per image); the CAM's own target when omitted."),
        Parameter("softmax", [.bool], default: Value.none, keywordOnly: true,
                  doc: "With target=: measure the softmax probability instead of the logit."),
    ]
}

/// The network, the input batch, the maps `[N, H, W]` (in 0…1, through each CAM's colour range)
/// and the measured targets of a metric call.
func metricInputs(_ args: BoundArguments) throws -> (CAMNetwork, Tensor, Tensor, MetricTargets) {
    let callee = args.callee
    let model = try args.object("model", as: ModelObject.self)
    let input = try batch(try args.tensor("x"), callee)
    let cam = try args.object("cam", as: CAMObject.self)
    let (n, h, w) = (input.shape[0], input.shape[2], input.shape[3])
    guard cam.result.map.shape == [n, h, w] else {
        let size = cam.result.map.shape.dropFirst().map(String.init).joined(separator: "×")
        throw RuntimeError("\(callee): the CAM holds \(cam.batchCount) map\(cam.batchCount == 1 ? "" : "s") of \(size) but x is \(n) image\(n == 1 ? "" : "s") of \(h)×\(w); measure a map with the image it was computed for")
    }
    let targets: MetricTargets
    if args.isNone("target") {
        guard args.isNone("softmax") else {
            throw RuntimeError("\(callee): softmax= goes with target=; without it the CAM's own target is measured as it was explained")
        }
        targets = .explained(cam.result.targets)
    } else {
        let classes = try targetList(args["target"], callee)
        targets = .classes(classes, score: (args.isNone("softmax") ? false : try args.bool("softmax")) ? .softmax : .logit)
    }
    // Measured as the colours show it: a raw or signed map through its colour range.
    return (model.network, input, cam.result.unitMap, targets)
}

/// One number for one image, a list for a batch.
private func metricValue(_ values: [Float]) -> Value {
    values.count == 1 ? numberValue(values[0]) : .list(values.map(numberValue))
}

/// The options of the perturbation metrics that `metrics` and `sweep` pass on.
struct MetricOptions {
    var noise: Float = 0.01
    var seed: UInt32 = 0
    /// The measured CAM's method, layers and targets run on another batch (ARCC's coherency).
    var recompute: ((Tensor) throws -> Tensor)?
}

/// A metric that `metrics` and `sweep` run by name: what it is, which way is better, and how
/// many forward passes of one image it costs.
struct MetricKind {
    /// The name scripts use, e.g. `"road_combined"`.
    var name: String
    /// pytorch-grad-cam's class that defines it.
    var reference: String
    /// Whether a higher value means a more faithful map.
    var higherIsBetter: Bool
    /// Forward passes per image: the unperturbed one and the perturbed ones.
    var passesPerImage: Int
    /// Runs it: one value per image.
    var run: (PerturbationMetrics, Tensor, Tensor, MetricTargets, MetricOptions) throws -> [Float]

    /// `"higher"` or `"lower"`.
    var better: String { higherIsBetter ? "higher" : "lower" }

    /// Every metric, in the order `metrics` lists them.
    static let all: [MetricKind] = [
        MetricKind(name: "confidence_change", reference: "CamMultImageConfidenceChange", higherIsBetter: true, passesPerImage: 2) { m, x, maps, t, _ in
            try m.confidenceChange(input: x, maps: maps, targets: t, report: .change)
        },
        MetricKind(name: "drop_in_confidence", reference: "DropInConfidence", higherIsBetter: false, passesPerImage: 2) { m, x, maps, t, _ in
            try m.confidenceChange(input: x, maps: maps, targets: t, report: .drop)
        },
        MetricKind(name: "increase_in_confidence", reference: "IncreaseInConfidence", higherIsBetter: true, passesPerImage: 2) { m, x, maps, t, _ in
            try m.confidenceChange(input: x, maps: maps, targets: t, report: .increase)
        },
        MetricKind(name: "road_most", reference: "ROADMostRelevantFirst", higherIsBetter: false, passesPerImage: ROADOrder.most.forwardPasses) { m, x, maps, t, o in
            try m.road(input: x, maps: maps, targets: t, order: .most, noise: o.noise, seed: o.seed)
        },
        MetricKind(name: "road_least", reference: "ROADLeastRelevantFirst", higherIsBetter: true, passesPerImage: ROADOrder.least.forwardPasses) { m, x, maps, t, o in
            try m.road(input: x, maps: maps, targets: t, order: .least, noise: o.noise, seed: o.seed)
        },
        MetricKind(name: "road_combined", reference: "ROADCombined", higherIsBetter: true, passesPerImage: ROADOrder.combined.forwardPasses) { m, x, maps, t, o in
            try m.road(input: x, maps: maps, targets: t, order: .combined, noise: o.noise, seed: o.seed)
        },
        MetricKind(name: "arcc", reference: "ARCC", higherIsBetter: true,
                   passesPerImage: 2 + 1 + 2 * PerturbationMetrics.arccPercentiles.count) { m, x, maps, t, o in
            guard let recompute = o.recompute else { throw RuntimeError("arcc needs the CAM's method to recompute the map on the masked image") }
            return try m.arcc(input: x, maps: maps, targets: t, recompute: recompute, noise: o.noise, seed: o.seed).map(\.arcc)
        },
        // The curves at TorchCAM's defaults (20 steps, zero baseline), measuring the CAM's own
        // target as the other metrics of the table do.
        MetricKind(name: "deletion_auc", reference: "DeletionInsertionMetric (TorchCAM)", higherIsBetter: false,
                   passesPerImage: PerturbationMetrics.curvePasses(kinds: 1, steps: 20, positions: 224 * 224)) { m, x, maps, t, _ in
            try m.curves(input: x, maps: maps, targets: t, kinds: [.deletion], steps: 20, baseline: .zero).map { $0[0].auc }
        },
        MetricKind(name: "insertion_auc", reference: "DeletionInsertionMetric (TorchCAM)", higherIsBetter: true,
                   passesPerImage: PerturbationMetrics.curvePasses(kinds: 1, steps: 20, positions: 224 * 224)) { m, x, maps, t, _ in
            try m.curves(input: x, maps: maps, targets: t, kinds: [.insertion], steps: 20, baseline: .zero).map { $0[0].auc }
        },
    ]

    /// The metric called `name`, or an error that lists them with a did-you-mean.
    static func named(_ name: String, _ callee: String) throws -> MetricKind {
        if let kind = all.first(where: { $0.name == name }) { return kind }
        throw RuntimeError("\(callee): unknown metric \"\(name)\"" + didYouMean(name, all.map(\.name))
                           + " (metrics: " + all.map(\.name).joined(separator: ", ") + ")")
    }
}

/// `noise=` and `seed=` of a metric call.
private func metricOptions(_ args: BoundArguments) throws -> MetricOptions {
    let noise = try args.number("noise")
    guard noise.isFinite, noise >= 0 else {
        throw RuntimeError("\(args.callee): noise must be 0 or more, got \(Value.number(noise).repr)")
    }
    let seed = try args.integer("seed")
    guard seed >= 0, seed <= Int(UInt32.max) else {
        throw RuntimeError("\(args.callee): seed must be between 0 and \(UInt32.max), got \(seed)")
    }
    return MetricOptions(noise: Float(noise), seed: UInt32(seed))
}

/// `noise=` and `seed=` as parameters.
private let noiseParameters = [
    Parameter("noise", [.number], default: .number(0.01), keywordOnly: true,
              doc: "The standard deviation of the Gaussian noise added to the imputed pixels (pytorch-grad-cam's 0.01)."),
    Parameter("seed", [.integer], default: .number(0), keywordOnly: true,
              doc: "Seeds the noise (numpy's Mersenne Twister; pytorch-grad-cam draws it from torch's generator, unseeded)."),
]

extension BuiltinRegistry {
    /// Registers `metrics` (several metrics as one table) and `sweep` (which layer?).
    mutating func registerMetricTableBuiltins() {
        let category = "Metrics"
        register(Builtin(BuiltinSignature(
            name: "metrics",
            parameters: metricParameters() + [
                Parameter("names", [.list], default: Value.none, keywordOnly: true,
                          doc: "The metrics to run, in order (default all: " + MetricKind.all.map(\.name).joined(separator: ", ") + ")."),
            ] + noiseParameters,
            category: category,
            summary: "Several faithfulness metrics of one map at once, as a table: the value, which way is better, and the reference class.",
            details: "Each metric is pytorch-grad-cam 1.5.7's (see confidence_change and road). The table prints aligned, lands in reports as a table, and gives its columns as members (t.metric, t.value; t.image_0, t.image_1 … for a batch) and its rows by index.",
            example: "c = gradcam model x target=\"tabby\"\nmetrics model x c")) { args, context in
            let (network, input, maps, targets) = try metricInputs(args)
            let cam = try args.object("cam", as: CAMObject.self)
            let kinds: [MetricKind]
            if args.isNone("names") {
                kinds = MetricKind.all
            } else {
                kinds = try args.list("names").map { item in
                    guard case .string(let name) = item else {
                        throw RuntimeError("metrics: names= must be a list of metric names, found \(item.typeName)")
                    }
                    return try MetricKind.named(name, "metrics")
                }
                guard !kinds.isEmpty else { throw RuntimeError("metrics: names= needs at least one metric, got an empty list") }
            }
            var options = try metricOptions(args)
            options.recompute = { try CAMEngine(network: network).recompute(cam.result, on: $0, cancellation: context.cancellation) }
            let metrics = PerturbationMetrics(network: network, cancellation: context.cancellation)
            let images = input.shape[0]
            let valueColumns = images == 1 ? ["value"] : (0..<images).map { "image \($0)" }
            var rows: [[Value]] = []
            for kind in kinds {
                let values = try kind.run(metrics, input, maps, targets, options)
                rows.append([.string(kind.name)] + values.map(numberValue) + [.string(kind.better), .string(kind.reference)])
            }
            return .object(TableObject(title: "metrics of \(cam.result.method)", columns: ["metric"] + valueColumns + ["better", "reference"], rows: rows))
        })

        register(Builtin(BuiltinSignature(
            name: "sweep",
            parameters: [
                Parameter("model", [.object("model")], doc: "The classifier."),
                Parameter("x", [.tensor], doc: "A preprocessed image [3, H, W] or a batch [N, 3, H, W] (the metric is averaged over its images)."),
                Parameter("method", [.string], default: .string("gradcam"), keywordOnly: true,
                          doc: "The CAM method: " + CAMMethods.names.joined(separator: ", ") + "."),
                Parameter("metric", [.string], default: .string("road_combined"), keywordOnly: true,
                          doc: "The metric that ranks the layers: " + MetricKind.all.map(\.name).joined(separator: ", ") + "."),
                Parameter("layers", [.list], default: Value.none, keywordOnly: true,
                          doc: "The layers to compare (default: every numbered block of the model whose output has a spatial size above 1×1, e.g. layer1.0 … layer4.1 of a ResNet-18)."),
                Parameter("target", [.integer, .string, .list], default: Value.none, keywordOnly: true,
                          doc: "Class index, label, or a list (one per image); the top class when omitted."),
                Parameter("softmax", [.bool], default: .bool(false), keywordOnly: true, doc: "Explain and measure the softmax probability."),
                Parameter("max_passes", [.integer], default: Value.none, keywordOnly: true,
                          doc: "Refuse a sweep (and a long method's CAM) above this many forward passes (default $CAMSCRIPT_MAX_PASSES or \(CAMWorkCeiling.defaultMaxPasses))."),
            ] + noiseParameters,
            category: category,
            summary: "Which layer? One CAM per layer, ranked by a metric: a labelled grid of the maps, a table of the scores, and the best layer named.",
            details: "For each layer the method's map is computed as `cam` would, then the metric measures it (averaged over a batch's images); the layers keep their forward order in the table and the grid, and the best one is named (ties: the earlier layer). The work (CAMs and the metric's forward passes) is announced before it starts and held to max_passes=. The result prints as the table; `show` draws the grid; members: best, layers, scores, cams, table, image.",
            example: "s = sweep model x method=\"gradcam\" metric=\"road_combined\"\nshow s\nc = gradcam model x layer=s.best")) { args, context in
            try runSweep(args, context)
        })
    }
}

/// `sweep`: one CAM per layer, each measured, the best named.
private func runSweep(_ args: BoundArguments, _ context: CallContext) throws -> Value {
    let callee = args.callee
    let model = try args.object("model", as: ModelObject.self)
    let network = model.network
    let input = try batch(try args.tensor("x"), callee)
    let info = try CAMMethods.info(named: try args.string("method"))
    let metric = try MetricKind.named(try args.string("metric"), callee)
    guard info.usesLayers else {
        throw RuntimeError("\(callee): \(info.className) does not use a target layer (it uses every bias layer), so a layer sweep cannot compare anything; choose a method that takes layer=")
    }
    let options = try metricOptions(args)
    let first = input.shape[0] == 1 ? input : input.slice(0).reshaped([1] + input.shape.dropFirst())
    var layers: [String]
    if args.isNone("layers") {
        layers = try LayerSweep.defaultLayers(of: network, for: first, cancellation: context.cancellation)
        guard layers.count >= 2 else {
            throw RuntimeError("\(callee): this model has no numbered blocks to compare (found \(layers.count)); name the layers with layers=[…] (`layers model` lists them)")
        }
    } else {
        layers = try args.list("layers").map { item in
            guard case .string(let path) = item else { throw RuntimeError("\(callee): layers= must be a list of layer paths, found \(item.typeName)") }
            return try network.resolveLayer(path)
        }
        guard !layers.isEmpty else { throw RuntimeError("\(callee): layers= needs at least one layer, got an empty list") }
    }
    let images = input.shape[0]
    let metricPasses = layers.count * metric.passesPerImage * images
    let camPasses = layers.count * images
    let ceiling = try CAMWorkCeiling(argument: args.isNone("max_passes") ? nil : try args.integer("max_passes"),
                                     environment: context.environment, callee: callee)
    let total = metricPasses + camPasses
    guard total <= ceiling.maxPasses else {
        throw RuntimeError("\(callee): the sweep would run \(total) forward passes (\(layers.count) layers × (1 CAM + \(metric.passesPerImage) for \(metric.name)) × \(images) image\(images == 1 ? "" : "s")), more than the limit of \(ceiling.maxPasses) (\(ceiling.source)); "
                           + "raise it with max_passes= or \(CAMWorkCeiling.environmentVariable), or sweep fewer layers (layers=[…])")
    }
    context.emit(.text("\(callee): \(layers.count) layers × \(info.builtin) then \(metric.name): about \(total) forward passes\(info.cost.isLong ? " plus \(info.builtin)'s own per layer" : "")"))
    let targets = try targetList(args["target"], callee)
    let score: CAMScore = try args.bool("softmax") ? .softmax : .logit
    let metrics = PerturbationMetrics(network: network, cancellation: context.cancellation)
    let reporter = ProgressReporter(name: callee, context: context)
    defer { reporter.finish() }
    let sweep = try LayerSweep(network: network, input: input, layers: layers, method: { info.make(CAMOptionValues()) },
                               targets: targets, score: score, higherIsBetter: metric.higherIsBetter,
                               cancellation: context.cancellation, work: { work in try ceiling.check(work) },
                               progress: { done, total in reporter.report(done, total) }) { result in
        var measured = options
        measured.recompute = { try CAMEngine(network: network).recompute(result, on: $0, cancellation: context.cancellation) }
        return try metric.run(metrics, input, result.map, .explained(result.targets), measured)
    }
    let origin = try args.tensor("x").origin
    let cams = sweep.results.map { CAMObject($0, mean: network.preset.mean, std: network.preset.std, origin: origin) }
    let (scores, best) = (sweep.scores, sweep.best)
    let picture = try sweepPicture(first, cams: cams, layers: layers, scores: scores, best: best, mean: network.preset.mean, std: network.preset.std)
    return .object(SweepObject(method: info.className, metric: metric, layers: layers, scores: scores, best: best,
                               cams: cams, image: picture))
}

/// The grid of the first image's maps, each captioned with its layer and score.
private func sweepPicture(_ first: Tensor, cams: [CAMObject], layers: [String], scores: [Float], best: Int,
                          mean: [Float], std: [Float]) throws -> RGBImage {
    let captions = layers.indices.map { i in "\(layers[i]) \(TableObject.cell(numberValue(scores[i])))" + (i == best ? " (best)" : "") }
    return try overlayGrid(first, maps: cams.map { $0.result.map.slice(0) }, captions: captions, mean: mean, std: std)
}

/// The first image of `batch` overlaid with each map `[H, W]`, each captioned, in a grid of
/// `columns` (about square by default): what `sweep` and `sanity` draw.
func overlayGrid(_ batch: Tensor, maps: [Tensor], captions: [String], mean: [Float], std: [Float], columns: Int? = nil) throws -> RGBImage {
    let plain = batch.rank == 4 ? batch.slice(0) : batch
    let exact = exactPixels(plain, mean: mean, std: std)
    let pixels = exact == nil ? try denormalizedPixels(plain, mean: mean, std: std) : nil
    var tiles: [CaptionedImage] = []
    for (mask, caption) in zip(maps, captions) {
        let drawn: RGBImage
        if let exact {
            drawn = try overlay(exact, mask: mask)
        } else if let pixels {
            drawn = try overlay(pixels, mask: mask)
        } else {
            throw RuntimeError("the image could not be drawn")
        }
        tiles.append(try label(CaptionedImage(drawn), caption))
    }
    return try grid(tiles, columns: columns ?? Int(Double(tiles.count).squareRoot().rounded(.up)))
}

/// What `sweep` returns: the layers, their scores and maps, the best layer, a table and a picture.
final class SweepObject: ScriptObject, @unchecked Sendable {
    let method: String
    let metric: MetricKind
    let layers: [String]
    let scores: [Float]
    let best: Int
    let cams: [CAMObject]
    let image: RGBImage

    init(method: String, metric: MetricKind, layers: [String], scores: [Float], best: Int, cams: [CAMObject], image: RGBImage) {
        self.method = method
        self.metric = metric
        self.layers = layers
        self.scores = scores
        self.best = best
        self.cams = cams
        self.image = image
    }

    /// `"sweep"`.
    var typeName: String { "sweep" }

    /// `sweep of GradCAM by road_combined over 8 layers: best layer3.1 (0.4213, higher is better)`.
    var description: String {
        "sweep of \(method) by \(metric.name) over \(layers.count) layers: best \(layers[best]) (\(TableObject.cell(numberValue(scores[best]))), \(metric.better) is better)"
    }

    private var tableObject: TableObject {
        TableObject(title: "sweep of \(method) by \(metric.name)", columns: ["layer", metric.name, "best"],
                    rows: layers.indices.map { [.string(layers[$0]), numberValue(scores[$0]), .string($0 == best ? "best" : "")] })
    }

    /// The table, then the best layer.
    var echoDescription: String {
        tableObject.echoDescription + "\nbest layer: \(layers[best]) (\(metric.name) \(TableObject.cell(numberValue(scores[best]))), \(metric.better) is better)"
    }

    /// The table, for reports (the grid is `show s`).
    var table: TextTable? { tableObject.table }

    /// The grid of maps.
    var displayImage: DisplayImage? { DisplayImage(width: image.width, height: image.height, rgb: image.pixels) }

    var memberNames: [String] { ["best", "cams", "image", "layers", "metric", "scores", "table"] }

    func member(_ name: String) throws -> Value? {
        switch name {
        case "best": return .string(layers[best])
        case "layers": return .list(layers.map { .string($0) })
        case "scores": return .list(scores.map(numberValue))
        case "cams": return .list(cams.map { .object($0) })
        case "image": return .object(ImageObject(image))
        case "table": return .object(tableObject)
        case "metric": return .string(metric.name)
        default: return nil
        }
    }
}
