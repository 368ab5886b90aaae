import Foundation

/// A loaded image classifier: a graph of operators with PyTorch's module paths laid over it.
///
/// Forward passes can record any module's output; a forward with `retainForBackward` keeps
/// what `backward` needs to return gradients at module outputs and at the input.
/// A network runs one pass at a time (its executor holds the retained state): do not share one
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

    /// The operators and values.
    let graph: Graph
    /// An imported graph's declared input shape [N, 3, H, W] (symbolic sizes resolved), nil for
    /// the built-in families.
    var importedInputShape: [Int]?
    /// Whether an imported graph's batch size is fixed at 1: its shape constants then assume
    /// one image, and a batch runs image by image.
    var batchIsFixed = false
    /// The image size (height, width) an imported graph was exported for, when fixed.
    var requiredInputSize: (height: Int, width: Int)?
    /// The tapes of a retaining forward that ran image by image (a fixed-batch graph), one per image.
    private var perImageTapes: [[Saved?]]?
    /// How each recorded value was last turned into a CAM's grid, so that a pass started from a
    /// grid (`forward(after:)`, `logitsTangent`) turns it back the same way.
    private var gridLayouts: [Int: ActivationLayout] = [:]
    /// The reuse of kept values during `reusingForwards`, nil otherwise.
    private(set) var forwardReuse: ForwardReuse?
    /// Each node's index by its name.
    private lazy var nodeIndex: [String: Int] = Dictionary(graph.nodes.enumerated().map { ($1.name, $0) },
                                                           uniquingKeysWith: { first, _ in first })
    /// Values that a functional in-place ReLU overwrites in PyTorch, with that ReLU's output: a
    /// CAM reads the activation there (as pytorch-grad-cam's hook does) and the gradient before it.
    var inPlaceReLU: [Int: Int] = [:]
    /// Layouts given by the user for layers whose output the guess reads wrong, by resolved path.
    public var layoutOverrides: [String: ActivationLayout] = [:]
    /// Scratch memory reused by every pass.
    let workspace = Workspace()

    /// Whether inference may use oneDNN and Winograd (the program's `RuntimeOptions`; all on by
    /// default).
    public var options: RuntimeOptions {
        get { workspace.options }
        set { workspace.options = newValue }
    }
    /// Runs every pass.
    let executor: Executor
    private let modulesByPath: [String: Graph.Module]
    /// Other names a layer may be given: an imported graph's tensor and node names, by value.
    private let aliases: [String: Int]
    /// Input and logits shapes of the last forward that retained for backward, and the only
    /// layers its backward may reach when it retained just for them (nil: everything).
    private var retained: (input: [Int], logits: [Int], gradientLayers: Set<String>?)?

    /// A network over `graph`; `outputCount` is the number of logits (the last linear layer's
    /// outputs when not given), `aliases` other names of values that `resolveLayer` accepts.
    init(architecture: String, graph: Graph, defaultTargetLayer: String, preset: InputPreset,
         classNames: [String]? = nil, outputCount: Int? = nil, aliases: [String: Int] = [:]) {
        self.architecture = architecture
        self.graph = graph
        self.executor = Executor(graph: graph, workspace: workspace)
        self.aliases = aliases
        let outputs = outputCount ?? graph.nodes.compactMap { ($0.op as? Linear)?.outFeatures }.last ?? 0
        self.outputCount = outputs
        self.classNames = classNames ?? Network.defaultClassNames(outputs: outputs)
        let named = graph.namedModules
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
        try headOutputs(StateDictShapes(stateDict), architecture: architecture)
    }

    /// The head's class count from a checkpoint's keys and shapes alone (see above).
    public static func headOutputs(_ listing: StateDictShapes, architecture: String) throws -> Int {
        let shapes = listing.normalized
        let key = headKey(architecture: architecture)
        if let weight = shapes[key], weight.count == 2, weight[0] >= 1 { return weight[0] }
        let prefix = String(key.dropLast("weight".count))
        let other = shapes.keys.filter { $0.hasPrefix(prefix) }
        if shapes[key] == nil, !other.isEmpty {
            throw RuntimeError("the checkpoint's classifier is not a single nn.Linear \"\(prefix.dropLast())\" "
                               + "(it has keys \(Network.listing(other))); \(architecture) checkpoints are read with "
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
                              graph: ResNetBuilder.graph(bottleneck: config.bottleneck, blocks: config.blocks,
                                                         classes: classes),
                              defaultTargetLayer: "layer4",
                              preset: config.bottleneck ? .resnetV2 : .resnetV1)
        } else if name == "efficientnet_lite0" {
            network = Network(architecture: name, graph: EfficientNetLiteBuilder.lite0Graph(classes: classes),
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
        for node in graph.nodes {
            if let conv = node.op as? Conv2d {
                let fanIn = conv.weightShape.reduce(1, *) / conv.outChannels
                conv.setParameter("weight", uniform(conv.weightShape, Float((6.0 / Double(fanIn)).squareRoot())))
            } else if let linear = node.op as? Linear {
                let bound = Float(1 / Double(linear.inFeatures).squareRoot())
                linear.setParameter("weight", uniform([linear.outFeatures, linear.inFeatures], bound))
                linear.setParameter("bias", uniform([linear.outFeatures], bound))
            }
        }
    }

    /// The state-dict keys this network expects, with their shapes, in module order.
    public var parameterShapes: [(key: String, shape: [Int])] {
        graph.nodes.flatMap { node in
            node.op.parameterShapes.sorted { $0.key < $1.key }.map { (node.name + "." + $0.key, $0.value) }
        }
    }

    /// Replaces every parameter and buffer with the state dict's.
    ///
    /// A `module.` prefix (DataParallel) is stripped and `num_batches_tracked` is ignored;
    /// missing or unexpected keys and shape mismatches are reported by name with shapes, and
    /// nothing is changed then.
    public func load(_ stateDict: StateDict) throws {
        try checkFits(StateDictShapes(stateDict))
        let given = Network.normalizedTensors(stateDict)
        let (owners, expectedOrder) = parameterOwners()
        try Network.refuseNonFinite(expectedOrder.compactMap { key in given.tensors[key].map { (key, $0) } })
        for key in expectedOrder {
            if let (module, name) = owners[key], let tensor = given.tensors[key] {
                module.setParameter(name, tensor)
            }
        }
    }

    /// Checks a checkpoint's keys and shapes against this network before any tensor need be
    /// read: missing or unexpected keys and shape mismatches are reported by name with shapes.
    public func checkFits(_ listing: StateDictShapes) throws {
        let given = listing.normalized
        let (owners, expectedOrder) = parameterOwners()
        var missing: [String] = [], mismatched: [String] = []
        for key in expectedOrder {
            guard let (module, name) = owners[key], let expected = module.parameterShapes[name] else { continue }
            guard let shape = given[key] else { missing.append(key); continue }
            if shape != expected {
                mismatched.append("\(key): expected \(Network.describe(expected)), found \(Network.describe(shape))")
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
    }

    /// Every state-dict key of this network with the operator and parameter it names, and the
    /// keys in module order.
    private func parameterOwners() -> (owners: [String: (Operator, String)], order: [String]) {
        var owners: [String: (Operator, String)] = [:]
        var order: [String] = []
        for node in graph.nodes {
            for (name, _) in node.op.parameterShapes.sorted(by: { $0.key < $1.key }) {
                owners[node.name + "." + name] = (node.op, name)
                order.append(node.name + "." + name)
            }
        }
        return (owners, order)
    }

    /// Refuses weights holding NaN or infinity, naming the first such tensor: they load
    /// silently otherwise and give answers that differ between kernels (issue 17, class 6).
    static func refuseNonFinite(_ tensors: [(name: String, tensor: Tensor)]) throws {
        var bad: [String] = []
        var first: String?
        for (name, tensor) in tensors {
            guard let problem = tensor.nonFiniteSummary() else { continue }
            if first == nil { first = "`\(name)` has \(problem)" }
            bad.append(name)
        }
        guard let first else { return }
        let others = bad.count > 1 ? " (\(bad.count) tensors in all: " + bad.prefix(5).joined(separator: ", ")
            + (bad.count > 5 ? ", …" : "") + ")" : ""
        throw RuntimeError("the weights hold NaN or infinite values: \(first)\(others); such a model's answers "
                           + "depend on the kernel that runs, so it is refused — the checkpoint is damaged or was saved after training diverged")
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
        if modulesByPath[trimmed] != nil || aliases[trimmed] != nil { return trimmed }
        var current: Graph.Module = graph.root
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
        guard current !== graph.root, !expectName else { throw fail() }
        return current.path
    }

    private func notFound(_ path: String) -> RuntimeError {
        // `_blocks.20` of 16 blocks: the index is out of range, and the nearest spelling
        // (`_blocks.2`) is not what was meant; say how many there are and name the last.
        if let dot = path.lastIndex(of: "."), let index = Int(path[path.index(after: dot)...]), index >= 0,
           let parent = modulesByPath[String(path[..<dot])], parent.isIndexable, !parent.children.isEmpty {
            let count = parent.children.count
            let range = count == 1 ? "1 block, \(parent.path).0" : "\(count) blocks, \(parent.path).0 to \(parent.path).\(count - 1)"
            return RuntimeError("layer \"\(path)\" not found: \(parent.path) has \(range); did you mean \"\(parent.path).\(count - 1)\" (the last)?")
        }
        if let best = NameMatching.best(for: path, in: layerNames) {
            return RuntimeError("layer \"\(path)\" not found; did you mean \"\(best)\"?")
        }
        let top = graph.root.children.filter(\.isNamed).map { "\"\($0.path)\"" }.joined(separator: ", ")
        return RuntimeError("layer \"\(path)\" not found in \(architecture); its top-level layers are \(top)")
    }

    // MARK: Running

    /// The value a module's forward returns, by resolved path.
    func value(ofLayer path: String) throws -> Int {
        guard let value = modulesByPath[path]?.output ?? aliases[path] else {
            throw RuntimeError("layer \"\(path)\" has no output in \(architecture)")
        }
        return value
    }

    /// The smallest image side a network without a fixed input size accepts: the five stride-2
    /// stages of the ImageNet families leave a 1×1 map at 32. A graph exported for one size
    /// (a small ONNX model's 16×16, say) takes exactly that size instead.
    static let minimumInputSize = 32

    func checkInput(_ input: Tensor) throws {
        guard input.rank == 4, input.shape[1] == 3, input.shape[0] > 0 else {
            throw RuntimeError("\(architecture) expects an image batch [N, 3, H, W], found \(Network.describe(input.shape))")
        }
        if let size = requiredInputSize, input.shape[2] != size.height || input.shape[3] != size.width {
            throw RuntimeError("\(architecture) was exported for \(size.height)×\(size.width) images, found "
                               + "\(input.shape[2])×\(input.shape[3]); its preprocess preset gives that size")
        }
        if requiredInputSize == nil, input.shape[2] < Self.minimumInputSize || input.shape[3] < Self.minimumInputSize {
            throw RuntimeError("the image is \(input.shape[3])×\(input.shape[2]); \(architecture) needs at least "
                               + "\(Self.minimumInputSize)×\(Self.minimumInputSize) (its stages halve the size five times)")
        }
        if let problem = input.nonFiniteSummary() {
            throw RuntimeError("the input to \(architecture) has \(problem); a model's answer to NaN or infinity "
                               + "depends on which kernel runs, so it is refused (check how the tensor was made: an image is always finite)")
        }
    }

    /// The values a forward records for `paths` (with the in-place ReLUs' outputs).
    private func recordingSet(_ paths: [(path: String, value: Int)]) -> Set<Int> {
        Set(paths.flatMap { [$0.value] + (inPlaceReLU[$0.value].map { [$0] } ?? []) })
    }

    /// The recorded values by the user's paths, as `[N, C, h, w]` grids.
    private func recordedLayers(_ recorded: [Int: Tensor], _ paths: [(path: String, value: Int)]) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (path, value) in paths {
            guard let tensor = recorded[inPlaceReLU[value] ?? value] else { continue }
            result[path] = try grid(tensor, path: path, value: value)
        }
        return result
    }

    /// A layer's output (or its gradient) as the CAM grid, errors naming the layer.
    private func grid(_ tensor: Tensor, path: String, value: Int) throws -> Tensor {
        do {
            let layout = try layout(of: path, value: value, shape: tensor.shape)
            gridLayouts[value] = layout
            return try layout.grid(tensor)
        } catch let error as RuntimeError where !error.message.hasPrefix("layer ") {
            throw RuntimeError("layer \"\(path)\": \(error.message)")
        }
    }

    /// How the output of layer `path` (value `value`, of `shape`) becomes a CAM's grid: the
    /// user's override, else channels last for a 4-D layer norm output (Swin), tokens for a
    /// rank-3 output (ViT: the fewest prefix tokens that leave a square), else as it is.
    public func layout(of path: String, value: Int, shape: [Int]) throws -> ActivationLayout {
        if let given = layoutOverrides[path] { return given }
        if shape.count == 4, let producer = graph.producer[value], graph.nodes[producer].op is LayerNormalization {
            return .channelsLast
        }
        if shape.count == 3 {
            guard let tokens = ActivationLayout.guessTokens(count: shape[1]) else {
                throw RuntimeError("layer \"\(path)\" outputs \(Network.describe(shape)): \(shape[1]) tokens leave no square "
                                   + "grid after dropping prefix tokens; say how many to drop with tokens=")
            }
            return tokens
        }
        return .channelsFirst
    }

    /// Runs the network on an [N, 3, H, W] batch; returns logits [N, classes] and the outputs
    /// of the requested modules by resolved path. With `retainForBackward` the layers keep what
    /// `backward` needs.
    public func forward(_ input: Tensor, recording: [String] = [], retainForBackward: Bool = false,
                        cancellation: CancellationFlag? = nil) throws -> ForwardResult {
        try checkInput(input)
        let paths = try recording.map { path -> (path: String, value: Int) in
            let resolved = try resolveLayer(path)
            return (resolved, try value(ofLayer: resolved))
        }
        workspace.beginPass()
        let retention: Executor.Retention = retainForBackward ? .all : .none
        if retainForBackward { retained = nil }
        perImageTapes = nil
        if input.shape[0] > 1, batchIsFixed || (!retainForBackward && workspace.oneDNN != nil) {
            let result = try forwardImageByImage(input, recording: paths, retention: retention, cancellation: cancellation)
            if retainForBackward { retained = (input.shape, result.logits.shape, nil) }
            return result
        }
        let result = try forwardFromInput(input, recording: recordingSet(paths), retention: retention, cancellation: cancellation)
        if retainForBackward { retained = (input.shape, result.output.shape, nil) }
        return ForwardResult(logits: result.output, activations: try recordedLayers(result.recorded, paths))
    }

    /// Runs the network and keeps only what a backward to the outputs of `gradientLayers`
    /// needs: the layers downstream of them. The others run as inference (on oneDNN, BN
    /// folded) and keep nothing: Grad-CAM at `layer4` retains the head alone.
    ///
    /// The next `backward` may ask for gradients at these layers only, and not at the input.
    public func forward(_ input: Tensor, recording: [String], retainingFor gradientLayers: [String],
                        cancellation: CancellationFlag? = nil) throws -> ForwardResult {
        try checkInput(input)
        let paths = try recording.map { path -> (path: String, value: Int) in
            let resolved = try resolveLayer(path)
            return (resolved, try value(ofLayer: resolved))
        }
        let targets = try gradientLayers.map { try resolveLayer($0) }
        guard !targets.isEmpty else {
            return try forward(input, recording: recording, retainForBackward: true, cancellation: cancellation)
        }
        let targetValues = try targets.map { try value(ofLayer: $0) }
        workspace.beginPass()
        retained = nil
        perImageTapes = nil
        let retention = Executor.Retention.downstream(of: Set(targetValues))
        if input.shape[0] > 1, batchIsFixed {
            let result = try forwardImageByImage(input, recording: paths, retention: retention, cancellation: cancellation)
            retained = (input.shape, result.logits.shape, Set(targets))
            return result
        }
        let result = try forwardFromInput(input, recording: recordingSet(paths).union(targetValues),
                                          retention: retention, cancellation: cancellation)
        retained = (input.shape, result.output.shape, Set(targets))
        return ForwardResult(logits: result.output, activations: try recordedLayers(result.recorded, paths))
    }

    /// The forward of a whole batch from the input; inside `reusingForwards`, from the latest
    /// value an earlier forward of the same input kept that nothing changed before (and that
    /// leaves every recorded value and every retaining node to this pass).
    private func forwardFromInput(_ input: Tensor, recording: Set<Int>, retention: Executor.Retention,
                                  cancellation: CancellationFlag?) throws -> (output: Tensor, recorded: [Int: Tensor]) {
        guard let reuse = forwardReuse else {
            return try executor.forward(from: graph.input, input, recording: recording, retention: retention, cancellation: cancellation)
        }
        var limit = graph.nodes.count
        switch retention {
        case .all: limit = 0
        case .none: break
        case let .downstream(values):
            for v in values { limit = min(limit, graph.consumers[v].min() ?? limit) }
        }
        for value in recording {
            guard let p = graph.producer[value] else { limit = 0; continue }
            limit = min(limit, reuse.cutValues.contains(value) ? p + 1 : p)
        }
        if let start = reuse.start(for: input, limit: limit) {
            return try executor.forward(from: start.value, start.tensor, recording: recording, retention: retention,
                                        cancellation: cancellation)
        }
        let result = try executor.forward(from: graph.input, input, recording: recording.union(reuse.cutValues),
                                          retention: retention, cancellation: cancellation)
        reuse.remember(input, recorded: result.recorded)
        return (result.output, result.recorded.filter { recording.contains($0.key) })
    }

    /// Runs `body` with the forwards of an input already seen starting from the values its
    /// earlier forward kept at block boundaries (`ForwardReuse`), for a caller that changes
    /// parameters from the top of the network down and says which with `markChanged(module:)`.
    /// Batches the network runs image by image (graphs exported for one image) run whole.
    func reusingForwards<T>(_ body: () throws -> T) rethrows -> T {
        let saved = forwardReuse
        forwardReuse = ForwardReuse(graph: graph)
        defer { forwardReuse = saved }
        return try body()
    }

    /// Tells the reuse of `reusingForwards` that the parameters of the module at `path` (a
    /// node's name) changed.
    func markChanged(module path: String) {
        guard let reuse = forwardReuse, let node = nodeIndex[path] else { return }
        reuse.markChanged(node: node)
    }

    /// The nodes that a forward retaining for `layers` runs as retaining (for tests).
    func retainingNodes(for layers: [String]) throws -> [String] {
        let reached = graph.downstream(of: Set(try layers.map { try value(ofLayer: try resolveLayer($0)) }),
                                       differentiable: true)
        return graph.nodes.filter { node in node.inputs.contains { reached[$0] } }.map(\.name)
    }

    /// A forward of a batch one image at a time. Inference on oneDNN: its convolutions reach
    /// ~2× the GF/s at batch 1 than at batch 16 here (activations stay in cache; bench/dnnl), so
    /// ScoreCAM's batches of 16 run faster image by image. A graph exported for one image
    /// (shape constants with a batch of 1) runs every pass so, keeping one tape per image for
    /// the backward. Logits and recorded outputs are concatenated along the batch.
    private func forwardImageByImage(_ input: Tensor, recording paths: [(path: String, value: Int)],
                                     retention: Executor.Retention = .none,
                                     cancellation: CancellationFlag?) throws -> ForwardResult {
        let n = input.shape[0]
        let imageShape = [1] + input.shape.dropFirst()
        var logits: (shape: [Int], storage: [Float]) = ([], [])
        var activations: [String: (shape: [Int], storage: [Float])] = [:]
        var tapes: [[Saved?]] = []
        for i in 0..<n {
            let result = try executor.forward(from: graph.input, input.slice(i).reshaped(imageShape),
                                              recording: recordingSet(paths), retention: retention,
                                              cancellation: cancellation)
            if retention != .none { tapes.append(executor.tape) }
            logits.shape = result.output.shape
            logits.storage.append(contentsOf: result.output.storage)
            for (path, tensor) in try recordedLayers(result.recorded, paths) {
                activations[path, default: (tensor.shape, [])].storage.append(contentsOf: tensor.storage)
            }
        }
        func batched(_ part: (shape: [Int], storage: [Float])) -> Tensor {
            Tensor(shape: [n] + part.shape.dropFirst(), storage: part.storage)
        }
        if retention != .none { perImageTapes = tapes }
        return ForwardResult(logits: batched(logits), activations: activations.mapValues(batched))
    }

    /// Forgets the last retaining forward, after a pass that used the executor's tape for
    /// something else (LeGrad's per-block passes): a later `backward` then asks for a new forward
    /// instead of reading another pass's tape.
    func discardRetainedPass() {
        retained = nil
        perImageTapes = nil
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
        let values = try resolved.map { try value(ofLayer: $0) }
        if values.isEmpty && !inputGradient { return BackwardResult(gradients: [:], input: nil) }
        var gradients: [Int: Tensor]
        if let tapes = perImageTapes {
            // One backward per image, on that image's tape; the gradients are concatenated.
            var parts: [Int: (shape: [Int], storage: [Float])] = [:]
            for (i, tape) in tapes.enumerated() {
                executor.tape = tape
                let one = try executor.backward(logitsGradient.slice(i).reshaped([1] + logitsGradient.shape.dropFirst()),
                                                targets: Set(values), inputGradient: inputGradient, reluMode: reluMode)
                for (value, g) in one { parts[value, default: (g.shape, [])].storage.append(contentsOf: g.storage) }
            }
            gradients = parts.mapValues { Tensor(shape: [tapes.count] + $0.shape.dropFirst(), storage: $0.storage) }
        } else {
            gradients = try executor.backward(logitsGradient, targets: Set(values), inputGradient: inputGradient,
                                              reluMode: reluMode)
        }
        var byPath: [String: Tensor] = [:]
        for (path, value) in zip(resolved, values) {
            guard let g = gradients[value] else { continue }
            byPath[path] = try grid(g, path: path, value: value)
        }
        return BackwardResult(gradients: byPath, input: inputGradient ? gradients[graph.input] : nil)
    }

    /// The logits after `layer` and their derivative along `direction` at `activation` (both
    /// grids of the layer's output, as recorded): `J·direction` with `J = ∂logits/∂activation`,
    /// by forward-mode differentiation through the layers after it (`Executor.tangentForward`).
    /// Exact where those layers are affine or piecewise linear; an error naming the first that
    /// is not, or when a later layer reads a value from before this one.
    public func logitsTangent(after layer: String, activation: Tensor, direction: Tensor,
                              cancellation: CancellationFlag? = nil) throws -> (logits: Tensor, tangent: Tensor) {
        let path = try resolveLayer(layer)
        let start = try value(ofLayer: path)
        try executor.checkTangentsPass(from: start)
        let (primal, tangent) = (try ungrid(activation, path: path, value: start), try ungrid(direction, path: path, value: start))
        do {
            let result = try executor.tangentForward(from: start, primal: primal, tangent: tangent, cancellation: cancellation)
            return (result.output, result.tangent)
        } catch let error as RuntimeError where error.message.hasPrefix("cannot run from after") {
            throw RuntimeError("cannot differentiate \(architecture) forward from \"\(path)\": a later layer also reads a value "
                               + "computed before it; " + resumableSuggestion(before: start))
        }
    }

    /// A grid of layer `path` (value `value`) back in the layout the graph computes it in: the
    /// way the last recording turned it into a grid, else the user's override, else channels
    /// last after a 4-D layer norm, else as it is. A token layer cannot come back: its class and
    /// prefix tokens are not in the grid.
    private func ungrid(_ activation: Tensor, path: String, value: Int) throws -> Tensor {
        do {
            if let layout = gridLayouts[value] ?? layoutOverrides[path] { return try layout.ungrid(activation) }
            if activation.rank == 4, let producer = graph.producer[value], graph.nodes[producer].op is LayerNormalization {
                return try ActivationLayout.channelsLast.ungrid(activation)
            }
            return activation
        } catch let error as RuntimeError {
            throw RuntimeError("layer \"\(path)\": \(error.message)")
        }
    }

    /// "choose … (e.g. "layer4.1")": the nearest layer at or before `value` that a pass can
    /// start after, else the last one, else that there is none.
    private func resumableSuggestion(before value: Int) -> String {
        let layers = resumableLayers
        guard !layers.isEmpty else { return "no layer of this network is followed by layers that read only its output" }
        let position = graph.producer[value] ?? 0
        let earlier = layers.last { path in (modulesByPath[path]?.output).flatMap { graph.producer[$0] }.map { $0 <= position } ?? false }
        return "choose a block's or a stage's output, e.g. \"\(earlier ?? layers[layers.count - 1])\""
    }

    /// The named layers after whose output everything else runs from it alone (block and stage
    /// outputs: `forward(after:)` can start there), in forward order.
    var resumableLayers: [String] {
        let cuts = graph.cutValues
        return graph.namedModules.filter { module in module.output.map { cuts.contains($0) } ?? false }.map(\.path)
    }

    /// Runs only what follows `layer`'s output, from `activation` given there; returns the
    /// logits. Every layer after it must read only values computed from it ("layer3",
    /// "layer4.1", "_blocks.15"; not a layer inside a residual block).
    public func forward(after layer: String, activation: Tensor, cancellation: CancellationFlag? = nil) throws -> Tensor {
        let path = try resolveLayer(layer)
        let start = try value(ofLayer: path)
        workspace.beginPass()
        let raw = try ungrid(activation, path: path, value: start)
        do {
            if batchIsFixed, raw.shape.first ?? 1 > 1 {
                // A graph exported for one image: one image at a time, the logits concatenated.
                var storage: [Float] = []
                var shape: [Int] = []
                for i in 0..<raw.shape[0] {
                    let one = try executor.forward(from: start, raw.slice(i).reshaped([1] + raw.shape.dropFirst()),
                                                   recording: [], retention: .none, cancellation: cancellation).output
                    shape = one.shape
                    storage += one.storage
                }
                return Tensor(shape: [raw.shape[0]] + shape.dropFirst(), storage: storage)
            }
            return try executor.forward(from: start, raw, recording: [], retention: .none,
                                        cancellation: cancellation).output
        } catch let error as RuntimeError where error.message.hasPrefix("cannot run from after") {
            throw RuntimeError("cannot run \(architecture) from after \"\(path)\": a later layer also reads a value "
                               + "computed before it; " + resumableSuggestion(before: start))
        }
    }

    /// Modules with a bias in FullGrad's sense, in forward order: every Conv2d with a bias
    /// and every BatchNorm2d (its effective bias `bias − mean · weight / sqrt(var + eps)`).
    public var biasLayers: [(path: String, bias: Tensor)] {
        graph.nodes.compactMap { node in
            if let conv = node.op as? Conv2d, let bias = conv.bias { return (node.name, bias) }
            if let bn = node.op as? BatchNorm2d { return (node.name, bn.effectiveBias) }
            return nil
        }
    }

    /// The classifier the logits come from, when they are one linear layer (`nn.Linear`, an
    /// ONNX `Gemm`) after a global average pooling: its path, its weight `[classes, C]` and the
    /// layer whose output is pooled (the latest module output before the pooling, through
    /// element-wise activations such as EfficientNet's ReLU6 after `_bn1`).
    public var linearClassifier: LinearClassifier? {
        guard let head = graph.producer[graph.output].map({ graph.nodes[$0] }), let linear = head.op as? Linear,
              let features = head.inputs.first else { return nil }
        var value = features
        var pooled = false
        for _ in 0..<16 {
            if pooled {
                let paths = modulesByPath.filter { $0.value.output == value }.map(\.key)
                if let path = paths.contains(defaultTargetLayer) ? defaultTargetLayer
                    : paths.min(by: { ($0.count, $0) < ($1.count, $1) }) {
                    return LinearClassifier(path: head.name, weight: linear.weight, bias: linear.bias, featureLayer: path)
                }
            }
            guard let producer = graph.producer[value] else { break }
            let node = graph.nodes[producer]
            let inputs = node.inputs.filter { graph.constants[$0] == nil }
            guard inputs.count == 1, let next = inputs.first else { break }
            if node.op is GlobalAveragePool { pooled = true }
            value = next
        }
        return LinearClassifier(path: head.name, weight: linear.weight, bias: linear.bias, featureLayer: nil)
    }

    /// The node named `name` (a layer's module path), for tests that reach into operators.
    func node(named name: String) -> Graph.Node? {
        graph.nodes.first { $0.name == name }
    }
}

/// A small deterministic random generator (SplitMix64): reproducible test weights, the sanity
/// checks' random parameters and classes, seeded test inputs.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// Creates a generator whose sequence `seed` fixes.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [low, high) with 24 random bits.
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) / Float(1 << 24)
    }
}
