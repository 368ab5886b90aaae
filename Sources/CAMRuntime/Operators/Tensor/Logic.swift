import Foundation

/// The shared forward of the comparisons: 1 where `holds(a, b)`, else 0, with broadcasting.
private func compare(_ op: Operator, _ inputs: [Tensor], _ holds: (Float, Float) -> Bool) throws -> Tensor {
    try op.checkInputCount(inputs, 2...2, "A, B")
    return try Broadcast.map(inputs[0], inputs[1]) { holds($0, $1) ? 1 : 0 }
}

/// ONNX Equal: 1 where A = B, else 0, with broadcasting. Booleans are 0/1 floats; no
/// gradient flows through a comparison.
final class Equal: Operator {
    override var isDifferentiable: Bool { false }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try compare(self, inputs) { $0 == $1 }
    }
}

/// ONNX Less: 1 where A < B, else 0, with broadcasting; no gradient.
final class Less: Operator {
    override var isDifferentiable: Bool { false }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try compare(self, inputs) { $0 < $1 }
    }
}

/// ONNX Greater: 1 where A > B, else 0, with broadcasting; no gradient.
final class Greater: Operator {
    override var isDifferentiable: Bool { false }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try compare(self, inputs) { $0 > $1 }
    }
}

/// ONNX Not: 1 where the input is 0 (false), else 0; no gradient.
final class Not: Operator {
    override var isDifferentiable: Bool { false }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "X")
        return inputs[0].map { $0 == 0 ? 1 : 0 }
    }
}

/// ONNX Where(condition, X, Y): X where the condition is non-zero, else Y, all three
/// broadcasting.
///
/// The gradient goes to X where the condition holds and to Y elsewhere (summed over broadcast
/// axes); the condition gets none.
final class Where: Operator {
    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 3...3, "condition, X, Y")
        let (condition, x, y) = (inputs[0], inputs[1], inputs[2])
        let output = try Broadcast.map(condition, x, y) { $0 != 0 ? $1 : $2 }
        if step.retain {
            step.saved.tensors = [condition]
            step.saved.shapes = [x.shape, y.shape]
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard let condition = saved.tensors.first, saved.shapes.count == 2, step.needs.count == 3 else {
            throw unmatchedBackward
        }
        var result: [Tensor?] = [nil, nil, nil]
        if step.needs[1] {
            result[1] = try Broadcast.reduce(try Broadcast.map(gradient, condition) { $1 != 0 ? $0 : 0 },
                                             to: saved.shapes[0])
        }
        if step.needs[2] {
            result[2] = try Broadcast.reduce(try Broadcast.map(gradient, condition) { $1 != 0 ? 0 : $0 },
                                             to: saved.shapes[1])
        }
        return result
    }
}

/// ONNX Mod with broadcasting: with `fmod`, the remainder of truncated division (C's fmod,
/// the sign of A; `torch.fmod`); without, of floored division (the sign of B, Python's `%`;
/// `torch.remainder`).
///
/// Gradients as PyTorch's: 1 to A, and −trunc(A / B) (fmod) or −floor(A / B) to B.
final class Mod: Operator {
    let fmod: Bool

    init(fmod: Bool = false) {
        self.fmod = fmod
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...2, "A, B")
        let (a, b) = (inputs[0], inputs[1])
        let output: Tensor
        if fmod {
            output = try Broadcast.map(a, b) { Foundation.fmod($0, $1) }
        } else {
            output = try Broadcast.map(a, b) { x, y in
                let r = Foundation.fmod(x, y)
                return r != 0 && (r < 0) != (y < 0) ? r + y : r
            }
        }
        if step.retain {
            step.saved.tensors = [a, b]
            step.saved.shapes = [a.shape, b.shape]
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.tensors.count == 2, saved.shapes.count == 2, step.needs.count == 2 else { throw unmatchedBackward }
        let (a, b) = (saved.tensors[0], saved.tensors[1])
        var result: [Tensor?] = [nil, nil]
        if step.needs[0] { result[0] = try Broadcast.reduce(gradient, to: saved.shapes[0]) }
        if step.needs[1] {
            let rounding: FloatingPointRoundingRule = fmod ? .towardZero : .down
            result[1] = try Broadcast.reduce(try Broadcast.map(gradient, a, b) { g, a, b in
                -g * (a / b).rounded(rounding)
            }, to: saved.shapes[1])
        }
        return result
    }
}
