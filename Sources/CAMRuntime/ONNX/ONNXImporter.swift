import Foundation

/// Lowers an ONNX model onto the graph executor's operators, so that an imported network runs
/// on the same executor, fusions and backward as the built-in families.
///
/// Stages, each a pass over the nodes: lowering (one operator per ONNX node, weights moved into
/// the operators that own them, nodes whose inputs are all constants evaluated at load), module
/// scopes recovered from the exporter's names (TorchScript: `/layer4/layer4.2/relu_2/Relu`;
/// dynamo: `pkg.torch.onnx.name_scopes` in node metadata), and one trial forward on zeros that
/// checks the graph runs and finds the logits' size and the default target layer.
public enum ONNXImporter {
    /// Loads an ONNX model file into a network.
    public static func network(contentsOf url: URL) throws -> Network {
        let file = try ONNXFile(contentsOf: url)
        return try network(from: file, name: url.deletingPathExtension().lastPathComponent)
    }

    /// Lowers a decoded ONNX model into a network named `name`.
    public static func network(from file: ONNXFile, name: String) throws -> Network {
        try file.checkDefaultOpset()
        let lowering = try Lowering(file: file)
        try lowering.lowerNodes()
        return try lowering.finish(name: name)
    }

    /// The operators the importer lowers, by ONNX op type.
    public static var supportedOperators: [String] { ONNXOperators.table.keys.sorted() }
}

/// The state of one import.
final class Lowering {
    let file: ONNXFile
    let onnx: ONNXGraph
    let builder: GraphBuilder
    /// The graph values of the ONNX tensor names lowered so far.
    private(set) var values: [String: GraphValue] = [:]
    /// The tensors known at load time (initializers, Constant outputs, folded nodes), by name.
    private(set) var constants: [String: Tensor] = [:]
    /// The names whose ONNX element type is an integer type. Every tensor is carried as Float
    /// (integers exactly, up to 2^24), so this is what tells an integer Div, which truncates,
    /// from a float one.
    private(set) var integers: Set<String> = []
    /// The most elements a constant computed at load may have: the larger of 4 M and the
    /// largest tensor the file itself holds. Folding evaluates shape arithmetic and weight
    /// reshapes, which never outgrow the model's own tensors; a few bytes of hostile shape
    /// arithmetic could otherwise make loading allocate and copy up to a gigabyte per node.
    private(set) var foldLimit = Lowering.minimumFoldLimit
    static let minimumFoldLimit = 1 << 22
    /// The input's declared shape, [N, 3, H, W], with symbolic sizes resolved.
    let inputShape: [Int]
    /// Whether the input's batch size is fixed (at `inputShape[0]`) rather than symbolic.
    let batchIsFixed: Bool
    /// Whether the input's height and width are fixed.
    let inputSizeIsFixed: Bool
    /// For each lowered node, the ONNX node it came from and its module path.
    private var nodeScopes: [(value: GraphValue, scopes: [String])] = []
    /// The default opset version (for messages).
    let opset: Int
    /// Scratch memory for folding constants at load.
    private let workspace = Workspace(options: RuntimeOptions(allowsOneDNN: false))

