import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers the deletion and insertion curves and `plot`, which draws curves together.
    mutating func registerCurveBuiltins() {
        let category = "Metrics"
        for kind in CurveKind.allCases {
            let deletion = kind == .deletion
            register(Builtin(BuiltinSignature(
                name: kind.rawValue,
                parameters: curveParameters(kind),
                category: category,
                summary: deletion
                    ? "The deletion curve: the target's score as the pixels the map rates highest are removed first, and its area (lower is better)."
                    : "The insertion curve: the target's score as the pixels the map rates highest are put back first into a blank image, and its area (higher is better).",
                details: (deletion
                    ? "Positions are ranked by the map (highest first, ties in pixel order) and replaced by the baseline in `steps` equal intervals; a faithful map makes the score fall at once. "
                    : "Starting from the baseline image, positions are restored from the image in the map's order (highest first) in `steps` equal intervals; a faithful map makes the score rise at once. ")
                    + "definition=\"torchcam\" (default) is TorchCAM 0.5.0's DeletionInsertionMetric: steps + 1 points from 0 to 1, the AUC by the trapezoid rule over the fraction perturbed."
                    + (deletion ? " definition=\"quantus\" is Quantus 0.6's PixelFlipping: each channel of each pixel is a feature, ⌈C·H·W / steps⌉ of them flipped per step, one point after each step, and the AUC by the trapezoid rule with a spacing of 1 (so it grows with steps)." : "")
                    + " The score is the softmax probability (as RISE and Quantus; softmax=false: the logit, TorchCAM's default) of the CAM's class unless target= names another. The perturbed images run as batches; the work is announced and held to max_passes=. "
                    + "The result prints as the AUC; `show` draws the curve as a chart; members: auc, scores, fractions, chart, kind, steps. `plot` draws several curves in one chart.",
                formula: deletion
                    ? "AUC = ∫₀¹ S(x with the top-ranked fraction f of pixels replaced by the baseline) df"
                    : "AUC = ∫₀¹ S(baseline with the top-ranked fraction f of pixels restored from x) df",
                paper: "Petsiuk et al., RISE: Randomized Input Sampling for Explanation of Black-box Models, BMVC 2018 (§4.1, causal metrics); as TorchCAM 0.5.0's DeletionInsertionMetric"
                    + (deletion ? " and Quantus 0.6's PixelFlipping (Bach et al., PLoS ONE 2015)" : ""),
                example: "c = gradcam model x target=\"tabby\"\nd = \(kind.rawValue) model x c steps=20\nshow d")) { args, context in
                try runCurve(kind, args, context)
            })
        }
        register(Builtin(BuiltinSignature(
            name: "plot",
            parameters: [
                Parameter("title", [.string], default: Value.none, keywordOnly: true, doc: "The chart's title (default: the curves' kinds and method)."),
                Parameter("width", [.integer], default: .number(560), keywordOnly: true, doc: "The picture's width in pixels (200 to 4000)."),
                Parameter("height", [.integer], default: .number(380), keywordOnly: true, doc: "The picture's height in pixels (150 to 4000)."),
            ],
            variadic: Parameter("curves", [.object("curve")], doc: "The curves to draw (from deletion and insertion), each image of a batch as its own line."),
            category: category,
            summary: "Draws deletion and insertion curves together as one line chart: axes, ticks, labels and a legend with each curve's AUC.",
            details: "Each curve (each image's, for a batch) is a line; the legend names its kind, image and AUC. The result is an image: `show` it, `save` it, or leave it as a cell's value in a report.",
            example: "c = gradcam model x\nshow plot(deletion(model, x, c), insertion(model, x, c))")) { args, _ in
            let curves = try args.variadic.map { value -> CurveObject in
                guard case .object(let curve as CurveObject) = value else {
                    throw RuntimeError("plot: every argument is a curve from deletion or insertion, got \(value.typeName)")
                }
                return curve
            }
            guard !curves.isEmpty else { throw RuntimeError("plot: give at least one curve, e.g. plot(deletion(model, x, c))") }
            let width = try args.integer("width"), height = try args.integer("height")
            guard (200...4000).contains(width), (150...4000).contains(height) else {
                throw RuntimeError("plot: a chart is 200 to 4000 pixels wide and 150 to 4000 high, got \(width)×\(height)")
            }
            let title = args.isNone("title") ? CurveObject.title(curves) : try args.string("title")
            return .object(ImageObject(try CurveObject.chart(curves, title: title, width: width, height: height)))
        })
    }
}

