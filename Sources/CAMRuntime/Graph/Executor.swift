import Foundation

/// Runs a graph: inference passes (on oneDNN once warmed up, batch norms folded and
/// activations fused into convolutions), passes that record values, passes that retain what a
/// backward needs (everywhere, or only downstream of the layers a backward will reach), the
/// backward to any values and to the input, and passes that start from a value.
///
/// One executor per network; it runs one pass at a time (the tape of the last retaining
/// forward lives here).
final class Executor {
    let graph: Graph
    let workspace: Workspace
    /// What each node kept in the last retaining forward (nil where it did not retain); a
    /// network that runs a batch image by image swaps one tape per image in and out.
    var tape: [Saved?]
    /// The nodes the last backward went through, in backward order (for tests of early stopping).
    private(set) var visited: [Int] = []

    init(graph: Graph, workspace: Workspace) {
        self.graph = graph
        self.workspace = workspace
        tape = [Saved?](repeating: nil, count: graph.nodes.count)
    }

    /// Which nodes of a forward keep what backward needs.
    enum Retention: Hashable {
        /// None: an inference pass.
        case none
        /// Every node.
        case all
        /// The nodes downstream of these values, which a backward to them goes through.
        case downstream(of: Set<Int>)
    }

    /// Runs the graph from `start` (the input, or any value whose producer's output is given)
    /// with `tensor` there; returns the output and the `recording` values.
    func forward(from start: Int, _ tensor: Tensor, recording: Set<Int>, retention: Retention,
                 cancellation: CancellationFlag?) throws -> (output: Tensor, recorded: [Int: Tensor]) {
        let retains: [Bool]
        switch retention {
        case .none: retains = [Bool](repeating: false, count: graph.nodes.count)
        case .all: retains = [Bool](repeating: true, count: graph.nodes.count)
        case let .downstream(values):
            let reached = graph.downstream(of: values, differentiable: true)
            retains = graph.nodes.map { node in node.inputs.contains { reached[$0] } }
        }
        if retention != .none { tape = [Saved?](repeating: nil, count: graph.nodes.count) }
        let plan = try makePlan(observed: recording, retains: retains, start: start)
        var values = [PassValue?](repeating: nil, count: graph.valueNames.count)
        values[start] = .plain(tensor)
        var recorded: [Int: Tensor] = [:]
        if recording.contains(start) { recorded[start] = tensor }
        let engine = workspace.oneDNN

        func value(_ index: Int) throws -> PassValue {
            if let v = values[index] { return v }
            if let constant = graph.constants[index] { return .plain(constant) }
            throw RuntimeError("the value \"\(graph.valueNames[index])\" is used before it is computed")
        }
        for (index, step) in plan.steps.enumerated() {
            try cancellation?.check()
            let node = graph.nodes[step.lastNode]
            do {
                let output: PassValue
                switch step.kind {
                case let .node(n, retain):
                    output = try runNode(n, retain: retain, engine: retain ? nil : engine, inputs: graph.nodes[n].inputs.map(value))
                case let .chain(chain):
                    let input = graph.nodes[chain.conv].inputs[0]
                    // The convolution may write its output over the residual's memory only when
                    // nothing reads it later (and it is not the convolution's own input).
                    let consumable = chain.residual.map { r in
                        plan.lastUse[r] == index && r != input && r != graph.output && !recording.contains(r)
                    } ?? false
                    output = try runChain(chain, engine: chain.retain ? nil : engine, input: try value(input),
                                          residual: try chain.residual.map(value), consumable: consumable)
                    if consumable, let r = chain.residual { values[r] = nil }
                case let .addActivation(add, activation, op, retain):
                    let inputs = try graph.nodes[add].inputs.map { try value($0).tensor() }
                    let result = try op.addThenApply(inputs[0], inputs[1])
                    if retain {
                        // A broadcasting add sums its gradient back to its inputs' shapes.
                        let shapes = inputs.map(\.shape)
                        tape[add] = shapes[0] == shapes[1] ? Saved() : Saved(shapes: shapes)
                        tape[activation] = Saved(tensors: [result])
                    }
                    output = .plain(result)
                }
                values[node.output] = output
                if recording.contains(node.output) { recorded[node.output] = try output.tensor() }
            } catch let error as RuntimeError {
                throw RuntimeError("\(node.name): \(error.message)")
            }
            for released in plan.release[index] { values[released] = nil }
        }
        return (try value(graph.output).tensor(), recorded)
    }

