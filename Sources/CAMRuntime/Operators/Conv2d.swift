import COpenBLAS
import Foundation

/// How a convolution pads its input.
enum ConvPadding: Equatable, Sendable {
    /// PyTorch's symmetric zero padding (rows, columns) on each side.
    case explicit(Int, Int)
    /// TensorFlow's "SAME": output = ceil(input / stride), the extra row/column at the bottom/right
    /// (ONNX `auto_pad = SAME_UPPER`).
    case same
    /// ONNX `auto_pad = SAME_LOWER`: as `same`, the extra row/column at the top/left.
    case sameLower
    /// ONNX `pads` (top, left, bottom, right), possibly asymmetric.
    case pads(Int, Int, Int, Int)
}

/// The sizes of one convolution call.
struct ConvGeometry: Equatable {
    var batch: Int, channels: Int, height: Int, width: Int
    var outHeight: Int, outWidth: Int
    var padTop: Int, padLeft: Int
    var kernelHeight: Int, kernelWidth: Int
    var strideY: Int, strideX: Int
    var dilationY: Int, dilationX: Int

    var inPlane: Int { height * width }
    var outPlane: Int { outHeight * outWidth }

    /// Whether the convolution is a plain matrix product per image (1×1, stride 1, no padding).
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideY == 1 && strideX == 1 && padTop == 0 && padLeft == 0
    }

    /// Output size and leading padding of one dimension, or nil when the input is too small.
    static func dimension(input n: Int, kernel k: Int, stride s: Int, dilation d: Int,
                          padding: ConvPadding, vertical: Bool) -> (out: Int, lead: Int)? {
        let span = (k - 1) * d + 1
        switch padding {
        case let .explicit(ph, pw):
            let p = vertical ? ph : pw
            let out = (n + 2 * p - span) / s + 1
            return n + 2 * p >= span ? (out, p) : nil
        case .same, .sameLower:
            let out = (n + s - 1) / s
            let total = Swift.max((out - 1) * s + span - n, 0)
            return n > 0 ? (out, padding == .same ? total / 2 : (total + 1) / 2) : nil
        case let .pads(top, left, bottom, right):
            let before = vertical ? top : left, after = vertical ? bottom : right
            guard n + before + after >= span, s > 0 else { return nil }
            return ((n + before + after - span) / s + 1, before)
        }
    }
}

