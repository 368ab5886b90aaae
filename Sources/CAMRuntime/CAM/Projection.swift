import COpenBLAS

/// The first principal component projection of pytorch-grad-cam's `get_2d_projection`, used by
/// EigenCAM, EigenGradCAM and `eigen_smooth`.
///
/// Per image, the `[C, h, w]` activations become the `(h·w) × C` matrix `M` (NaN → 0), each
/// channel is centred over the pixels, and the map is `M · v` where `v` is the first right
/// singular vector of `M`.
///
/// Sign rule: `v` is exactly what LAPACK's `?gesdd` returns for that matrix (the routine numpy's
/// `linalg.svd` calls; `sgesdd_` with `jobz='S'` gives the same vectors as numpy's `jobz='A'` but skips the
/// `C × C` completion). The sign is whatever that LAPACK build produces: the system OpenBLAS
/// 0.3.21 (LAPACK 3.11) and the OpenBLAS 0.3.31 bundled with numpy 2.4 disagree on the sign for
/// a large share of matrices (measured in tools/fixtures/gen_cam.py), so the result follows the
/// linked LAPACK, and the fixtures record which sign each reference case used.
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
            for p in 0..<m {
                var acc: Double = 0
                for ch in 0..<c { acc += Double(centred[ch * m + p]) * Double(v[ch]) }
                out[image * m + p] = Float(acc)
            }
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
            var u = [Double](repeating: 0, count: m * k)
            var vt = [Double](repeating: 0, count: k * c)
            var iwork = [Int32](repeating: 0, count: 8 * k)
            var jobz = Int8(UInt8(ascii: "S"))
            var (rows, cols, lda, ldu, ldvt) = (Int32(m), Int32(c), Int32(m), Int32(m), Int32(k))
            var query = [Double](repeating: 0, count: 1)
            var lwork: Int32 = -1, info: Int32 = 0
            dgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info, 1)
            lwork = Int32(query[0])
            var work = [Double](repeating: 0, count: Swift.max(Int(lwork), 1))
            dgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info, 1)
            guard info == 0 else { throw RuntimeError("the singular value decomposition did not converge (dgesdd info \(info))") }
            for p in 0..<m {
                var acc: Double = 0
                for ch in 0..<c { acc += centred[ch * m + p] * vt[ch * k] }
                out[image * m + p] = acc
            }
        }
        return out
    }

    /// The first right singular vector of a column-major `rows × columns` matrix (destroyed).
    static func firstRightSingularVector(_ a: inout [Float], rows m: Int, columns n: Int) throws -> [Float] {
        let k = Swift.min(m, n)
        var s = [Float](repeating: 0, count: k)
        var u = [Float](repeating: 0, count: m * k)
        var vt = [Float](repeating: 0, count: k * n)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var jobz = Int8(UInt8(ascii: "S"))
        var (rows, cols, lda, ldu, ldvt) = (Int32(m), Int32(n), Int32(m), Int32(m), Int32(k))
        var query = [Float](repeating: 0, count: 1)
        var lwork: Int32 = -1, info: Int32 = 0
        sgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info, 1)
        lwork = Int32(query[0])
        var work = [Float](repeating: 0, count: Swift.max(Int(lwork), 1))
        sgesdd_(&jobz, &rows, &cols, &a, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info, 1)
        guard info == 0 else { throw RuntimeError("the singular value decomposition did not converge (sgesdd info \(info))") }
        // Column-major k × n: VT[0, j] = vt[j * k].
        return (0..<n).map { vt[$0 * k] }
    }
}
