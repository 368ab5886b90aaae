/// What a forward pass of a network returns: the logits and the recorded module outputs.
public struct ForwardResult {
    /// The class scores before softmax, `[N, classes]`.
    public var logits: Tensor
    /// The outputs of the modules that were asked for, by resolved module path.
    public var activations: [String: Tensor]

    /// Creates a forward result from its logits and recorded activations.
    public init(logits: Tensor, activations: [String: Tensor]) {
        self.logits = logits
        self.activations = activations
    }
}

/// What a backward pass returns: gradients at module outputs and, if asked, at the input.
public struct BackwardResult {
    /// The gradients of the scalar target with respect to the requested module outputs.
    public var gradients: [String: Tensor]
    /// The gradient with respect to the input batch, when it was asked for.
    public var input: Tensor?

    /// Creates a backward result from its gradients.
    public init(gradients: [String: Tensor], input: Tensor?) {
        self.gradients = gradients
        self.input = input
    }
}

/// How ReLU-like activations propagate gradients backwards.
public enum ReLUBackwardMode: Sendable {
    /// The ordinary derivative: `grad * (input > 0)`.
    case standard
    /// Guided backpropagation (Springenberg et al. 2015): `grad * (input > 0) * (grad > 0)`.
    case guided
}
