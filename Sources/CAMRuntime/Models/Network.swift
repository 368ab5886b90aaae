import Foundation

/// A loaded image classifier: a tree of named modules with PyTorch's module paths.
///
/// Forward passes can record any module's output; a forward with `retainForBackward` keeps
/// what `backward` needs to return gradients at module outputs and at the input.
/// A network runs one pass at a time (its layers hold the retained state): do not share one
/// instance between threads that run passes concurrently.
public final class Network {
    /// The architecture name: "resnet18" … "resnet152" or "efficientnet_lite0".
    public let architecture: String
    /// The class names, index = class index: ImageNet's for a 1000-class head, `class 0`…
    /// otherwise, or the user's labels. A single-logit binary head has two: class 0 and class 1.
    public var classNames: [String]
    /// The number of logits the head computes: the class count, or 1 for a binary classifier.
    public let outputCount: Int
    /// Whether the head is a single logit (a binary classifier: class 1 where the logit is
    /// positive), explained as pytorch-grad-cam's `BinaryClassifierOutputTarget` does.
    public var isBinary: Bool { outputCount == 1 }
    /// Every named module path in forward order ("conv1", "layer4", "layer4.2", "layer4.2.conv3", …).
    public var layerNames: [String]
    /// The conventional CAM target layer: "layer4" for ResNets, "_blocks.15" for EfficientNet-Lite0.
    public var defaultTargetLayer: String
    /// The transforms the weights expect.
    public var preset: InputPreset
    /// Forward passes that run on OpenBLAS before inference moves to oneDNN (2 by default:
    /// oneDNN's primitives cost about a pass to make and a second copy of the weights, which one
    /// or two passes never earn back). Benchmarks of the steady state set 0.
    public var oneDNNWarmUpPasses: Int {
        get { workspace.oneDNNWarmUpPasses }
        set { workspace.oneDNNWarmUpPasses = Swift.max(0, newValue) }
    }

    let root: Sequential
    /// Scratch memory reused by every pass.
    let workspace = Workspace()
    private let modulesByPath: [String: Module]
    /// Input and logits shapes of the last forward that retained for backward, and the only
    /// layers its backward may reach when it retained just for them (nil: everything).
    private var retained: (input: [Int], logits: [Int], gradientLayers: Set<String>?)?

    init(architecture: String, modules: [Module], defaultTargetLayer: String, preset: InputPreset,
         classNames: [String]? = nil) {
        self.architecture = architecture
        self.root = Sequential(path: "", modules: modules, isNamed: false)
        let outputs = root.subtree.compactMap { ($0 as? Linear)?.outFeatures }.last ?? 0
        self.outputCount = outputs
        self.classNames = classNames ?? Network.defaultClassNames(outputs: outputs)
        let named = root.subtree.filter { $0.isNamed }
        self.layerNames = named.map(\.path)
        self.modulesByPath = Dictionary(named.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        self.defaultTargetLayer = defaultTargetLayer
        self.preset = preset
    }

    /// ImageNet's names for 1000 logits; `class 0`, `class 1`, … otherwise (two for one logit).
    public static func defaultClassNames(outputs: Int) -> [String] {
        if outputs == ImageNetClasses.names.count { return ImageNetClasses.names }
        return (0..<Swift.max(outputs, 2)).map { "class \($0)" }
    }

    // MARK: Building and loading

    /// The architectures `make(architecture:)` knows.
    public static let architectures = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "efficientnet_lite0"]

    /// Builds an architecture with deterministic random weights (for tests and benchmarks);
    /// `load` replaces them with a checkpoint's.
    public static func make(architecture: String) throws -> Network {
        try make(architecture: architecture, randomWeights: true)
    }

    /// Builds the architecture a state dict was saved from (see `detectArchitecture`), with as
    /// many classes as its head has, and loads the state dict into it.
    public static func make(from stateDict: StateDict) throws -> Network {
        let architecture = try detectArchitecture(stateDict)
        let network = try make(architecture: architecture, classes: headOutputs(stateDict, architecture: architecture),
                               randomWeights: false)
        try network.load(stateDict)
        return network
    }

    /// The state-dict key of each architecture's classifier weight (`nn.Linear`, `[classes, features]`).
    static func headKey(architecture: String) -> String {
        architecture.hasPrefix("efficientnet") ? "_fc.weight" : "fc.weight"
    }

