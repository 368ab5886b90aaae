import Foundation

/// Which modules one step of the cascading randomisation resets.
public enum RandomisationGranularity: String, Sendable, CaseIterable {
    /// Every module with parameters on its own (Quantus' MPRT: each `reset_parameters()`
    /// module, top down).
    case layer
    /// A numbered block at a time (`layer4.1`, `_blocks.15`), and the modules outside blocks
    /// (the head, the stem) each on their own: the steps of Adebayo et al.'s figures.
    case block
}

/// One step of a sanity check: what was randomised (or which class was explained) and how much
/// the map still resembles the original.
public struct SanityStep {
    /// The modules randomised so far in this step's group, or the random class's description.
    public var name: String
    /// The maps `[B, H, W]` after the step.
    public var maps: Tensor
    /// Spearman's rank correlation with the original map (mean over the images).
    public var spearman: Float
    /// The same on absolute values (Adebayo et al. report both; equal for non-negative maps).
    public var spearmanAbs: Float
    /// The structural similarity with the original (mean over the images).
    public var ssim: Float
    /// The Pearson correlation of the HOG descriptors (mean over the images).
    public var hog: Float
}

/// The sanity checks of Adebayo et al., NeurIPS 2018: a map that explains the model must change
/// when the model's parameters are randomised (cascading, from the top layer down) and when
/// another class is explained.
public struct SanityCheck {
    /// The network checked; its parameters are randomised during the check and restored after
    /// it, even when it fails or is interrupted.
    public let network: Network
    /// Polled between steps.
    public var cancellation: CancellationFlag?
    /// Called with (done, total) steps.
    public var progress: ((Int, Int) -> Void)?

    /// Creates a check of a network.
    public init(network: Network, cancellation: CancellationFlag? = nil, progress: ((Int, Int) -> Void)? = nil) {
        self.network = network
        self.cancellation = cancellation
        self.progress = progress
    }

    /// The groups of modules one randomisation step resets each, top down: each group's module
    /// paths, and its name.
    public func randomisationSteps(_ granularity: RandomisationGranularity) -> [(name: String, modules: [String])] {
        let owners = network.graph.nodes.enumerated().filter { Self.resets($0.element.op) }
        switch granularity {
        case .layer:
            return owners.reversed().map { ($0.element.name, [$0.element.name]) }
        case .block:
            var groups: [(name: String, modules: [String], last: Int)] = []
            for (index, node) in owners {
                let name = Self.block(of: node.name)
                if let k = groups.firstIndex(where: { $0.name == name }) {
                    groups[k].modules.append(node.name)
                    groups[k].last = index
                } else {
                    groups.append((name, [node.name], index))
                }
            }
            return groups.sorted { $0.last > $1.last }.map { ($0.name, $0.modules) }
        }
    }

    /// Cascading model-parameter randomisation: the original maps, then after each step (each
    /// step's modules reset as PyTorch's `reset_parameters()` would, on top of the steps
    /// before) the maps again and their similarity to the original.
    ///
    /// - Parameters:
    ///   - compute: the method's maps `[B, H, W]` for the network as it is at the call.
    ///   - seed: seeds the new parameters.
    /// - Returns: the original maps and one step per group.
    public func modelRandomisation(granularity: RandomisationGranularity, seed: UInt64,
                                   compute: () throws -> Tensor) throws -> (original: Tensor, steps: [SanityStep]) {
        let groups = randomisationSteps(granularity)
        guard !groups.isEmpty else { throw RuntimeError("the model has no layers with parameters to randomise") }
        // Each step changes the network from the top down: its forwards start from the last
        // block boundary below what changed, kept by the original pass (ForwardReuse).
        return try network.reusingForwards {
            try randomise(groups, seed: seed, compute: compute)
        }
    }

