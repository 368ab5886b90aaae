import Foundation

/// ONNX Reshape: the data with the shape of the second input, where −1 is inferred from the
/// element count and 0 copies the input's dimension at that position (unless `allowZero`,
/// where 0 means an empty dimension).
final class Reshape: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    let allowZero: Bool

    init(allowZero: Bool = false) {
        self.allowZero = allowZero
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...2, "data, shape")
        let data = inputs[0]
        let requested = try Arguments.integers(inputs[1], "shape")
        var shape = requested
        var inferred: Int?
        for (i, size) in requested.enumerated() {
            if size == 0 && !allowZero {
                guard i < data.rank else {
                    throw RuntimeError("shape \(Network.describe(requested)) copies dimension \(i) with 0, but the "
                                       + "input \(Network.describe(data.shape)) has rank \(data.rank)")
                }
                shape[i] = data.shape[i]
            } else if size == -1 {
                guard inferred == nil else {
                    throw RuntimeError("shape \(Network.describe(requested)) has more than one -1")
                }
                inferred = i
            } else if size < 0 {
                throw RuntimeError("shape \(Network.describe(requested)) has a negative size")
            }
        }
        if let i = inferred {
            shape[i] = 1
            let known = try Arguments.elementCount(shape)
            guard known > 0, data.count % known == 0 else {
                throw RuntimeError("cannot reshape \(Network.describe(data.shape)) (\(data.count) elements) to "
                                   + "\(Network.describe(requested))")
            }
            shape[i] = data.count / known
        }
        guard try Arguments.elementCount(shape) == data.count else {
            throw RuntimeError("cannot reshape \(Network.describe(data.shape)) (\(data.count) elements) to "
                               + "\(Network.describe(requested))")
        }
        if step.retain { step.saved.shape = data.shape }
        return data.reshaped(shape)
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shape.reduce(1, *) == gradient.count else { throw unmatchedBackward }
        return [gradient.reshaped(saved.shape), nil]
    }
}

/// ONNX Transpose: the axes permuted (output axis i is input axis `perm[i]`); without a
/// permutation, the axes reversed.
final class Transpose: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    let perm: [Int]?

    init(perm: [Int]? = nil) {
        self.perm = perm
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "data")
        let data = inputs[0]
        let order = perm ?? Array((0..<data.rank).reversed())
        guard order.sorted() == Array(0..<data.rank) else {
            throw RuntimeError("expected a permutation of the \(data.rank) axes of \(Network.describe(data.shape)), "
                               + "found \(Network.describe(order))")
        }
        if step.retain { step.saved.indices = order.map { Int32($0) } }
        return Transpose.permute(data, order)
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        let order = saved.indices.map { Int($0) }
        guard order.count == gradient.rank else { throw unmatchedBackward }
        var inverse = order
        for (i, axis) in order.enumerated() { inverse[axis] = i }
        return [Transpose.permute(gradient, inverse)]
    }

    /// `tensor` with output axis i taken from axis `order[i]` (a valid permutation).
    static func permute(_ tensor: Tensor, _ order: [Int]) -> Tensor {
        if order == Array(0..<tensor.rank) { return tensor }
        let shape = order.map { tensor.shape[$0] }
        let strides = Arguments.strides(tensor.shape)
        return tensor.withUnsafeBufferPointer { source in
            Tensor(shape: shape) { out in
                guard let s = source.baseAddress, let o = out.baseAddress else { return }
                StridedLoop.copy(shape: shape, from: s, order.map { strides[$0] }, to: o, Arguments.strides(shape))
            }
        }
    }
}

/// ONNX Squeeze: size-1 axes removed: those of the second input (opset ≥ 13) or of the
/// attribute, or every size-1 axis when there are none.
final class Squeeze: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    let axes: [Int]?

    init(axes: [Int]? = nil) {
        self.axes = axes
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...2, "data, axes")
        let data = inputs[0]
        let given = inputs.count == 2 ? try Arguments.integers(inputs[1], "axes") : axes
        let removed: [Int]
        if let given {
            removed = try Arguments.axes(given, rank: data.rank)
            for axis in removed where data.shape[axis] != 1 {
                throw RuntimeError("cannot squeeze axis \(axis) of \(Network.describe(data.shape)): its size is "
                                   + "\(data.shape[axis]), not 1")
            }
        } else {
            removed = data.shape.indices.filter { data.shape[$0] == 1 }
        }
        if step.retain { step.saved.shape = data.shape }
        return data.reshaped(data.shape.indices.filter { !removed.contains($0) }.map { data.shape[$0] })
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shape.reduce(1, *) == gradient.count else { throw unmatchedBackward }
        return [gradient.reshaped(saved.shape)] + Array(repeating: nil, count: Swift.max(step.needs.count - 1, 0))
    }
}

/// ONNX Unsqueeze: size-1 axes inserted at the given positions of the result (from the
/// second input in opset ≥ 13, or the attribute).
final class Unsqueeze: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    let axes: [Int]?

    init(axes: [Int]? = nil) {
        self.axes = axes
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...2, "data, axes")
        let data = inputs[0]
        guard let given = inputs.count == 2 ? try Arguments.integers(inputs[1], "axes") : axes else {
            throw RuntimeError("Unsqueeze needs axes, as an input or an attribute")
        }
        let rank = data.rank + given.count
        let inserted = try Arguments.axes(given, rank: rank)
        var shape: [Int] = []
        var next = 0
        for axis in 0..<rank {
            if inserted.contains(axis) {
                shape.append(1)
            } else {
                shape.append(data.shape[next])
                next += 1
            }
        }
        if step.retain { step.saved.shape = data.shape }
        return data.reshaped(shape)
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shape.reduce(1, *) == gradient.count else { throw unmatchedBackward }
        return [gradient.reshaped(saved.shape)] + Array(repeating: nil, count: Swift.max(step.needs.count - 1, 0))
    }
}

