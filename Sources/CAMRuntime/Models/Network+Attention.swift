import Foundation

/// One transformer block's share of LeGrad: the gradient of the block's score at its attention
/// probabilities, for every image.
public struct BlockAttentionGradient {
    /// The block's resolved module path.
    public var block: String
    /// dS_block/dA for each image, `[N, rows, keys]` (rows: heads × queries, in whatever order
    /// the graph lays them out; LeGrad averages over them).
    public var gradient: Tensor
    /// How the block's tokens fold into a grid (the prefix tokens to drop), as a CAM at the
    /// block would fold them (`tokens=` overrides it).
    public var layout: ActivationLayout
}

/// A transformer block of a graph: a module output that a pass can start from, with exactly one
/// softmax (its attention) since the previous such output.
struct AttentionBlock {
    /// The deepest module path with this output (`encoder.layers.encoder_layer_1`, not `encoder.layers`).
    let path: String
    /// The block's output value.
    let output: Int
    /// The value of its attention probabilities (the softmax's output).
    let attention: Int
}

extension Network {
    /// The graph's transformer blocks in forward order. Block and stage outputs are cuts of the
    /// graph, so the nodes between two consecutive ones are one block's: a block is such a
    /// stretch with one softmax (a ViT's or DeiT's encoder block; the embedding before the first
    /// and the final norm after the last have none).
    var attentionBlockTable: [AttentionBlock] {
        let cuts = graph.cutValues
        var deepest: [Int: String] = [:]
        for module in graph.namedModules {
            guard let output = module.output, cuts.contains(output) else { continue }
            if let known = deepest[output], known.count >= module.path.count { continue }
            deepest[output] = module.path
        }
        let ordered = deepest.compactMap { value, path in graph.producer[value].map { (path: path, value: value, position: $0) } }
            .sorted { $0.position < $1.position }
        var blocks: [AttentionBlock] = []
        var start = 0
        for cut in ordered {
            let softmaxes = (start...cut.position).filter { graph.nodes[$0].op is Softmax }
            if softmaxes.count == 1, let n = softmaxes.first {
                blocks.append(AttentionBlock(path: cut.path, output: cut.value, attention: graph.nodes[n].output))
            }
            start = cut.position + 1
        }
        return blocks
    }

    /// The transformer blocks LeGrad can explain, in forward order (empty for a CNN).
    public var attentionBlocks: [String] { attentionBlockTable.map(\.path) }

