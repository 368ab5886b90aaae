/// The original CAM (Zhou et al., CVPR 2016, Eq. 2; TorchCAM's `CAM`): the feature maps that
/// the global average pooling feeds to the classifier, weighted by the classifier's own weights
/// for the target class — no gradient, no extra pass.
///
/// It needs a classifier that is one linear layer over globally pooled features (ResNet's `fc`,
/// EfficientNet's `_fc`, an ONNX `Gemm` after `GlobalAveragePool`), and a target layer with as
/// many channels as that layer has inputs; without `layer=` it uses the layer the pooling reads
/// (`layer4`; `_bn1` for EfficientNet-Lite0, before its ReLU6).
public struct OriginalCAM: ChannelWeightedCAMMethod {
    /// The original CAM's declaration.
    public static let info = CAMMethodInfo(
        name: "cam_original", aliases: ["original_cam", "origcam"], className: "CAM",
        summary: "CAM (the original): the pooled feature maps weighted by the classifier's weights for the class (no gradients).",
        formula: "w_c = W_fc[class, c]; map = ReLU(Σ_c w_c A_c) at the layer the global average pooling reads",
        paper: "Zhou et al., Learning Deep Features for Discriminative Localization, CVPR 2016 (Eq. 2); TorchCAM's CAM",
        needsGradients: false, weightsChannels: true) { _ in OriginalCAM() }

    /// Creates the method.
    public init() {}

    /// The layer the classifier's pooling reads, when the network says.
    public func defaultLayer(in network: CAMNetwork) -> String? {
        network.linearClassifier?.featureLayer
    }

    /// The classifier's weight row of each image's target class (negated for class 0 of a
    /// one-logit binary head, whose evidence for class 0 is the negative logit).
    public func channelWeights(_ layer: LayerCapture, context: CAMContext) throws -> Tensor {
        guard let classifier = context.network.linearClassifier else {
            throw RuntimeError("the original CAM reads the weights of a classifier that is one linear layer over pooled features, and this model's logits do not come from one: use gradcam (for a model with such a head, its map at the pooled layer is the same)")
        }
        let (b, c, _) = CAMMath.dims(layer.activations)
        let (classes, inputs) = (classifier.weight.shape[0], classifier.weight.shape[1])
        guard inputs == c else {
            let hint = classifier.featureLayer.map { " such as layer=\"\($0)\"" } ?? ""
            throw RuntimeError("the original CAM weights the layer's channels with the \(inputs) input weights of the classifier \"\(classifier.path)\", but \"\(layer.name)\" has \(c) channels: choose the layer its pooling reads\(hint)")
        }
        var out = [Float](repeating: 0, count: b * c)
        for image in 0..<b {
            let target = context.targets[image]
            var row = target.classIndex, sign: Float = 1
            if case .binary(let k) = target {
                row = 0
                sign = k == 1 ? 1 : -1
            }
            guard row < classes else {
                throw RuntimeError("class \(row) is beyond the \(classes) outputs of the classifier \"\(classifier.path)\"")
            }
            for ch in 0..<c { out[image * c + ch] = sign * classifier.weight.storage[row * inputs + ch] }
        }
        return Tensor(shape: [b, c], storage: out)
    }
}
