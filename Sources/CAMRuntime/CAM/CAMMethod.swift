/// One target layer's tensors as the CAM methods see them.
public struct LayerCapture {
    /// The resolved module path.
    public var name: String
    /// The module output A, `[B, C, h, w]`.
    public var activations: Tensor
    /// dS/dA, `[B, C, h, w]`, for methods that use gradients.
    public var gradients: Tensor?

    /// Creates a capture of one layer.
    public init(name: String, activations: Tensor, gradients: Tensor?) {
        self.name = name
        self.activations = activations
        self.gradients = gradients
    }

    /// The gradients, or an error naming the method that needed them.
    func requireGradients(_ method: String) throws -> Tensor {
        guard let g = gradients, g.shape == activations.shape else {
            throw RuntimeError("\(method) needs the gradients at layer \"\(name)\" with shape \(activations.shape), but the network returned \(gradients.map { "\($0.shape)" } ?? "none")")
        }
        return g
    }
}

/// What a method may use besides the layer's tensors: the network, the input and the targets.
public struct CAMContext {
    /// The network being explained.
    public var network: CAMNetwork
    /// The (possibly augmented) input batch, `[B, 3, H, W]`.
    public var input: Tensor
    /// The logits of the input batch, `[B, classes]`.
    public var logits: Tensor
    /// One target per image.
    public var targets: [CAMTarget]
    /// Called with (done, total) steps by long methods.
    public var progress: ((Int, Int) -> Void)?
    /// Polled between batches by long methods.
    public var cancellation: CancellationFlag?

    /// Creates a context.
    public init(network: CAMNetwork, input: Tensor, logits: Tensor, targets: [CAMTarget],
                progress: ((Int, Int) -> Void)? = nil, cancellation: CancellationFlag? = nil) {
        self.network = network
        self.input = input
        self.logits = logits
        self.targets = targets
        self.progress = progress
        self.cancellation = cancellation
    }

    /// The target's score on each row of a `[N, classes]` logits tensor, for image `image`.
    func scores(_ logits: Tensor, image: Int) -> [Float] {
        let k = logits.shape[1]
        return (0..<logits.shape[0]).map { row in
            targets[image].score(logits.storage[(row * k)..<((row + 1) * k)])
        }
    }
}

/// An option a CAM method takes besides the common ones (`layer=`, `target=`, …), e.g.
/// ScoreCAM's `batch_size`, RandomCAM's `seed` or SmoothGrad's `noise`: the builtins, `help` and
/// the range check of the value all come from it.
public struct CAMOption: Sendable {
    /// The keyword, e.g. `"batch_size"`.
    public var name: String
    /// The smallest and largest value accepted.
    public var range: ClosedRange<Double>
    /// The value when the option is left out.
    public var defaultValue: Double
    /// Whether only whole numbers are accepted.
    public var isInteger: Bool
    /// One line for `help`.
    public var doc: String

    /// Creates an option with whole values.
    public init(_ name: String, range: ClosedRange<Int>, default defaultValue: Int, doc: String) {
        self.name = name
        self.range = Double(range.lowerBound)...Double(range.upperBound)
        self.defaultValue = Double(defaultValue)
        self.isInteger = true
        self.doc = doc
    }

    /// Creates an option with real values.
    public init(_ name: String, realRange range: ClosedRange<Double>, default defaultValue: Double, doc: String) {
        self.name = name
        self.range = range
        self.defaultValue = defaultValue
        self.isInteger = false
        self.doc = doc
    }

    /// The `seed` of a method that draws PyTorch's noise (`TorchRandom`): a 32-bit seed, as
    /// `torch.manual_seed(seed)` before `reference` (the library call the draws match).
    public static func torchSeed(before reference: String) -> CAMOption {
        CAMOption("seed", range: 0...Int(UInt32.max), default: 0,
                  doc: "Seed of the noise, as torch.manual_seed(seed) before \(reference).")
    }