/// ONNX Expand: the data broadcast with the shape of the second input (numpy's rule both
/// ways: a 1 in the shape keeps the data's dimension). Backward sums over the broadcast axes.
final class Expand: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...2, "data, shape")
        let data = inputs[0]
        let requested = try Arguments.integers(inputs[1], "shape")
        try Arguments.elementCount(requested)
        let shape = try Broadcast.shape(data.shape, requested)
        if step.retain { step.saved.shape = data.shape }
        return try Broadcast.expand(data, to: shape)
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        [try Broadcast.reduce(gradient, to: saved.shape), nil]
    }
}

/// ONNX Shape: the input's dimensions `start..<end` as a 1-D tensor (negative bounds count
/// from the end; both are clamped to the rank). No gradient flows through it.
final class ShapeOf: Operator {
    let start: Int
    let end: Int?

    init(start: Int = 0, end: Int? = nil) {
        self.start = start
        self.end = end
    }

    override var kind: String { "Shape" }

    override var isDifferentiable: Bool { false }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "data")
        let rank = inputs[0].rank
        func bound(_ value: Int) -> Int { Swift.min(Swift.max(value < 0 ? value + rank : value, 0), rank) }
        let (first, last) = (bound(start), bound(end ?? rank))
        let dims = first < last ? Array(inputs[0].shape[first..<last]) : []
        return Tensor(shape: [dims.count], storage: dims.map { Float($0) })
    }
}

/// ONNX ConstantOfShape: a tensor of the shape given by the input (1-D; empty for a scalar)
/// filled with `value`. No gradient flows through it.
final class ConstantOfShape: Operator {
    let value: Float

    init(value: Float = 0) {
        self.value = value
    }

    override var isDifferentiable: Bool { false }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "shape")
        let shape = try Arguments.integers(inputs[0], "shape")
        try Arguments.elementCount(shape)
        return Tensor(shape: shape, repeating: value)
    }
}

/// The element type an ONNX Cast converts to; every tensor here stays Float, holding the
/// values the type can.
enum CastTarget {
    /// float, double, float16, bfloat16: the values pass unchanged.
    case float
    /// 0 or 1 (any non-zero value, NaN included, is true).
    case bool
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
}

/// ONNX Cast: to a float type the values pass unchanged (and so does the gradient); to an
/// integer type they are truncated toward zero (as C and ONNX) and saturate at the type's
/// range (ONNX leaves values outside it undefined; NaN becomes 0); to bool they become 0/1.
/// Integer and bool casts pass no gradient.
final class Cast: Operator {
    let target: CastTarget

    init(to target: CastTarget) {
        self.target = target
    }

    override var isDifferentiable: Bool { target == .float }

    /// The smallest and largest values of an integer target.
    private var range: (Float, Float) {
        switch target {
        case .float, .bool: return (-.infinity, .infinity)
        case .int8: return (-128, 127)
        case .int16: return (-32768, 32767)
        case .int32: return (Float(Int32.min), Float(Int32.max))
        case .int64: return (Float(Int64.min), Float(Int64.max))
        case .uint8: return (0, 255)
        case .uint16: return (0, 65535)
        case .uint32: return (0, Float(UInt32.max))
        case .uint64: return (0, Float(UInt64.max))
        }
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 1...1, "input")
        switch target {
        case .float: return inputs[0]
        case .bool: return Unary.apply(inputs[0]) { $0 != 0 ? 1 : 0 }
        default:
            let (low, high) = range
            return Unary.apply(inputs[0]) { $0.isNaN ? 0 : Unary.clamp($0.rounded(.towardZero), low, high) }
        }
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard target == .float else { throw RuntimeError("no gradient flows through a Cast to an integer type") }
        return [gradient]
    }
}

/// ONNX Range (`torch.arange`): start, start + delta, … up to limit (exclusive), from three
/// scalar inputs; ⌈(limit − start) / delta⌉ elements (none when negative). No gradient flows
/// through it. (Not named Range, which would hide Swift's.)
final class Arange: Operator {
    override var kind: String { "Range" }

    override var isDifferentiable: Bool { false }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 3...3, "start, limit, delta")
        let start = Double(try Arguments.scalar(inputs[0], "start"))
        let limit = Double(try Arguments.scalar(inputs[1], "limit"))
        let delta = Double(try Arguments.scalar(inputs[2], "delta"))
        guard delta != 0, start.isFinite, limit.isFinite, delta.isFinite else {
            throw RuntimeError("expected a finite start and limit and a non-zero delta, found \(start), \(limit), \(delta)")
        }
        let steps = ((limit - start) / delta).rounded(.up)
        guard steps <= Double(Arguments.elementLimit) else {
            throw RuntimeError("Range from \(start) to \(limit) by \(delta) has too many elements")
        }
        let count = steps > 0 ? Int(steps) : 0
        return Tensor(shape: [count], storage: (0..<count).map { Float(start + Double($0) * delta) })
    }
}