    /// The number of classes of a checkpoint's classifier (a fine-tuned head has its own), or
    /// 1000 when the checkpoint has no such weight (loading then names the missing keys).
    ///
    /// - Throws: `RuntimeError` for a head that is not one `nn.Linear` (e.g. `fc.1.weight` of an
    ///   `nn.Sequential(nn.Dropout(), nn.Linear())`), naming its keys.
    public static func headOutputs(_ stateDict: StateDict, architecture: String) throws -> Int {
        let tensors = normalizedTensors(stateDict)
        let key = headKey(architecture: architecture)
        if let weight = tensors.tensors[key], weight.rank == 2, weight.shape[0] >= 1 { return weight.shape[0] }
        let prefix = String(key.dropLast("weight".count))
        let other = tensors.keys.filter { $0.hasPrefix(prefix) }
        if tensors.tensors[key] == nil, !other.isEmpty {
            throw RuntimeError("the checkpoint's classifier is not a single nn.Linear \"\(prefix.dropLast())\" "
                               + "(it has keys \(listing(other))); \(architecture) checkpoints are read with "
                               + "\"\(key)\" [classes, features] and \"\(prefix)bias\"")
        }
        return 1000
    }

    /// Builds an architecture, with random weights or with identity-initialised ones (zeros in
    /// convolutions) when the weights will be replaced anyway, and a head of `classes` logits.
    static func make(architecture: String, classes: Int = 1000, randomWeights: Bool) throws -> Network {
        let name = architecture.lowercased().replacingOccurrences(of: "-", with: "_")
        guard classes >= 1 else { throw RuntimeError("a classifier needs at least one class, got \(classes)") }
        let network: Network
        if let config = ResNetBuilder.configurations[name] {
            network = Network(architecture: name,
                              modules: ResNetBuilder.modules(bottleneck: config.bottleneck, blocks: config.blocks,
                                                             classes: classes),
                              defaultTargetLayer: "layer4",
                              preset: config.bottleneck ? .resnetV2 : .resnetV1)
        } else if name == "efficientnet_lite0" {
            network = Network(architecture: name, modules: EfficientNetLiteBuilder.lite0Modules(classes: classes),
                              defaultTargetLayer: "_blocks.15", preset: .efficientNetLite0)
        } else {
            throw RuntimeError("unknown architecture \"\(architecture)\"; expected one of "
                               + architectures.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        if randomWeights { network.randomizeWeights(seed: 0x5EED) }
        return network
    }

    /// Fills convolution and linear weights with He-uniform random values from a fixed seed;
    /// batch norms keep their identity initialisation.
    func randomizeWeights(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        func uniform(_ shape: [Int], _ bound: Float) -> Tensor {
            Tensor(shape: shape) { buffer in
                for i in 0..<buffer.count { buffer[i] = rng.uniform(-bound, bound) }
            }
        }
        for module in root.subtree {
            if let conv = module as? Conv2d {
                let fanIn = conv.weightShape.reduce(1, *) / conv.outChannels
                conv.setParameter("weight", uniform(conv.weightShape, Float((6.0 / Double(fanIn)).squareRoot())))
            } else if let linear = module as? Linear {
                let bound = Float(1 / Double(linear.inFeatures).squareRoot())
                linear.setParameter("weight", uniform([linear.outFeatures, linear.inFeatures], bound))
                linear.setParameter("bias", uniform([linear.outFeatures], bound))
            }
        }
    }

    /// The state-dict keys this network expects, with their shapes, in module order.
    public var parameterShapes: [(key: String, shape: [Int])] {
        root.subtree.flatMap { module in
            module.parameterShapes.sorted { $0.key < $1.key }.map { (module.path + "." + $0.key, $0.value) }
        }
    }

    /// Replaces every parameter and buffer with the state dict's.
    ///
    /// A `module.` prefix (DataParallel) is stripped and `num_batches_tracked` is ignored;
    /// missing or unexpected keys and shape mismatches are reported by name with shapes, and
    /// nothing is changed then.
    public func load(_ stateDict: StateDict) throws {
        let given = Network.normalizedTensors(stateDict)
        var owners: [String: (Module, String)] = [:]
        var expectedOrder: [String] = []
        for module in root.subtree {
            for (name, _) in module.parameterShapes.sorted(by: { $0.key < $1.key }) {
                owners[module.path + "." + name] = (module, name)
                expectedOrder.append(module.path + "." + name)
            }
        }
        var missing: [String] = [], mismatched: [String] = []
        for key in expectedOrder {
            guard let (module, name) = owners[key], let expected = module.parameterShapes[name] else { continue }
            guard let tensor = given.tensors[key] else { missing.append(key); continue }
            if tensor.shape != expected {
                mismatched.append("\(key): expected \(Network.describe(expected)), found \(Network.describe(tensor.shape))")
            }
        }
        let unexpected = given.keys.filter { owners[$0] == nil }
        if !missing.isEmpty || !unexpected.isEmpty || !mismatched.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys " + Network.listing(missing)) }
            if !unexpected.isEmpty { parts.append("unexpected keys " + Network.listing(unexpected)) }
            if !mismatched.isEmpty { parts.append("shape mismatches " + Network.listing(mismatched, quoted: false)) }
            throw RuntimeError("the checkpoint does not fit \(architecture): " + parts.joined(separator: "; "))
        }
        for key in expectedOrder {
            if let (module, name) = owners[key], let tensor = given.tensors[key] {
                module.setParameter(name, tensor)
            }
        }
    }

    /// The state dict without a DataParallel `module.` prefix and without `num_batches_tracked`.
    static func normalizedTensors(_ stateDict: StateDict) -> (keys: [String], tensors: [String: Tensor]) {
        var keys: [String] = [], tensors: [String: Tensor] = [:]
        for key in stateDict.keys {
            guard let tensor = stateDict[key] else { continue }
            let name = key.hasPrefix("module.") ? String(key.dropFirst("module.".count)) : key
            if name.hasSuffix("num_batches_tracked") { continue }
            if tensors.updateValue(tensor, forKey: name) == nil { keys.append(name) }
        }
        return (keys, tensors)
    }

    static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }

