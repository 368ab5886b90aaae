import Foundation

/// The state a forward pass shares with every module it runs.
final class ForwardContext {
    /// Module paths whose outputs are recorded.
    let recording: Set<String>
    /// Whether layers keep what `backward` needs; in a pass with a `retentionStart` it turns
    /// true once, at that point.
    private(set) var retain: Bool
    /// Where a pass that keeps only what a backward to a later layer needs starts retaining;
    /// nil when the pass retains from the start, not at all, or has started.
    private var retentionStart: RetentionStart?
    /// Polled between modules.
    let cancellation: CancellationFlag?
    /// Scratch memory for the layers.
    let workspace: Workspace
    /// The recorded outputs (the first output of a module that runs more than once).
    var activations: [String: Tensor] = [:]

    /// The point in a forward pass from which layers retain for backward.
    enum RetentionStart: Equatable {
        /// Just before the module with this path runs (a block whose inner layer is the target:
        /// the whole block retains).
        case before(String)
        /// Just after the module with this path has produced its output.
        case after(String)
    }

    init(recording: Set<String>, retain: Bool, cancellation: CancellationFlag?, workspace: Workspace = Workspace(),
         retentionStart: RetentionStart? = nil) {
        self.recording = recording
        self.retain = retain && retentionStart == nil
        self.retentionStart = retain ? retentionStart : nil
        self.cancellation = cancellation
        self.workspace = workspace
    }

    /// Whether an inference-only shortcut (BN folded into the conv before it, fused activation)
    /// may skip the outputs of these modules.
    func canFuse(_ paths: String...) -> Bool {
        !retain && paths.allSatisfy { !recording.contains($0) }
    }

    /// Whether conv → BN → `activation` may be fused in a pass that retains for backward: none
    /// of the outputs is recorded (the activation module keeps the fused output) and the
    /// activation is ReLU.
    ///
    /// Not ReLU6: folding BN changes the rounding of the pre-activation, and EfficientNet's
    /// ReLU6 outputs sit at the clip level 6 often enough that a flipped gradient mask there
    /// broke the 1e-4 gradient parity with PyTorch (ModelParityTests); no flip was seen at 0.
    func canFuseRetaining(_ activation: ActivationModule, _ paths: String...) -> Bool {
        retain && activation.kind == .relu && !recording.contains(activation.path)
            && paths.allSatisfy { !recording.contains($0) }
    }

    /// Whether an inference-only shortcut may skip the outputs of every module inside `module`
    /// (its own output is still recorded by the caller).
    func canFuseInside(_ module: Module) -> Bool {
        !retain && (recording.isEmpty || module.subtree.dropFirst().allSatisfy { !recording.contains($0.path) })
    }

    /// The oneDNN engine when this pass may run layers on oneDNN (inference only), else nil.
    var oneDNN: OneDNNEngine? {
        retain ? nil : workspace.oneDNN
    }

    /// Called by a sequence before it runs `module`: starts retaining if the pass starts here.
    func willRun(_ module: Module) {
        if retentionStart == .before(module.path) { startRetaining() }
    }

    /// Called by a sequence after the module with `path` has run: starts retaining if the pass
    /// starts after it.
    func didRun(_ path: String) {
        if retentionStart == .after(path) { startRetaining() }
    }

    private func startRetaining() {
        retain = true
        retentionStart = nil
    }

    /// Runs a module and records its output when asked.
    func run(_ module: Module, _ input: Tensor) throws -> Tensor {
        try cancellation?.check()
        let output = try module.forward(input, self)
        record(module.path, output)
        return output
    }

    /// Records `output` as the output of `path` when asked (first one wins).
    func record(_ path: String, _ output: Tensor) {
        if recording.contains(path), activations[path] == nil { activations[path] = output }
    }

    /// Records `output` as the output of `path` when asked, converting oneDNN memory to a tensor.
    func record(_ path: String, _ output: PassValue) throws {
        if recording.contains(path), activations[path] == nil { activations[path] = try output.tensor() }
    }

    /// Runs a module on a pass value: on oneDNN when the module and the pass allow it, else on
    /// a plain tensor; records the output when asked.
    func run(_ module: Module, _ input: PassValue) throws -> PassValue {
        try cancellation?.check()
        if let engine = oneDNN, let output = try module.forwardOneDNN(input, self, engine) {
            try record(module.path, output)
            return output
        }
        let output = try module.forward(try input.tensor(), self)
        record(module.path, output)
        return .plain(output)
    }
}

