import Foundation

/// A network as a graph of operators: nodes in an order in which every input is computed
/// before it is used, over numbered values (the input, constants and node outputs), with the
/// module tree a PyTorch user knows laid over it.
///
/// Builders of the native families and the ONNX importer both emit this; one executor runs it.
final class Graph {
    /// One operation: an operator applied to values, producing one value.
    struct Node {
        /// The node's name: the module path of a PyTorch layer ("layer4.2.conv3"), or an
        /// ONNX node's name. It prefixes the operator's parameters in state dicts.
        let name: String
        let op: Operator
        let inputs: [Int]
        let output: Int
    }

    /// A named module of the tree: its path, its output value and its children.
    final class Module {
        /// The full path, e.g. `layer4.2.conv3` (empty for the root).
        let path: String
        /// Whether the module appears in `layerNames` (PyTorch's `named_modules`).
        let isNamed: Bool
        /// Whether a path may index its children with `[i]` (a Sequential or ModuleList).
        let isIndexable: Bool
        /// The named submodules, in the order they were declared.
        fileprivate(set) var children: [Module] = []
        /// The value the module's forward returns (nil for the root until the graph is finished).
        fileprivate(set) var output: Int?

        init(path: String, isNamed: Bool, isIndexable: Bool) {
            self.path = path
            self.isNamed = isNamed
            self.isIndexable = isIndexable
        }

        /// The last component of the path.
        var name: String {
            guard let dot = path.lastIndex(of: ".") else { return path }
            return String(path[path.index(after: dot)...])
        }

        /// Every module of the subtree in pre-order, this one first.
        var subtree: [Module] {
            [self] + children.flatMap(\.subtree)
        }
    }

    /// The nodes, in an order in which each node's inputs are ready before it runs.
    let nodes: [Node]
    /// The names of the values, by value index.
    let valueNames: [String]
    /// The fixed values (weights that are graph inputs rather than operator parameters, shape
    /// tensors), by value index.
    let constants: [Int: Tensor]
    /// The image input.
    let input: Int
    /// The logits.
    let output: Int
    /// The module tree (its root has an empty path).
    let root: Module
    /// The node producing each value (nil for the input and constants).
    let producer: [Int?]
    /// The nodes reading each value, in node order.
    let consumers: [[Int]]

    init(nodes: [Node], valueNames: [String], constants: [Int: Tensor], input: Int, output: Int, root: Module) {
        self.nodes = nodes
        self.valueNames = valueNames
        self.constants = constants
        self.input = input
        self.output = output
        self.root = root
        var producer = [Int?](repeating: nil, count: valueNames.count)
        var consumers = [[Int]](repeating: [], count: valueNames.count)
        for (index, node) in nodes.enumerated() {
            producer[node.output] = index
            for value in node.inputs { consumers[value].append(index) }
        }
        self.producer = producer
        self.consumers = consumers
    }

    /// For each value, whether it is `sources` or computed from one of them (through
    /// differentiable operators only, with `differentiable`: what a gradient at the sources
    /// depends on).
    func downstream(of sources: Set<Int>, differentiable: Bool = false) -> [Bool] {
        var reached = [Bool](repeating: false, count: valueNames.count)
        for value in sources { reached[value] = true }
        for node in nodes where node.inputs.contains(where: { reached[$0] }) {
            if differentiable && !node.op.isDifferentiable { continue }
            reached[node.output] = true
        }
        return reached
    }

    /// A cut: the nodes from `position` on read, of the values produced before it, only `value`
    /// (produced by node `position − 1`), so that a pass from that value computes everything
    /// after it (`Executor.forward(from:)`): a ResNet's or an EfficientNet's block outputs.
    struct Cut {
        let position: Int
        let value: Int
    }

    /// The graph's cuts, by position (computed once, when first asked).
    private(set) lazy var cuts: [Cut] = {
        var lastUse = [Int](repeating: -1, count: valueNames.count)
        for (n, node) in nodes.enumerated() {
            for v in node.inputs where constants[v] == nil { lastUse[v] = n }
        }
        var live: Set<Int> = lastUse[input] >= 0 ? [input] : []
        var cuts: [Cut] = []
        for (p, node) in nodes.enumerated() {
            if p > 0, live.count == 1, let v = live.first, producer[v] == p - 1 {
                cuts.append(Cut(position: p, value: v))
            }
            for v in node.inputs where lastUse[v] == p { live.remove(v) }
            if lastUse[node.output] > p { live.insert(node.output) }
        }
        return cuts
    }()

    /// The values of `cuts`.
    private(set) lazy var cutValues = Set(cuts.map(\.value))