    static func listing(_ items: [String], quoted: Bool = true, limit: Int = 8) -> String {
        let shown = items.prefix(limit).map { quoted ? "\"\($0)\"" : $0 }.joined(separator: ", ")
        return "(\(items.count)): " + shown + (items.count > limit ? ", …" : "")
    }

    // MARK: Layer paths

    /// Resolves a user path: "layer4", "layer4.2", "layer4[-1]" (the last child of layer4),
    /// "_blocks[-1]", "_blocks.15"; an unknown path throws an error naming the nearest valid ones.
    public func resolveLayer(_ path: String) throws -> String {
        let trimmed = path.trimmingCharacters(in: .whitespaces)
        if modulesByPath[trimmed] != nil { return trimmed }
        var current: Module = root
        var index = trimmed.startIndex
        var expectName = true
        func fail() -> RuntimeError { notFound(trimmed) }
        while index < trimmed.endIndex {
            let c = trimmed[index]
            if c == "[" {
                guard let close = trimmed[index...].firstIndex(of: "]"),
                      let i = Int(trimmed[trimmed.index(after: index)..<close]) else { throw fail() }
                let kids = current.children
                guard current.isIndexable, !kids.isEmpty else {
                    throw RuntimeError("layer \"\(trimmed)\": \"\(current.path)\" has no numbered children to index")
                }
                let k = i < 0 ? kids.count + i : i
                guard k >= 0 && k < kids.count else {
                    throw RuntimeError("layer \"\(trimmed)\": index \(i) is out of range; \"\(current.path)\" has "
                                       + "\(kids.count) children (0…\(kids.count - 1))")
                }
                current = kids[k]
                index = trimmed.index(after: close)
                expectName = false
            } else if c == "." {
                guard !expectName else { throw fail() }
                index = trimmed.index(after: index)
                expectName = true
            } else {
                guard expectName else { throw fail() }
                let end = trimmed[index...].firstIndex(where: { $0 == "." || $0 == "[" }) ?? trimmed.endIndex
                let name = String(trimmed[index..<end])
                guard let child = current.children.first(where: { $0.isNamed && $0.name == name }) else { throw fail() }
                current = child
                index = end
                expectName = false
            }
        }
        guard current !== root, !expectName else { throw fail() }
        return current.path
    }

    private func notFound(_ path: String) -> RuntimeError {
        // Nearest by edit distance; ties go to the longer common prefix, then the closer trailing number
        // (so "layer5" suggests "layer4").
        func score(_ name: String) -> (Int, Int, Int) {
            let prefix = zip(path, name).prefix { $0 == $1 }.count
            let gap = Network.trailingNumber(path).flatMap { a in Network.trailingNumber(name).map { abs(a - $0) } }
            return (Network.editDistance(path, name), -prefix, gap ?? Int.max)
        }
        let scored = layerNames.map { ($0, score($0)) }
        let limit = Swift.max(2, path.count / 3)
        if let best = scored.map(\.1).min(by: <), best.0 <= limit {
            let close = scored.filter { $0.1 == best }.prefix(3).map { "\"\($0.0)\"" }
            return RuntimeError("layer \"\(path)\" not found; did you mean \(close.joined(separator: " or "))?")
        }
        let top = root.children.filter(\.isNamed).map { "\"\($0.path)\"" }.joined(separator: ", ")
        return RuntimeError("layer \"\(path)\" not found in \(architecture); its top-level layers are \(top)")
    }

