import Foundation

/// Numpy's broadcasting rule (ONNX's multidirectional broadcasting) and element-wise loops
/// over broadcast operands.
///
/// The loops walk the result in row-major order in runs along the innermost dimension that
/// the operands' layouts allow (see `StridedLoop`): equal shapes are one run, a per-channel or
/// trailing operand gives runs of a plane or a row, so that the work per element is a load, the
/// operation and a store, with no index arithmetic.
enum Broadcast {
    /// The shape both shapes broadcast to, or an error naming them.
    static func shape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        if a == b { return a }
        let rank = Swift.max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard x == y || x == 1 || y == 1 else {
                throw RuntimeError("cannot broadcast \(Network.describe(a)) and \(Network.describe(b))")
            }
            result[i] = x == 1 ? y : x
        }
        return result
    }

    /// The shape all `shapes` broadcast to.
    static func shape(_ shapes: [[Int]]) throws -> [Int] {
        guard var result = shapes.first else { return [] }
        for next in shapes.dropFirst() { result = try shape(result, next) }
        return result
    }

    /// The strides with which an operand of shape `operand` is read at the indices of the
    /// broadcast shape `shape` (aligned to the right, 0 along broadcast axes).
    static func strides(of operand: [Int], in shape: [Int]) -> [Int] {
        let own = Arguments.strides(operand)
        let lead = shape.count - operand.count
        return shape.indices.map { i in
            i < lead || operand[i - lead] == 1 ? 0 : own[i - lead]
        }
    }

    /// `f(a, b)` element-wise with broadcasting.
    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) throws -> Tensor {
        let shape = try Broadcast.shape(a.shape, b.shape)
        try Arguments.elementCount(shape)
        return a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                Tensor(shape: shape) { out in
                    guard let o = out.baseAddress, let x = ab.baseAddress, let y = bb.baseAddress else { return }
                    let count = out.count
                    // A count equal to the result's means the same layout (dimensions are 1 or the result's).
                    if ab.count == count && bb.count == count {
                        for i in 0..<count { o[i] = f(x[i], y[i]) }
                    } else if bb.count == 1 && ab.count == count {
                        let v = y[0]
                        for i in 0..<count { o[i] = f(x[i], v) }
                    } else if ab.count == 1 && bb.count == count {
                        let v = x[0]
                        for i in 0..<count { o[i] = f(v, y[i]) }
                    } else {
                        let loop = StridedLoop(shape: shape, strides: [strides(of: a.shape, in: shape),
                                                                       strides(of: b.shape, in: shape)])
                        let n = loop.innerCount, sa = loop.innerStride(0), sb = loop.innerStride(1)
                        var start = 0
                        loop.forEachRun { offsets in
                            let pa = x + offsets[0], pb = y + offsets[1], po = o + start
                            if sa == 1 && sb == 1 {
                                for j in 0..<n { po[j] = f(pa[j], pb[j]) }
                            } else if sa == 1 && sb == 0 {
                                let v = pb[0]
                                for j in 0..<n { po[j] = f(pa[j], v) }
                            } else if sa == 0 && sb == 1 {
                                let v = pa[0]
                                for j in 0..<n { po[j] = f(v, pb[j]) }
                            } else {
                                for j in 0..<n { po[j] = f(pa[j * sa], pb[j * sb]) }
                            }
                            start += n
                        }
                    }
                }
            }
        }
    }

    /// `f(a, b, c)` element-wise with broadcasting (Where, and gradients that need the
    /// output's gradient and both operands).
    @inline(__always)
    static func map(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) throws -> Tensor {
        let shape = try Broadcast.shape([a.shape, b.shape, c.shape])
        try Arguments.elementCount(shape)
        return a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                c.withUnsafeBufferPointer { cb in
                    Tensor(shape: shape) { out in
                        guard let o = out.baseAddress, let x = ab.baseAddress, let y = bb.baseAddress,
                              let z = cb.baseAddress else { return }
                        let count = out.count
                        if ab.count == count && bb.count == count && cb.count == count {
                            for i in 0..<count { o[i] = f(x[i], y[i], z[i]) }
                            return
                        }
                        let loop = StridedLoop(shape: shape, strides: [strides(of: a.shape, in: shape),
                                                                       strides(of: b.shape, in: shape),
                                                                       strides(of: c.shape, in: shape)])
                        let n = loop.innerCount
                        let sa = loop.innerStride(0), sb = loop.innerStride(1), sc = loop.innerStride(2)
                        var start = 0
                        loop.forEachRun { offsets in
                            let pa = x + offsets[0], pb = y + offsets[1], pc = z + offsets[2], po = o + start
                            if sa == 1 && sb == 1 && sc == 1 {
                                for j in 0..<n { po[j] = f(pa[j], pb[j], pc[j]) }
                            } else {
                                for j in 0..<n { po[j] = f(pa[j * sa], pb[j * sb], pc[j * sc]) }
                            }
                            start += n
                        }
                    }
                }
            }
        }
    }

    /// `tensor` repeated along broadcast axes to `shape` (which it must broadcast to).
    static func expand(_ tensor: Tensor, to shape: [Int]) throws -> Tensor {
        if tensor.shape == shape { return tensor }
        guard try Broadcast.shape(tensor.shape, shape) == shape else {
            throw RuntimeError("cannot broadcast \(Network.describe(tensor.shape)) to \(Network.describe(shape))")
        }
        try Arguments.elementCount(shape)
        return tensor.withUnsafeBufferPointer { source in
            Tensor(shape: shape) { out in
                guard let o = out.baseAddress, let s = source.baseAddress else { return }
                StridedLoop.copy(shape: shape, from: s, strides(of: tensor.shape, in: shape),
                                 to: o, Arguments.strides(shape))
            }
        }
    }

    /// The gradient of a broadcast operand of shape `shape`: `gradient` summed over the axes
    /// along which the operand was broadcast.
    static func reduce(_ gradient: Tensor, to shape: [Int]) throws -> Tensor {
        if gradient.shape == shape { return gradient }
        guard (try? Broadcast.shape(shape, gradient.shape)) == gradient.shape else {
            throw RuntimeError("cannot sum a gradient of shape \(Network.describe(gradient.shape)) "
                               + "to shape \(Network.describe(shape))")
        }
        var result = Tensor(shape: shape)
        let loop = StridedLoop(shape: gradient.shape, strides: [Arguments.strides(gradient.shape),
                                                                strides(of: shape, in: gradient.shape)])
        let n = loop.innerCount, sr = loop.innerStride(1)
        result.withUnsafeMutableBufferPointer { r in
            gradient.withUnsafeBufferPointer { g in
                guard let rp = r.baseAddress, let gp = g.baseAddress else { return }
                loop.forEachRun { offsets in
                    let pg = gp + offsets[0], pr = rp + offsets[1]
                    if sr == 0 {
                        var sum: Float = 0
                        for j in 0..<n { sum += pg[j] }
                        pr[0] += sum
                    } else if sr == 1 {
                        for j in 0..<n { pr[j] += pg[j] }
                    } else {
                        for j in 0..<n { pr[j * sr] += pg[j] }
                    }
                }
            }
        }
        return result
    }
}