    private func runNode(_ n: Int, retain: Bool, engine: OneDNNEngine?, inputs: [PassValue]) throws -> PassValue {
        let op = graph.nodes[n].op
        if let engine, let output = try op.forwardOneDNN(inputs, engine) { return output }
        var step = ForwardStep(retain: retain, workspace: workspace)
        let output = try op.forward(try inputs.map { try $0.tensor() }, &step)
        if retain { tape[n] = step.saved }
        return .plain(output)
    }

    private func runChain(_ chain: ConvChain, engine: OneDNNEngine?, input x: PassValue, residual: PassValue?,
                          consumable: Bool) throws -> PassValue {
        if chain.retain, let bn = chain.bn, let activation = chain.activation {
            let input = try x.tensor()
            let output = try chain.op.forwardFusedRetaining(input, bn: bn.op, activation: activation.op.activation,
                                                            workspace: workspace)
            tape[chain.conv] = Saved(shape: input.shape)
            tape[bn.node] = Saved()
            tape[activation.node] = Saved(tensors: [output])
            return .plain(output)
        }
        if let residual, try residualBroadcasts(residual, chain: chain, input: x) {
            // ONNX Add broadcasts (a bias of shape [C, 1, 1]): the convolution's own epilogue
            // cannot, so the add and the activation run after it.
            let y = try chain.op.forwardFused(try x.tensor(), bn: chain.bn?.op, activation: nil, workspace: workspace)
            let sum = try Broadcast.map(y, try residual.tensor()) { $0 + $1 }
            return .plain(chain.activation.map { $0.op.apply(sum) } ?? sum)
        }
        guard let engine else {
            return .plain(try chain.op.forwardFused(try x.tensor(), bn: chain.bn?.op, activation: chain.activation?.op.activation,
                                                    residual: try residual?.tensor(), workspace: workspace))
        }
        var memory: OneDNNTensor?
        if let residual {
            // A plain tensor becomes a copy in oneDNN memory anyway.
            if case let .oneDNN(m) = residual, !consumable {
                memory = try m.duplicate()
            } else {
                memory = try residual.oneDNN(engine)
            }
        }
        return .oneDNN(try chain.op.forwardFusedOneDNN(try x.oneDNN(engine), bn: chain.bn?.op,
                                                       activation: chain.activation?.op.activation, residual: memory))
    }

    /// Whether a residual fused into a convolution chain differs in shape from the
    /// convolution's output (so that the add broadcasts).
    private func residualBroadcasts(_ residual: PassValue, chain: ConvChain, input: PassValue) throws -> Bool {
        func shape(_ value: PassValue) -> [Int] {
            switch value {
            case let .plain(t): return t.shape
            case let .oneDNN(m): return m.shape
            }
        }
        let g = try chain.op.geometry(forShape: shape(input))
        return shape(residual) != [g.batch, chain.op.outChannels, g.outHeight, g.outWidth]
    }

    /// Back-propagates `gradient` at the output through the last retaining forward; returns
    /// the gradients at `targets` (values) and, with `inputGradient`, at the input.
    ///
    /// Only nodes downstream of the targets are visited: the pass ends at the earliest target.
    func backward(_ gradient: Tensor, targets: Set<Int>, inputGradient: Bool,
                  reluMode: ReLUBackwardMode) throws -> [Int: Tensor] {
        try backward(seeds: [graph.output: gradient], targets: targets, inputGradient: inputGradient, reluMode: reluMode)
    }