/// A 2-D convolution (`nn.Conv2d`): weight [out, in/groups, kh, kw], optional bias [out].
///
/// 1×1 convolutions are one GEMM per image and group; depthwise convolutions (groups = in = out)
/// use a direct kernel; everything else goes through im2col and `cblas_sgemm`. The executor
/// fuses a following batch norm, residual add and ReLU into one call when nothing observes
/// the values between them.
final class Conv2d: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affineInEach }

    let inChannels: Int
    let outChannels: Int
    let kernelSize: (Int, Int)
    let stride: (Int, Int)
    let padding: ConvPadding
    let dilation: (Int, Int)
    let groups: Int
    /// The weight's shape, `[out, in / groups, kh, kw]`.
    let weightShape: [Int]
    /// The weight once set (a checkpoint's, or random); nil until then.
    private var storedWeight: Tensor?
    /// The weight, `[out, in / groups, kh, kw]`; zeros until set, without keeping them: a
    /// network built to receive a checkpoint allocates no second copy of its weights.
    var weight: Tensor { storedWeight ?? Tensor(shape: weightShape) }
    private(set) var bias: Tensor?
    /// The batch norm (and its parameter version) that the folded weights and the oneDNN
    /// primitives were made for (nil inside: none); nil after any parameter change.
    private var foldedFor: (bn: ObjectIdentifier?, version: Int)?
    /// BN-folded weights for the OpenBLAS inference path. The oneDNN path folds into its own
    /// copy when it builds a primitive and keeps none here (a 100 MB copy for ResNet-50).
    private var folded: (weight: [Float], bias: [Float])?
    /// oneDNN primitives of the folded convolution by input shape and post-ops (cleared with `folded`).
    private var oneDNNPrimitives: [OneDNNKey: OneDNNConvolution] = [:]

    /// What a cached oneDNN convolution was built for.
    private struct OneDNNKey: Hashable {
        let inputShape: [Int]
        let activation: Activation?
        let accumulates: Bool
        var plain = false
    }

    init(inChannels: Int, outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
         padding: ConvPadding = .explicit(0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = false) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels not divisible by groups")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.weightShape = [outChannels, inChannels / groups, kernelSize.0, kernelSize.1]
        self.bias = bias ? Tensor(shape: [outChannels]) : nil
    }

    var isDepthwise: Bool { groups > 1 && groups == inChannels && groups == outChannels }

    override var parameters: [String: Tensor] {
        var p = ["weight": weight]
        if let bias { p["bias"] = bias }
        return p
    }

    override var parameterShapes: [String: [Int]] {
        var p = ["weight": weightShape]
        if let bias { p["bias"] = bias.shape }
        return p
    }

    override func setParameter(_ name: String, _ value: Tensor) {
        if name == "weight" { storedWeight = value } else if name == "bias" { bias = value }
        foldedFor = nil
        folded = nil
        oneDNNPrimitives = [:]
    }

    /// The geometry for an input shape, or a user-facing error when it does not fit.
    func geometry(forShape shape: [Int]) throws -> ConvGeometry {
        guard shape.count == 4, shape[1] == inChannels else {
            throw RuntimeError("expected input [N, \(inChannels), H, W], found \(Network.describe(shape))")
        }
        guard let y = ConvGeometry.dimension(input: shape[2], kernel: kernelSize.0, stride: stride.0,
                                             dilation: dilation.0, padding: padding, vertical: true),
              let x = ConvGeometry.dimension(input: shape[3], kernel: kernelSize.1, stride: stride.1,
                                             dilation: dilation.1, padding: padding, vertical: false) else {
            throw RuntimeError("input \(shape[2])×\(shape[3]) is smaller than the "
                               + "\(kernelSize.0)×\(kernelSize.1) kernel")
        }
        return ConvGeometry(batch: shape[0], channels: inChannels, height: shape[2], width: shape[3],
                            outHeight: y.out, outWidth: x.out, padTop: y.lead, padLeft: x.lead,
                            kernelHeight: kernelSize.0, kernelWidth: kernelSize.1, strideY: stride.0, strideX: stride.1,
                            dilationY: dilation.0, dilationX: dilation.1)
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        let input = inputs[0]
        let g = try geometry(forShape: input.shape)
        if step.retain { step.saved.shape = input.shape }
        let workspace = step.workspace
        return weight.withUnsafeBufferPointer { w in
            if let bias {
                return bias.withUnsafeBufferPointer { b in
                    convolve(input, g, w.baseAddress, b.baseAddress, nil, nil, workspace)
                }
            }
            return convolve(input, g, w.baseAddress, nil, nil, nil, workspace)
        }
    }

    /// Inference only: this convolution followed by `bn` (and `residual` added, and `activation`) in one pass.
    func forwardFused(_ input: Tensor, bn: BatchNorm2d?, activation: Activation?, residual: Tensor? = nil,
                      workspace: Workspace) throws -> Tensor {
        let g = try geometry(forShape: input.shape)
        if let residual, residual.shape != [g.batch, outChannels, g.outHeight, g.outWidth] {
            throw RuntimeError("cannot add shapes \(Network.describe(residual.shape)) and "
                               + "\(Network.describe([g.batch, outChannels, g.outHeight, g.outWidth]))")
        }
        // OpenBLAS keeps the folded copy only where it is the steady path, not while oneDNN warms up.
        let f = foldedParameters(bn, keep: !workspace.usesOneDNNEventually)
        return f.weight.withUnsafeBufferPointer { w in
            f.bias.withUnsafeBufferPointer { b in
                guard let residual else {
                    return convolve(input, g, w.baseAddress, b.baseAddress, activation, nil, workspace)
                }
                return residual.withUnsafeBufferPointer { r in
                    convolve(input, g, w.baseAddress, b.baseAddress, activation, r.baseAddress, workspace)
                }
            }
        }
    }

    /// A forward that retains for backward, fused: this convolution, `bn` and `activation` in
    /// one pass (oneDNN on NCHW tensors when available). Backward through the three needs only
    /// the input shape, the weights, BN's scale and the output (which the caller keeps for
    /// the activation).
    func forwardFusedRetaining(_ input: Tensor, bn: BatchNorm2d, activation: Activation?,
                               workspace: Workspace) throws -> Tensor {
        let g = try geometry(forShape: input.shape)
        // One image: OpenBLAS (ResNet-50 forward + backward 134 ms against 218 ms with oneDNN's
        // NCHW convolutions, bench/run.sh 2026-11-30 04:00); a batch: oneDNN (2.48 s against 2.63 s).
        guard input.shape[0] > 1, let engine = workspace.oneDNN else {
            return try forwardFused(input, bn: bn, activation: activation, workspace: workspace)
        }
        let convolution = try primitive(g, bn: bn, activation: activation, accumulates: false, plain: true, engine: engine)
        return try convolution.run(plain: input, engine: engine)
    }

    /// The oneDNN convolution (BN folded) for this geometry and post-ops, made once per input
    /// shape and engine and kept until a parameter changes.
    private func primitive(_ g: ConvGeometry, bn: BatchNorm2d?, activation: Activation?, accumulates: Bool, plain: Bool,
                           engine: OneDNNEngine) throws -> OneDNNConvolution {
        invalidateFolding(unlessFor: bn)
        let key = OneDNNKey(inputShape: [g.batch, g.channels, g.height, g.width], activation: activation,
                            accumulates: accumulates, plain: plain)
        if let cached = oneDNNPrimitives[key], cached.engine === engine { return cached }
        let f = foldedParameters(bn, keep: false)
        let convolution = try OneDNNConvolution(g, outChannels: outChannels, groups: groups, weights: f.weight,
                                                bias: f.bias, activation: activation, accumulates: accumulates,
                                                plain: plain, engine: engine)
        // A few input sizes per session; a bound keeps images of many sizes from piling up.
        if oneDNNPrimitives.count >= 16 { oneDNNPrimitives = [:] }
        oneDNNPrimitives[key] = convolution
        return convolution
    }

    /// Drops the folded weights and the primitives when they were made for another batch norm
    /// (or none) or an older version of its parameters.
    private func invalidateFolding(unlessFor bn: BatchNorm2d?) {
        let id = bn.map(ObjectIdentifier.init)
        if let made = foldedFor, made.bn == id, made.version == (bn?.version ?? 0) { return }
        foldedFor = (id, bn?.version ?? 0)
        folded = nil
        oneDNNPrimitives = [:]
    }

    /// The weights and bias with `bn` (if any) folded in; with `keep`, cached until a parameter
    /// of either changes.
    private func foldedParameters(_ bn: BatchNorm2d?, keep: Bool) -> (weight: [Float], bias: [Float]) {
        invalidateFolding(unlessFor: bn)
        if let f = folded { return f }
        var w = weight.storage
        var b = bias?.storage ?? [Float](repeating: 0, count: outChannels)
        if let bn {
            let (scale, shift) = bn.scaleAndShift()
            let perOut = w.count / outChannels
            for o in 0..<outChannels {
                for i in 0..<perOut { w[o * perOut + i] *= scale[o] }
                b[o] = b[o] * scale[o] + shift[o]
            }
        }
        if keep { folded = (w, b) }
        return (w, b)
    }

    /// Inference only, on oneDNN: this convolution followed by `bn` (if any) and `activation`,
    /// with `residual` added before the activation when given.
    ///
    /// `residual` is consumed: the output is written into its memory when the layouts agree.
    func forwardFusedOneDNN(_ input: OneDNNTensor, bn: BatchNorm2d?, activation: Activation?,
                            residual: OneDNNTensor? = nil) throws -> OneDNNTensor {
        let g = try geometry(forShape: input.shape)
        let convolution = try primitive(g, bn: bn, activation: activation, accumulates: residual != nil, plain: false,
                                        engine: input.engine)
        guard let residual else { return try convolution.run(input) }
        guard residual.shape == convolution.outputShape else {
            throw RuntimeError("cannot add shapes \(Network.describe(residual.shape)) and "
                               + "\(Network.describe(convolution.outputShape))")
        }
        return try convolution.run(input, accumulating: try residual.converted(to: convolution.destinationLayout))
    }

    /// The convolution with the given weights, optional bias and optional fused activation.
    private func convolve(_ input: Tensor, _ g: ConvGeometry, _ w: UnsafePointer<Float>?, _ b: UnsafePointer<Float>?,
                          _ activation: Activation?, _ residual: UnsafePointer<Float>?, _ workspace: Workspace) -> Tensor {
        let outPlane = g.outPlane
        return Tensor(shape: [g.batch, outChannels, g.outHeight, g.outWidth]) { yb in
            guard let y = yb.baseAddress else { return }
            input.withUnsafeBufferPointer { xb in
                guard let w, let x = xb.baseAddress else {
                    y.update(repeating: 0, count: yb.count)
                    return
                }
                let epilogue = Epilogue(bias: b, residual: residual, activation: activation, channels: outChannels,
                                        plane: outPlane)
                if isDepthwise {
                    DepthwiseKernel.forward(x, w, y, g, epilogue)
                } else {
                    gemmForward(x, w, y, g, epilogue, workspace)
                }
            }
        }
    }

    /// Whether the images of a batch go through one GEMM: planes up to 10×10 (ResNet's layer4,
    /// EfficientNet's last stage) make per-image GEMMs too narrow for the BLAS kernels; measured
    /// 20–30 % faster at 7×7 and no gain at 14×14 (batch 16).
    private func batchesImages(_ g: ConvGeometry) -> Bool {
        groups == 1 && g.batch > 1 && g.outPlane <= 100
    }

    /// One GEMM for the whole batch: columns [K, N·plane], output [out, N·plane] scattered to NCHW.
    private func batchedGemmForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                    _ g: ConvGeometry, _ epilogue: Epilogue, _ workspace: Workspace) {
        let k = inChannels * g.kernelHeight * g.kernelWidth
        let n = g.outPlane, wide = g.batch * n
        workspace.withBuffers(k * wide, outChannels * wide) { col, out in
            for image in 0..<g.batch {
                let xi = x + image * inChannels * g.inPlane
                if g.isPointwise {
                    for c in 0..<inChannels { (col + c * wide + image * n).update(from: xi + c * n, count: n) }
                } else {
                    Im2col.expand(xi, channels: inChannels, g, into: col + image * n, rowStride: wide)
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outChannels), Int32(wide), Int32(k),
                        1, w, Int32(k), col, Int32(wide), 0, out, Int32(wide))
            for image in 0..<g.batch {
                for o in 0..<outChannels {
                    (y + (image * outChannels + o) * n).update(from: out + o * wide + image * n, count: n)
                }
                epilogue.apply(image: image, y + image * outChannels * n)
            }
        }
    }

    private func gemmForward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                             _ g: ConvGeometry, _ epilogue: Epilogue, _ workspace: Workspace) {
        if batchesImages(g) { return batchedGemmForward(x, w, y, g, epilogue, workspace) }
        let cg = inChannels / groups, og = outChannels / groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outPlane
        let isPointwise = g.isPointwise
        workspace.withBuffers(isPointwise ? 0 : k * n, 0) { col, _ in
            for image in 0..<g.batch {
                for group in 0..<groups {
                    let xg = x + (image * inChannels + group * cg) * g.inPlane
                    let yg = y + (image * outChannels + group * og) * n
                    let wg = w + group * og * k
                    let source: UnsafePointer<Float>
                    if isPointwise {
                        source = xg
                    } else {
                        Im2col.expand(xg, channels: cg, g, into: col)
                        source = UnsafePointer(col)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(og), Int32(n), Int32(k),
                                1, wg, Int32(k), source, Int32(n), 0, yg, Int32(n))
                }
                // While the image's output is still in cache.
                epilogue.apply(image: image, y + image * outChannels * n)
            }
        }
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        [try inputGradient(gradient, inputShape: saved.shape, workspace: step.workspace)]
    }

    /// The gradient with respect to an input of `inputShape` from the gradient at the output.
    func inputGradient(_ gradient: Tensor, inputShape: [Int], workspace: Workspace) throws -> Tensor {
        let g = try geometry(forShape: inputShape)
        guard gradient.shape == [g.batch, outChannels, g.outHeight, g.outWidth] else {
            throw RuntimeError("the gradient \(Network.describe(gradient.shape)) does not match the output "
                               + "\(Network.describe([g.batch, outChannels, g.outHeight, g.outWidth]))")
        }
        var result = Tensor(shape: [g.batch, inChannels, g.height, g.width])
        weight.withUnsafeBufferPointer { wb in
            gradient.withUnsafeBufferPointer { gb in
                result.withUnsafeMutableBufferPointer { rb in
                    guard let w = wb.baseAddress, let gy = gb.baseAddress, let gx = rb.baseAddress else { return }
                    if isDepthwise {
                        DepthwiseKernel.backward(gy, w, gx, g)
                    } else {
                        gemmBackward(gy, w, gx, g, workspace)
                    }
                }
            }
        }
        return result
    }

    /// The adjoint of `batchedGemmForward`.
    private func batchedGemmBackward(_ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>,
                                     _ g: ConvGeometry, _ workspace: Workspace) {
        let k = inChannels * g.kernelHeight * g.kernelWidth
        let n = g.outPlane, wide = g.batch * n
        workspace.withBuffers(outChannels * wide, k * wide) { gOut, col in
            for image in 0..<g.batch {
                for o in 0..<outChannels {
                    (gOut + o * wide + image * n).update(from: gy + (image * outChannels + o) * n, count: n)
                }
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(wide), Int32(outChannels),
                        1, w, Int32(k), gOut, Int32(wide), 0, col, Int32(wide))
            for image in 0..<g.batch {
                let gxi = gx + image * inChannels * g.inPlane
                if g.isPointwise {
                    for c in 0..<inChannels { (gxi + c * n).update(from: col + c * wide + image * n, count: n) }
                } else {
                    Im2col.accumulate(col + image * n, channels: inChannels, g, into: gxi, rowStride: wide)
                }
            }
        }
    }

    private func gemmBackward(_ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>,
                              _ g: ConvGeometry, _ workspace: Workspace) {
        if batchesImages(g) { return batchedGemmBackward(gy, w, gx, g, workspace) }
        let cg = inChannels / groups, og = outChannels / groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outPlane
        let isPointwise = g.isPointwise
        workspace.withBuffers(isPointwise ? 0 : k * n, 0) { col, _ in
            for image in 0..<g.batch {
                for group in 0..<groups {
                    let gxg = gx + (image * inChannels + group * cg) * g.inPlane
                    let gyg = gy + (image * outChannels + group * og) * n
                    let wg = w + group * og * k
                    let target: UnsafeMutablePointer<Float>
                    if isPointwise {
                        target = gxg
                    } else {
                        target = col
                    }
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(n), Int32(og),
                                1, wg, Int32(k), gyg, Int32(n), 0, target, Int32(n))
                    if !isPointwise {
                        Im2col.accumulate(target, channels: cg, g, into: gxg)
                    }
                }
            }
        }
    }
}