/// The state a backward pass shares with every module it runs.
final class BackwardContext {
    /// Module paths whose output gradients are wanted.
    let requested: Set<String>
    /// Requested paths not reached yet.
    private(set) var remaining: Set<String>
    /// Whether the gradient with respect to the network input is wanted.
    let needsInput: Bool
    /// The ReLU rule.
    let reluMode: ReLUBackwardMode
    /// Scratch memory for the layers.
    let workspace: Workspace
    /// The collected gradients.
    var gradients: [String: Tensor] = [:]
    /// The paths of the modules the pass went through, in backward order (for tests of early stopping).
    private(set) var visited: [String] = []

    init(requested: Set<String>, needsInput: Bool, reluMode: ReLUBackwardMode, workspace: Workspace = Workspace()) {
        self.requested = requested
        self.remaining = requested
        self.needsInput = needsInput
        self.reluMode = reluMode
        self.workspace = workspace
    }

    /// Whether nothing below the current point is needed any more.
    var isDone: Bool { remaining.isEmpty && !needsInput }

    /// Notes `gradient` as the gradient at the output of `path`; returns false when the
    /// backward pass can stop here.
    func reached(_ path: String, _ gradient: Tensor) -> Bool {
        if requested.contains(path) {
            gradients[path] = gradient
            remaining.remove(path)
        }
        return !isDone
    }

    /// Back-propagates through a module, or returns nil when nothing below it is needed.
    func back(_ module: Module, _ gradient: Tensor) -> Tensor? {
        guard reached(module.path, gradient) else { return nil }
        visited.append(module.path)
        return module.backward(gradient, self)
    }
}

/// Scratch memory that convolutions reuse across layers and passes instead of allocating and
/// zero-filling a column matrix for every call; grows to the largest request. One pass at a time
/// uses it (a network owns one).
final class Workspace {
    private var first: [Float] = []
    private var second: [Float] = []
    /// Whether inference passes may use oneDNN (`CAMSCRIPT_ONEDNN=0` turns it off, for comparisons).
    var allowsOneDNN: Bool
    /// The engine, created on first use; nil after a failed creation (OpenBLAS is used then).
    private var engine: (tried: Bool, value: OneDNNEngine?) = (false, nil)

    init(allowsOneDNN: Bool = ProcessInfo.processInfo.environment["CAMSCRIPT_ONEDNN"] != "0") {
        self.allowsOneDNN = allowsOneDNN
    }

    /// Inference passes that run on OpenBLAS before oneDNN takes over. Making oneDNN's
    /// primitives (JIT kernels, weights reordered, BN-folded and Winograd-transformed into a
    /// second copy) costs about a forward pass and ResNet-50's weights again in memory, which a
    /// process that explains one image or two never earns back (bench/seed); ScoreCAM's
    /// thousands of passes and a REPL that keeps going do.
    var oneDNNWarmUpPasses = 2
    /// Passes begun so far (`beginPass`).
    private(set) var passes = 0

    /// Counts a forward pass; oneDNN serves the passes after the warm-up ones.
    func beginPass() {
        passes += 1
    }

    /// The oneDNN engine for the current pass, or nil when oneDNN is off or unavailable, or
    /// the pass is one of the warm-up passes.
    var oneDNN: OneDNNEngine? {
        oneDNNWarmUpPasses == 0 || passes > oneDNNWarmUpPasses ? oneDNNEngine : nil
    }

    /// Whether oneDNN will serve inference once warmed up (it is on and its engine works).
    var usesOneDNNEventually: Bool { oneDNNEngine != nil }

    private var oneDNNEngine: OneDNNEngine? {
        guard allowsOneDNN else { return nil }
        if !engine.tried { engine = (true, try? OneDNNEngine()) }
        return engine.value
    }

    /// Calls `body` with two scratch buffers of at least the given sizes; their contents are undefined.
    func withBuffers<R>(_ firstCount: Int, _ secondCount: Int,
                        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> R) -> R {
        if first.count < Swift.max(firstCount, 1) { first = [Float](repeating: 0, count: Swift.max(firstCount, 1)) }
        if second.count < Swift.max(secondCount, 1) { second = [Float](repeating: 0, count: Swift.max(secondCount, 1)) }
        return first.withUnsafeMutableBufferPointer { a in
            second.withUnsafeMutableBufferPointer { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else {
                    preconditionFailure("a non-empty array has storage")
                }
                return body(pa, pb)
            }
        }
    }
}

/// A node of the module tree with its PyTorch module path.
///
/// Subclasses are the layers and containers; a module keeps what its backward needs only
/// when the forward pass asks it to retain.
class Module {
    /// The full module path, e.g. `layer4.2.conv3` (empty for the root).
    let path: String
    /// Whether the module appears in `Network.layerNames` (PyTorch's `named_modules`).
    let isNamed: Bool

    init(path: String, isNamed: Bool = true) {
        self.path = path
        self.isNamed = isNamed
    }