    init(file: ONNXFile) throws {
        self.file = file
        let onnx = file.graph
        self.onnx = onnx
        self.opset = file.opsets[""] ?? 0
        let dynamicInputs = onnx.inputs.filter { onnx.initializers[$0.name] == nil }
        guard dynamicInputs.count == 1, let input = dynamicInputs.first else {
            throw RuntimeError("\(file.fileName): an image classifier takes one input, this graph takes "
                               + "\(dynamicInputs.count) (\(dynamicInputs.map { "\"\($0.name)\"" }.joined(separator: ", ")))")
        }
        guard let dims = input.dims, dims.count == 4 else {
            throw RuntimeError("\(file.fileName): the input \"\(input.name)\" must be an image batch [N, 3, H, W], "
                               + "found \(input.dims.map { "rank \($0.count)" } ?? "no shape")")
        }
        func size(_ dim: ONNXDimension, fallback: Int) -> Int {
            if case let .fixed(n) = dim, n > 0 { return n }
            return fallback
        }
        if case let .fixed(c) = dims[1], c != 3 {
            throw RuntimeError("\(file.fileName): the input \"\(input.name)\" has \(c) channels; CAMScript explains RGB "
                               + "images (3 channels)")
        }
        if case .fixed = dims[0] { batchIsFixed = true } else { batchIsFixed = false }
        if case .fixed = dims[2], case .fixed = dims[3] { inputSizeIsFixed = true } else { inputSizeIsFixed = false }
        inputShape = [size(dims[0], fallback: 1), 3, size(dims[2], fallback: 224), size(dims[3], fallback: 224)]
        guard inputShape[0] == 1 || !batchIsFixed else {
            throw RuntimeError("\(file.fileName): the input's batch size is fixed at \(inputShape[0]); export with a "
                               + "batch of 1 or a dynamic batch (dynamic_axes / dynamic_shapes)")
        }
        guard (1...4096).contains(inputShape[2]), (1...4096).contains(inputShape[3]) else {
            throw RuntimeError("\(file.fileName): the input size \(inputShape[2])×\(inputShape[3]) is out of range")
        }
        builder = GraphBuilder(inputName: input.name)
        values[input.name] = builder.input
        var nanWeights: [(name: String, tensor: Tensor)] = []
        for (name, tensor) in onnx.initializers.sorted(by: { $0.key < $1.key }) {
            let value = try Lowering.floatTensor(tensor)
            constants[name] = value
            if tensor.dataType.isInteger { integers.insert(name) }
            // Infinity has legitimate uses in exported graphs (a Clip bound, an attention
            // mask); NaN has none, so only NaN is refused here.
            if value.firstNonFinite() != nil, value.storage.contains(where: \.isNaN) { nanWeights.append((name, value)) }
        }
        try Network.refuseNonFinite(nanWeights)
    }

    /// An initializer or constant as a Float tensor (integers are carried as exact floats).
    static func floatTensor(_ tensor: ONNXTensor) throws -> Tensor {
        switch tensor.values {
        case let .floats(v): return Tensor(shape: tensor.dims, storage: v)
        case let .ints(v): return Tensor(shape: tensor.dims, storage: v.map(Float.init))
        }
    }

    // MARK: Lowering

    /// Lowers every node in file order (ONNX requires a topological order).
    func lowerNodes() throws {
        // Constant nodes are known before lowering (their values are attributes), so the
        // rewrites can match constants that Constant nodes hold as well as initializers.
        var known = constants
        for node in onnx.nodes where node.opType == "Constant" {
            if case let .tensor(t)? = node.attributes["value"], let first = node.outputs.first {
                known[first] = try Lowering.floatTensor(t)
            }
        }
        foldLimit = max(Lowering.minimumFoldLimit, known.values.map(\.count).max() ?? 0)
        // The file's domains are checked before the rewrites, whose own nodes have a domain of theirs.
        for node in onnx.nodes where !(node.domain.isEmpty || node.domain == "ai.onnx") {
            throw RuntimeError("\(file.fileName): node \"\(node.name)\" (\(node.opType)) is from the operator domain "
                               + "\"\(node.domain)\"; CAMScript reads the default ONNX domain only")
        }
        let outputs = Set(onnx.outputs.map(\.name))
        for node in ONNXRewrites.apply(onnx.nodes, constants: { known[$0] }, outputs: outputs) {
            let table = node.domain == ONNXRewrites.domain ? ONNXRewrites.lowerings : ONNXOperators.table
            guard let lower = table[node.opType] else {
                throw RuntimeError("\(file.fileName): operator \(node.opType) (node \"\(node.name)\", opset \(opset)) is "
                                   + "not supported; CAMScript supports " + ONNXImporter.supportedOperators.joined(separator: ", "))
            }
            guard let output = node.outputs.first, !output.isEmpty else {
                throw RuntimeError("\(file.fileName): node \"\(node.name)\" (\(node.opType)) has no output")
            }
            let context = NodeContext(node: node, lowering: self)
            // Every supported operator but Constant reads at least one tensor; the lowerings
            // rely on that for their first input.
            guard node.opType == "Constant" || !context.inputs.isEmpty else {
                throw RuntimeError("\(file.fileName): node \"\(node.name)\" (\(node.opType)) has no inputs")
            }
            do {
                try lower(context)
            } catch let error as RuntimeError where !error.message.hasPrefix(file.fileName) {
                throw RuntimeError("\(file.fileName): node \"\(node.name)\" (\(node.opType)): \(error.message)")
            }
            if Lowering.hasIntegerOutputs(node, integers: integers) { integers.formUnion(node.outputs) }
        }
    }

    /// Whether `name` holds an integer ONNX type (see `integers`).
    func isInteger(_ name: String) -> Bool { integers.contains(name) }

    /// Whether a node's outputs have an integer element type, from its operator and its
    /// inputs' types: ONNX operators keep their input's type except those that make a new one.
    static func hasIntegerOutputs(_ node: ONNXNode, integers: Set<String>) -> Bool {
        switch node.opType {
        case "Shape", "Size", "ArgMax", "ArgMin", "NonZero":
            return true
        case "Cast":
            guard case let .int(to)? = node.attributes["to"] else { return false }
            return ONNXDataType(rawValue: Int32(clamping: to)).isInteger
        case "Constant", "ConstantOfShape":
            guard case let .tensor(t)? = node.attributes["value"] else { return false }
            return t.dataType.isInteger
        case "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf":
            return false
        case "Where":
            return node.inputs.count > 1 && integers.contains(node.inputs[1])
        default:
            return node.inputs.first.map(integers.contains) ?? false
        }
    }

    /// Whether `name` is known at load time.
    func isConstant(_ name: String) -> Bool { constants[name] != nil }

    /// The graph value of an ONNX tensor name (a constant becomes a graph constant on first use).
    func value(_ name: String, for node: ONNXNode) throws -> GraphValue {
        if let v = values[name] { return v }
        if let tensor = constants[name] {
            let v = builder.constant(tensor, name: name)
            values[name] = v
            return v
        }
        throw RuntimeError("\(file.fileName): node \"\(node.name)\" (\(node.opType)) reads \"\(name)\", which no "
                           + "earlier node, initializer or input defines")
    }

    /// Adds `op` on `inputs` (ONNX names) as the node's output; evaluates it at load when every
    /// input is a constant.
    func emit(_ op: Operator, _ inputs: [String], for node: ONNXNode, output index: Int = 0) throws {
        let name = node.outputs[index]
        if !inputs.isEmpty, inputs.allSatisfy(isConstant) {
            var step = ForwardStep(retain: false, workspace: workspace)
            let folded = try op.forward(inputs.compactMap { constants[$0] }, &step)
            guard folded.count <= foldLimit else {
                throw RuntimeError("computes a constant of \(Network.describe(folded.shape)) at load (\(folded.count) elements), "
                                   + "more than the model's largest tensor (\(foldLimit) elements); the file is damaged")
            }
            constants[name] = folded
            return
        }
        let graphInputs = try inputs.map { try value($0, for: node) }
        let path = node.name.isEmpty ? name : (index == 0 ? node.name : node.name + "#\(index)")
        let v = builder.node(op, graphInputs, path: path, isNamed: false)
        values[name] = v
        nodeScopes.append((v, scopes(of: node)))
    }

    /// Makes `name` another name of `source` (Identity, Dropout).
    func alias(_ name: String, to source: String, for node: ONNXNode) throws {
        if let tensor = constants[source] {
            constants[name] = tensor
        } else {
            values[name] = try value(source, for: node)
        }
    }

    /// Records a constant output (Constant).
    func setConstant(_ name: String, _ tensor: Tensor) {
        constants[name] = tensor
    }

    // MARK: Module scopes

    /// The module paths around a node, outermost first.
    private func scopes(of node: ONNXNode) -> [String] {
        if let list = node.metadata["pkg.torch.onnx.name_scopes"] {
            // A Python list literal: ['', 'layer4', 'layer4.2', 'layer4.2.relu', 'relu_46'];
            // the last entry names the FX node, the others are module paths.
            let entries = list.split(separator: ",").map {
                $0.trimmingCharacters(in: CharacterSet(charactersIn: "[]' \""))
            }
            return Array(entries.dropLast().filter { !$0.isEmpty })
        }
        guard node.name.hasPrefix("/") else { return [] }
        var components = node.name.split(separator: "/").map(String.init)
        components.removeLast()
        // Each component repeats its parent's component as a prefix when the parent is a
        // container: /layer1/layer1.0/downsample/downsample.0/Conv is layer1.0.downsample.0.
        var paths: [String] = []
        var current = "", last = ""
        for component in components {
            let local = !last.isEmpty && component.hasPrefix(last + ".") ? String(component.dropFirst(last.count + 1)) : component
            current = current.isEmpty ? local : current + "." + local
            last = component
            paths.append(current)
        }
        return paths
    }

    /// The modules with their parents and outputs: each module's output is the output of the
    /// last node inside it. TorchScript's call suffixes (`relu_2` for the third call of `relu`)
    /// name the same module when the unsuffixed name exists beside it.
    private func modules() -> [(path: String, parent: String, output: GraphValue)] {
        var known = Set<String>()
        for entry in nodeScopes { known.formUnion(entry.scopes) }
        func canonical(_ path: String) -> String {
            guard let underscore = path.lastIndex(of: "_"),
                  Int(path[path.index(after: underscore)...]) != nil else { return path }
            let base = String(path[..<underscore])
            return known.contains(base) ? base : path
        }
        var order: [String] = []
        var parent: [String: String] = [:]
        var output: [String: GraphValue] = [:]
        for entry in nodeScopes {
            var previous = ""
            for raw in entry.scopes {
                let path = canonical(raw)
                if output[path] == nil {
                    order.append(path)
                    parent[path] = previous
                }
                output[path] = entry.value
                previous = path
            }
        }
        return order.compactMap { path in output[path].map { (path, parent[path] ?? "", $0) } }
    }

    // MARK: Finishing

    /// The network: the graph with its module tree, checked by a trial forward on zeros.
    func finish(name: String) throws -> Network {
        guard let outputInfo = onnx.outputs.first else {
            throw RuntimeError("\(file.fileName): the graph has no output")
        }
        guard let outputValue = values[outputInfo.name] else {
            throw RuntimeError("\(file.fileName): the output \"\(outputInfo.name)\" is "
                               + (constants[outputInfo.name] != nil ? "a constant" : "never computed"))
        }
        let modules = self.modules()
        let graph = builder.finish(output: outputValue, modules: modules)
        var aliases: [String: Int] = [:]
        for (tensorName, v) in values { aliases[tensorName] = builder.index(of: v) }
        for node in onnx.nodes where !node.name.isEmpty {
            if let first = node.outputs.first, let v = values[first] { aliases[node.name] = builder.index(of: v) }
        }
        // The trial forward: the graph runs, the logits are [N, classes], and the module
        // outputs' shapes give the default target layer.
        let executor = Executor(graph: graph, workspace: Workspace(options: RuntimeOptions(allowsOneDNN: false)))
        let recorded = Set(modules.map { builder.index(of: $0.output) })
        let trial: (output: Tensor, recorded: [Int: Tensor])
        do {
            trial = try executor.forward(from: graph.input, Tensor(shape: inputShape), recording: recorded,
                                         retention: .none, cancellation: nil)
        } catch let error as RuntimeError {
            throw RuntimeError("\(file.fileName): a trial forward on a \(Network.describe(inputShape)) input failed: "
                               + error.message)
        }
        guard trial.output.rank == 2, trial.output.shape[0] == inputShape[0], trial.output.shape[1] >= 1 else {
            throw RuntimeError("\(file.fileName): the output \"\(outputInfo.name)\" is \(Network.describe(trial.output.shape)); "
                               + "an image classifier's logits are [N, classes]")
        }
        let target = defaultTarget(modules, graph: graph, shapes: trial.recorded.mapValues(\.shape))
        let size = inputShape[2]
        let preset = InputPreset(resizeShorterSide: Int((Double(size) * 256 / 224).rounded()), cropSize: size,
                                 interpolation: .bilinear, mean: InputPreset.imageNetMean, std: InputPreset.imageNetStd)
        let outputs = trial.output.shape[1]
        let network = Network(architecture: name, graph: graph, defaultTargetLayer: target, preset: preset,
                              classNames: try classNames(outputs: outputs), outputCount: outputs, aliases: aliases)
        network.inPlaceReLU = inPlaceReLUs(modules, graph: graph)
        network.importedInputShape = inputShape
        network.batchIsFixed = batchIsFixed
        network.requiredInputSize = inputSizeIsFixed ? (inputShape[2], inputShape[3]) : nil
        return network
    }

    /// The metadata keys that may name the classes, in the order they are looked for.
    static let labelKeys = ["class_names", "classes", "labels"]

    /// Class names from the model's metadata_props (a JSON list, a JSON object from index to
    /// name, or one name per line), or nil to use `class 0…`; a list of the wrong length is an error.
    private func classNames(outputs: Int) throws -> [String]? {
        guard let key = Lowering.labelKeys.first(where: { file.metadata[$0] != nil }), let text = file.metadata[key] else {
            return nil
        }
        let source = "\(file.fileName) metadata \"\(key)\""
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let names = trimmed.hasPrefix("[") || trimmed.hasPrefix("{")
            ? try ClassLabels.parseJSON(Data(trimmed.utf8), file: source)
            : try ClassLabels.parseLines(text, file: source)
        let expected = Swift.max(outputs, 2)
        guard names.count == expected else {
            throw RuntimeError("\(source) names \(names.count) classes, but the model has \(expected)"
                               + (outputs == 1 ? " (one logit: a binary classifier, class 0 and class 1)" : ""))
        }
        return names
    }

    /// Module outputs that only a functional ReLU outside every module reads (torchvision's
    /// DenseNet: `F.relu(self.features(x), inplace=True)`), with that ReLU's output. PyTorch's
    /// in-place ReLU overwrites the module's output tensor, so pytorch-grad-cam's forward hook
    /// holds the rectified values (while its gradient hook sees the gradient before the ReLU).
    private func inPlaceReLUs(_ modules: [(path: String, parent: String, output: GraphValue)], graph: Graph) -> [Int: Int] {
        var scopesByValue: [Int: [String]] = [:]
        for entry in nodeScopes { scopesByValue[builder.index(of: entry.value)] = entry.scopes }
        var result: [Int: Int] = [:]
        for module in modules {
            let value = builder.index(of: module.output)
            let users = graph.consumers[value]
            guard users.count == 1, let user = users.first, let relu = graph.nodes[user].op as? ReLU,
                  relu.activation == .relu, scopesByValue[graph.nodes[user].output]?.isEmpty ?? false else { continue }
            result[value] = graph.nodes[user].output
        }
        return result
    }

    /// The default target layer: for a transformer the layer norm before the last attention,
    /// else the outermost module whose output is the last 4-D activation with a spatial size
    /// above 1 (before the global pooling), else the last module output.
    private func defaultTarget(_ modules: [(path: String, parent: String, output: GraphValue)], graph: Graph,
                               shapes: [Int: [Int]]) -> String {
        let ordered = modules.map { (path: $0.path, value: builder.index(of: $0.output)) }
        func outermost(_ value: Int) -> String? {
            ordered.filter { $0.value == value }.min { $0.path.count < $1.path.count }?.path
        }
        func producer(_ value: Int) -> Int { graph.producer[value] ?? -1 }
        // A transformer: the layer norm before the last attention (pytorch-grad-cam's tutorial
        // targets: ViT's encoder.layers[-1].ln_1, timm's blocks[-1].norm1, Swin's
        // features[-1][-1].norm1). Later layers reach the class token only, so their patch
        // tokens get no gradient.
        if let softmax = graph.nodes.lastIndex(where: { $0.op is Softmax }) {
            let norms = ordered.filter { producer($0.value) < softmax && producer($0.value) >= 0
                && graph.nodes[producer($0.value)].op is LayerNormalization }
            for norm in norms.sorted(by: { producer($0.value) > producer($1.value) })
            where graph.downstream(of: [norm.value])[graph.nodes[softmax].output] {
                if let path = outermost(norm.value) { return path }
            }
        }
        // A CNN: the last 4-D activation with a spatial size above 1, not counting an average
        // pool that only resamples the features for the head (VGG's AdaptiveAvgPool2d(7)).
        let spatial = ordered.filter { module in
            guard let shape = shapes[module.value], producer(module.value) >= 0,
                  !(graph.nodes[producer(module.value)].op is AveragePool2d) else { return false }
            return shape.count == 4 && shape[2] > 1 && shape[3] > 1
        }
        let candidates = spatial.isEmpty ? ordered : spatial
        guard let last = candidates.max(by: { producer($0.value) < producer($1.value) }) else {
            return graph.valueNames[graph.output]
        }
        return outermost(last.value) ?? last.path
    }
}

