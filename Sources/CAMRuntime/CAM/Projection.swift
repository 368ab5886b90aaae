import COpenBLAS

/// The first principal component projection of pytorch-grad-cam's `get_2d_projection`, used by
/// EigenCAM, EigenGradCAM and `eigen_smooth`.
///
/// Per image, the `[C, h, w]` activations become the `(h·w) × C` matrix `M` (NaN → 0), each
/// channel is centred over the pixels, and the map is `M · v` where `v` is the first right
/// singular vector of `M`, computed with LAPACK's `?gesdd` (`jobz='A'`, as numpy's `linalg.svd`).
///
/// Sign rule: the map is negated when `|min| > |max|`, so its largest magnitude is positive
/// (the rule of pytorch-grad-cam's `get_2d_projection_with_sign_correction`). The reference
/// keeps whatever sign numpy's gesdd returns, but that sign is decided by rounding noise: the
/// centred columns sum to zero, a 1e-10 perturbation of `M` flips it about half the time, and
/// numpy's OpenBLAS 0.3.31, the system OpenBLAS 0.3.21 and Debian's LAPACK 3.11 disagree on it
/// for about half of random matrices (measured with tools/fixtures/gen_cam.py). A fixed rule is
/// the only reproducible choice; with it every map equals pytorch-grad-cam's whenever numpy's
/// sign happens to satisfy the rule, and the fixtures hold the rule-normalised reference too.
public enum Projection {
    /// The projection of each image of a `[B, C, h, w]` tensor, computed in float32 with `sgesdd`.
    public static func firstComponent(_ x: Tensor) throws -> Tensor {
        precondition(x.rank == 4, "projection needs [B, C, h, w], got \(x.shape)")
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = h * w, plane = c * m
        var out = [Float](repeating: 0, count: b * m)
        for image in 0..<b {
            // Column-major (h·w) × C is exactly the row-major [C, h·w] block.
            var a = [Float](x.storage[(image * plane)..<((image + 1) * plane)])
            for i in a.indices where a[i].isNaN { a[i] = 0 }
            for ch in 0..<c {
                var sum: Double = 0
                for p in 0..<m { sum += Double(a[ch * m + p]) }
                let mean = Float(sum / Double(m))
                for p in 0..<m { a[ch * m + p] -= mean }
            }
            let centred = a
            let v = try firstRightSingularVector(&a, rows: m, columns: c)
            var projection = (0..<m).map { p -> Float in
                var acc: Double = 0
                for ch in 0..<c { acc += Double(centred[ch * m + p]) * Double(v[ch]) }
                return Float(acc)
            }
            if let lo = projection.min(), let hi = projection.max(), abs(lo) > abs(hi) {
                projection = projection.map { -$0 }
            }
            for p in 0..<m { out[image * m + p] = projection[p] }
        }
        return Tensor(shape: [b, h, w], storage: out)
    }

    /// The projection in float64 with `dgesdd` (numpy promotes float64 weights, e.g. RandomCAM's).
    public static func firstComponent(_ x: [Double], shape: [Int]) throws -> [Double] {
        precondition(shape.count == 4 && x.count == shape.reduce(1, *), "projection needs [B, C, h, w]")
        let (b, c, m) = (shape[0], shape[1], shape[2] * shape[3])
        let plane = c * m
        var out = [Double](repeating: 0, count: b * m)
        for image in 0..<b {
            var a = [Double](x[(image * plane)..<((image + 1) * plane)])
            for i in a.indices where a[i].isNaN { a[i] = 0 }
            for ch in 0..<c {
                var sum: Double = 0
                for p in 0..<m { sum += a[ch * m + p] }
                let mean = sum / Double(m)
                for p in 0..<m { a[ch * m + p] -= mean }
            }
            let centred = a
            let k = Swift.min(m, c)
            var s = [Double](repeating: 0, count: k)
            var u = [Double](repeating: 0, count: m * m)
            var vt = [Double](repeating: 0, count: c * c)
            var iwork = [Int32](repeating: 0, count: 8 * k)
            var jobz = Int8(UInt8(ascii: "A"))
            var (rows, cols, lda, ldu, ldvt) = (Int32(m), Int32(c), Int32(m), Int32(m), Int32(c))
            var query = [Double](repeating: 0, count: 1)
            var lwork: Int32 = -1, info: Int32 = 0
            dgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info, 1)
            lwork = Int32(query[0])
            var work = [Double](repeating: 0, count: Swift.max(Int(lwork), 1))
            dgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info, 1)
            guard info == 0 else { throw RuntimeError("the singular value decomposition did not converge (dgesdd info \(info))") }
            var projection = (0..<m).map { p -> Double in
                var acc: Double = 0
                for ch in 0..<c { acc += centred[ch * m + p] * vt[ch * c] }
                return acc
            }
            if let lo = projection.min(), let hi = projection.max(), abs(lo) > abs(hi) {
                projection = projection.map { -$0 }
            }
            for p in 0..<m { out[image * m + p] = projection[p] }
        }
        return out
    }

    /// The first right singular vector of a column-major `rows × columns` matrix (destroyed).
    static func firstRightSingularVector(_ a: inout [Float], rows m: Int, columns n: Int) throws -> [Float] {
        let k = Swift.min(m, n)
        var s = [Float](repeating: 0, count: k)
        var u = [Float](repeating: 0, count: m * m)
        var vt = [Float](repeating: 0, count: n * n)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var jobz = Int8(UInt8(ascii: "A"))
        var (rows, cols, lda, ldu, ldvt) = (Int32(m), Int32(n), Int32(m), Int32(m), Int32(n))
        var query = [Float](repeating: 0, count: 1)
        var lwork: Int32 = -1, info: Int32 = 0
        sgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info, 1)
        lwork = Int32(query[0])
        var work = [Float](repeating: 0, count: Swift.max(Int(lwork), 1))
        sgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info, 1)
        guard info == 0 else { throw RuntimeError("the singular value decomposition did not converge (sgesdd info \(info))") }
        // Column-major n × n: VT[0, j] = vt[j * n].
        return (0..<n).map { vt[$0 * n] }
    }
}
