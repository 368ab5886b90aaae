import Foundation

/// PyTorch's CPU generator as `torch.manual_seed(seed)` leaves it, reproduced for what CAMScript
/// needs: float32 normal draws as `torch.randn` / `torch.normal` fill a tensor.
///
/// The engine is MT19937 seeded like numpy's legacy `RandomState(seed)`; a float in [0, 1) takes
/// the low 24 bits of one 32-bit output; a tensor of n ≥ 16 normals first draws n such floats,
/// turns each block of 16 into 16 normals by Box–Muller (`1 − u` of the first eight for the
/// radius, the last eight for the angle), and when 16 does not divide n redraws 16 floats for
/// the last 16 values (ATen's `normal_fill`). The values equal PyTorch's to a float32 ulp (its
/// AVX2 path uses SLEEF's log, sin and cos). So SmoothGrad, SS-CAM and SmoothGrad-CAM++ with
/// `seed=s` draw the noise Captum's and TorchCAM's references draw after `torch.manual_seed(s)`.
public struct TorchRandom: Sendable {
    private var engine: NumpyRandomState

    /// The state after `torch.manual_seed(seed)`.
    public init(seed: UInt32) { engine = NumpyRandomState(seed: seed) }

    /// A float in [0, 1) from 24 random bits (`at::uniform_real_distribution<float>`).
    mutating func uniformFloat() -> Float {
        Float(engine.nextUInt32() & 0xFF_FFFF) * 0x1p-24
    }

    /// `count` draws from N(mean, std²), in the order PyTorch fills a contiguous float tensor of
    /// that many elements. Fewer than 16 values are drawn the same way from a block of 16 (PyTorch
    /// then takes another path; such tensors are never image-sized).
    public mutating func normal(count: Int, mean: Float = 0, std: Float = 1) -> [Float] {
        guard count > 0 else { return [] }
        let n = Swift.max(count, 16)
        var data = (0..<n).map { _ in uniformFloat() }
        func fill(_ start: Int) {
            for j in 0..<8 {
                let u1 = 1 - data[start + j], u2 = data[start + j + 8]
                let radius = (-2 * Foundation.log(u1)).squareRoot()
                let theta = Float(2 * Double.pi * Double(u2))
                data[start + j] = radius * Foundation.cos(theta) * std + mean
                data[start + j + 8] = radius * Foundation.sin(theta) * std + mean
            }
        }
        var start = 0
        while start + 16 <= n {
            fill(start)
            start += 16
        }
        if n % 16 != 0 {
            for i in (n - 16)..<n { data[i] = uniformFloat() }
            fill(n - 16)
        }
        return Array(data.prefix(count))
    }
}