    /// What is wrong with `value`, stating the accepted range; nil when it is accepted.
    public func problem(with value: Double) -> String? {
        if isInteger && value.rounded() != value { return "\(name) must be a whole number, got \(value)" }
        guard !range.contains(value) else { return nil }
        func shown(_ x: Double) -> String { isInteger && abs(x) < 1e18 ? String(Int(x)) : String(x) }
        if range.upperBound >= Double(Int.max) {
            return "\(name) must be at least \(shown(range.lowerBound)), got \(shown(value))"
        }
        return "\(name) must be between \(shown(range.lowerBound)) and \(shown(range.upperBound)), got \(shown(value))"
    }
}

/// The values of a method's options, by keyword; a missing one takes its default.
public struct CAMOptionValues: Sendable {
    /// The values given, by keyword.
    public var given: [String: Double]

    /// Creates the values.
    public init(_ given: [String: Double] = [:]) { self.given = given }

    /// The value of a whole-number `option`: given, else its default.
    public func value(of option: CAMOption) -> Int { Int(realValue(of: option)) }

    /// The value of `option`: given, else its default.
    public func realValue(of option: CAMOption) -> Double { given[option.name] ?? option.defaultValue }
}

/// How much work a method does beyond pytorch-grad-cam's one forward (and backward) pass.
public enum CAMCost: Sendable, Equatable {
    /// One forward pass, and one backward pass when the method needs gradients.
    case onePass
    /// Forward passes that grow with the layer's channels (ScoreCAM, AblationCAM): announced,
    /// shown as progress and held to a ceiling (`max_passes=`).
    case perChannel
    /// Forward and backward passes whose work grows with something other than the channels —
    /// FullGrad's bias layers, the pixel attributions' points, SESS's patches: announced, shown
    /// as progress and held to the same ceiling.
    case wholeNetwork

    /// Whether the method announces its work, shows progress and can be refused by the ceiling.
    public var isLong: Bool { self != .onePass }
}

/// What a CAM method declares about itself, once, beside its code: the names users type, what
/// `help` prints, what it needs from the network, its options and its cost. The registry
/// (`CAMMethods.all`) is a list of these; the builtins, `help`, completion, `check`, the
/// cost announcement and the Python-habit pointers are generated from it.
public struct CAMMethodInfo: Sendable {
    /// The canonical name, as `cam method=…` and error messages spell it, e.g. `"gradcam++"`.
    public var name: String
    /// The builtin's name, e.g. `"gradcampp"`.
    public var builtin: String
    /// Other spellings accepted by `cam method=…` (compared ignoring case, `_`, `-` and spaces).
    public var aliases: [String]
    /// pytorch-grad-cam's (or TorchCAM's) class name, e.g. `"GradCAMPlusPlus"`.
    public var className: String
    /// One line for `help`.
    public var summary: String
    /// The formula, for `help`.
    public var formula: String
    /// The paper (authors, title, venue, equations), for `help`.
    public var paper: String
    /// Whether the method needs dS/dA (a backward pass).
    public var needsGradients: Bool
    /// Whether the map depends on the target class.
    public var usesTarget: Bool
    /// Whether the map comes from the target layers (FullGrad uses every bias layer instead).
    public var usesLayers: Bool
    /// Whether the map is `Σ_c w_c A_c` and `cam.weights` can return the `w`.
    public var weightsChannels: Bool
    /// Why the map has no sign that `signed=true` could keep, for a map that is a magnitude by
    /// definition (absolute gradients, FullGrad's terms, RefineCAM's product of scaled maps,
    /// LeGrad's ReLU'd gradients); nil for the others, whose negative evidence can be kept.
    public var unsignedBecause: String?
    /// Whether `signed=true` can keep negative evidence.
    public var hasSign: Bool { unsignedBecause == nil }
    /// Whether the map without the last min-max is in units comparable across images: false
    /// when the definition itself min-max scales parts of each image's map (FullGrad's terms,
    /// RefineCAM's layers).
    public var hasRawScale: Bool
    /// The method's own options.
    public var options: [CAMOption]
    /// Its work beyond one pass.
    public var cost: CAMCost
    /// Makes the method with the given option values.
    public var make: @Sendable (CAMOptionValues) -> any CAMMethod

