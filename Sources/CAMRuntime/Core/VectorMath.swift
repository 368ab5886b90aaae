import Foundation

/// exp and erf sixteen lanes at a time, for the element-wise operators of imported networks.
///
/// glibc's scalar `expf` and `erff` cost 5–8 ns an element here, and GELU's erf over ConvNeXt's or
/// ViT's 7–9 M activations was 55–70 ms of a forward (docs/performance.md). These are the usual
/// polynomial forms (Cephes' range-reduced exp; Abramowitz–Stegun 7.1.26 erf with a Taylor series
/// near 0, as oneDNN's and onnxruntime's GELU use) with plain multiplies and adds, so that the
/// baseline x86-64 target vectorises them without FMA calls. Accuracy, checked by
/// VectorMathTests against the double-precision functions: exp within 2 ulp over its normal
/// range, erf within 3e-7 absolute and 5e-7 relative (PyTorch's
/// own vectorised erf is the same Abramowitz–Stegun form).
public enum VectorMath {
    public typealias Vector = SIMD16<Float>

    /// e^x; 0 below −86.6 (where 2^n would leave the normal range), +∞ above 88.72, NaN kept.
    @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        let low: Float = -86.6, high: Float = 88.72
        // Compare-and-replace, not `clamped` or `pointwiseMin`: those compile to per-lane code
        // 50× slower here (Swift 6.3, baseline x86-64).
        var clamped = x.replacing(with: low, where: x .< low)
        clamped.replace(with: high, where: clamped .> high)
        // n = round(x / ln 2) by the 1.5·2^23 trick: the integer lands in the low mantissa bits.
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let y = p * (r * r) + r + 1
        // 2^(n−1)·2, so that n = 128 (x near 88.7) still scales within the exponent's range.
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
        let scale = unsafeBitCast((integer &+ 126) &<< 23, to: Vector.self)
        var result = y * scale * 2
        result.replace(with: 0, where: x .< low)
        result.replace(with: .infinity, where: x .> high)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// erf(x): the Taylor series for |x| < 0.8, Abramowitz–Stegun 7.1.26 beyond (1.5e-7
    /// absolute before rounding).
    @inline(__always)
    public static func erf(_ x: Vector) -> Vector {
        let a = x.replacing(with: -x, where: x .< 0)
        // Near 0: 2/√π · Σ (−1)ⁿ x²ⁿ⁺¹ / (n!(2n + 1)), n ≤ 8 (truncation < 3e-9 for |x| < 0.8).
        let s = x * x
        var t = Vector(repeating: 1.0 / 685_440)
        t = t * s - 1.0 / 75600
        t = t * s + 1.0 / 9360
        t = t * s - 1.0 / 1320
        t = t * s + 1.0 / 216
        t = t * s - 1.0 / 42
        t = t * s + 1.0 / 10
        t = t * s - 1.0 / 3
        t = t * s + 1
        let near = x * t * 1.128_379_167
        // Beyond: 1 − (a₁k + a₂k² + … + a₅k⁵)·e^(−x²), k = 1 / (1 + p|x|).
        let k = 1 / (a * 0.327_591_1 + 1)
        var q = Vector(repeating: 1.061_405_429)
        q = q * k - 1.453_152_027
        q = q * k + 1.421_413_741
        q = q * k - 0.284_496_736
        q = q * k + 0.254_829_592
        let far = 1 - q * k * exp(-s)
        var result = far.replacing(with: -far, where: x .< 0)
        result.replace(with: near, where: a .< 0.8)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// `f` of every element of `source` into `destination` (may be the same memory), sixteen at a
    /// time; the tail goes through one zero-padded vector.
    @inline(__always)
    public static func map(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                           count: Int, _ f: (Vector) -> Vector) {
        let lanes = Vector.scalarCount
        var i = 0
        while i + lanes <= count {
            let v = UnsafeRawPointer(source + i).loadUnaligned(as: Vector.self)
            UnsafeMutableRawPointer(destination + i).storeBytes(of: f(v), as: Vector.self)
            i += lanes
        }
        if i < count {
            var v = Vector()
            for j in 0..<(count - i) { v[j] = source[i + j] }
            let y = f(v)
            for j in 0..<(count - i) { destination[i + j] = y[j] }
        }
    }

    /// `f` of every pair of elements of `a` and `b` into `destination`, as `map`.
    @inline(__always)
    public static func map(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                           _ destination: UnsafeMutablePointer<Float>, count: Int,
                           _ f: (Vector, Vector) -> Vector) {
        let lanes = Vector.scalarCount
        var i = 0
        while i + lanes <= count {
            let u = UnsafeRawPointer(a + i).loadUnaligned(as: Vector.self)
            let v = UnsafeRawPointer(b + i).loadUnaligned(as: Vector.self)
            UnsafeMutableRawPointer(destination + i).storeBytes(of: f(u, v), as: Vector.self)
            i += lanes
        }
        if i < count {
            var u = Vector(), v = Vector()
            for j in 0..<(count - i) {
                u[j] = a[i + j]
                v[j] = b[i + j]
            }
            let y = f(u, v)
            for j in 0..<(count - i) { destination[i + j] = y[j] }
        }
    }

    /// How many threads a pass over `count` elements is split across: one below 64 K elements
    /// (a thread's start costs more than it saves), else up to the cores, at least 32 K each.
    static func parallelChunks(_ count: Int) -> Int {
        count < 1 << 16 ? 1 : Swift.max(1, Swift.min(ProcessInfo.processInfo.activeProcessorCount, count >> 15))
    }

    /// Runs `body(lower, upper)` on ranges of whole vectors that together cover `0..<count`, on
    /// the threads `parallelChunks` allows.
    private static func forEachChunk(_ count: Int, _ body: (Int, Int) -> Void) {
        let chunks = parallelChunks(count)
        guard chunks > 1 else { return body(0, count) }
        let lanes = Vector.scalarCount
        let perChunk = ((count + chunks - 1) / chunks + lanes - 1) / lanes * lanes
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let lower = chunk * perChunk, upper = Swift.min(count, lower + perChunk)
            if lower < upper { body(lower, upper) }
        }
    }