    /// Back-propagates the gradients `seeds` gives at values of the last retaining forward
    /// (the logits, or an intermediate value such as a transformer block's output for LeGrad's
    /// per-block scores); returns the gradients at `targets` and, with `inputGradient`, at the input.
    func backward(seeds: [Int: Tensor], targets: Set<Int>, inputGradient: Bool,
                  reluMode: ReLUBackwardMode) throws -> [Int: Tensor] {
        var sources = targets
        if inputGradient { sources.insert(graph.input) }
        let wanted = graph.downstream(of: sources, differentiable: true)
        var gradients = seeds
        var result: [Int: Tensor] = [:]
        visited = []
        for n in graph.nodes.indices.reversed() {
            let node = graph.nodes[n]
            guard wanted[node.output], let g = gradients.removeValue(forKey: node.output) else { continue }
            if sources.contains(node.output) { result[node.output] = g }
            let needs = node.inputs.map { wanted[$0] && graph.constants[$0] == nil }
            guard needs.contains(true) else { continue }
            guard let saved = tape[n] else {
                throw RuntimeError("\(node.name): backward needs a forward that retained this layer")
            }
            visited.append(n)
            let step = BackwardStep(needs: needs, reluMode: reluMode, workspace: workspace)
            let inputs: [Tensor?]
            do {
                inputs = try node.op.backward(g, saved, step)
            } catch let error as RuntimeError {
                throw RuntimeError("\(node.name): \(error.message)")
            }
            for (k, v) in node.inputs.enumerated() where needs[k] {
                guard k < inputs.count, let gk = inputs[k] else { continue }
                if let existing = gradients[v] {
                    gradients[v] = try Add.sum(existing, gk)
                } else {
                    gradients[v] = gk
                }
            }
        }
        for source in sources where result[source] == nil {
            if let g = gradients[source] { result[source] = g }
        }
        return result
    }

    /// Forward-mode differentiation from `start`: runs the nodes after it on `primal` (plain
    /// tensors, no retention) and carries `tangent` along with each node's `TangentRule`;
    /// returns the output and its tangent, the Jacobian-vector product `J·tangent`.
    ///
    /// - Throws: naming the first node the tangent reaches whose operator is not affine or
    ///   piecewise linear in it, or a node that also reads a value computed before `start`.
    ///   (`checkTangentsPass` finds the former before anything runs.)
    func tangentForward(from start: Int, primal: Tensor, tangent: Tensor,
                        cancellation: CancellationFlag?) throws -> (output: Tensor, tangent: Tensor) {
        let reached = graph.downstream(of: [start])
        var primals: [Int: Tensor] = [start: primal]
        var tangents: [Int: Tensor] = [start: tangent]
        func value(_ index: Int) -> Tensor? { primals[index] ?? graph.constants[index] }
        for node in graph.nodes where node.inputs.contains(where: { reached[$0] }) {
            try cancellation?.check()
            if let missing = node.inputs.first(where: { value($0) == nil }) {
                throw cannotRun(from: start, node: node, reads: missing)
            }
            let inputs = node.inputs.compactMap(value)
            var step = ForwardStep(retain: false, workspace: workspace)
            let output: Tensor
            do {
                output = try node.op.forward(inputs, &step)
            } catch let error as RuntimeError {
                throw RuntimeError("\(node.name): \(error.message)")
            }
            primals[node.output] = output
            let carried = node.inputs.indices.filter { tangents[node.inputs[$0]] != nil }
            guard !carried.isEmpty, node.op.isDifferentiable else { continue }
            tangents[node.output] = try Self.tangent(of: node, inputs: inputs, carried: carried,
                                                     tangents: carried.map { tangents[node.inputs[$0]] ?? Tensor(shape: []) },
                                                     workspace: workspace)
        }
        guard let output = primals[graph.output] else {
            throw RuntimeError("the logits do not depend on \"\(graph.valueNames[start])\"")
        }
        return (output, tangents[graph.output] ?? Tensor(shape: output.shape))
    }