    /// Creates a method's declaration.
    public init(name: String, builtin: String? = nil, aliases: [String] = [], className: String,
                summary: String, formula: String, paper: String,
                needsGradients: Bool, usesTarget: Bool = true, usesLayers: Bool = true,
                weightsChannels: Bool, unsignedBecause: String? = nil, hasRawScale: Bool = true,
                options: [CAMOption] = [], cost: CAMCost = .onePass,
                make: @escaping @Sendable (CAMOptionValues) -> any CAMMethod) {
        self.name = name
        self.builtin = builtin ?? name
        self.aliases = aliases
        self.className = className
        self.summary = summary
        self.formula = formula
        self.paper = paper
        self.needsGradients = needsGradients
        self.usesTarget = usesTarget
        self.usesLayers = usesLayers
        self.weightsChannels = weightsChannels
        self.unsignedBecause = unsignedBecause
        self.hasRawScale = hasRawScale
        self.options = options
        self.cost = cost
        self.make = make
    }
}

/// A class activation map method: it turns one layer's activations (and gradients) into a
/// `[B, h, w]` map before pytorch-grad-cam's common ReLU, min-max and resize.
///
/// A method is one file under `CAM/Methods/`: its declaration (`info`) and its code side by
/// side. A method whose map is not one layer's (FullGrad) also conforms to `CAMOwnPass`.
public protocol CAMMethod {
    /// What the method declares about itself (names, documentation, needs, options, cost).
    static var info: CAMMethodInfo { get }
    /// The map of one layer before the ReLU, `[B, h, w]`.
    func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor
    /// The map of one layer (as `layerMap`) and, for a method that weights channels, the
    /// weights `[B, C]` it was made with (nil for element-wise and projection methods).
    func weightedLayerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> (map: Tensor, channelWeights: Tensor?)
    /// The work the method will do on these recorded activations (one per target layer), known
    /// after the first forward pass and announced before the long part starts; nil for a
    /// method whose work is one pass.
    func plannedWork(activations: [Tensor], images: Int, repetitions: Int) -> CAMWork?
    /// The scalars the method explains, from the requested targets resolved on `logits`
    /// (`[B, classes]`): those targets for every method but FinerCAM, which compares each with
    /// the classes the model finds most similar.
    func explainedTargets(_ targets: [CAMTarget], logits: Tensor) throws -> [CAMTarget]
    /// The map of the input from the per-layer maps `[B, h_l, w_l]`, before the last scaling
    /// (`CAMScaling.finish`): pytorch-grad-cam's mean of the scaled maps (`CAMMath.fuse`) for
    /// every method but RefineCAM, which multiplies them.
    func fuse(_ layerMaps: [Tensor], width: Int, height: Int, scaling: CAMScaling) -> Tensor
    /// The layer used when the user names none: the network's default for every method but
    /// the original CAM, which needs the layer its classifier pools.
    func defaultLayer(in network: CAMNetwork) -> String?
}

extension CAMMethod {
    /// The declaration of this method's type.
    public var info: CAMMethodInfo { Self.info }
    /// The method's name as pytorch-grad-cam spells its class, e.g. `"GradCAM"`.
    public var name: String { Self.info.className }
    /// Whether the method needs dS/dA (a backward pass).
    public var usesGradients: Bool { Self.info.needsGradients }
    /// Whether the map depends on the target class: EigenCAM, FEM and RandomCAM use none, and a
    /// `target=` given to them is said to be ignored rather than echoed as if it mattered.
    public var usesTarget: Bool { Self.info.usesTarget }
    /// Whether the map comes from the target layer(s): FullGrad uses every bias layer instead.
    public var usesLayers: Bool { Self.info.usesLayers }

    /// `layerMap`, without channel weights.
    public func weightedLayerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> (map: Tensor, channelWeights: Tensor?) {
        (try layerMap(layer, context: context, eigenSmooth: eigenSmooth), nil)
    }

    /// One pass: nothing to announce.
    public func plannedWork(activations: [Tensor], images: Int, repetitions: Int) -> CAMWork? { nil }

    /// The requested targets.
    public func explainedTargets(_ targets: [CAMTarget], logits: Tensor) throws -> [CAMTarget] { targets }

