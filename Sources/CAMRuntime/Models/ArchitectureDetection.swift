import Foundation

extension Network {
    /// The architecture a state dict was saved from, judged by its keys and shapes:
    /// a torchvision ResNet (depth from the block counts per stage and BasicBlock vs Bottleneck)
    /// or EfficientNet-Lite0 (lukemelas key names).
    public static func detectArchitecture(_ stateDict: StateDict) throws -> String {
        try detectArchitecture(StateDictShapes(stateDict))
    }

    /// The architecture of a checkpoint judged from its keys and shapes alone (see above), so
    /// that it can be known before the tensors are read.
    public static func detectArchitecture(_ listing: StateDictShapes) throws -> String {
        let dict = listing.normalized
        let keys = dict.shapes
        if keys["_conv_stem.weight"] != nil || keys.keys.contains(where: { $0.hasPrefix("_blocks.") }) {
            if keys.keys.contains(where: { $0.contains("._se_reduce.") }) {
                throw RuntimeError("the checkpoint is an EfficientNet with squeeze-excitation (B0…B7); "
                                   + "only EfficientNet-Lite0 is supported")
            }
            let blockCount = Set(keys.keys.compactMap { blockIndex($0, prefix: "_blocks.") }).count
            let stem = keys["_conv_stem.weight"]
            guard blockCount == 16, stem == [32, 3, 3, 3] else {
                throw RuntimeError("the checkpoint looks like an EfficientNet but has \(blockCount) blocks and stem "
                                   + "\(stem.map(describe) ?? "none"); EfficientNet-Lite0 has 16 blocks and stem [32, 3, 3, 3]")
            }
            return "efficientnet_lite0"
        }
        if keys["conv1.weight"] != nil, keys["layer1.0.conv1.weight"] != nil {
            let counts = (1...4).map { stage in
                Set(keys.keys.compactMap { blockIndex($0, prefix: "layer\(stage).") }).count
            }
            let bottleneck = keys["layer1.0.conv3.weight"] != nil
            if let match = ResNetBuilder.configurations.first(where: { $0.value.bottleneck == bottleneck && $0.value.blocks == counts }) {
                return match.key
            }
            throw RuntimeError("the checkpoint looks like a ResNet with \(bottleneck ? "Bottleneck" : "BasicBlock") "
                               + "blocks \(counts), which matches no ResNet-18/34/50/101/152")
        }
        let sample = dict.keys.prefix(4).map { "\"\($0)\"" }.joined(separator: ", ")
        throw RuntimeError("the checkpoint's keys fit no known architecture (expected a torchvision ResNet with "
                           + "\"conv1.weight\", \"layer1.0…\" or EfficientNet-Lite0 with \"_conv_stem.weight\", "
                           + "\"_blocks.N…\"); found \(dict.keys.count) key\(dict.keys.count == 1 ? "" : "s") starting with \(sample.isEmpty ? "nothing" : sample)")
    }

    /// The block number N of a key "<prefix>N.…".
    private static func blockIndex(_ key: String, prefix: String) -> Int? {
        guard key.hasPrefix(prefix) else { return nil }
        let rest = key.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        return Int(rest[..<dot])
    }
}