/// The parameters of `deletion` or `insertion`.
private func curveParameters(_ kind: CurveKind) -> [Parameter] {
    var parameters = metricParameters().filter { $0.name != "softmax" }
    parameters += [
        Parameter("softmax", [.bool], default: .bool(true), keywordOnly: true,
                  doc: "Measure the softmax probability (RISE's and Quantus' choice); false: the logit (TorchCAM's default)."),
        Parameter("steps", [.integer], default: .number(20), keywordOnly: true,
                  doc: "The number of intervals (TorchCAM's 20 by default; RISE used one per image row, e.g. 224)."),
        Parameter("baseline", [.string], default: Value.none, keywordOnly: true,
                  doc: "What removed pixels become: \"zero\" (the dataset's mean colour; the default, TorchCAM's), \"blur\" (RISE's Gaussian blur, σ 5), \"black\" (the image's minimum; the default with definition=\"quantus\", Quantus' own), \"mean\" (the image's mean)."),
    ]
    parameters.append(Parameter("definition", [.string], default: .string("torchcam"), keywordOnly: true,
                                doc: kind == .deletion
                                    ? "\"torchcam\" (positions, AUC over the fraction 0…1) or \"quantus\" (PixelFlipping: channel features, AUC with unit spacing)."
                                    : "\"torchcam\" (the only one: Quantus defines no insertion curve)."))
    parameters += [
        Parameter("batch_size", [.integer], default: .number(8), keywordOnly: true, doc: "Perturbed images per forward pass (1 to 256; 8 is the fastest per image for ResNet-50 on 2 cores)."),
        Parameter("max_passes", [.integer], default: Value.none, keywordOnly: true,
                  doc: "Refuse a curve above this many forward passes (default $CAMSCRIPT_MAX_PASSES or \(CAMWorkCeiling.defaultMaxPasses))."),
    ]
    return parameters
}