    /// LeGrad's gradients: for each block in `blocks` and each image, the gradient at the
    /// block's attention probabilities of the target's score of the model's own head applied
    /// to the block's mean token.
    ///
    /// The head is what follows the last block (a ViT's final LayerNorm, class-token pick and
    /// linear layer), run on a copy of the last block's output in which every token is the
    /// block's mean token: per-token layers then see that token wherever they look, so the
    /// logits are TorchCAM's `heads(encoder.ln(tokens.mean(1)))` for torchvision's ViT and the
    /// same for any head that norms per token and pools. The gradient of a mean spreads evenly,
    /// so each token of the block gets `∇head(mean) / T`, and the backward goes from there to the
    /// attention. `scoreGradient(image, logits)` gives dS/dlogits for that image's `[1, classes]`.
    ///
    /// Runs image by image: one retaining forward, then per block a pass of the head and two
    /// backwards. Leaves no retained pass behind.
    public func meanTokenAttentionGradients(_ input: Tensor, blocks paths: [String],
                                            scoreGradient: (Int, Tensor) throws -> Tensor,
                                            cancellation: CancellationFlag? = nil) throws -> [BlockAttentionGradient] {
        try checkInput(input)
        let table = attentionBlockTable
        guard let last = table.last else {
            throw RuntimeError("\(architecture) has no transformer blocks (a self-attention softmax between two block outputs): "
                               + "LeGrad explains vision transformers; use gradcam or another method for this network")
        }
        let names = table.map { "\"\($0.path)\"" }
        let listed = names.count <= 4 ? names.joined(separator: ", ")
            : (names.prefix(2) + ["…"] + names.suffix(2)).joined(separator: ", ")
        let chosen = try paths.map { path -> AttentionBlock in
            let resolved = try resolveLayer(path)
            let value = try value(ofLayer: resolved)
            guard let block = table.first(where: { $0.output == value }) else {
                throw RuntimeError("layer \"\(resolved)\" is not a transformer block: LeGrad reads the attention of whole blocks; "
                                   + "this network's are \(listed)")
            }
            return AttentionBlock(path: resolved, output: value, attention: block.attention)
        }
        defer { discardRetainedPass() }
        let imageShape = [1] + input.shape.dropFirst()
        var parts = [(shape: [Int], storage: [Float])](repeating: ([], []), count: chosen.count)
        var layouts = [ActivationLayout?](repeating: nil, count: chosen.count)
        for image in 0..<input.shape[0] {
            try cancellation?.check()
            workspace.beginPass()
            let pass = try executor.forward(from: graph.input, input.slice(image).reshaped(imageShape),
                                            recording: Set(chosen.map(\.output) + [last.output]),
                                            retention: .downstream(of: Set(chosen.map(\.attention))),
                                            cancellation: cancellation)
            let tape = executor.tape
            guard let headInput = pass.recorded[last.output] else {
                throw RuntimeError("LeGrad: the last block \"\(last.path)\" was not recorded")
            }
            for (k, block) in chosen.enumerated() {
                guard let tokens = pass.recorded[block.output], tokens.rank == 3, headInput.rank == 3,
                      headInput.shape[2] == tokens.shape[2] else {
                    let shape = pass.recorded[block.output].map { Network.describe($0.shape) } ?? "nothing"
                    throw RuntimeError("layer \"\(block.path)\" outputs \(shape): LeGrad needs a block of tokens [N, T, C] "
                                       + "with the width of the last block's")
                }
                let (count, width) = (tokens.shape[1], tokens.shape[2])
                var mean = [Float](repeating: 0, count: width)
                for t in 0..<count { for c in 0..<width { mean[c] += tokens.storage[t * width + c] } }
                for c in 0..<width { mean[c] /= Float(count) }
                let spread = Tensor(shape: headInput.shape) { out in
                    for t in 0..<headInput.shape[1] { for c in 0..<width { out[t * width + c] = mean[c] } }
                }
                let head = try executor.forward(from: last.output, spread, recording: [], retention: .all,
                                                cancellation: cancellation)
                let headGradient = try executor.backward(try scoreGradient(image, head.output), targets: [last.output],
                                                         inputGradient: false, reluMode: .standard)[last.output]
                    ?? Tensor(shape: headInput.shape)
                var perToken = [Float](repeating: 0, count: width)
                for t in 0..<headInput.shape[1] { for c in 0..<width { perToken[c] += headGradient.storage[t * width + c] } }
                executor.tape = tape
                let seed = Tensor(shape: tokens.shape) { out in
                    for t in 0..<count { for c in 0..<width { out[t * width + c] = perToken[c] / Float(count) } }
                }
                let gradient = try executor.backward(seeds: [block.output: seed], targets: [block.attention],
                                                     inputGradient: false, reluMode: .standard)[block.attention]
                    ?? Tensor(shape: [1, 1, count])
                guard gradient.rank >= 2, gradient.shape[gradient.rank - 1] == count else {
                    throw RuntimeError("layer \"\(block.path)\": its attention has \(gradient.shape.last ?? 0) keys for \(count) "
                                       + "tokens (windowed attention, as in Swin): LeGrad needs global self-attention")
                }
                parts[k].shape = [gradient.count / count, count]
                parts[k].storage += gradient.storage
                if layouts[k] == nil { layouts[k] = try layout(of: block.path, value: block.output, shape: tokens.shape) }
            }
        }
        return try chosen.enumerated().map { k, block in
            guard let layout = layouts[k], case .tokens = layout else {
                throw RuntimeError("layer \"\(block.path)\": LeGrad folds a block's keys into a grid after its prefix tokens; "
                                   + "tokens= must be a number of prefix tokens")
            }
            return BlockAttentionGradient(block: block.path, gradient: Tensor(shape: [input.shape[0]] + parts[k].shape,
                                                                              storage: parts[k].storage),
                                          layout: layout)
        }
    }
}
