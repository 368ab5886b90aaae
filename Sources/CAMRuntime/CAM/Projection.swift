import Foundation
import COpenBLAS

/// The first principal component projection of pytorch-grad-cam's `get_2d_projection`, used by
/// EigenCAM, EigenGradCAM and `eigen_smooth`.
///
/// Per image, the `[C, h, w]` activations become the `(h·w) × C` matrix `M` (NaN → 0), each
/// channel is centred over the pixels, and the map is `M · v` where `v` is the first right
/// singular vector of `M`. numpy's `linalg.svd` runs a full `gesdd` (with a `C × C` factor, 2048²
/// for ResNet-50); here only the top eigenpair of the smaller Gram matrix is computed.
///
/// Sign rule: the map is negated when `|min| > |max|`, so its largest magnitude is positive
/// (the rule of pytorch-grad-cam's `get_2d_projection_with_sign_correction`). The reference
/// keeps whatever sign numpy's gesdd returns, and that sign depends on the LAPACK build: numpy
/// 2.4's bundled OpenBLAS 0.3.31 and this system's OpenBLAS 0.3.21 (and Debian's LAPACK 3.11)
/// disagree on it for 3–45 % of random centred matrices (measured, 30 each: 49×512 13, 49×2048 6,
/// 36×256 3, 196×112 7), and for degenerate matrices (all-zero channels) it flips under 1e-10
/// perturbations. pytorch-grad-cam's own EigenCAM therefore changes between machines; a fixed
/// rule is the only reproducible choice. Every map equals pytorch-grad-cam's whenever numpy's
/// sign satisfies the rule, and the fixtures hold the rule-normalised reference too.
public enum Projection {
    /// The projection of each image of a `[B, C, h, w]` tensor (centred in float32 as numpy does,
    /// the eigenproblem in float64), with the sign rule above.
    public static func firstComponent(_ x: Tensor) throws -> Tensor {
        precondition(x.rank == 4, "projection needs [B, C, h, w], got \(x.shape)")
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = h * w
        var out = [Float](repeating: 0, count: b * m)
        for image in 0..<b {
            let a = centredPixels(x, image: image)
            var projection = try principalProjection(a.map { Double($0) }, rows: m, columns: c).map { Float($0) }
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
            var projection = try principalProjection(a, rows: m, columns: c)
            if let lo = projection.min(), let hi = projection.max(), abs(lo) > abs(hi) {
                projection = projection.map { -$0 }
            }
            for p in 0..<m { out[image * m + p] = projection[p] }
        }
        return out
    }

    /// `M · v1` for the column-major `rows × columns` matrix `M`, where `v1` is its first right
    /// singular vector (up to sign), from the top eigenvector of the smaller Gram matrix
    /// (`M·Mᵀ` when rows ≤ columns, then `v1 ∝ Mᵀ·u1`; else `Mᵀ·M`), in float64 with `dsyrk`
    /// and `dsyevr` — a 49 × 49 eigenproblem for a 7 × 7 layer instead of a full SVD.
    static func principalProjection(_ a: [Double], rows m: Int, columns n: Int) throws -> [Double] {
        let wide = m <= n
        let k = wide ? m : n
        guard k > 0 else { return [Double](repeating: 0, count: m) }
        var gram = [Double](repeating: 0, count: k * k)
        a.withUnsafeBufferPointer { x in
            cblas_dsyrk(CblasColMajor, CblasUpper, wide ? CblasNoTrans : CblasTrans, Int32(k), Int32(wide ? n : m),
                        1, x.baseAddress, Int32(m), 0, &gram, Int32(k))
        }
        let (_, z) = try topEigenpair(&gram, order: k)
        var v: [Double]
        if wide {
            // v ∝ Mᵀ u, normalised.
            v = (0..<n).map { c in
                var acc: Double = 0
                for p in 0..<m { acc += a[c * m + p] * z[p] }
                return acc
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { v = v.map { $0 / norm } }
        } else {
            v = z
        }
        var projection = [Double](repeating: 0, count: m)
        for c in 0..<n where v[c] != 0 {
            let vc = v[c], base = c * m
            for p in 0..<m { projection[p] += a[base + p] * vc }
        }
        return projection
    }

    /// Image `image`'s `[C, h·w]` block of a `[B, C, h, w]` tensor (the column-major `(h·w) × C`
    /// matrix of pixel vectors), NaN → 0, each channel centred over the pixels in float32 as
    /// numpy centres it.
    static func centredPixels(_ x: Tensor, image: Int) -> [Float] {
        let (c, m) = (x.shape[1], x.shape[2] * x.shape[3])
        var a = [Float](x.storage[(image * c * m)..<((image + 1) * c * m)])
        for i in a.indices where a[i].isNaN { a[i] = 0 }
        for ch in 0..<c {
            var sum: Double = 0
            for p in 0..<m { sum += Double(a[ch * m + p]) }
            let mean = Float(sum / Double(m))
            for p in 0..<m { a[ch * m + p] -= mean }
        }
        return a
    }

    /// The largest (algebraic) eigenvalue of the symmetric `k × k` matrix whose upper triangle
    /// `matrix` holds (column-major; overwritten), and its unit eigenvector, with LAPACK's
    /// `dsyevr` (sign as LAPACK returns it).
    static func topEigenpair(_ matrix: inout [Double], order k: Int) throws -> (value: Double, vector: [Double]) {
        var jobz = Int8(UInt8(ascii: "V")), range = Int8(UInt8(ascii: "I")), uplo = Int8(UInt8(ascii: "U"))
        var order = Int32(k), lda = Int32(k), il = Int32(k), iu = Int32(k), ldz = Int32(k)
        var vl: Double = 0, vu: Double = 0, abstol: Double = 0
        var found: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: k)
        var z = [Double](repeating: 0, count: k)
        var support = [Int32](repeating: 0, count: 2)
        var workQuery = [Double](repeating: 0, count: 1)
        var iworkQuery = [Int32](repeating: 0, count: 1)
        var lwork: Int32 = -1, liwork: Int32 = -1
        dsyevr_(&jobz, &range, &uplo, &order, &matrix, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz,
                &support, &workQuery, &lwork, &iworkQuery, &liwork, &info, 1, 1, 1)
        lwork = Int32(workQuery[0])
        liwork = iworkQuery[0]
        var work = [Double](repeating: 0, count: Swift.max(Int(lwork), 1))
        var iwork = [Int32](repeating: 0, count: Swift.max(Int(liwork), 1))
        dsyevr_(&jobz, &range, &uplo, &order, &matrix, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz,
                &support, &work, &lwork, &iwork, &liwork, &info, 1, 1, 1)
        guard info == 0, found == 1 else {
            throw RuntimeError("the principal component computation did not converge (dsyevr info \(info))")
        }
        return (w[0], z)
    }