/// `deletion` or `insertion`.
private func runCurve(_ kind: CurveKind, _ args: BoundArguments, _ context: CallContext) throws -> Value {
    let callee = args.callee
    let model = try args.object("model", as: ModelObject.self)
    let network = model.network
    let input = try batch(try args.tensor("x"), callee)
    let cam = try args.object("cam", as: CAMObject.self)
    let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    guard cam.result.map.shape == [n, h, w] else {
        let size = cam.result.map.shape.dropFirst().map(String.init).joined(separator: "×")
        throw RuntimeError("\(callee): the CAM holds \(cam.batchCount) map\(cam.batchCount == 1 ? "" : "s") of \(size) but x is \(n) image\(n == 1 ? "" : "s") of \(h)×\(w); measure a map with the image it was computed for")
    }
    let softmax = try args.bool("softmax")
    let score: CAMScore = softmax ? .softmax : .logit
    let targets: MetricTargets
    if args.isNone("target") {
        if cam.result.targets.contains(where: { if case .binary = $0 { return true } else { return false } }) {
            targets = .explained(cam.result.targets)
        } else {
            targets = .classes(cam.result.targets.map { .index($0.classIndex) }, score: score)
        }
    } else {
        targets = .classes(try targetList(args["target"], callee), score: score)
    }
    let steps = try args.integer("steps")
    guard steps >= 1, steps <= h * w else {
        throw RuntimeError("\(callee): steps= is between 1 and \(h * w) (one per pixel of the \(w)×\(h) image), got \(steps)")
    }
    let definitionName = try args.string("definition")
    guard let definition = CurveDefinition(rawValue: definitionName) else {
        throw RuntimeError("\(callee): definition= is \"torchcam\" or \"quantus\", not \"\(definitionName)\"" + didYouMean(definitionName, CurveDefinition.allCases.map(\.rawValue)))
    }
    if kind == .insertion, definition == .quantus {
        throw RuntimeError("\(callee): Quantus defines no insertion curve (its PixelFlipping deletes only); use definition=\"torchcam\", or deletion(…, definition=\"quantus\")")
    }
    let baseline: CurveBaseline
    if args.isNone("baseline") {
        baseline = definition == .quantus ? .black : .zero
    } else {
        let name = try args.string("baseline")
        guard let chosen = CurveBaseline(rawValue: name) else {
            throw RuntimeError("\(callee): baseline= is " + CurveBaseline.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                               + ", not \"\(name)\"" + didYouMean(name, CurveBaseline.allCases.map(\.rawValue)))
        }
        baseline = chosen
    }
    let batchSize = try args.integer("batch_size")
    guard (1...256).contains(batchSize) else { throw RuntimeError("\(callee): batch_size= is between 1 and 256, got \(batchSize)") }
    let passes: Int
    switch definition {
    case .torchcam: passes = n * PerturbationMetrics.curvePasses(kinds: 1, steps: steps, positions: h * w)
    case .quantus:
        let perStep = (c * h * w + steps - 1) / steps
        passes = n * (1 + (c * h * w + perStep - 1) / perStep)
    }
    let ceiling = try CAMWorkCeiling(argument: args.isNone("max_passes") ? nil : try args.integer("max_passes"),
                                     environment: context.environment, callee: callee)
    guard passes <= ceiling.maxPasses else {
        throw RuntimeError("\(callee): \(steps) steps over \(n) image\(n == 1 ? "" : "s") would run \(passes) forward passes, more than the limit of \(ceiling.maxPasses) (\(ceiling.source)); use fewer steps= or raise it with max_passes= or \(CAMWorkCeiling.environmentVariable)")
    }
    if passes > 64 { context.emit(.text("\(callee): \(steps) steps: about \(passes) forward passes")) }
    let reporter = ProgressReporter(name: callee, context: context)
    defer { reporter.finish() }
    var metrics = PerturbationMetrics(network: network, cancellation: context.cancellation)
    metrics.batchSize = batchSize
    metrics.progress = { done, total in reporter.report(done, total) }
    let curves: [PerturbationCurve]
    switch definition {
    case .torchcam:
        curves = try metrics.curves(input: input, maps: cam.result.unitMap, targets: targets, kinds: [kind], steps: steps, baseline: baseline)
            .map { $0[0] }
    case .quantus:
        curves = try metrics.pixelFlipping(input: input, maps: cam.result.unitMap, targets: targets, steps: steps, baseline: baseline)
    }
    let measured = try measuredTargets(targets, input: input, network: network, cam: cam)
    let names = network.classNames
    let what = measured.map { target -> String in
        let label = target.classIndex < names.count ? " \"\(names[target.classIndex])\"" : ""
        switch target {
        case .softmax(let k): return "softmax of class \(k)\(label)"
        case .logit(let k): return "logit of class \(k)\(label)"
        case .binary(let k): return "signed logit of class \(k)\(label)"
        case .finer(let k, let others, _): return "logit of class \(k)\(label) against classes \(others.map(String.init).joined(separator: ", "))"
        }
    }
    return .object(CurveObject(kind: kind, definition: definition, baseline: baseline, steps: steps, method: cam.result.method,
                               measured: what, curves: curves))
}

/// What each image's curve measured, as `PerturbationMetrics` resolves it (for the labels).
private func measuredTargets(_ targets: MetricTargets, input: Tensor, network: CAMNetwork, cam: CAMObject) throws -> [CAMTarget] {
    switch targets {
    case .explained(let given): return given
    case .classes(let classes, let score):
        if let classes, classes.allSatisfy({ if case .index = $0 { return true } else { return false } }) {
            let indices = classes.map { if case .index(let k) = $0 { return k } else { return 0 } }
            let all = indices.count == 1 ? Array(repeating: indices[0], count: input.shape[0]) : indices
            return all.map { score == .softmax ? .softmax($0) : .logit($0) }
        }
        let logits = try network.forward(input, recording: [], retainForBackward: false, cancellation: nil).logits
        return try CAMEngine.targets(classes, score: score, logits: logits, classNames: network.classNames)
    }
}

/// What `deletion` and `insertion` return: one curve per image, its AUC, and its chart.
final class CurveObject: ScriptObject, @unchecked Sendable {
    let kind: CurveKind
    let definition: CurveDefinition
    let baseline: CurveBaseline
    let steps: Int
    let method: String
    /// What each image's curve measured, e.g. `softmax of class 281 "tabby"`.
    let measured: [String]
    let curves: [PerturbationCurve]
    private let lock = NSLock()
    private var drawn: RGBImage?