    /// The number a string ends with, if any ("layer5" → 5).
    private static func trailingNumber(_ s: String) -> Int? {
        let digits = s.reversed().prefix { $0.isNumber }
        return digits.isEmpty ? nil : Int(String(digits.reversed()))
    }

    /// The Levenshtein distance between two strings.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    // MARK: Running

    /// Runs the network on an [N, 3, H, W] batch; returns logits [N, classes] and the outputs
    /// of the requested modules by resolved path. With `retainForBackward` the layers keep what
    /// `backward` needs.
    public func forward(_ input: Tensor, recording: [String] = [], retainForBackward: Bool = false,
                        cancellation: CancellationFlag? = nil) throws -> ForwardResult {
        guard input.rank == 4, input.shape[1] == 3, input.shape[0] > 0 else {
            throw RuntimeError("\(architecture) expects an image batch [N, 3, H, W], found \(Network.describe(input.shape))")
        }
        let resolved = try recording.map { try resolveLayer($0) }
        workspace.beginPass()
        if !retainForBackward, input.shape[0] > 1, workspace.oneDNN != nil {
            return try forwardImageByImage(input, recording: Set(resolved), cancellation: cancellation)
        }
        let context = ForwardContext(recording: Set(resolved), retain: retainForBackward, cancellation: cancellation,
                                     workspace: workspace)
        if retainForBackward { retained = nil }
        let logits = try root.forward(input, context)
        if retainForBackward { retained = (input.shape, logits.shape, nil) }
        return ForwardResult(logits: logits, activations: context.activations)
    }

    /// Runs the network and keeps only what a backward to the outputs of `gradientLayers`
    /// needs: the layers before the earliest of them run as inference (on oneDNN, BN folded)
    /// and keep nothing. Grad-CAM at `layer4` then retains the head alone.
    ///
    /// The next `backward` may ask for gradients at these layers only, and not at the input.
    public func forward(_ input: Tensor, recording: [String], retainingFor gradientLayers: [String],
                        cancellation: CancellationFlag? = nil) throws -> ForwardResult {
        guard input.rank == 4, input.shape[1] == 3, input.shape[0] > 0 else {
            throw RuntimeError("\(architecture) expects an image batch [N, 3, H, W], found \(Network.describe(input.shape))")
        }
        let resolved = try recording.map { try resolveLayer($0) }
        let targets = try gradientLayers.map { try resolveLayer($0) }
        guard let start = retentionStart(for: targets) else {
            return try forward(input, recording: recording, retainForBackward: true, cancellation: cancellation)
        }
        workspace.beginPass()
        let context = ForwardContext(recording: Set(resolved + targets), retain: true, cancellation: cancellation,
                                     workspace: workspace, retentionStart: start)
        retained = nil
        let logits = try root.forward(input, context)
        retained = (input.shape, logits.shape, Set(targets))
        return ForwardResult(logits: logits, activations: context.activations.filter { resolved.contains($0.key) })
    }

    /// Where a pass that back-propagates only to `layers` must start retaining: after the layer
    /// whose output comes first, or before the outermost block around it when the layer sits
    /// inside a block (a block's backward needs its whole forward). Nil for no layers.
    func retentionStart(for layers: [String]) -> ForwardContext.RetentionStart? {
        var order: [String: Int] = [:]
        func visit(_ module: Module) {
            for child in module.children { visit(child) }
            if order[module.path] == nil { order[module.path] = order.count }
        }
        visit(root)
        guard let first = layers.min(by: { (order[$0] ?? Int.max) < (order[$1] ?? Int.max) }) else { return nil }
        func chain(_ module: Module) -> [Module]? {
            if module.path == first { return [module] }
            for child in module.children {
                if let rest = chain(child) { return [module] + rest }
            }
            return nil
        }
        guard let path = chain(root) else { return nil }
        if let block = path.dropFirst().dropLast().first(where: { !($0 is Sequential) }) {
            return .before(block.path)
        }
        return .after(first)
    }