    /// `map` split over the cores for large arrays: the element-wise passes of imported networks
    /// (ConvNeXt's and ViT's GELU over 7–9 M activations, ~11 % of ConvNeXt's forward) otherwise
    /// run on one core while the other waits for the next product.
    public static func parallelMap(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                                   count: Int, _ f: (Vector) -> Vector) {
        forEachChunk(count) { lower, upper in
            map(source + lower, destination + lower, count: upper - lower, f)
        }
    }

    /// The two-operand `map` split over the cores, as `parallelMap(_:_:count:_:)`.
    public static func parallelMap(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                   _ destination: UnsafeMutablePointer<Float>, count: Int,
                                   _ f: (Vector, Vector) -> Vector) {
        forEachChunk(count) { lower, upper in
            map(a + lower, b + lower, destination + lower, count: upper - lower, f)
        }
    }

    /// e^(x − shift) of every element into `destination`, returning their sum (a softmax row).
    @inline(__always)
    public static func exponentials(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
                                    count: Int, shift: Float) -> Float {
        let lanes = Vector.scalarCount
        var total = Vector()
        var i = 0
        while i + lanes <= count {
            let v = exp(UnsafeRawPointer(source + i).loadUnaligned(as: Vector.self) - shift)
            UnsafeMutableRawPointer(destination + i).storeBytes(of: v, as: Vector.self)
            total += v
            i += lanes
        }
        var sum = total.sum()
        if i < count {
            var v = Vector(repeating: -.infinity)
            for j in 0..<(count - i) { v[j] = source[i + j] - shift }
            let y = exp(v)
            for j in 0..<(count - i) {
                destination[i + j] = y[j]
                sum += y[j]
            }
        }
        return sum
    }
}
