/// The part of a classifier network that the CAM methods use.
///
/// `Network` (CAMRuntime/Models) conforms with an empty extension; tests conform small
/// hand-written networks to it.
public protocol CAMNetwork: AnyObject {
    /// Runs the network on an `[N, 3, H, W]` batch; returns the logits and the outputs of the
    /// requested modules. With `retainForBackward` the layers keep what `backward` needs.
    func forward(_ input: Tensor, recording: [String], retainForBackward: Bool,
                 cancellation: CancellationFlag?) throws -> ForwardResult

    /// Runs the network keeping only what a backward to the outputs of `gradientLayers` needs
    /// (no gradient at earlier layers or at the input afterwards); returns the logits and the
    /// outputs of the `recording` modules.
    func forward(_ input: Tensor, recording: [String], retainingFor gradientLayers: [String],
                 cancellation: CancellationFlag?) throws -> ForwardResult

    /// Back-propagates `logitsGradient` (`[N, classes]`) through the last retained forward and
    /// returns the gradients at the requested module outputs and, if asked, at the input.
    func backward(_ logitsGradient: Tensor, gradientsAt: [String], inputGradient: Bool,
                  reluMode: ReLUBackwardMode) throws -> BackwardResult

    /// Runs only the modules after `layer`, starting from that module's output `activation`;
    /// returns the logits.
    func forward(after layer: String, activation: Tensor, cancellation: CancellationFlag?) throws -> Tensor

    /// Resolves a user's module path (`"layer4"`, `"layer4[-1]"`, `"_blocks.15"`) to the
    /// network's canonical path, or throws a `UserFacingError` naming the nearest valid ones.
    func resolveLayer(_ path: String) throws -> String

    /// The layer used when the user names none: the last convolutional block before pooling.
    var defaultTargetLayer: String { get }

    /// The class names, index N is class N.
    var classNames: [String] { get }

    /// Every module with a bias in FullGrad's sense (Conv2d with bias, BatchNorm2d), with its
    /// effective bias vector, in forward order.
    var biasLayers: [(path: String, bias: Tensor)] { get }

    /// The final linear layer over pooled features, for the original CAM; nil when the logits
    /// come from something else.
    var linearClassifier: LinearClassifier? { get }

    /// The logits after `layer` from its output `activation`, and their derivative along
    /// `direction` (`J·direction`), for ShapleyCAM's Hessian-vector product.
    func logitsTangent(after layer: String, activation: Tensor, direction: Tensor,
                       cancellation: CancellationFlag?) throws -> (logits: Tensor, tangent: Tensor)

    /// The transformer blocks, in forward order (empty for a CNN): LeGrad's layers.
    var attentionBlocks: [String] { get }

    /// For each of `blocks` and each image, the gradient at the block's attention probabilities
    /// of the target's score of the model's head applied to the block's mean token (LeGrad);
    /// `scoreGradient(image, logits)` gives dS/dlogits for one image's `[1, classes]` logits.
    func meanTokenAttentionGradients(_ input: Tensor, blocks: [String], scoreGradient: (Int, Tensor) throws -> Tensor,
                                     cancellation: CancellationFlag?) throws -> [BlockAttentionGradient]
}

/// A classifier's last layer as the original CAM reads it.
public struct LinearClassifier {
    /// Its module path, e.g. `"fc"`.
    public var path: String
    /// Its weight, `[classes, C]`.
    public var weight: Tensor
    /// Its bias, `[classes]`, when it has one.
    public var bias: Tensor?
    /// The layer whose output the global pooling averages (`"layer4"`, `"_bn1"`), when found.
    public var featureLayer: String?
}

extension CAMNetwork {
    /// Networks that say nothing of their head have none the original CAM can read.
    public var linearClassifier: LinearClassifier? { nil }

    /// Networks that cannot differentiate forward have no tangents.
    public func logitsTangent(after layer: String, activation: Tensor, direction: Tensor,
                              cancellation: CancellationFlag?) throws -> (logits: Tensor, tangent: Tensor) {
        throw RuntimeError("this network cannot differentiate forward from \"\(layer)\"")
    }

    /// Networks that say nothing of attention have no transformer blocks.
    public var attentionBlocks: [String] { [] }

    /// Networks that say nothing of attention cannot give its gradients.
    public func meanTokenAttentionGradients(_ input: Tensor, blocks: [String], scoreGradient: (Int, Tensor) throws -> Tensor,
                                            cancellation: CancellationFlag?) throws -> [BlockAttentionGradient] {
        throw RuntimeError("this network has no transformer blocks: LeGrad explains vision transformers")
    }

    /// Networks without a cheaper partial retention retain everything.
    public func forward(_ input: Tensor, recording: [String], retainingFor gradientLayers: [String],
                        cancellation: CancellationFlag?) throws -> ForwardResult {
        try forward(input, recording: recording, retainForBackward: true, cancellation: cancellation)
    }
}