    /// An inference forward of a batch on oneDNN, one image at a time: oneDNN's convolutions
    /// reach ~2× the GF/s at batch 1 than at batch 16 here (activations stay in cache; bench/dnnl),
    /// so ScoreCAM's batches of 16 run faster image by image. Logits and recorded outputs are
    /// concatenated along the batch.
    private func forwardImageByImage(_ input: Tensor, recording: Set<String>,
                                     cancellation: CancellationFlag?) throws -> ForwardResult {
        let n = input.shape[0]
        let imageShape = [1] + input.shape.dropFirst()
        var logits: (shape: [Int], storage: [Float]) = ([], [])
        var activations: [String: (shape: [Int], storage: [Float])] = [:]
        for i in 0..<n {
            let context = ForwardContext(recording: recording, retain: false, cancellation: cancellation, workspace: workspace)
            let output = try root.forward(input.slice(i).reshaped(imageShape), context)
            logits.shape = output.shape
            logits.storage.append(contentsOf: output.storage)
            for (path, tensor) in context.activations {
                activations[path, default: (tensor.shape, [])].storage.append(contentsOf: tensor.storage)
            }
        }
        func batched(_ part: (shape: [Int], storage: [Float])) -> Tensor {
            Tensor(shape: [n] + part.shape.dropFirst(), storage: part.storage)
        }
        return ForwardResult(logits: batched(logits), activations: activations.mapValues(batched))
    }

    /// Back-propagates `logitsGradient` ([N, classes]) through the last forward that retained;
    /// returns the gradients at the requested module outputs and, if asked, at the input.
    ///
    /// When no input gradient is asked, the pass stops at the earliest requested module.
    /// `.guided` applies guided backpropagation's rule in every ReLU and ReLU6.
    public func backward(_ logitsGradient: Tensor, gradientsAt: [String], inputGradient: Bool = false,
                         reluMode: ReLUBackwardMode = .standard) throws -> BackwardResult {
        guard let retained else {
            throw RuntimeError("backward needs a forward pass with retainForBackward first")
        }
        guard logitsGradient.shape == retained.logits else {
            throw RuntimeError("the logits gradient must have the logits' shape \(Network.describe(retained.logits)), "
                               + "found \(Network.describe(logitsGradient.shape))")
        }
        let resolved = try gradientsAt.map { try resolveLayer($0) }
        if let allowed = retained.gradientLayers {
            if inputGradient || !resolved.allSatisfy(allowed.contains) {
                let asked = (resolved.filter { !allowed.contains($0) }.map { "\"\($0)\"" } + (inputGradient ? ["the input"] : []))
                throw RuntimeError("the last forward kept only what a backward to "
                                   + allowed.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
                                   + " needs; a gradient at " + asked.joined(separator: ", ")
                                   + " needs a forward with retainForBackward")
            }
        }
        let context = BackwardContext(requested: Set(resolved), needsInput: inputGradient, reluMode: reluMode,
                                      workspace: workspace)
        if context.isDone { return BackwardResult(gradients: [:], input: nil) }
        let input = root.backward(logitsGradient, context)
        return BackwardResult(gradients: context.gradients, input: inputGradient ? input : nil)
    }

    /// Runs only the modules after `layer` (a top-level module or a child of a top-level
    /// sequence, e.g. "layer3", "layer4.1", "_blocks.15") from that module's output; returns the logits.
    public func forward(after layer: String, activation: Tensor, cancellation: CancellationFlag? = nil) throws -> Tensor {
        let path = try resolveLayer(layer)
        workspace.beginPass()
        let context = ForwardContext(recording: [], retain: false, cancellation: cancellation, workspace: workspace)
        let top = root.modules
        if let i = top.firstIndex(where: { $0.path == path }) {
            return try root.forward(activation, from: i + 1, context)
        }
        for (i, module) in top.enumerated() {
            if let sequence = module as? Sequential, let j = sequence.modules.firstIndex(where: { $0.path == path }) {
                let x = try sequence.run(.plain(activation), from: j + 1, context)
                return try root.run(x, from: i + 1, context).tensor()
            }
        }
        throw RuntimeError("cannot run \(architecture) from after \"\(path)\": the layer must be a top-level module "
                           + "or a child of one (e.g. \"\(defaultTargetLayer)\")")
    }

    /// Modules with a bias in FullGrad's sense, in forward order: every Conv2d with a bias
    /// and every BatchNorm2d (its effective bias `bias − mean · weight / sqrt(var + eps)`).
    public var biasLayers: [(path: String, bias: Tensor)] {
        root.subtree.compactMap { module in
            if let conv = module as? Conv2d, let bias = conv.bias { return (conv.path, bias) }
            if let bn = module as? BatchNorm2d { return (bn.path, bn.effectiveBias) }
            return nil
        }
    }
}

/// A small deterministic random generator (SplitMix64) for reproducible test weights.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [low, high) with 24 random bits.
    mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) / Float(1 << 24)
    }
}