/// What a convolution adds to its raw output: a per-channel bias, a residual of the output's
/// shape, then an activation.
struct Epilogue {
    let bias: UnsafePointer<Float>?
    let residual: UnsafePointer<Float>?
    let activation: Activation?
    let channels: Int
    let plane: Int

    /// Applies the epilogue to plane `index` (image × channels + channel) of the output.
    @inline(__always)
    func apply(plane p: UnsafeMutablePointer<Float>, index: Int) {
        if let bias {
            let v = bias[index % channels]
            for i in 0..<plane { p[i] += v }
        }
        if let residual {
            let r = residual + index * plane
            for i in 0..<plane { p[i] += r[i] }
        }
        activation?.apply(p, count: plane)
    }

    /// Applies the epilogue to the [channels, plane] output `y` of image `image`.
    func apply(image: Int, _ y: UnsafeMutablePointer<Float>) {
        guard bias != nil || residual != nil || activation != nil else { return }
        for c in 0..<channels { apply(plane: y + c * plane, index: image * channels + c) }
    }
}

/// Runs `body(i)` for `i` in `0..<count`, split over two threads when worthwhile.
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    let chunks = count >= 8 ? 2 : 1
    if chunks == 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks, end = count * (chunk + 1) / chunks
            for i in start..<end { box.value(i) }
        }
    }
}