    /// The last component of the path.
    var name: String {
        guard let dot = path.lastIndex(of: ".") else { return path }
        return String(path[path.index(after: dot)...])
    }

    /// The named submodules in forward order.
    var children: [Module] { [] }

    /// Whether `Network.resolveLayer` may index this module with `[i]`.
    var isIndexable: Bool { false }

    /// The parameters and buffers of this module itself (not of children), by local name.
    var parameters: [String: Tensor] { [:] }

    /// The shapes of `parameters`, by local name (without materialising parameters that a
    /// module keeps unallocated until they are set).
    var parameterShapes: [String: [Int]] { parameters.mapValues(\.shape) }

    /// Replaces a parameter; the shape was checked by the caller.
    func setParameter(_ name: String, _ value: Tensor) {}

    /// Computes the output.
    func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        input
    }

    /// Inference only: computes the output on oneDNN, or returns nil when this module has no
    /// oneDNN path for this pass (the caller then runs `forward` on a plain tensor).
    ///
    /// Takes ownership of oneDNN memory in `input`: it may be overwritten.
    func forwardOneDNN(_ input: PassValue, _ context: ForwardContext, _ engine: OneDNNEngine) throws -> PassValue? {
        nil
    }

    /// Computes the gradient with respect to the input from the gradient at the output, or
    /// nil when the pass can stop.
    func backward(_ gradient: Tensor, _ context: BackwardContext) -> Tensor? {
        gradient
    }

    /// Every module of the subtree in forward (pre-)order, this one first.
    var subtree: [Module] {
        [self] + children.flatMap { $0.subtree }
    }
}

/// Children run one after the other (PyTorch's `nn.Sequential` and `nn.ModuleList` run in order).
final class Sequential: Module {
    private(set) var modules: [Module]

    init(path: String, modules: [Module], isNamed: Bool = true) {
        self.modules = modules
        super.init(path: path, isNamed: isNamed)
    }

    override var children: [Module] { modules }
    override var isIndexable: Bool { true }

    override func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        try forward(input, from: 0, context)
    }

    override func forwardOneDNN(_ input: PassValue, _ context: ForwardContext, _ engine: OneDNNEngine) throws -> PassValue? {
        try run(input, from: 0, context)
    }

    /// Runs children `start...` only.
    func forward(_ input: Tensor, from start: Int, _ context: ForwardContext) throws -> Tensor {
        try run(.plain(input), from: start, context).tensor()
    }

    /// Runs children `start...` on a pass value; inference passes keep oneDNN memory between
    /// the children that run on oneDNN.
    func run(_ input: PassValue, from start: Int, _ context: ForwardContext) throws -> PassValue {
        var x = input
        var i = start
        while i < modules.count {
            context.willRun(modules[i])
            // Inference-only fusion of conv → BN (→ activation) triples.
            if let conv = modules[i] as? Conv2d, i + 1 < modules.count, let bn = modules[i + 1] as? BatchNorm2d,
               context.canFuse(conv.path, bn.path) {
                var activation: Activation? = nil
                var used = 2
                if i + 2 < modules.count, let act = modules[i + 2] as? ActivationModule,
                   context.canFuse(act.path) {
                    activation = act.kind
                    used = 3
                }
                try context.cancellation?.check()
                if let engine = context.oneDNN {
                    x = .oneDNN(try conv.forwardFusedOneDNN(try x.oneDNN(engine), bn: bn, activation: activation))
                } else {
                    x = .plain(try conv.forwardFused(try x.tensor(), bn: bn, activation: activation,
                                                     workspace: context.workspace))
                }
                for module in modules[i..<(i + used)] { context.didRun(module.path) }
                i += used
                continue
            }
            // The same fusion in a pass that retains for backward (conv → BN → ReLU only).
            if let conv = modules[i] as? Conv2d, i + 2 < modules.count, let bn = modules[i + 1] as? BatchNorm2d,
               let act = modules[i + 2] as? ActivationModule, context.canFuseRetaining(act, conv.path, bn.path) {
                try context.cancellation?.check()
                let output = try conv.forwardFusedRetaining(try x.tensor(), bn: bn, activation: act.kind,
                                                            workspace: context.workspace)
                act.keep(output)
                x = .plain(output)
                for module in modules[i..<(i + 3)] { context.didRun(module.path) }
                i += 3
                continue
            }
            x = try context.run(modules[i], x)
            context.didRun(modules[i].path)
            i += 1
        }
        return x
    }

    override func backward(_ gradient: Tensor, _ context: BackwardContext) -> Tensor? {
        var g = gradient
        for module in modules.reversed() {
            guard let next = context.back(module, g) else { return nil }
            g = next
        }
        return g
    }
}
