import Foundation

/// numpy's legacy random generator (`numpy.random.RandomState`, MT19937), reproduced bit for bit
/// for what CAMScript needs: seeding with an integer, `uniform(low, high)` and `standard_normal()`.
///
/// RandomCAM is "seeded" in this sense: `RandomCAM(seed: s)` draws the same weights as
/// `np.random.seed(s)` followed by pytorch-grad-cam's `RandomCAM`.
public struct NumpyRandomState: Sendable {
    private var key = [UInt32](repeating: 0, count: 624)
    private var position = 624
    private var keptNormal: Double?

    /// Seeds like `numpy.random.RandomState(seed)` (`init_genrand`).
    public init(seed: UInt32) {
        var s = seed
        for i in 0..<624 {
            key[i] = s
            s = 1_812_433_253 &* (s ^ (s >> 30)) &+ UInt32(i + 1)
        }
        position = 624
    }

    /// The next 32-bit output of MT19937.
    public mutating func nextUInt32() -> UInt32 {
        if position == 624 { regenerate() }
        var y = key[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// A double in [0, 1) with 53 random bits (`random_sample`).
    public mutating func nextDouble() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// A draw from `uniform(low, high)`: `low + (high − low) · random_sample()`.
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * nextDouble()
    }

    /// A draw from the standard normal distribution as `standard_normal()` makes it (the legacy
    /// polar Box–Muller method, which draws pairs and keeps the second for the next call).
    public mutating func standardNormal() -> Double {
        if let kept = keptNormal {
            keptNormal = nil
            return kept
        }
        while true {
            let x1 = 2 * nextDouble() - 1, x2 = 2 * nextDouble() - 1
            let r2 = x1 * x1 + x2 * x2
            guard r2 < 1, r2 != 0 else { continue }
            let f = (-2 * log(r2) / r2).squareRoot()
            keptNormal = f * x1
            return f * x2
        }
    }

    private mutating func regenerate() {
        for i in 0..<624 {
            let y = (key[i] & 0x8000_0000) | (key[(i + 1) % 624] & 0x7fff_ffff)
            key[i] = key[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_b0df : 0)
        }
        position = 0
    }
}