/// Carries a value into a `@Sendable` closure whose concurrent use is known to be safe
/// (disjoint memory per iteration).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// im2col / col2im for one image and one group.
enum Im2col {
    /// Writes the column matrix [channels·kh·kw, outH·outW] of `x` ([channels, H, W]).
    /// Rows are `rowStride` apart (the plane size, or more when several images share the matrix).
    static func expand(_ x: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry, into col: UnsafeMutablePointer<Float>,
                       rowStride: Int? = nil) {
        let kk = g.kernelHeight * g.kernelWidth
        let n = rowStride ?? g.outPlane
        parallelFor(channels * kk) { row in
            let c = row / kk, ki = (row % kk) / g.kernelWidth, kj = row % g.kernelWidth
            let plane = x + c * g.inPlane
            let dst = col + row * n
            let xOffset = kj * g.dilationX - g.padLeft
            // Valid output columns: 0 <= ox*sx + xOffset < W.
            let oxStart = xOffset >= 0 ? 0 : Swift.min((-xOffset + g.strideX - 1) / g.strideX, g.outWidth)
            let oxEnd = Swift.max(Swift.min((g.width - xOffset + g.strideX - 1) / g.strideX, g.outWidth), oxStart)
            for oy in 0..<g.outHeight {
                let iy = oy * g.strideY - g.padTop + ki * g.dilationY
                let d = dst + oy * g.outWidth
                if iy < 0 || iy >= g.height {
                    d.update(repeating: 0, count: g.outWidth)
                    continue
                }
                let src = plane + iy * g.width + xOffset
                if oxStart > 0 { d.update(repeating: 0, count: oxStart) }
                if g.strideX == 1 {
                    (d + oxStart).update(from: src + oxStart, count: oxEnd - oxStart)
                } else {
                    for ox in oxStart..<oxEnd { d[ox] = src[ox * g.strideX] }
                }
                if oxEnd < g.outWidth { (d + oxEnd).update(repeating: 0, count: g.outWidth - oxEnd) }
            }
        }
    }