    /// Throws naming the first node after `start` that a tangent reaches and cannot pass
    /// (`TangentRule.unsupported`), before anything runs.
    func checkTangentsPass(from start: Int) throws {
        let reached = graph.downstream(of: [start], differentiable: true)
        for node in graph.nodes where node.op.isDifferentiable && node.inputs.contains(where: { reached[$0] }) {
            if node.op.tangentRule == .unsupported { throw Self.notPiecewiseLinear(node) }
        }
    }

    /// The tangent of one node's output from the tangents of its inputs `carried`.
    private static func tangent(of node: Graph.Node, inputs: [Tensor], carried: [Int], tangents: [Tensor],
                                workspace: Workspace) throws -> Tensor {
        let op = node.op
        func run(_ replaced: [Tensor]) throws -> Tensor {
            var arguments = inputs
            for (k, t) in zip(carried, replaced) { arguments[k] = t }
            var step = ForwardStep(retain: false, workspace: workspace)
            return try op.forward(arguments, &step)
        }
        func affine() throws -> Tensor {
            let moved = try run(tangents)
            let base = try run(tangents.map { Tensor(shape: $0.shape) })
            guard moved.shape == base.shape else { throw RuntimeError("\(node.name): the tangent changed the output's shape") }
            return Tensor(shape: moved.shape) { out in
                for i in 0..<moved.count { out[i] = moved.storage[i] - base.storage[i] }
            }
        }
        switch op.tangentRule {
        case .affine:
            return try affine()
        case .affineInEach where carried.count == 1, .affineInFirst where carried == [0]:
            return try affine()
        case .piecewiseLinear:
            let (x, t) = (inputs[0], tangents[0])
            return Tensor(shape: t.shape) { out in
                for i in 0..<t.count { out[i] = t.storage[i] * op.slope(at: x.storage[i]) }
            }
        case .affineInEach, .affineInFirst:
            throw RuntimeError("\(node.name) (\(op.kind)) multiplies or divides two values that both depend on the layer, "
                               + "so its second derivative does not vanish")
        case .unsupported:
            throw notPiecewiseLinear(node)
        }
    }

    /// The refusal of a tangent at a smooth nonlinear operator.
    private static func notPiecewiseLinear(_ node: Graph.Node) -> RuntimeError {
        RuntimeError("\(node.name) (\(node.op.kind)) is not piecewise linear, so its second derivative does not vanish")
    }

    /// A pass from `start` cannot run `node`, which also reads `value` from before it (callers
    /// recognise the message by its start, "cannot run from after").
    private func cannotRun(from start: Int, node: Graph.Node, reads value: Int) -> RuntimeError {
        RuntimeError("cannot run from after \"\(graph.valueNames[start])\": \"\(node.name)\" also reads "
                     + "\"\(graph.valueNames[value])\", computed before it")
    }

    /// The output that `node` kept in the last retaining forward (a ReLU's), if any.
    func retainedOutput(of node: Int) -> Tensor? {
        tape[node]?.tensors.first
    }

    /// Replaces what `node` kept (for tests that compare against a reference at ties).
    func setRetainedOutput(of node: Int, _ tensor: Tensor) {
        tape[node]?.tensors = [tensor]
    }

    // MARK: Planning

    /// A convolution with what follows it fused: batch norm, residual add, activation.
    struct ConvChain {
        let conv: Int
        let op: Conv2d
        var bn: (node: Int, op: BatchNorm2d)?
        var add: Int?
        var residual: Int?
        var activation: (node: Int, op: ReLU)?
        let retain: Bool
    }

    /// One step of a pass.
    struct Step {
        enum Kind {
            case node(Int, retain: Bool)
            case chain(ConvChain)
            case addActivation(add: Int, activation: Int, op: ReLU, retain: Bool)
        }
        let kind: Kind
        /// The node whose output the step produces.
        let lastNode: Int
        /// The values the step reads.
        let reads: [Int]
    }

    /// The steps of a pass and, after each, the values no later step reads.
    struct Plan {
        var steps: [Step] = []
        var release: [[Int]] = []
        /// The last step reading each value.
        var lastUse: [Int: Int] = [:]
    }

