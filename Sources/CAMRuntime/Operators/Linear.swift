import COpenBLAS
import Foundation

/// A fully connected layer (`nn.Linear`): y = x Wᵀ + b, weight [out, in], bias [out].
final class Linear: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affineInEach }

    let inFeatures: Int
    let outFeatures: Int
    /// The weight once set (a checkpoint's, or random); nil until then.
    private var storedWeight: Tensor?
    /// The weight, `[out, in]`; zeros until set, without keeping them (see `Conv2d.weight`).
    var weight: Tensor { storedWeight ?? Tensor(shape: [outFeatures, inFeatures]) }
    private(set) var bias: Tensor
    /// The oneDNN primitive of the last inference batch size (cleared when a parameter changes).
    private var oneDNNProduct: OneDNNInnerProduct?

    init(inFeatures: Int, outFeatures: Int) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        bias = Tensor(shape: [outFeatures])
    }

    override var parameters: [String: Tensor] { ["weight": weight, "bias": bias] }

    override var parameterShapes: [String: [Int]] { ["weight": [outFeatures, inFeatures], "bias": bias.shape] }

    override func setParameter(_ name: String, _ value: Tensor) {
        if name == "weight" { storedWeight = value } else if name == "bias" { bias = value }
        oneDNNProduct = nil
    }

    /// Inference passes run on oneDNN too, so that OpenBLAS's threads stay asleep (its idle
    /// threads yield in a loop for a while after each call, taking CPU from oneDNN's).
    override func forwardOneDNN(_ inputs: [PassValue], _ engine: OneDNNEngine) throws -> PassValue? {
        let x = try inputs[0].tensor()
        try check(x)
        let product: OneDNNInnerProduct
        if let cached = oneDNNProduct, cached.engine === engine, cached.batch == x.shape[0] {
            product = cached
        } else {
            product = try OneDNNInnerProduct(batch: x.shape[0], weights: weight, bias: bias, engine: engine)
            oneDNNProduct = product
        }
        return .plain(try product.run(try OneDNNTensor(x, engine: engine)))
    }

    private func check(_ input: Tensor) throws {
        guard input.rank == 2, input.shape[1] == inFeatures else {
            throw RuntimeError("expected input [N, \(inFeatures)], found \(Network.describe(input.shape))")
        }
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        try check(input)
        let n = input.shape[0]
        var output = Tensor(shape: [n, outFeatures])
        for i in 0..<n {
            for o in 0..<outFeatures { output.storage[i * outFeatures + o] = bias.storage[o] }
        }
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(outFeatures), Int32(inFeatures),
                                1, x.baseAddress, Int32(inFeatures), w.baseAddress, Int32(inFeatures),
                                1, y.baseAddress, Int32(outFeatures))
                }
            }
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        let n = gradient.shape[0]
        var result = Tensor(shape: [n, inFeatures])
        gradient.withUnsafeBufferPointer { g in
            weight.withUnsafeBufferPointer { w in
                result.withUnsafeMutableBufferPointer { x in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(inFeatures), Int32(outFeatures),
                                1, g.baseAddress, Int32(outFeatures), w.baseAddress, Int32(inFeatures),
                                0, x.baseAddress, Int32(inFeatures))
                }
            }
        }
        return [result]
    }
}