    /// Adds the column matrix back onto the image gradient ([channels, H, W]), the adjoint of `expand`.
    static func accumulate(_ col: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry, into x: UnsafeMutablePointer<Float>,
                           rowStride: Int? = nil) {
        let kk = g.kernelHeight * g.kernelWidth
        let n = rowStride ?? g.outPlane
        // One channel per task so that no two tasks write the same plane.
        parallelFor(channels) { c in
            let plane = x + c * g.inPlane
            for k in 0..<kk {
                let ki = k / g.kernelWidth, kj = k % g.kernelWidth
                let src = col + (c * kk + k) * n
                let xOffset = kj * g.dilationX - g.padLeft
                let oxStart = xOffset >= 0 ? 0 : Swift.min((-xOffset + g.strideX - 1) / g.strideX, g.outWidth)
                let oxEnd = Swift.max(Swift.min((g.width - xOffset + g.strideX - 1) / g.strideX, g.outWidth), oxStart)
                for oy in 0..<g.outHeight {
                    let iy = oy * g.strideY - g.padTop + ki * g.dilationY
                    if iy < 0 || iy >= g.height { continue }
                    let d = plane + iy * g.width + xOffset
                    let s = src + oy * g.outWidth
                    for ox in oxStart..<oxEnd { d[ox * g.strideX] += s[ox] }
                }
            }
        }
    }
}

