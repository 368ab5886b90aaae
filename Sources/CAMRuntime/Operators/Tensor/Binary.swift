import Foundation

/// Element-wise arithmetic on two tensors with numpy broadcasting (ONNX Sub, Mul, Div, Pow;
/// and Add, though graphs use `Add` for it, which the executor fuses into convolutions).
///
/// Backward sums each input's gradient over the axes along which it was broadcast, and
/// computes only the gradients that `step.needs` asks for (a weight constant gets none).
final class Binary: Operator {
    enum Kind {
        case add, sub, mul, div, pow
        /// ONNX Div on integer tensors: the quotient truncated toward zero, as C and
        /// onnxruntime divide. Shape arithmetic needs it (`(24 + 3 - 1) / 3` is 8, not 8.67,
        /// in the slices torch.chunk exports); it has no gradient.
        case integerDiv
    }

    let operation: Kind

    init(_ kind: Kind) {
        operation = kind
    }

    override var kind: String {
        switch operation {
        case .add: return "Add"
        case .sub: return "Sub"
        case .mul: return "Mul"
        case .div, .integerDiv: return "Div"
        case .pow: return "Pow"
        }
    }

    override var isDifferentiable: Bool { operation != .integerDiv }

    /// Sums are affine, products affine in each factor, quotients in the dividend (ShapleyCAM).
    override var tangentRule: TangentRule {
        switch operation {
        case .add, .sub: return .affine
        case .mul: return .affineInEach
        case .div: return .affineInFirst
        case .pow, .integerDiv: return .unsupported
        }
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...2, "A, B")
        let (a, b) = (inputs[0], inputs[1])
        let output: Tensor
        switch operation {
        case .add: output = try Broadcast.map(a, b) { $0 + $1 }
        case .sub: output = try Broadcast.map(a, b) { $0 - $1 }
        case .mul: output = try Broadcast.map(a, b) { $0 * $1 }
        case .div: output = try Broadcast.map(a, b) { $0 / $1 }
        case .integerDiv:
            if b.storage.contains(0) { throw RuntimeError("an integer division by zero") }
            output = try Broadcast.map(a, b) { ($0 / $1).rounded(.towardZero) }
        case .pow:
            // Decomposed layer norms square with Pow(x, 2): a product, exact and fast.
            if b.count == 1 && b.storage[0] == 2 {
                output = try Broadcast.map(a, b) { x, _ in x * x }
            } else {
                output = try Broadcast.map(a, b) { Foundation.pow($0, $1) }
            }
        }
        if step.retain {
            step.saved.shapes = [a.shape, b.shape]
            switch operation {
            case .add, .sub, .integerDiv: break
            case .mul, .div, .pow: step.saved.tensors = [a, b]
            }
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shapes.count == 2, (try? Broadcast.shape(saved.shapes[0], saved.shapes[1])) == gradient.shape,
              step.needs.count == 2 else { throw unmatchedBackward }
        let (aShape, bShape) = (saved.shapes[0], saved.shapes[1])
        let g = gradient
        if operation == .add || operation == .sub {
            let ga = step.needs[0] ? try Broadcast.reduce(g, to: aShape) : nil
            let gb = step.needs[1] ? try Broadcast.reduce(g, to: bShape) : nil
            return [ga, operation == .sub ? gb?.negated : gb]
        }
        guard saved.tensors.count == 2 else { throw unmatchedBackward }
        let (a, b) = (saved.tensors[0], saved.tensors[1])
        var ga: Tensor?, gb: Tensor?
        switch operation {
        case .add, .sub, .integerDiv:
            break
        case .mul:
            if step.needs[0] { ga = try Broadcast.reduce(try Broadcast.map(g, b) { $0 * $1 }, to: aShape) }
            if step.needs[1] { gb = try Broadcast.reduce(try Broadcast.map(g, a) { $0 * $1 }, to: bShape) }
        case .div:
            if step.needs[0] { ga = try Broadcast.reduce(try Broadcast.map(g, b) { $0 / $1 }, to: aShape) }
            if step.needs[1] {
                gb = try Broadcast.reduce(try Broadcast.map(g, a, b) { -$0 * $1 / ($2 * $2) }, to: bShape)
            }
        case .pow:
            // d/da = b·a^(b−1), 0 where b = 0 (PyTorch's masking, which avoids 0·∞ at a = 0).
            if step.needs[0] {
                ga = try Broadcast.reduce(try Broadcast.map(g, a, b) { g, a, b in
                    b == 0 ? 0 : g * b * Foundation.pow(a, b - 1)
                }, to: aShape)
            }
            // d/db = a^b·ln a where a > 0 and 0 elsewhere: the exponent of a power of a
            // non-positive base gets no gradient here (PyTorch gives 0 at a = 0 with b ≥ 0 and NaN
            // for a < 0; a NaN would spread through every gradient a CAM sums).
            if step.needs[1] {
                gb = try Broadcast.reduce(try Broadcast.map(g, a, b) { g, a, b in
                    a > 0 ? g * Foundation.pow(a, b) * Foundation.log(a) : 0
                }, to: bShape)
            }
        }
        return [ga, gb]
    }
}
