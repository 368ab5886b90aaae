import Foundation

/// Adds two tensors of equal shape (the residual connection; the architectures guarantee the
/// shapes agree for any input size).
func residualAdd(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "residual add of unequal shapes \(a.shape) and \(b.shape)")
    var result = a
    result.withUnsafeMutableBufferPointer { r in
        b.withUnsafeBufferPointer { s in
            for i in 0..<r.count { r[i] += s[i] }
        }
    }
    return result
}

/// Runs conv → BN (→ activation), fused into one pass when none of the intermediate outputs
/// is recorded (in a pass that retains, only with a ReLU, which keeps the output).
func convBN(_ conv: Conv2d, _ bn: BatchNorm2d, _ activation: ActivationModule?, _ x: Tensor,
            _ context: ForwardContext) throws -> Tensor {
    if context.canFuse(conv.path, bn.path) && (activation.map { context.canFuse($0.path) } ?? true) {
        try context.cancellation?.check()
        return try conv.forwardFused(x, bn: bn, activation: activation?.kind, workspace: context.workspace)
    }
    if let activation, context.canFuseRetaining(activation, conv.path, bn.path) {
        try context.cancellation?.check()
        let output = try conv.forwardFusedRetaining(x, bn: bn, activation: activation.kind, workspace: context.workspace)
        activation.keep(output)
        return output
    }
    var y = try context.run(bn, try context.run(conv, x))
    if let activation { y = try context.run(activation, y) }
    return y
}

/// torchvision's `BasicBlock` (ResNet-18/34): conv3×3 → BN → ReLU → conv3×3 → BN, plus the
/// (downsampled) input, → ReLU.
final class BasicBlock: Module {
    let conv1: Conv2d, bn1: BatchNorm2d, relu: ActivationModule
    let conv2: Conv2d, bn2: BatchNorm2d, reluOut: ActivationModule
    let downsample: Sequential?

    init(path: String, inPlanes: Int, planes: Int, stride: Int) {
        conv1 = Conv2d(path: path + ".conv1", inChannels: inPlanes, outChannels: planes, kernelSize: (3, 3),
                       stride: (stride, stride), padding: .explicit(1, 1))
        bn1 = BatchNorm2d(path: path + ".bn1", channels: planes, eps: 1e-5)
        relu = ActivationModule(path: path + ".relu", kind: .relu)
        conv2 = Conv2d(path: path + ".conv2", inChannels: planes, outChannels: planes, kernelSize: (3, 3),
                       padding: .explicit(1, 1))
        bn2 = BatchNorm2d(path: path + ".bn2", channels: planes, eps: 1e-5)
        // torchvision reuses `relu`; its later calls are not recorded (the first call counts).
        reluOut = ActivationModule(path: path + ".relu#2", kind: .relu, isNamed: false)
        downsample = resnetDownsample(path: path, inPlanes: inPlanes, outPlanes: planes, stride: stride)
        super.init(path: path)
    }

    override var children: [Module] {
        [conv1, bn1, relu, conv2, bn2] + (downsample.map { [$0] } ?? [])
    }

    override func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        var out = try convBN(conv1, bn1, relu, input, context)
        out = try convBN(conv2, bn2, nil, out, context)
        let identity = try downsample.map { try context.run($0, input) } ?? input
        return reluOut.addThenApply(out, identity, retain: context.retain)
    }

    override func forwardOneDNN(_ input: PassValue, _ context: ForwardContext, _ engine: OneDNNEngine) throws -> PassValue? {
        guard context.canFuseInside(self) else { return nil }
        let x = try input.oneDNN(engine)
        let out = try conv1.forwardFusedOneDNN(x, bn: bn1, activation: relu.kind)
        let identity = try shortcutOneDNN(x, downsample, context, engine)
        return .oneDNN(try conv2.forwardFusedOneDNN(out, bn: bn2, activation: reluOut.kind, residual: identity))
    }

    override func backward(_ gradient: Tensor, _ context: BackwardContext) -> Tensor? {
        let g = reluOut.backward(gradient, mode: context.reluMode)
        var branch: Tensor? = g
        for module in [bn2, conv2, relu, bn1, conv1] as [Module] {
            guard let current = branch else { return nil }
            branch = context.back(module, current)
        }
        guard let main = branch else { return nil }
        return combineShortcut(main, g, downsample, context)
    }
}

/// torchvision's `Bottleneck` (ResNet-50/101/152, v1.5: the stride sits in the 3×3 conv).
final class Bottleneck: Module {
    static let expansion = 4
    let conv1: Conv2d, bn1: BatchNorm2d, relu: ActivationModule
    let conv2: Conv2d, bn2: BatchNorm2d, relu2: ActivationModule
    let conv3: Conv2d, bn3: BatchNorm2d, reluOut: ActivationModule
    let downsample: Sequential?

    init(path: String, inPlanes: Int, planes: Int, stride: Int) {
        let out = planes * Bottleneck.expansion
        conv1 = Conv2d(path: path + ".conv1", inChannels: inPlanes, outChannels: planes, kernelSize: (1, 1))
        bn1 = BatchNorm2d(path: path + ".bn1", channels: planes, eps: 1e-5)
        relu = ActivationModule(path: path + ".relu", kind: .relu)
        conv2 = Conv2d(path: path + ".conv2", inChannels: planes, outChannels: planes, kernelSize: (3, 3),
                       stride: (stride, stride), padding: .explicit(1, 1))
        bn2 = BatchNorm2d(path: path + ".bn2", channels: planes, eps: 1e-5)
        relu2 = ActivationModule(path: path + ".relu#2", kind: .relu, isNamed: false)
        conv3 = Conv2d(path: path + ".conv3", inChannels: planes, outChannels: out, kernelSize: (1, 1))
        bn3 = BatchNorm2d(path: path + ".bn3", channels: out, eps: 1e-5)
        reluOut = ActivationModule(path: path + ".relu#3", kind: .relu, isNamed: false)
        downsample = resnetDownsample(path: path, inPlanes: inPlanes, outPlanes: out, stride: stride)
        super.init(path: path)
    }

