import Foundation

/// ONNX Gemm: Y = α·op(A)·op(B) + β·C, with A and B matrices (transposed first when `transA`,
/// `transB` say) and the optional C broadcasting to the [M, N] result (a bias row, a column,
/// a scalar): what PyTorch exports for `nn.Linear` on [N, features].
final class Gemm: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affineInEach }

    let alpha: Float
    let beta: Float
    let transA: Bool
    let transB: Bool

    init(alpha: Float = 1, beta: Float = 1, transA: Bool = false, transB: Bool = false) {
        self.alpha = alpha
        self.beta = beta
        self.transA = transA
        self.transB = transB
    }

    /// M, K, N of the product, or an error naming the shapes.
    private func dimensions(_ a: [Int], _ b: [Int]) throws -> (m: Int, k: Int, n: Int) {
        guard a.count == 2, b.count == 2 else {
            throw RuntimeError("Gemm expects two matrices, found \(Network.describe(a)) and \(Network.describe(b))")
        }
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (k2, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == k2 else {
            throw RuntimeError("cannot multiply \(Network.describe(a))\(transA ? "ᵀ" : "") by "
                               + "\(Network.describe(b))\(transB ? "ᵀ" : ""): \(k) columns against \(k2) rows")
        }
        return (m, k, n)
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...3, "A, B, C")
        let (a, b) = (inputs[0], inputs[1])
        let (m, k, n) = try dimensions(a.shape, b.shape)
        try Arguments.elementCount([m, n])
        var output: Tensor
        var accumulate: Float = 0
        if inputs.count == 3 {
            let c = inputs[2]
            guard (try? Broadcast.shape(c.shape, [m, n])) == [m, n] else {
                throw RuntimeError("expected C broadcasting to the result [\(m), \(n)], found \(Network.describe(c.shape))")
            }
            output = try Broadcast.expand(c, to: [m, n])
            accumulate = beta
        } else {
            output = Tensor(shape: [m, n])
        }
        let (lda, ldb) = (a.shape[1], b.shape[1])
        let (alpha, transA, transB) = (self.alpha, self.transA, self.transB)
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                output.withUnsafeMutableBufferPointer { ob in
                    guard let x = ab.baseAddress, let y = bb.baseAddress, let o = ob.baseAddress else { return }
                    MatrixProduct.multiply(transposeA: transA, transposeB: transB, m: m, n: n, k: k, alpha: alpha,
                                           x, lda: lda, y, ldb: ldb, beta: accumulate, o, ldc: n)
                }
            }
        }
        if step.retain {
            step.saved.tensors = [a, b]
            step.saved.shapes = inputs.count == 3 ? [inputs[2].shape] : []
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.tensors.count == 2, step.needs.count >= 2 else { throw unmatchedBackward }
        let (a, b) = (saved.tensors[0], saved.tensors[1])
        let (m, k, n) = try dimensions(a.shape, b.shape)
        guard gradient.shape == [m, n] else { throw unmatchedBackward }
        let (lda, ldb) = (a.shape[1], b.shape[1])
        let (alpha, transA, transB) = (self.alpha, self.transA, self.transB)
        var ga = step.needs[0] ? Tensor(shape: a.shape) : nil
        var gb = step.needs[1] ? Tensor(shape: b.shape) : nil
        gradient.withUnsafeBufferPointer { gbuf in
            a.withUnsafeBufferPointer { ab in
                b.withUnsafeBufferPointer { bb in
                    guard let g = gbuf.baseAddress, let x = ab.baseAddress, let y = bb.baseAddress else { return }
                    ga?.withUnsafeMutableBufferPointer { out in
                        guard let o = out.baseAddress else { return }
                        if transA {
                            // A is [K, M]: dA = α·op(B)·dYᵀ.
                            MatrixProduct.multiply(transposeA: transB, transposeB: true, m: k, n: m, k: n, alpha: alpha,
                                                   y, lda: ldb, g, ldb: n, beta: 0, o, ldc: m)
                        } else {
                            // A is [M, K]: dA = α·dY·op(B)ᵀ.
                            MatrixProduct.multiply(transposeA: false, transposeB: !transB, m: m, n: k, k: n, alpha: alpha,
                                                   g, lda: n, y, ldb: ldb, beta: 0, o, ldc: k)
                        }
                    }
                    gb?.withUnsafeMutableBufferPointer { out in
                        guard let o = out.baseAddress else { return }
                        if transB {
                            // B is [N, K]: dB = α·dYᵀ·op(A).
                            MatrixProduct.multiply(transposeA: true, transposeB: transA, m: n, n: k, k: m, alpha: alpha,
                                                   g, lda: n, x, ldb: lda, beta: 0, o, ldc: k)
                        } else {
                            // B is [K, N]: dB = α·op(A)ᵀ·dY.
                            MatrixProduct.multiply(transposeA: !transA, transposeB: false, m: k, n: n, k: m, alpha: alpha,
                                                   x, lda: lda, g, ldb: n, beta: 0, o, ldc: n)
                        }
                    }
                }
            }
        }
        var result: [Tensor?] = [ga, gb]
        if step.needs.count == 3 {
            guard saved.shapes.count == 1 else { throw unmatchedBackward }
            let beta = self.beta
            result.append(step.needs[2] ? try Broadcast.reduce(gradient, to: saved.shapes[0]).map { beta * $0 } : nil)
        }
        return result
    }
}
