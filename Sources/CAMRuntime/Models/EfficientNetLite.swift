import Foundation

/// Builders of EfficientNet-Lite0 as a graph (reference §12), with the module paths of
/// lukemelas's EfficientNet-PyTorch.
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

    /// _conv_stem, _bn0, _blocks, _conv_head, _bn1, _avg_pooling, _dropout, _fc.
    static func lite0Graph(classes: Int = 1000) -> Graph {
        let b = GraphBuilder()
        var x = b.conv(b.input, "_conv_stem", 3, 32, kernel: 3, stride: 2, padding: .same)
        x = b.relu(b.batchNorm(x, "_bn0", 32, eps: 1e-3), "_relu#stem", .relu6, isNamed: false)
        x = b.module("_blocks", isIndexable: true) {
            for (i, block) in lite0Blocks.enumerated() {
                x = mbConv(b, x, "_blocks.\(i)", kernel: block.0, stride: block.1, expansion: block.2,
                           inChannels: block.3, outChannels: block.4)
            }
            return x
        }
        x = b.batchNorm(b.conv(x, "_conv_head", 320, 1280, kernel: 1, padding: .same), "_bn1", 1280, eps: 1e-3)
        x = b.relu(x, "_relu#head", .relu6, isNamed: false)
        x = b.node(GlobalAveragePool(), [x], path: "_avg_pooling")
        x = b.node(Flatten(), [x], path: "flatten", isNamed: false)
        x = b.node(Identity(layer: "Dropout"), [x], path: "_dropout")
        return b.finish(output: b.linear(x, "_fc", 1280, classes))
    }

    /// The `MBConvBlock` of EfficientNet-Lite (no squeeze-excitation, ReLU6, TF-"SAME" padding,
    /// BN eps 1e-3): expand 1×1 → BN → ReLU6 → depthwise → BN → ReLU6 → project 1×1 → BN, plus
    /// the input when the shape is kept.
    static func mbConv(_ b: GraphBuilder, _ x: GraphValue, _ path: String, kernel: Int, stride: Int, expansion: Int,
                       inChannels: Int, outChannels: Int) -> GraphValue {
        b.module(path) {
            let mid = inChannels * expansion
            var y = x
            if expansion != 1 {
                y = b.conv(y, path + "._expand_conv", inChannels, mid, kernel: 1, padding: .same)
                y = b.relu(b.batchNorm(y, path + "._bn0", mid, eps: 1e-3), path + "._relu#0", .relu6, isNamed: false)
            }
            y = b.conv(y, path + "._depthwise_conv", mid, mid, kernel: kernel, stride: stride, padding: .same, groups: mid)
            y = b.relu(b.batchNorm(y, path + "._bn1", mid, eps: 1e-3), path + "._relu#1", .relu6, isNamed: false)
            y = b.batchNorm(b.conv(y, path + "._project_conv", mid, outChannels, kernel: 1, padding: .same),
                            path + "._bn2", outChannels, eps: 1e-3)
            return stride == 1 && inChannels == outChannels ? b.add(y, x, path + ".add") : y
        }
    }
}