    /// Groups the nodes that run from `start` into steps: a convolution absorbs the batch norm,
    /// residual add and ReLU after it when no one else reads or observes the values between
    /// them and they retain alike (a retaining chain only conv → BN → ReLU: folding BN changes
    /// the rounding of the pre-activation, and at ReLU6's upper kink a flipped gradient mask
    /// broke the 1e-4 gradient parity with PyTorch, ModelParityTests). An add feeding a ReLU
    /// becomes one pass over memory.
    func makePlan(observed: Set<Int>, retains: [Bool], start: Int) throws -> Plan {
        // The nodes that run: those whose inputs all follow from `start` and the constants.
        let reached = graph.downstream(of: [start])
        var computable = reached
        for constant in graph.constants.keys { computable[constant] = true }
        var active = [Bool](repeating: false, count: graph.nodes.count)
        for (n, node) in graph.nodes.enumerated() {
            if node.inputs.allSatisfy({ computable[$0] }) {
                active[n] = true
                computable[node.output] = true
            } else if node.inputs.contains(where: { reached[$0] }), let input = node.inputs.first(where: { !computable[$0] }) {
                throw cannotRun(from: start, node: node, reads: input)
            }
        }
        var absorbed = Set<Int>()
        func soleConsumer(_ value: Int, retain: Bool) -> Int? {
            guard !observed.contains(value), value != graph.output else { return nil }
            let users = graph.consumers[value].filter { active[$0] && !absorbed.contains($0) }
            guard users.count == 1, let user = users.first, retains[user] == retain,
                  graph.nodes[user].inputs.filter({ $0 == value }).count == 1 else { return nil }
            return user
        }
        var plan = Plan()
        var pending: [Int: Step] = [:]
        for (n, node) in graph.nodes.enumerated() where active[n] {
            if absorbed.contains(n) {
                if let step = pending.removeValue(forKey: n) { plan.steps.append(step) }
                continue
            }
            let retain = retains[n]
            if let conv = node.op as? Conv2d {
                var chain = ConvChain(conv: n, op: conv, retain: retain)
                var members = [n]
                var value = node.output
                if let m = soleConsumer(value, retain: retain), let bn = graph.nodes[m].op as? BatchNorm2d {
                    chain.bn = (m, bn)
                    members.append(m)
                    value = graph.nodes[m].output
                }
                if !retain, let m = soleConsumer(value, retain: retain), graph.nodes[m].op is Add,
                   graph.nodes[m].inputs.count == 2, let other = graph.nodes[m].inputs.first(where: { $0 != value }) {
                    chain.add = m
                    chain.residual = other
                    members.append(m)
                    value = graph.nodes[m].output
                }
                if let m = soleConsumer(value, retain: retain), let relu = graph.nodes[m].op as? ReLU {
                    chain.activation = (m, relu)
                    members.append(m)
                }
                let fusable = !retain || (chain.bn != nil && chain.activation?.op.activation == .relu)
                if fusable, let last = members.last {
                    let reads = [node.inputs[0]] + (chain.residual.map { [$0] } ?? [])
                    let step = Step(kind: .chain(chain), lastNode: last, reads: reads)
                    if last == n {
                        plan.steps.append(step)
                    } else {
                        absorbed.formUnion(members.dropFirst())
                        pending[last] = step
                    }
                    continue
                }
            }
            if node.op is Add, node.inputs.count == 2, let m = soleConsumer(node.output, retain: retain),
               let relu = graph.nodes[m].op as? ReLU {
                absorbed.insert(m)
                pending[m] = Step(kind: .addActivation(add: n, activation: m, op: relu, retain: retain), lastNode: m,
                                  reads: node.inputs)
                continue
            }
            plan.steps.append(Step(kind: .node(n, retain: retain), lastNode: n, reads: node.inputs))
        }
        plan.release = [[Int]](repeating: [], count: plan.steps.count)
        for (index, step) in plan.steps.enumerated() {
            for value in step.reads { plan.lastUse[value] = index }
        }
        for (value, index) in plan.lastUse where value != graph.output {
            plan.release[index].append(value)
        }
        return plan
    }
}
