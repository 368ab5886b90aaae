import Foundation

/// LeGrad (Bousselham et al., 2024; TorchCAM's `LeGrad`): for vision transformers, how much each
/// patch's attention feeds the class score that each block already encodes.
///
/// For each target block `l`: the score `s_l` is the model's head applied to the block's mean
/// token (`heads(encoder.ln(tokens.mean(1)))` for torchvision's ViT, as TorchCAM defines it; any
/// head that norms per token and pools, through `Network.meanTokenAttentionGradients`); its
/// gradient at the block's post-softmax attention `A_l` (heads × queries × keys), ReLU'd and
/// averaged over heads and queries, is a relevance per key; the prefix keys (class token) are
/// dropped and the rest folded into the patch grid. The maps of the blocks are averaged, then go
/// through the common ending (ReLU, min-max, resize). Attention values are not multiplied in.
public struct LeGrad: CAMMethod, CAMOwnPass {
    /// LeGrad's declaration.
    public static let info = CAMMethodInfo(
        name: "legrad", className: "LeGrad",
        summary: "LeGrad: for vision transformers, the positive gradient of each block's own class score at its attention, averaged over heads, queries and blocks (TorchCAM's).",
        formula: "s_l = head(mean_t X_l[t]); R_l[k] = mean_{h,q} ReLU(∂s_l/∂A_l[h,q,k]) over patch keys k; map = mean_l R_l",
        paper: "Bousselham, Boggust, Chaybouti, Strobelt and Kuehne, LeGrad: An Explainability Method for Vision Transformers via Feature Formation Sensitivity, arXiv:2404.03214, 2024 (Eq. 3-6); as TorchCAM 0.5's LeGrad",
        needsGradients: true, weightsChannels: false, unsignedBecause: "it keeps only the positive gradients at the attention (a ReLU in its definition)") { _ in LeGrad() }

    /// Creates the method.
    public init() {}

    /// Not used: the map comes from the blocks' attention, not from their outputs.
    public func layerMap(_ layer: LayerCapture, context: CAMContext, eigenSmooth: Bool) throws -> Tensor {
        throw RuntimeError("legrad reads the attention inside its blocks, not the blocks' outputs")
    }

    /// The last transformer block (TorchCAM requires the blocks to be named; its example takes
    /// the last four of ViT-B/16's twelve).
    public func defaultLayer(in network: CAMNetwork) -> String? {
        network.attentionBlocks.last
    }

    /// LeGrad's map before any scaling, `[B, h, w]` on the patch grid: the mean over `blocks`
    /// of each block's relevance per patch.
    public static func relevance(_ network: CAMNetwork, input: Tensor, blocks: [String], targets: [CAMTarget],
                                 cancellation: CancellationFlag? = nil) throws -> Tensor {
        let gradients = try network.meanTokenAttentionGradients(input, blocks: blocks, scoreGradient: { image, logits in
            CAMEngine.logitsGradient([targets[image]], logits: logits)
        }, cancellation: cancellation)
        var sum: Tensor?
        for block in gradients {
            let map = try patchMap(block)
            if let total = sum {
                guard total.shape == map.shape else {
                    throw RuntimeError("legrad: block \"\(block.block)\" has a \(map.shape[1])×\(map.shape[2]) patch grid, "
                                       + "the others \(total.shape[1])×\(total.shape[2]); choose blocks of one stage")
                }
                sum = Tensor(shape: total.shape) { out in for i in 0..<total.count { out[i] = total.storage[i] + map.storage[i] } }
            } else {
                sum = map
            }
        }
        guard let total = sum else { throw RuntimeError("legrad needs at least one transformer block") }
        let count = Float(gradients.count)
        return total.map { $0 / count }
    }

    /// One block's relevance per patch, `[B, h, w]`: `mean_{rows} ReLU(g)` per key, folded like
    /// the block's tokens.
    static func patchMap(_ block: BlockAttentionGradient) throws -> Tensor {
        let g = block.gradient
        let (n, rows, keys) = (g.shape[0], g.shape[1], g.shape[2])
        var sums = [Float](repeating: 0, count: n * keys)
        for b in 0..<n {
            for r in 0..<rows {
                let base = (b * rows + r) * keys
                for k in 0..<keys { sums[b * keys + k] += Swift.max(g.storage[base + k], 0) }
            }
        }
        let perKey = Tensor(shape: [n, keys, 1], storage: sums.map { $0 / Float(rows) })
        let grid: Tensor
        do {
            grid = try block.layout.grid(perKey)
        } catch let error as RuntimeError {
            throw RuntimeError("legrad: block \"\(block.block)\": \(error.message)")
        }
        return grid.reshaped([n, grid.shape[2], grid.shape[3]])
    }

    /// One inference forward resolves the targets; then the blocks' passes.
    func pass(_ input: Tensor, engine: CAMEngine, request: CAMEngine.Request) throws -> (Tensor, [CAMTarget]) {
        let logits = try engine.network.forward(input, recording: [], retainForBackward: false,
                                                cancellation: request.cancellation).logits
        let targets = try engine.resolveTargets(request, logits: logits)
        let map = try Self.relevance(engine.network, input: input, blocks: request.layers, targets: targets,
                                     cancellation: request.cancellation)
        return (CAMMath.fuse([map], width: input.shape[3], height: input.shape[2], scaling: request.scaling), targets)
    }
}
