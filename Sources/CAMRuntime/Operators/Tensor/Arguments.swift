import Foundation

/// Reading the tensor arguments of ONNX operators, where integers (shapes, axes, indices,
/// pads) arrive as floats.
///
/// Integer ONNX data is carried as exactly representable floats; values past 2^60 (INT64_MAX
/// and INT64_MIN as Slice uses them for "to the end") clamp to ±2^60, so that sums of a few
/// of them (a size and two pads) cannot overflow.
enum Arguments {
    /// The largest magnitude an integer argument keeps.
    static let integerLimit = 1 << 60

    /// The most elements an operator creates: larger shapes are mistakes in a model, and
    /// would otherwise end in a failed allocation.
    static let elementLimit = 1 << 28

    /// `value` as an integer, or an error naming the argument when it has a fraction or is
    /// not finite.
    static func integer(_ value: Float, _ name: String) throws -> Int {
        guard value.isFinite, value == value.rounded(.towardZero) else {
            throw RuntimeError("expected an integer \(name), found \(value)")
        }
        if Swift.abs(value) >= Float(integerLimit) { return value < 0 ? -integerLimit : integerLimit }
        return Int(value)
    }

    /// The elements of `tensor` as integers (a shape, axes, pads).
    static func integers(_ tensor: Tensor, _ name: String) throws -> [Int] {
        guard tensor.rank <= 1 else {
            throw RuntimeError("expected \(name) as a 1-D tensor, found shape \(Network.describe(tensor.shape))")
        }
        return try tensor.storage.map { try integer($0, name) }
    }

    /// The single element of `tensor` (a scalar or a one-element tensor).
    static func scalar(_ tensor: Tensor, _ name: String) throws -> Float {
        guard tensor.count == 1 else {
            throw RuntimeError("expected \(name) as a scalar, found shape \(Network.describe(tensor.shape))")
        }
        return tensor.storage[0]
    }

    /// `axis` in `-rank..<rank` as an index in `0..<rank`.
    static func axis(_ axis: Int, rank: Int, _ name: String = "axis") throws -> Int {
        guard axis >= -rank, axis < rank else {
            throw RuntimeError("\(name) \(axis) is out of range for rank \(rank) (expected \(-rank)...\(rank - 1))")
        }
        return axis < 0 ? axis + rank : axis
    }

    /// Distinct axes in `-rank..<rank` as sorted indices in `0..<rank`.
    static func axes(_ axes: [Int], rank: Int) throws -> [Int] {
        let normalized = try axes.map { try axis($0, rank: rank) }
        guard Set(normalized).count == normalized.count else {
            throw RuntimeError("axes \(Network.describe(axes)) repeat an axis")
        }
        return normalized.sorted()
    }

    /// The number of elements of `shape`, or an error when a dimension is negative or the
    /// product is unreasonably large.
    @discardableResult
    static func elementCount(_ shape: [Int]) throws -> Int {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw RuntimeError("expected a shape of non-negative sizes, found \(Network.describe(shape))")
        }
        if shape.contains(0) { return 0 }
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= elementLimit else {
                throw RuntimeError("shape \(Network.describe(shape)) has too many elements")
            }
            count = product
        }
        return count
    }

    /// The row-major strides of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var stride = 1
        for axis in shape.indices.reversed() {
            strides[axis] = stride
            stride *= shape[axis]
        }
        return strides
    }
}

extension Operator {
    /// Throws unless the node has between `range.lowerBound` and `range.upperBound` inputs;
    /// `names` lists them for the message ("data, indices").
    func checkInputCount(_ inputs: [Tensor], _ range: ClosedRange<Int>, _ names: String) throws {
        guard !range.contains(inputs.count) else { return }
        let expected = range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
        throw RuntimeError("\(kind) expected \(expected) input\(range.upperBound == 1 ? "" : "s") (\(names)), "
                           + "found \(inputs.count)")
    }

    /// The error of a backward whose saved values do not fit its gradient.
    var unmatchedBackward: RuntimeError {
        RuntimeError("backward without a matching retained forward")
    }
}

extension Tensor {
    /// The same elements negated.
    var negated: Tensor { map { -$0 } }
}