/// One ONNX node being lowered, with typed access to its attributes and inputs.
struct NodeContext {
    let node: ONNXNode
    let lowering: Lowering

    /// The node's inputs, without trailing omitted optional ones ("").
    var inputs: [String] {
        var list = node.inputs
        while list.last == "" { list.removeLast() }
        return list
    }

    func int(_ name: String, default value: Int) throws -> Int {
        switch node.attributes[name] {
        case nil: return value
        case let .int(i)?: return try Self.checked(i, name)
        default: throw RuntimeError("attribute \(name) must be an integer")
        }
    }

    func float(_ name: String, default value: Float) throws -> Float {
        switch node.attributes[name] {
        case nil: return value
        case let .float(f)?: return f
        case let .int(i)?: return Float(i)
        default: throw RuntimeError("attribute \(name) must be a float")
        }
    }

    func ints(_ name: String) throws -> [Int]? {
        switch node.attributes[name] {
        case nil: return nil
        case let .ints(list)?: return try list.map { try Self.checked($0, name) }
        default: throw RuntimeError("attribute \(name) must be a list of integers")
        }
    }

    func string(_ name: String, default value: String) throws -> String {
        switch node.attributes[name] {
        case nil: return value
        case let .string(s)?: return s
        default: throw RuntimeError("attribute \(name) must be a string")
        }
    }

    /// An integer within ±2^31 (dimensions, axes, pads); absurd values are refused.
    private static func checked(_ value: Int64, _ name: String) throws -> Int {
        guard abs(value) <= Int64(Int32.max) || value == Int64.max || value == Int64.min else {
            throw RuntimeError("attribute \(name) has the absurd value \(value)")
        }
        return Int(clamping: value)
    }

    /// A constant input's tensor, or a clear error when the input is computed at run time.
    func constant(_ index: Int, _ role: String) throws -> Tensor {
        let list = inputs
        guard index < list.count, let tensor = lowering.constants[list[index]] else {
            throw RuntimeError("the \(role) must be a constant (an initializer), not a tensor computed at run time")
        }
        return tensor
    }

    /// Refuses attributes outside `supported` that change the result (named in the error).
    func refuse(_ attribute: String, unless condition: Bool, _ explanation: String) throws {
        if node.attributes[attribute] != nil && !condition {
            throw RuntimeError("attribute \(attribute) \(explanation) is not supported")
        }
    }
}
