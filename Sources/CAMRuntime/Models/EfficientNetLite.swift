import Foundation

/// The lukemelas-style `MBConvBlock` of EfficientNet-Lite (no squeeze-excitation, ReLU6,
/// TF-"SAME" padding, BN eps 1e-3): expand 1×1 → BN → ReLU6 → depthwise → BN → ReLU6 →
/// project 1×1 → BN, plus the input when the shape is kept.
final class MBConvBlock: Module {
    let expandConv: Conv2d?, bn0: BatchNorm2d?, act0: ActivationModule
    let depthwiseConv: Conv2d, bn1: BatchNorm2d, act1: ActivationModule
    let projectConv: Conv2d, bn2: BatchNorm2d
    let hasSkip: Bool

    init(path: String, kernel: Int, stride: Int, expansion: Int, inChannels: Int, outChannels: Int) {
        let mid = inChannels * expansion
        if expansion != 1 {
            expandConv = Conv2d(path: path + "._expand_conv", inChannels: inChannels, outChannels: mid,
                                kernelSize: (1, 1), padding: .same)
            bn0 = BatchNorm2d(path: path + "._bn0", channels: mid, eps: 1e-3)
        } else {
            expandConv = nil
            bn0 = nil
        }
        act0 = ActivationModule(path: path + "._relu#0", kind: .relu6, isNamed: false)
        depthwiseConv = Conv2d(path: path + "._depthwise_conv", inChannels: mid, outChannels: mid,
                               kernelSize: (kernel, kernel), stride: (stride, stride), padding: .same, groups: mid)
        bn1 = BatchNorm2d(path: path + "._bn1", channels: mid, eps: 1e-3)
        act1 = ActivationModule(path: path + "._relu#1", kind: .relu6, isNamed: false)
        projectConv = Conv2d(path: path + "._project_conv", inChannels: mid, outChannels: outChannels,
                             kernelSize: (1, 1), padding: .same)
        bn2 = BatchNorm2d(path: path + "._bn2", channels: outChannels, eps: 1e-3)
        hasSkip = stride == 1 && inChannels == outChannels
        super.init(path: path)
    }

    override var children: [Module] {
        var list: [Module] = []
        if let expandConv, let bn0 { list += [expandConv, bn0] }
        return list + [depthwiseConv, bn1, projectConv, bn2]
    }

    override func forward(_ input: Tensor, _ context: ForwardContext) throws -> Tensor {
        var x = input
        if let expandConv, let bn0 { x = try convBN(expandConv, bn0, act0, x, context) }
        x = try convBN(depthwiseConv, bn1, act1, x, context)
        x = try convBN(projectConv, bn2, nil, x, context)
        return hasSkip ? residualAdd(x, input) : x
    }

    override func forwardOneDNN(_ input: PassValue, _ context: ForwardContext, _ engine: OneDNNEngine) throws -> PassValue? {
        guard context.canFuseInside(self) else { return nil }
        let start = try input.oneDNN(engine)
        var x = start
        if let expandConv, let bn0 { x = try expandConv.forwardFusedOneDNN(x, bn: bn0, activation: act0.kind) }
        x = try depthwiseConv.forwardFusedOneDNN(x, bn: bn1, activation: act1.kind)
        // The skip connection is added into the block input's memory (consumed here).
        return .oneDNN(try projectConv.forwardFusedOneDNN(x, bn: bn2, activation: nil, residual: hasSkip ? start : nil))
    }

    override func backward(_ gradient: Tensor, _ context: BackwardContext) -> Tensor? {
        var modules: [Module] = [bn2, projectConv, act1, bn1, depthwiseConv]
        if let expandConv, let bn0 { modules += [act0, bn0, expandConv] }
        var g: Tensor? = gradient
        for module in modules {
            guard let current = g else { return nil }
            g = context.back(module, current)
        }
        guard let main = g else { return nil }
        return hasSkip ? residualAdd(main, gradient) : main
    }
}

/// Builders of the EfficientNet-Lite0 module tree (reference §12).
enum EfficientNetLiteBuilder {
    /// (kernel, stride, expansion, in, out) of the 16 blocks of EfficientNet-Lite0.
    static let lite0Blocks: [(Int, Int, Int, Int, Int)] = [
        (3, 1, 1, 32, 16),
        (3, 2, 6, 16, 24), (3, 1, 6, 24, 24),
        (5, 2, 6, 24, 40), (5, 1, 6, 40, 40),
        (3, 2, 6, 40, 80), (3, 1, 6, 80, 80), (3, 1, 6, 80, 80),
        (5, 1, 6, 80, 112), (5, 1, 6, 112, 112), (5, 1, 6, 112, 112),
        (5, 2, 6, 112, 192), (5, 1, 6, 192, 192), (5, 1, 6, 192, 192), (5, 1, 6, 192, 192),
        (3, 1, 6, 192, 320),
    ]

    /// The top-level modules: _conv_stem, _bn0, _blocks, _conv_head, _bn1, _avg_pooling, _dropout, _fc.
    static func lite0Modules(classes: Int = 1000) -> [Module] {
        let blocks = lite0Blocks.enumerated().map { i, b in
            MBConvBlock(path: "_blocks.\(i)", kernel: b.0, stride: b.1, expansion: b.2, inChannels: b.3, outChannels: b.4)
        }
        return [
            Conv2d(path: "_conv_stem", inChannels: 3, outChannels: 32, kernelSize: (3, 3), stride: (2, 2), padding: .same),
            BatchNorm2d(path: "_bn0", channels: 32, eps: 1e-3),
            ActivationModule(path: "_relu#stem", kind: .relu6, isNamed: false),
            Sequential(path: "_blocks", modules: blocks),
            Conv2d(path: "_conv_head", inChannels: 320, outChannels: 1280, kernelSize: (1, 1), padding: .same),
            BatchNorm2d(path: "_bn1", channels: 1280, eps: 1e-3),
            ActivationModule(path: "_relu#head", kind: .relu6, isNamed: false),
            GlobalAveragePool(path: "_avg_pooling"),
            Flatten(path: "flatten", isNamed: false),
            Dropout(path: "_dropout"),
            Linear(path: "_fc", inFeatures: 1280, outFeatures: classes),
        ]
    }
}
