import COpenBLAS
import Foundation

/// Matrix products on row-major buffers through OpenBLAS.
enum MatrixProduct {
    /// C = α·op(A)·op(B) + β·C for an m×n C, where op transposes when asked; `lda`, `ldb`, `ldc`
    /// are the row lengths of the stored matrices. Empty products leave β·C.
    static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                         _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                         beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m {
                for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
            }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(Swift.max(lda, 1)), b, Int32(Swift.max(ldb, 1)),
                    beta, c, Int32(Swift.max(ldc, 1)))
    }
}

/// ONNX MatMul with numpy's semantics (`torch.matmul`): the last two axes multiply as
/// matrices, the others are batch axes that broadcast; a 1-D first operand is a row and a 1-D
/// second a column, and that axis is dropped from the result.
///
/// One `cblas_sgemm` per batch element, or one for the whole batch when the second operand has
/// no batch (a linear layer on [N, tokens, features]: ViT's 197 tokens in one product).
///
/// With `addsBias`, a third input [m] is added to every row of the result, in the product itself
/// (the output starts as the bias and the product accumulates onto it): the importer's rewrite of
/// an exported linear layer's MatMul + Add, which saves a broadcasting pass over the result.
final class MatMul: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affineInEach }

    let addsBias: Bool

    init(addsBias: Bool = false) {
        self.addsBias = addsBias
    }

    override var kind: String { addsBias ? "MatMul+Add" : "MatMul" }

    /// The shapes of a product: the operands as matrices with batch axes, and the result.
    private struct Plan {
        var a: [Int], b: [Int], batch: [Int], output: [Int]
        var n: Int { a[a.count - 2] }
        var k: Int { a[a.count - 1] }
        var m: Int { b[b.count - 1] }
        var aBatch: [Int] { Array(a.dropLast(2)) }
        var bBatch: [Int] { Array(b.dropLast(2)) }
        var batchCount: Int { batch.reduce(1, *) }
    }

    private func plan(_ a: [Int], _ b: [Int]) throws -> Plan {
        guard !a.isEmpty, !b.isEmpty else {
            throw RuntimeError("MatMul expects operands of rank 1 or more, found \(Network.describe(a)) "
                               + "and \(Network.describe(b))")
        }
        let a2 = a.count == 1 ? [1] + a : a
        let b2 = b.count == 1 ? b + [1] : b
        guard a2[a2.count - 1] == b2[b2.count - 2] else {
            throw RuntimeError("cannot multiply \(Network.describe(a)) by \(Network.describe(b)): "
                               + "\(a2[a2.count - 1]) columns against \(b2[b2.count - 2]) rows")
        }
        let batch: [Int]
        do {
            batch = try Broadcast.shape(Array(a2.dropLast(2)), Array(b2.dropLast(2)))
        } catch {
            throw RuntimeError("cannot multiply \(Network.describe(a)) by \(Network.describe(b)): "
                               + "the batch axes do not broadcast")
        }
        var output = batch
        if a.count > 1 { output.append(a2[a2.count - 2]) }
        if b.count > 1 { output.append(b2[b2.count - 1]) }
        try Arguments.elementCount(output)
        return Plan(a: a2, b: b2, batch: batch, output: output)
    }

    /// The matrix offsets of A and B for each batch element of the result, in order.
    private func batchPairs(_ p: Plan) -> [(a: Int, b: Int)] {
        let loop = StridedLoop(shape: p.batch, strides: [Broadcast.strides(of: p.aBatch, in: p.batch),
                                                         Broadcast.strides(of: p.bBatch, in: p.batch)])
        let n = loop.innerCount, sa = loop.innerStride(0), sb = loop.innerStride(1)
        var pairs: [(a: Int, b: Int)] = []
        pairs.reserveCapacity(p.batchCount)
        loop.forEachRun { offsets in
            for j in 0..<n { pairs.append((offsets[0] + j * sa, offsets[1] + j * sb)) }
        }
        return pairs
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        if addsBias { try checkInputCount(inputs, 3...3, "A, B, bias") } else { try checkInputCount(inputs, 2...2, "A, B") }
        let (a, b) = (inputs[0], inputs[1])
        let p = try plan(a.shape, b.shape)
        let (n, k, m) = (p.n, p.k, p.m)
        var output = Tensor(shape: p.output)
        let beta: Float = addsBias ? 1 : 0
        if addsBias {
            let bias = inputs[2]
            guard bias.shape.last == m, bias.shape.dropLast().allSatisfy({ $0 == 1 }), bias.shape.count <= p.output.count,
                  b.shape.count > 1 else {
                throw RuntimeError("expected a bias of \(m) values for the product's \(m) columns, "
                                   + "found \(Network.describe(bias.shape))")
            }
            bias.withUnsafeBufferPointer { bb in
                output.withUnsafeMutableBufferPointer { ob in
                    guard let source = bb.baseAddress, let o = ob.baseAddress else { return }
                    for row in 0..<(ob.count / m) { (o + row * m).update(from: source, count: m) }
                }
            }
        }
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                output.withUnsafeMutableBufferPointer { ob in
                    guard let x = ab.baseAddress, let y = bb.baseAddress, let o = ob.baseAddress else { return }
                    if p.bBatch.reduce(1, *) == 1 && p.aBatch.reduce(1, *) == p.batchCount {
                        MatrixProduct.multiply(transposeA: false, transposeB: false, m: p.batchCount * n, n: m, k: k,
                                               x, lda: k, y, ldb: m, beta: beta, o, ldc: m)
                        return
                    }
                    for (i, pair) in batchPairs(p).enumerated() {
                        MatrixProduct.multiply(transposeA: false, transposeB: false, m: n, n: m, k: k,
                                               x + pair.a * n * k, lda: k, y + pair.b * k * m, ldb: m,
                                               beta: beta, o + i * n * m, ldc: m)
                    }
                }
            }
        }
        if step.retain {
            step.saved.tensors = [a, b]
            if addsBias { step.saved.shapes = [inputs[2].shape] }
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.tensors.count == 2, step.needs.count == (addsBias ? 3 : 2) else { throw unmatchedBackward }
        let (a, b) = (saved.tensors[0], saved.tensors[1])
        let p = try plan(a.shape, b.shape)
        guard gradient.shape == p.output else { throw unmatchedBackward }
        let (n, k, m) = (p.n, p.k, p.m)
        let folded = p.bBatch.reduce(1, *) == 1 && p.aBatch.reduce(1, *) == p.batchCount
        let pairs = folded ? [] : batchPairs(p)
        var ga = step.needs[0] ? Tensor(shape: a.shape) : nil
        var gb = step.needs[1] ? Tensor(shape: b.shape) : nil
        gradient.withUnsafeBufferPointer { gbuf in
            a.withUnsafeBufferPointer { ab in
                b.withUnsafeBufferPointer { bb in
                    guard let g = gbuf.baseAddress, let x = ab.baseAddress, let y = bb.baseAddress else { return }
                    // dA = dC·Bᵀ, summed over the batch elements that share an A.
                    ga?.withUnsafeMutableBufferPointer { out in
                        guard let o = out.baseAddress else { return }
                        if folded {
                            MatrixProduct.multiply(transposeA: false, transposeB: true, m: p.batchCount * n, n: k, k: m,
                                                   g, lda: m, y, ldb: m, beta: 0, o, ldc: k)
                            return
                        }
                        for (i, pair) in pairs.enumerated() {
                            MatrixProduct.multiply(transposeA: false, transposeB: true, m: n, n: k, k: m,
                                                   g + i * n * m, lda: m, y + pair.b * k * m, ldb: m,
                                                   beta: 1, o + pair.a * n * k, ldc: k)
                        }
                    }
                    // dB = Aᵀ·dC, summed over the batch elements that share a B.
                    gb?.withUnsafeMutableBufferPointer { out in
                        guard let o = out.baseAddress else { return }
                        if folded {
                            MatrixProduct.multiply(transposeA: true, transposeB: false, m: k, n: m, k: p.batchCount * n,
                                                   x, lda: k, g, ldb: m, beta: 0, o, ldc: m)
                            return
                        }
                        for (i, pair) in pairs.enumerated() {
                            MatrixProduct.multiply(transposeA: true, transposeB: false, m: k, n: m, k: n,
                                                   x + pair.a * n * k, lda: k, g + i * n * m, ldb: m,
                                                   beta: 1, o + pair.b * k * m, ldc: m)
                        }
                    }
                }
            }
        }
        guard addsBias else { return [ga, gb] }
        // The bias's gradient: the result's gradient summed over its rows.
        guard let biasShape = saved.shapes.first else { throw unmatchedBackward }
        let gbias = step.needs[2] ? try Broadcast.reduce(gradient, to: biasShape) : nil
        return [ga, gb, gbias]
    }
}