    override var children: [Module] {
        [conv1, bn1, conv2, bn2, conv3, bn3, relu] + (downsample.map { [$0] } ?? [])
    }

    override func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        var out = try convBN(conv1, bn1, relu, input, context)
        out = try convBN(conv2, bn2, relu2, out, context)
        out = try convBN(conv3, bn3, nil, out, context)
        let identity = try downsample.map { try context.run($0, input) } ?? input
        return reluOut.addThenApply(out, identity, retain: context.retain)
    }

    override func forwardOneDNN(_ input: PassValue, _ context: ForwardContext, _ engine: OneDNNEngine) throws -> PassValue? {
        guard context.canFuseInside(self) else { return nil }
        let x = try input.oneDNN(engine)
        var out = try conv1.forwardFusedOneDNN(x, bn: bn1, activation: relu.kind)
        out = try conv2.forwardFusedOneDNN(out, bn: bn2, activation: relu2.kind)
        let identity = try shortcutOneDNN(x, downsample, context, engine)
        return .oneDNN(try conv3.forwardFusedOneDNN(out, bn: bn3, activation: reluOut.kind, residual: identity))
    }

    override func backward(_ gradient: Tensor, _ context: BackwardContext) -> Tensor? {
        let g = reluOut.backward(gradient, mode: context.reluMode)
        var branch: Tensor? = g
        for module in [bn3, conv3, relu2, bn2, conv2, relu, bn1, conv1] as [Module] {
            guard let current = branch else { return nil }
            branch = context.back(module, current)
        }
        guard let main = branch else { return nil }
        return combineShortcut(main, g, downsample, context)
    }
}

/// The shortcut of a residual block on oneDNN: the block input itself (which the block's last
/// convolution then overwrites with its output) or the downsample projection of it.
func shortcutOneDNN(_ x: OneDNNTensor, _ downsample: Sequential?, _ context: ForwardContext,
                    _ engine: OneDNNEngine) throws -> OneDNNTensor {
    guard let downsample else { return x }
    return try downsample.run(.oneDNN(x), from: 0, context).oneDNN(engine)
}

/// The input gradient of a residual block: the main branch's plus the shortcut's.
func combineShortcut(_ main: Tensor, _ gradient: Tensor, _ downsample: Sequential?, _ context: BackwardContext) -> Tensor? {
    var shortcut = gradient
    if let downsample {
        guard let g = context.back(downsample, gradient) else { return nil }
        shortcut = g
    }
    return residualAdd(main, shortcut)
}

/// The shortcut projection (`downsample`: conv1×1 with stride → BN) when shapes change.
func resnetDownsample(path: String, inPlanes: Int, outPlanes: Int, stride: Int) -> Sequential? {
    guard stride != 1 || inPlanes != outPlanes else { return nil }
    let p = path + ".downsample"
    return Sequential(path: p, modules: [
        Conv2d(path: p + ".0", inChannels: inPlanes, outChannels: outPlanes, kernelSize: (1, 1), stride: (stride, stride)),
        BatchNorm2d(path: p + ".1", channels: outPlanes, eps: 1e-5),
    ])
}

/// Builders of torchvision's ResNet module tree.
enum ResNetBuilder {
    /// The block type and per-stage block counts of each ResNet depth.
    static let configurations: [String: (bottleneck: Bool, blocks: [Int])] = [
        "resnet18": (false, [2, 2, 2, 2]),
        "resnet34": (false, [3, 4, 6, 3]),
        "resnet50": (true, [3, 4, 6, 3]),
        "resnet101": (true, [3, 4, 23, 3]),
        "resnet152": (true, [3, 8, 36, 3]),
    ]

    /// The top-level modules of a ResNet: conv1, bn1, relu, maxpool, layer1…4, avgpool, fc.
    static func modules(bottleneck: Bool, blocks: [Int], widths: [Int] = [64, 128, 256, 512],
                        stemWidth: Int = 64, classes: Int = 1000) -> [Module] {
        var modules: [Module] = [
            Conv2d(path: "conv1", inChannels: 3, outChannels: stemWidth, kernelSize: (7, 7), stride: (2, 2),
                   padding: .explicit(3, 3)),
            BatchNorm2d(path: "bn1", channels: stemWidth, eps: 1e-5),
            ActivationModule(path: "relu", kind: .relu),
            MaxPool2d(path: "maxpool", kernelSize: 3, stride: 2, padding: 1),
        ]
        var inPlanes = stemWidth
        for (stage, (count, planes)) in zip(blocks, widths).enumerated() {
            let name = "layer\(stage + 1)"
            var stageBlocks: [Module] = []
            for i in 0..<count {
                let stride = (stage > 0 && i == 0) ? 2 : 1
                if bottleneck {
                    stageBlocks.append(Bottleneck(path: "\(name).\(i)", inPlanes: inPlanes, planes: planes, stride: stride))
                    inPlanes = planes * Bottleneck.expansion
                } else {
                    stageBlocks.append(BasicBlock(path: "\(name).\(i)", inPlanes: inPlanes, planes: planes, stride: stride))
                    inPlanes = planes
                }
            }
            modules.append(Sequential(path: name, modules: stageBlocks))
        }
        modules.append(GlobalAveragePool(path: "avgpool"))
        modules.append(Flatten(path: "flatten", isNamed: false))
        modules.append(Linear(path: "fc", inFeatures: inPlanes, outFeatures: classes))
        return modules
    }
}