    /// A module tree from paths in order of first appearance, each with its parent's path
    /// ("" for the root) and its output value; any module with children may be indexed.
    static func moduleTree(_ entries: [(path: String, parent: String, output: Int)], output: Int) -> Module {
        let root = Module(path: "", isNamed: false, isIndexable: true)
        root.output = output
        var children: [String: [(path: String, output: Int)]] = [:]
        for entry in entries { children[entry.parent, default: []].append((entry.path, entry.output)) }
        func build(_ path: String, output: Int) -> Module {
            let kids = children[path] ?? []
            // As in PyTorch, where `features[-1]` indexes a Sequential whatever its children's
            // names (DenseNet's `norm5`); an export does not say which modules are containers.
            let module = Module(path: path, isNamed: true, isIndexable: !kids.isEmpty)
            module.output = output
            module.children = kids.map { build($0.path, output: $0.output) }
            return module
        }
        root.children = (children[""] ?? []).map { build($0.path, output: $0.output) }
        return root
    }

    /// The module paths with their output values, named modules only, in pre-order.
    var namedModules: [Module] {
        root.subtree.dropFirst().filter(\.isNamed)
    }
}

/// A value of a graph under construction.
struct GraphValue: Hashable {
    fileprivate let index: Int
}

/// Builds a graph the way a PyTorch module's `forward` reads: each call adds a node, and
/// `module` groups the nodes of a submodule under its path.
///
/// A new family is a page of calls (see `ResNetBuilder`): `conv`, `batchNorm`, `relu`, `add`
/// and friends take the module path of the layer they stand for.
final class GraphBuilder {
    private var nodes: [Graph.Node] = []
    private var valueNames: [String] = []
    private var constants: [Int: Tensor] = [:]
    private var stack: [Graph.Module]
    /// The image input.
    let input: GraphValue

    init(inputName: String = "input") {
        stack = [Graph.Module(path: "", isNamed: false, isIndexable: true)]
        valueNames.append(inputName)
        input = GraphValue(index: 0)
    }

    /// Adds a node for `op` on `inputs`; a named node is also a leaf module at `path`.
    @discardableResult
    func node(_ op: Operator, _ inputs: [GraphValue], path: String, isNamed: Bool = true) -> GraphValue {
        let value = GraphValue(index: valueNames.count)
        valueNames.append(path)
        nodes.append(Graph.Node(name: path, op: op, inputs: inputs.map(\.index), output: value.index))
        if isNamed {
            let leaf = Graph.Module(path: path, isNamed: true, isIndexable: false)
            leaf.output = value.index
            stack[stack.count - 1].children.append(leaf)
        }
        return value
    }

    /// Adds a constant value.
    func constant(_ tensor: Tensor, name: String) -> GraphValue {
        let value = GraphValue(index: valueNames.count)
        valueNames.append(name)
        constants[value.index] = tensor
        return value
    }

    /// Declares the submodule at `path` whose forward `body` builds; its output is what `body` returns.
    func module(_ path: String, isIndexable: Bool = false, _ body: () throws -> GraphValue) rethrows -> GraphValue {
        let module = Graph.Module(path: path, isNamed: true, isIndexable: isIndexable)
        stack[stack.count - 1].children.append(module)
        stack.append(module)
        defer { stack.removeLast() }
        let output = try body()
        module.output = output.index
        return output
    }

    /// The finished graph with `output` as the logits.
    func finish(output: GraphValue) -> Graph {
        let root = stack[0]
        root.output = output.index
        return Graph(nodes: nodes, valueNames: valueNames, constants: constants, input: input.index,
                     output: output.index, root: root)
    }

    /// The finished graph with a module tree made elsewhere (an importer's, from scopes).
    func finish(output: GraphValue, modules: [(path: String, parent: String, output: GraphValue)]) -> Graph {
        let root = Graph.moduleTree(modules.map { ($0.path, $0.parent, $0.output.index) }, output: output.index)
        return Graph(nodes: nodes, valueNames: valueNames, constants: constants, input: input.index,
                     output: output.index, root: root)
    }

    /// The number of nodes so far (the index the next node gets).
    var nodeCount: Int { nodes.count }

    /// The value index of a builder value (for maps from names to values).
    func index(of value: GraphValue) -> Int { value.index }

    // MARK: PyTorch layers

    func conv(_ x: GraphValue, _ path: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1,
              padding: ConvPadding = .explicit(0, 0), groups: Int = 1, bias: Bool = false) -> GraphValue {
        node(Conv2d(inChannels: inChannels, outChannels: outChannels, kernelSize: (kernel, kernel),
                    stride: (stride, stride), padding: padding, groups: groups, bias: bias), [x], path: path)
    }

    func batchNorm(_ x: GraphValue, _ path: String, _ channels: Int, eps: Double) -> GraphValue {
        node(BatchNorm2d(channels: channels, eps: eps), [x], path: path)
    }

    func relu(_ x: GraphValue, _ path: String, _ kind: Activation = .relu, isNamed: Bool = true) -> GraphValue {
        node(ReLU(kind), [x], path: path, isNamed: isNamed)
    }

    func add(_ a: GraphValue, _ b: GraphValue, _ path: String) -> GraphValue {
        node(Add(), [a, b], path: path, isNamed: false)
    }

    func linear(_ x: GraphValue, _ path: String, _ inFeatures: Int, _ outFeatures: Int) -> GraphValue {
        node(Linear(inFeatures: inFeatures, outFeatures: outFeatures), [x], path: path)
    }
}