    /// The steps of `modelRandomisation` (called directly by tests, to compare with the passes
    /// that reuse nothing).
    func randomise(_ groups: [(name: String, modules: [String])], seed: UInt64,
                           compute: () throws -> Tensor) throws -> (original: Tensor, steps: [SanityStep]) {
        let original = try compute()
        let nodes = Dictionary(network.graph.nodes.map { ($0.name, $0.op) }, uniquingKeysWith: { first, _ in first })
        // Everything the check changes is put back, whatever happens.
        var saved: [(Operator, [String: Tensor])] = []
        defer {
            for (op, parameters) in saved.reversed() {
                for (name, value) in parameters { op.setParameter(name, value) }
            }
        }
        var random = SplitMix64(seed: seed)
        var steps: [SanityStep] = []
        for (done, group) in groups.enumerated() {
            try cancellation?.check()
            for module in group.modules {
                guard let op = nodes[module] else { continue }
                saved.append((op, op.parameters))
                Self.reset(op, &random)
                network.markChanged(module: module)
            }
            let maps = try compute()
            steps.append(try Self.step(group.name, original: original, maps: maps))
            progress?(done + 1, groups.count)
        }
        return (original, steps)
    }

    /// A step's similarities of `maps` to `original`, averaged over the images.
    public static func step(_ name: String, original: Tensor, maps: Tensor) throws -> SanityStep {
        guard original.rank == 3, maps.shape == original.shape else {
            throw RuntimeError("the maps to compare are \(maps.shape) and \(original.shape)")
        }
        let (b, h, w) = (original.shape[0], original.shape[1], original.shape[2])
        var sums = [Float](repeating: 0, count: 4)
        for i in 0..<b {
            let a = Array(original.storage[(i * h * w)..<((i + 1) * h * w)])
            let m = Array(maps.storage[(i * h * w)..<((i + 1) * h * w)])
            sums[0] += MapSimilarity.spearman(a, m)
            sums[1] += MapSimilarity.spearman(a.map(abs), m.map(abs))
            sums[2] += MapSimilarity.ssim(a, m, width: w, height: h)
            sums[3] += MapSimilarity.hogSimilarity(a, m, width: w, height: h)
        }
        let n = Float(max(b, 1))
        return SanityStep(name: name, maps: maps, spearman: sums[0] / n, spearmanAbs: sums[1] / n, ssim: sums[2] / n, hog: sums[3] / n)
    }

    /// Whether an operator has parameters that `reset_parameters()` would reset.
    static func resets(_ op: Operator) -> Bool {
        op is Conv2d || op is Linear || op is BatchNorm2d
    }

    /// The numbered block a module belongs to (`layer4.1.conv2` → `layer4.1`), or the module
    /// itself outside blocks (`fc`, `conv1`); a block's inner numbered modules
    /// (`layer4.0.downsample.1`) belong to the outer block.
    static func block(of path: String) -> String {
        let parts = path.split(separator: ".")
        for end in parts.indices.dropFirst() where parts[end].allSatisfy(\.isNumber) && !parts[end - 1].allSatisfy(\.isNumber) {
            return parts[...end].joined(separator: ".")
        }
        return path
    }

    /// Resets a module as PyTorch's `reset_parameters()` does: convolution and linear weights
    /// and biases uniform in ±1/√fan-in (`kaiming_uniform_(a=√5)`), batch norms to weight 1,
    /// bias 0 and fresh running statistics (mean 0, variance 1).
    static func reset(_ op: Operator, _ random: inout SplitMix64) {
        if op is BatchNorm2d {
            for (name, value) in op.parameters {
                let fill: Float = (name == "weight" || name == "running_var") ? 1 : 0
                op.setParameter(name, Tensor(shape: value.shape, repeating: fill))
            }
            return
        }
        guard let weight = op.parameters["weight"], let outputs = weight.shape.first, outputs > 0 else { return }
        let fanIn = weight.count / outputs
        let bound = Float(1 / Double(max(fanIn, 1)).squareRoot())
        func uniform(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape) { buffer in
                for i in 0..<buffer.count { buffer[i] = random.uniform(-bound, bound) }
            }
        }
        op.setParameter("weight", uniform(weight.shape))
        if let bias = op.parameters["bias"] { op.setParameter("bias", uniform(bias.shape)) }
    }
}
