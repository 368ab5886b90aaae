import Foundation

/// Builders of torchvision's ResNets as graphs, with torchvision's module paths.
enum ResNetBuilder {
    /// The block type and per-stage block counts of each ResNet depth.
    static let configurations: [String: (bottleneck: Bool, blocks: [Int])] = [
        "resnet18": (false, [2, 2, 2, 2]),
        "resnet34": (false, [3, 4, 6, 3]),
        "resnet50": (true, [3, 4, 6, 3]),
        "resnet101": (true, [3, 4, 23, 3]),
        "resnet152": (true, [3, 8, 36, 3]),
    ]

    /// The output channels of a Bottleneck are `expansion` × its width.
    static let expansion = 4

    /// conv1, bn1, relu, maxpool, layer1…4, avgpool, fc.
    static func graph(bottleneck: Bool, blocks: [Int], widths: [Int] = [64, 128, 256, 512], stemWidth: Int = 64,
                      classes: Int = 1000) -> Graph {
        let b = GraphBuilder()
        var x = b.conv(b.input, "conv1", 3, stemWidth, kernel: 7, stride: 2, padding: .explicit(3, 3))
        x = b.relu(b.batchNorm(x, "bn1", stemWidth, eps: 1e-5), "relu")
        x = b.node(MaxPool2d(kernelSize: 3, stride: 2, padding: 1), [x], path: "maxpool")
        var inPlanes = stemWidth
        for (stage, (count, planes)) in zip(blocks, widths).enumerated() {
            x = b.module("layer\(stage + 1)", isIndexable: true) {
                for i in 0..<count {
                    let stride = (stage > 0 && i == 0) ? 2 : 1
                    let path = "layer\(stage + 1).\(i)"
                    if bottleneck {
                        x = self.bottleneck(b, x, path, inPlanes: inPlanes, planes: planes, stride: stride)
                        inPlanes = planes * expansion
                    } else {
                        x = basicBlock(b, x, path, inPlanes: inPlanes, planes: planes, stride: stride)
                        inPlanes = planes
                    }
                }
                return x
            }
        }
        x = b.node(GlobalAveragePool(), [x], path: "avgpool")
        x = b.node(Flatten(), [x], path: "flatten", isNamed: false)
        return b.finish(output: b.linear(x, "fc", inPlanes, classes))
    }

    /// torchvision's `BasicBlock` (ResNet-18/34): conv3×3 → BN → ReLU → conv3×3 → BN, plus the
    /// (downsampled) input, → ReLU. torchvision calls one `relu` twice; only its first call is
    /// the module's output.
    static func basicBlock(_ b: GraphBuilder, _ x: GraphValue, _ path: String, inPlanes: Int, planes: Int,
                           stride: Int) -> GraphValue {
        b.module(path) {
            var out = b.conv(x, path + ".conv1", inPlanes, planes, kernel: 3, stride: stride, padding: .explicit(1, 1))
            out = b.relu(b.batchNorm(out, path + ".bn1", planes, eps: 1e-5), path + ".relu")
            out = b.conv(out, path + ".conv2", planes, planes, kernel: 3, padding: .explicit(1, 1))
            out = b.batchNorm(out, path + ".bn2", planes, eps: 1e-5)
            let identity = downsample(b, x, path, inPlanes: inPlanes, outPlanes: planes, stride: stride)
            return b.relu(b.add(out, identity, path + ".add"), path + ".relu#2", isNamed: false)
        }
    }

    /// torchvision's `Bottleneck` (ResNet-50/101/152, v1.5: the stride sits in the 3×3 conv).
    static func bottleneck(_ b: GraphBuilder, _ x: GraphValue, _ path: String, inPlanes: Int, planes: Int,
                           stride: Int) -> GraphValue {
        b.module(path) {
            let out = planes * expansion
            var y = b.conv(x, path + ".conv1", inPlanes, planes, kernel: 1)
            y = b.relu(b.batchNorm(y, path + ".bn1", planes, eps: 1e-5), path + ".relu")
            y = b.conv(y, path + ".conv2", planes, planes, kernel: 3, stride: stride, padding: .explicit(1, 1))
            y = b.relu(b.batchNorm(y, path + ".bn2", planes, eps: 1e-5), path + ".relu#2", isNamed: false)
            y = b.batchNorm(b.conv(y, path + ".conv3", planes, out, kernel: 1), path + ".bn3", out, eps: 1e-5)
            let identity = downsample(b, x, path, inPlanes: inPlanes, outPlanes: out, stride: stride)
            return b.relu(b.add(y, identity, path + ".add"), path + ".relu#3", isNamed: false)
        }
    }

    /// The shortcut: the input itself, or its projection (`downsample`: conv1×1 with stride →
    /// BN) when the shape changes.
    static func downsample(_ b: GraphBuilder, _ x: GraphValue, _ path: String, inPlanes: Int, outPlanes: Int,
                           stride: Int) -> GraphValue {
        guard stride != 1 || inPlanes != outPlanes else { return x }
        let p = path + ".downsample"
        return b.module(p, isIndexable: true) {
            b.batchNorm(b.conv(x, p + ".0", inPlanes, outPlanes, kernel: 1, stride: stride), p + ".1", outPlanes, eps: 1e-5)
        }
    }
}