    /// The network's default target layer.
    public func defaultLayer(in network: CAMNetwork) -> String? { nil }

    /// pytorch-grad-cam's `aggregate_multi_layers`.
    public func fuse(_ layerMaps: [Tensor], width: Int, height: Int, scaling: CAMScaling) -> Tensor {
        CAMMath.fuse(layerMaps, width: width, height: height, scaling: scaling)
    }
}

/// A method whose map is not made from the target layers one by one (FullGrad: the input and
/// every bias layer): the engine runs its pass instead of the common one.
protocol CAMOwnPass {
    /// The fused map `[B, H, W]` before the last scaling (`CAMScaling.finish`, applied by the
    /// engine) and the targets it explains, for one (possibly augmented) input.
    func pass(_ input: Tensor, engine: CAMEngine, request: CAMEngine.Request) throws -> (Tensor, [CAMTarget])
}

/// A method defined by one weight per channel: the map is `Σ_c w[b,c] · A[b,c]`, or with
/// `eigenSmooth` the first principal component of the weighted activations.
public protocol ChannelWeightedCAMMethod: CAMMethod {
    /// The channel weights, `[B, C]`.
    func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor
}

extension ChannelWeightedCAMMethod {
    /// `Σ_c w·A` (pytorch-grad-cam's default `get_cam_image`).
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        try weightedLayerMap(layer, context: context, eigenSmooth: eigenSmooth).map
    }

    /// `Σ_c w·A` and the weights `w`.
    public func weightedLayerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> (map: Tensor, channelWeights: Tensor?) {
        let weights = try channelWeights(layer, context: context)
        return (try CAMMath.weightedMap(layer.activations, weights: weights, eigenSmooth: eigenSmooth), weights)
    }
}

/// The numeric building blocks shared by the methods and the driver.
public enum CAMMath {
    /// `Σ_c w[b,c] · A[b,c,:,:]`, or `get_2d_projection(w · A)` with `eigenSmooth`.
    public static func weightedMap(_ a: Tensor, weights: Tensor, eigenSmooth: Bool) throws -> Tensor {
        let (b, c, hw) = dims(a)
        precondition(weights.shape == [b, c], "weights \(weights.shape) for activations \(a.shape)")
        if eigenSmooth {
            var weighted = a
            weighted.withUnsafeMutableBufferPointer { x in
                for i in 0..<b { for ch in 0..<c {
                    let w = weights.storage[i * c + ch], base = (i * c + ch) * hw
                    for p in 0..<hw { x[base + p] *= w }
                } }
            }
            return try Projection.firstComponent(weighted)
        }
        var out = [Float](repeating: 0, count: b * hw)
        a.withUnsafeBufferPointer { x in
            for i in 0..<b {
                for ch in 0..<c {
                    let w = weights.storage[i * c + ch], base = (i * c + ch) * hw
                    for p in 0..<hw { out[i * hw + p] += w * x[base + p] }
                }
            }
        }
        return Tensor(shape: [b, a.shape[2], a.shape[3]], storage: out)
    }

    /// `Σ_c f(G, A)` element-wise, or the projection of `f(G, A)` with `eigenSmooth`.
    static func elementwiseMap(_ a: Tensor, _ g: Tensor, eigenSmooth: Bool,
                               _ f: (Float, Float) -> Float) throws -> Tensor {
        let (b, c, hw) = dims(a)
        var e = Tensor(shape: a.shape)
        e.withUnsafeMutableBufferPointer { out in
            for i in 0..<a.count { out[i] = f(g.storage[i], a.storage[i]) }
        }
        if eigenSmooth { return try Projection.firstComponent(e) }
        var out = [Float](repeating: 0, count: b * hw)
        for i in 0..<b { for ch in 0..<c {
            let base = (i * c + ch) * hw
            for p in 0..<hw { out[i * hw + p] += e.storage[base + p] }
        } }
        return Tensor(shape: [b, a.shape[2], a.shape[3]], storage: out)
    }