/// A walk over the indices of a shape in row-major order that follows several strided
/// operands at once (broadcast operands with stride 0, a transposed or sliced view).
///
/// Dimensions of size 1 are dropped and neighbouring dimensions that every operand walks
/// contiguously are merged, so the walk is a few nested runs: the body gets each run's starting
/// offsets and does the innermost loop itself, with `innerCount` and `innerStride(_:)`.
struct StridedLoop {
    /// The merged dimensions, outermost first (at least one).
    private(set) var dims: [Int] = []
    /// Per operand, the strides of `dims`.
    private(set) var strides: [[Int]]
    /// The number of indices walked.
    let count: Int

    /// A walk over `shape`, with operand `k` at `strides[k][axis]` per step along `axis`.
    init(shape: [Int], strides operandStrides: [[Int]]) {
        count = shape.reduce(1, *)
        strides = [[Int]](repeating: [], count: operandStrides.count)
        for axis in shape.indices where shape[axis] != 1 {
            let extent = shape[axis]
            if let last = dims.indices.last,
               operandStrides.indices.allSatisfy({ strides[$0][last] == operandStrides[$0][axis] * extent }) {
                dims[last] *= extent
                for k in strides.indices { strides[k][last] = operandStrides[k][axis] }
            } else {
                dims.append(extent)
                for k in strides.indices { strides[k].append(operandStrides[k][axis]) }
            }
        }
        if dims.isEmpty {
            dims = [1]
            for k in strides.indices { strides[k] = [0] }
        }
    }

    /// The length of each run.
    var innerCount: Int { dims[dims.count - 1] }

    /// Operand `k`'s step within a run.
    func innerStride(_ k: Int) -> Int { strides[k][dims.count - 1] }

    /// Calls `body` with the operands' offsets (plus `bases`) at the start of each run, in order.
    @inline(__always)
    func forEachRun(bases: [Int] = [], _ body: (UnsafePointer<Int>) -> Void) {
        guard count > 0 else { return }
        let operands = strides.count, outer = dims.count - 1
        var offsets = [Int](repeating: 0, count: Swift.max(operands, 1))
        for (k, base) in bases.enumerated() where k < operands { offsets[k] = base }
        var counter = [Int](repeating: 0, count: Swift.max(outer, 1))
        // Strides by dimension, then operand: one table for the odometer.
        var table = [Int](repeating: 0, count: Swift.max(outer * operands, 1))
        for d in 0..<outer {
            for k in 0..<operands { table[d * operands + k] = strides[k][d] }
        }
        let runs = count / innerCount
        offsets.withUnsafeMutableBufferPointer { off in
            counter.withUnsafeMutableBufferPointer { ctr in
                guard let o = off.baseAddress else { return }
                for _ in 0..<runs {
                    body(o)
                    var d = outer - 1
                    while d >= 0 {
                        ctr[d] += 1
                        for k in 0..<operands { o[k] += table[d * operands + k] }
                        if ctr[d] < dims[d] { break }
                        for k in 0..<operands { o[k] -= table[d * operands + k] * dims[d] }
                        ctr[d] = 0
                        d -= 1
                    }
                }
            }
        }
    }

    /// Copies the elements of a strided view of `shape` into another strided view.
    static func copy(shape: [Int], from source: UnsafePointer<Float>, _ sourceStrides: [Int],
                     to destination: UnsafeMutablePointer<Float>, _ destinationStrides: [Int],
                     sourceBase: Int = 0, destinationBase: Int = 0) {
        let loop = StridedLoop(shape: shape, strides: [destinationStrides, sourceStrides])
        let n = loop.innerCount, sd = loop.innerStride(0), ss = loop.innerStride(1)
        loop.forEachRun(bases: [destinationBase, sourceBase]) { offsets in
            let d = destination + offsets[0], s = source + offsets[1]
            if sd == 1 && ss == 1 {
                d.update(from: s, count: n)
            } else if sd == 1 && ss == 0 {
                d.update(repeating: s[0], count: n)
            } else {
                for j in 0..<n { d[j * sd] = s[j * ss] }
            }
        }
    }
}