    init(kind: CurveKind, definition: CurveDefinition, baseline: CurveBaseline, steps: Int, method: String,
         measured: [String], curves: [PerturbationCurve]) {
        self.kind = kind
        self.definition = definition
        self.baseline = baseline
        self.steps = steps
        self.method = method
        self.measured = measured
        self.curves = curves
    }

    /// `"curve"`.
    var typeName: String { "curve" }

    /// `deletion AUC 0.0123 (torchcam, 20 steps, zero baseline; softmax of class 281 "tabby"; lower is better)`.
    var description: String {
        let areas = curves.map { TableObject.cell(numberValue($0.auc)) }.joined(separator: ", ")
        let measures = Set(measured).count == 1 ? measured[0] : measured.joined(separator: ", ")
        return "\(kind.rawValue) AUC \(areas) (\(definition.rawValue), \(steps) steps, \(baseline.rawValue) baseline; \(measures); \(kind.higherIsBetter ? "higher" : "lower") is better)"
    }

    var memberNames: [String] { ["auc", "baseline", "chart", "definition", "fractions", "kind", "scores", "steps"] }

    func member(_ name: String) throws -> Value? {
        let single = curves.count == 1
        switch name {
        case "auc": return single ? numberValue(curves[0].auc) : .list(curves.map { numberValue($0.auc) })
        case "scores":
            let lists = curves.map { Value.list($0.scores.map(numberValue)) }
            return single ? lists[0] : .list(lists)
        case "fractions": return .list(curves[0].fractions.map(numberValue))
        case "kind": return .string(kind.rawValue)
        case "definition": return .string(definition.rawValue)
        case "baseline": return .string(baseline.rawValue)
        case "steps": return .number(Double(steps))
        case "chart": return .object(ImageObject(try chart()))
        default: return nil
        }
    }

    /// The chart of this curve alone.
    func chart() throws -> RGBImage {
        if let drawn = lock.withLock({ drawn }) { return drawn }
        let image = try Self.chart([self], title: Self.title([self]), width: 560, height: 380)
        lock.withLock { drawn = image }
        return image
    }

    /// The chart, for `show` and reports.
    var displayImage: DisplayImage? {
        guard let image = try? chart() else { return nil }
        return DisplayImage(width: image.width, height: image.height, rgb: image.pixels)
    }

    /// A chart of several curves: one line per image of each, named by kind, image and AUC.
    static func chart(_ objects: [CurveObject], title: String, width: Int, height: Int) throws -> RGBImage {
        var series: [LineChart.Series] = []
        for object in objects {
            for (i, curve) in object.curves.enumerated() {
                let image = object.curves.count > 1 ? ", image \(i)" : ""
                series.append(LineChart.Series(name: "\(object.kind.rawValue)\(image) (AUC \(TableObject.cell(numberValue(curve.auc))))",
                                               x: curve.fractions.map(Double.init), y: curve.scores.map(Double.init)))
            }
        }
        let kinds = Set(objects.map(\.kind))
        let unit = objects.allSatisfy { $0.definition == .quantus } ? "features" : "pixels"
        let xLabel = kinds.count == 2 ? "fraction of \(unit) removed (deletion) or inserted (insertion)"
            : "fraction of \(unit) \(kinds.first == .insertion ? "inserted" : "removed")"
        let measures = Set(objects.flatMap(\.measured))
        let yLabel = measures.count == 1 ? measures.first.map { $0.prefix(1).uppercased() + $0.dropFirst() } ?? "score" : "score"
        return try LineChart(title: title, xLabel: xLabel, yLabel: yLabel, series: series, width: width, height: height,
                             xRange: LineChart.padded(0, 1, margin: 0.03)).render()
    }

    /// `Deletion and insertion curves of GradCAM`.
    static func title(_ objects: [CurveObject]) -> String {
        let kinds = CurveKind.allCases.filter { kind in objects.contains { $0.kind == kind } }
        let what = kinds.count == 2 ? "Deletion and insertion curves" : "\(kinds[0].rawValue.prefix(1).uppercased())\(kinds[0].rawValue.dropFirst()) curve"
        let methods = Array(Set(objects.map(\.method))).sorted()
        return methods.count == 1 ? "\(what) of \(methods[0])" : what
    }
}