    /// Per channel `Σ_hw f(G, A)` accumulated in Double, `[B, C]`.
    static func channelSums(_ a: Tensor, _ g: Tensor?, _ f: (Float, Float) -> Float) -> Tensor {
        let (b, c, hw) = dims(a)
        var out = [Float](repeating: 0, count: b * c)
        for bc in 0..<(b * c) {
            var acc: Double = 0
            let base = bc * hw
            for p in 0..<hw { acc += Double(f(g?.storage[base + p] ?? 0, a.storage[base + p])) }
            out[bc] = Float(acc)
        }
        return Tensor(shape: [b, c], storage: out)
    }

    /// pytorch-grad-cam's `scale_cam_image`: per plane `x − min`, `/ (1e-7 + max)`, then the
    /// OpenCV bilinear resize to `width × height` when given.
    public static func scaleCAM(_ maps: Tensor, width: Int? = nil, height: Int? = nil) -> Tensor {
        let scaled = eachPlane(of: maps) { x, range in
            var lo = Float.infinity
            for i in range { lo = Swift.min(lo, x[i]) }
            var hi = -Float.infinity
            for i in range { x[i] -= lo; hi = Swift.max(hi, x[i]) }
            let d = 1e-7 + hi
            for i in range { x[i] /= d }
        }
        guard let width, let height else { return scaled }
        return CAMInterpolation.resizeLinear(scaled, toWidth: width, height: height)
    }

    /// A copy of `maps` with `scale` applied to the index range of each `h × w` plane.
    private static func eachPlane(of maps: Tensor, _ scale: (UnsafeMutableBufferPointer<Float>, Range<Int>) -> Void) -> Tensor {
        let h = maps.shape[maps.rank - 2], w = maps.shape[maps.rank - 1]
        let planes = maps.count / Swift.max(h * w, 1)
        var scaled = maps
        scaled.withUnsafeMutableBufferPointer { x in
            for p in 0..<planes { scale(x, (p * h * w)..<((p + 1) * h * w)) }
        }
        return scaled
    }

    /// Per plane `x / (1e-7 + max |x|)`: `scaleCAM` for a signed map, whose zero (no evidence
    /// either way) must stay zero.
    public static func scaleMagnitude(_ maps: Tensor) -> Tensor {
        eachPlane(of: maps) { x, range in
            var m: Float = 0
            for i in range { m = Swift.max(m, abs(x[i])) }
            let d = 1e-7 + m
            for i in range { x[i] /= d }
        }
    }

    /// pytorch-grad-cam's steps 4–5 on per-layer maps `[B, h_l, w_l]` up to the last min-max
    /// (`CAMScaling.finish`): ReLU → per-image min-max → resize to `width × height` per layer,
    /// then ReLU → mean over layers. Signed maps skip the ReLUs and are scaled by their largest
    /// magnitude; raw maps are not scaled.
    public static func fuse(_ layerMaps: [Tensor], width: Int, height: Int,
                            scaling: CAMScaling = .pytorchGradCAM) -> Tensor {
        guard let first = layerMaps.first else { return Tensor(shape: [0, height, width]) }
        let b = first.shape[0]
        var fused = [Float](repeating: 0, count: b * height * width)
        for map in layerMaps {
            let kept = scaling.signed ? map : map.map { Swift.max($0, 0) }
            let scaled: Tensor
            switch (scaling.scale, scaling.signed) {
            case (.image, false): scaled = scaleCAM(kept, width: width, height: height)
            case (.image, true): scaled = CAMInterpolation.resizeLinear(scaleMagnitude(kept), toWidth: width, height: height)
            case (.raw, _): scaled = CAMInterpolation.resizeLinear(kept, toWidth: width, height: height)
            }
            for i in 0..<fused.count { fused[i] += scaling.signed ? scaled.storage[i] : Swift.max(scaled.storage[i], 0) }
        }
        let count = Float(layerMaps.count)
        return Tensor(shape: [b, height, width], storage: fused.map { $0 / count })
    }

    /// (B, C, h·w) of a `[B, C, h, w]` tensor.
    static func dims(_ a: Tensor) -> (Int, Int, Int) {
        precondition(a.rank == 4, "expected [B, C, h, w], got \(a.shape)")
        return (a.shape[0], a.shape[1], a.shape[2] * a.shape[3])
    }
}
