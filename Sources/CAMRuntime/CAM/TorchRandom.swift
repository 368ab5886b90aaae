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
        var stream = NormalStream(total: count, mean: mean, std: std)
        return stream.next(count, from: &self)
    }

    /// One Box–Muller block: 16 uniforms in, 16 normals out (ATen's `normal_fill_16`).
    static func boxMuller(_ u: [Float], mean: Float, std: Float) -> [Float] {
        var out = u
        for j in 0..<8 {
            let u1 = 1 - u[j], u2 = u[j + 8]
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            let theta = Float(2 * Double.pi * Double(u2))
            out[j] = radius * Foundation.cos(theta) * std + mean
            out[j + 8] = radius * Foundation.sin(theta) * std + mean
        }
        return out
    }

    /// A tensor of `total` normals drawn piece by piece, equal to one `normal(count: total)`, so
    /// that a large noise tensor (SS-CAM's, channels × pixels) need not be held at once.
    public struct NormalStream: Sendable {
        let total: Int
        let mean: Float
        let std: Float
        private var blocks = 0
        private var buffer: [Float] = []
        private var finished = false

        /// A stream of `total` values.
        public init(total: Int, mean: Float = 0, std: Float = 1) {
            self.total = total
            self.mean = mean
            self.std = std
        }

        /// The next `count` values (fewer when the tensor ends).
        public mutating func next(_ count: Int, from generator: inout TorchRandom) -> [Float] {
            while buffer.count < count && !finished { produce(&generator) }
            let n = Swift.min(count, buffer.count)
            let out = Array(buffer.prefix(n))
            buffer.removeFirst(n)
            return out
        }

        private mutating func produce(_ generator: inout TorchRandom) {
            let n = Swift.max(total, 16), full = n / 16, remainder = n % 16
            guard blocks < full else { finished = true; return }
            let u = (0..<16).map { _ in generator.uniformFloat() }
            buffer += TorchRandom.boxMuller(u, mean: mean, std: std)
            blocks += 1
            if blocks == full {
                if remainder != 0 {
                    // The uniforms of the last `remainder` positions are drawn and unused; 16 new
                    // ones make the last 16 values, replacing the end of the last full block.
                    for _ in 0..<remainder { _ = generator.uniformFloat() }
                    let tail = (0..<16).map { _ in generator.uniformFloat() }
                    buffer.removeLast(16 - remainder)
                    buffer += TorchRandom.boxMuller(tail, mean: mean, std: std)
                }
                if total < 16 { buffer.removeLast(16 - total) }
                finished = true
            }
        }
    }
}
