/// A contiguous, row-major Float32 array with a shape; images and activations are NCHW.
///
/// `Tensor` is a value type: copies share storage until one of them is written to.
public struct Tensor: Sendable, Equatable {
    /// The size of each dimension, outermost first (`[N, C, H, W]` for a batch of feature maps).
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public var storage: [Float]
    /// The picture and preprocessing this tensor was made from, when `preprocess` made it (see
    /// `ImageOrigin`); new tensors computed from it do not carry it. Not part of equality: two
    /// tensors with the same shape and elements are equal wherever they came from.
    public var origin: ImageOrigin?

    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        lhs.shape == rhs.shape && lhs.storage == rhs.storage
    }

    /// Creates a tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// Creates a tensor from elements in row-major order; their count must match the shape.
    public init(shape: [Int], storage: [Float]) {
        precondition(shape.reduce(1, *) == storage.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// Creates a tensor of the given shape whose elements are written by `body` into
    /// uninitialised memory (every element must be written).
    public init(shape: [Int], unsafeUninitialized body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
    }

    /// The number of elements.
    @inlinable public var count: Int { storage.count }

    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The element at a multi-dimensional index (slow; for tests and small tensors).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    /// The row-major offset of a multi-dimensional index.
    public func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var offset = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "index \(index) out of range for shape \(shape)")
            offset = offset * n + i
        }
        return offset
    }

    /// The same elements with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    /// The flat index and the value of the first NaN or infinity, if any.
    ///
    /// The kernels treat non-finite values differently (oneDNN's max-pool and ReLU drop NaN,
    /// the reference kernels keep it), so a NaN must be refused where it enters rather than be
    /// allowed to give different answers on different paths.
    public func firstNonFinite() -> (index: Int, value: Float)? {
        storage.withUnsafeBufferPointer { buffer in
            guard Tensor.hasNonFinite(buffer) else { return nil }
            for (i, v) in buffer.enumerated() where !v.isFinite { return (i, v) }
            return nil
        }
    }

    /// Whether any value is NaN or infinite, in one vectorised pass: a float is not finite
    /// exactly when its exponent bits are all ones, so the largest `bits & 0x7fffffff` tells.
    /// Every forward checks its input (ScoreCAM's thousands of masked images included), so
    /// this must cost next to nothing (a floating-point sum does not vectorise).
    static func hasNonFinite(_ buffer: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = buffer.baseAddress else { return false }
        let count = buffer.count
        let mask = SIMD16<UInt32>(repeating: 0x7fff_ffff)
        var largest = SIMD16<UInt32>(repeating: 0)
        var i = 0
        let raw = UnsafeRawPointer(base)
        while i + 16 <= count {
            let bits = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<UInt32>.self)
            largest = pointwiseMax(largest, bits & mask)
            i += 16
        }
        var tail: UInt32 = largest.max()
        while i < count {
            tail = Swift.max(tail, base[i].bitPattern & 0x7fff_ffff)
            i += 1
        }
        return tail >= 0x7f80_0000
    }

    /// Describes how many values are NaN or infinite and where the first is, for messages.
    public func nonFiniteSummary() -> String? {
        guard let first = firstNonFinite() else { return nil }
        var nan = 0, infinite = 0
        for v in storage where !v.isFinite { if v.isNaN { nan += 1 } else { infinite += 1 } }
        var index = first.index
        var position: [Int] = []
        for extent in shape.reversed() {
            position.append(extent > 0 ? index % extent : 0)
            index /= Swift.max(extent, 1)
        }
        let parts = [nan > 0 ? "\(nan) NaN" : nil, infinite > 0 ? "\(infinite) infinite" : nil].compactMap { $0 }
        return parts.joined(separator: " and ") + " value\(nan + infinite == 1 ? "" : "s"), the first at ["
            + position.reversed().map(String.init).joined(separator: ", ") + "]"
    }

    /// Calls `body` with a pointer to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the elements.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// The `index`-th slice along the first dimension (image `index` of a batch).
    public func slice(_ index: Int) -> Tensor {
        precondition(rank >= 1 && index >= 0 && index < shape[0], "slice \(index) of shape \(shape)")
        let inner = Array(shape.dropFirst())
        let size = inner.reduce(1, *)
        return Tensor(shape: inner, storage: Array(storage[(index * size)..<((index + 1) * size)]))
    }

    /// Stacks tensors of equal shape along a new first dimension.
    public static func stack(_ tensors: [Tensor]) -> Tensor {
        guard let first = tensors.first else { return Tensor(shape: [0]) }
        precondition(tensors.allSatisfy { $0.shape == first.shape }, "stack of unequal shapes")
        var storage = [Float]()
        storage.reserveCapacity(first.count * tensors.count)
        for t in tensors { storage.append(contentsOf: t.storage) }
        return Tensor(shape: [tensors.count] + first.shape, storage: storage)
    }

    /// Concatenates tensors along the first dimension (their other dimensions must agree).
    public static func concatenate(_ tensors: [Tensor]) -> Tensor {
        guard let first = tensors.first else { return Tensor(shape: [0]) }
        let inner = Array(first.shape.dropFirst())
        precondition(tensors.allSatisfy { Array($0.shape.dropFirst()) == inner }, "concatenate of unequal shapes")
        var storage = [Float]()
        storage.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        for t in tensors { storage.append(contentsOf: t.storage) }
        return Tensor(shape: [tensors.reduce(0) { $0 + $1.shape[0] }] + inner, storage: storage)
    }

    /// The smallest element (`nan` for an empty tensor).
    public var min: Float { storage.min() ?? .nan }
    /// The largest element (`nan` for an empty tensor).
    public var max: Float { storage.max() ?? .nan }
    /// The arithmetic mean of the elements, accumulated in Double.
    public var mean: Float {
        guard count > 0 else { return .nan }
        return Float(storage.reduce(0.0) { $0 + Double($1) } / Double(count))
    }
    /// The sum of the elements, accumulated in Double.
    public var sum: Float { Float(storage.reduce(0.0) { $0 + Double($1) }) }

    /// The index of the largest element (the first one on ties, as numpy's argmax).
    public var argmax: Int {
        var best = 0
        for i in 1..<Swift.max(count, 1) where storage[i] > storage[best] { best = i }
        return best
    }

    /// Applies `transform` to every element.
    public func map(_ transform: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, storage: storage.map(transform))
    }

    /// The largest absolute element-wise difference to `other` (shapes must match).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        precondition(shape == other.shape, "shapes \(shape) and \(other.shape) differ")
        var worst: Float = 0
        for i in 0..<count { worst = Swift.max(worst, abs(storage[i] - other.storage[i])) }
        return worst
    }
}

extension Tensor: CustomStringConvertible {
    /// A one-line summary: shape and statistics.
    public var description: String {
        let dims = shape.map(String.init).joined(separator: "×")
        guard count > 0 else { return "tensor \(dims) (empty)" }
        return "tensor \(dims) min \(min) max \(max) mean \(mean)"
    }
}