    /// pytorch-grad-cam's `get_2d_projection_kernel`: per image, the centred `(h·w) × C`
    /// activations through scikit-learn's `KernelPCA(n_components=1, kernel="sigmoid")`, i.e.
    /// the top eigenvector of the centred kernel matrix `K_pq = tanh(⟨a_p, a_q⟩ / C + 1)`,
    /// scaled by the square root of its eigenvalue.
    ///
    /// Sign as scikit-learn's `svd_flip`: the eigenvector's entry of largest magnitude is
    /// positive, so the map does not depend on the LAPACK build. A top eigenvalue ≤ 0 (the
    /// sigmoid kernel is not positive semi-definite) gives a zero map, as scikit-learn's clipping
    /// of non-positive eigenvalues does.
    public static func kernelFirstComponent(_ x: Tensor) throws -> Tensor {
        precondition(x.rank == 4, "projection needs [B, C, h, w], got \(x.shape)")
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = h * w
        var out = [Float](repeating: 0, count: b * m)
        guard m > 0, c > 0 else { return Tensor(shape: [b, h, w], storage: out) }
        for image in 0..<b {
            let centred = centredPixels(x, image: image).map { Double($0) }
            // The Gram matrix of the pixels: column-major (h·w) × C is the row-major [C, h·w] block.
            var kernel = [Double](repeating: 0, count: m * m)
            centred.withUnsafeBufferPointer { p in
                cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, Int32(m), Int32(c),
                            1, p.baseAddress, Int32(m), 0, &kernel, Int32(m))
            }
            let gamma = 1 / Double(c)
            for q in 0..<m {
                for p in 0...q {
                    let k = Foundation.tanh(gamma * kernel[q * m + p] + 1)
                    kernel[q * m + p] = k
                    kernel[p * m + q] = k
                }
            }
            var rowMeans = [Double](repeating: 0, count: m)
            for q in 0..<m { for p in 0..<m { rowMeans[p] += kernel[q * m + p] } }
            rowMeans = rowMeans.map { $0 / Double(m) }
            let total = rowMeans.reduce(0, +) / Double(m)
            for q in 0..<m { for p in 0..<m { kernel[q * m + p] += total - rowMeans[p] - rowMeans[q] } }
            let (value, vector) = try topEigenpair(&kernel, order: m)
            guard value > 0 else { continue }
            var largest = 0  // numpy's argmax: the first on ties
            for p in 1..<m where abs(vector[p]) > abs(vector[largest]) { largest = p }
            let scale = (vector[largest] < 0 ? -1 : 1) * value.squareRoot()
            for p in 0..<m { out[image * m + p] = Float(vector[p] * scale) }
        }
        return Tensor(shape: [b, h, w], storage: out)
    }
}