/// The direct depthwise kernel: one k×k filter per channel.
enum DepthwiseKernel {
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        _ g: ConvGeometry, _ epilogue: Epilogue) {
        let kk = g.kernelHeight * g.kernelWidth
        let columns = validColumns(g)
        parallelFor(g.batch * g.channels) { plane in
            let c = plane % g.channels
            let src = x + plane * g.inPlane
            let dst = y + plane * g.outPlane
            dst.update(repeating: 0, count: g.outPlane)
            // Output row outermost: the row stays in L1 while the k×k taps accumulate into it.
            for oy in 0..<g.outHeight {
                let d = dst + oy * g.outWidth
                for ki in 0..<g.kernelHeight {
                    let iy = oy * g.strideY - g.padTop + ki * g.dilationY
                    if iy < 0 || iy >= g.height { continue }
                    let row = src + iy * g.width
                    for kj in 0..<g.kernelWidth {
                        let wv = w[c * kk + ki * g.kernelWidth + kj]
                        let (xOffset, oxStart, oxEnd) = columns[kj]
                        let s = row + xOffset
                        if g.strideX == 1 {
                            for ox in oxStart..<oxEnd { d[ox] += wv * s[ox] }
                        } else {
                            for ox in oxStart..<oxEnd { d[ox] += wv * s[ox * g.strideX] }
                        }
                    }
                }
            }
            epilogue.apply(plane: dst, index: plane)
        }
    }

    /// Per kernel column: the input offset and the range of output columns that read inside the image.
    static func validColumns(_ g: ConvGeometry) -> [(Int, Int, Int)] {
        (0..<g.kernelWidth).map { kj in
            let xOffset = kj * g.dilationX - g.padLeft
            let oxStart = xOffset >= 0 ? 0 : Swift.min((-xOffset + g.strideX - 1) / g.strideX, g.outWidth)
            let oxEnd = Swift.max(Swift.min((g.width - xOffset + g.strideX - 1) / g.strideX, g.outWidth), oxStart)
            return (xOffset, oxStart, oxEnd)
        }
    }

    static func backward(_ gy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>,
                         _ g: ConvGeometry) {
        let kk = g.kernelHeight * g.kernelWidth
        let columns = validColumns(g)
        parallelFor(g.batch * g.channels) { plane in
            let c = plane % g.channels
            let src = gy + plane * g.outPlane
            let dst = gx + plane * g.inPlane
            for oy in 0..<g.outHeight {
                let s = src + oy * g.outWidth
                for ki in 0..<g.kernelHeight {
                    let iy = oy * g.strideY - g.padTop + ki * g.dilationY
                    if iy < 0 || iy >= g.height { continue }
                    let row = dst + iy * g.width
                    for kj in 0..<g.kernelWidth {
                        let wv = w[c * kk + ki * g.kernelWidth + kj]
                        let (xOffset, oxStart, oxEnd) = columns[kj]
                        let d = row + xOffset
                        if g.strideX == 1 {
                            for ox in oxStart..<oxEnd { d[ox] += wv * s[ox] }
                        } else {
                            for ox in oxStart..<oxEnd { d[ox * g.strideX] += wv * s[ox] }
                        }
                    }
                }
            }
        }
    }
}
