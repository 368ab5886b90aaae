/// What a forward pass returns: the logits and the outputs of the modules asked for.
public struct ForwardResult {
    /// The network output, [N, classes].
    public var logits: Tensor
    /// The recorded module outputs by resolved module path.
    public var activations: [String: Tensor]

    /// Creates a result.
    public init(logits: Tensor, activations: [String: Tensor]) {
        self.logits = logits
        self.activations = activations
    }
}

/// What a backward pass returns: gradients at module outputs and, if asked, at the input.
public struct BackwardResult {
    /// The gradient of the target with respect to each requested module output, by path.
    public var gradients: [String: Tensor]
    /// The gradient with respect to the network input, when it was asked for.
    public var input: Tensor?

    /// Creates a result.
    public init(gradients: [String: Tensor], input: Tensor?) {
        self.gradients = gradients
        self.input = input
    }
}

/// How ReLU and ReLU6 pass gradients back.
public enum ReLUBackwardMode: Sendable {
    /// The true derivative: the gradient passes where the input is in the linear range.
    case standard
    /// Guided backpropagation: additionally only positive gradients pass.
    case guided
}
