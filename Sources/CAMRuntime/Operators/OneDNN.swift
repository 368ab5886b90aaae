import CDNNL
import Foundation

// oneDNN (Debian's libdnnl 2.6, OpenMP threading) runs the convolutions and max pooling of
// inference-only passes in its blocked layouts (nChw16c on AVX-512), ~2× the GF/s of OpenBLAS
// sgemm + im2col here (bench/dnnl, docs/performance.md). Backward and retaining forwards keep
// the OpenBLAS path.

/// oneDNN's execution-argument indices (C macros that Swift does not import).
enum OneDNNArgument {
    static let source: Int32 = 1
    static let destination: Int32 = 17
    static let weights: Int32 = 33
    static let bias: Int32 = 41
    static let scratchpad: Int32 = 80
}

/// New primitive attributes in which the caller provides the scratchpad
/// (`dnnl_scratchpad_mode_user`); the caller destroys them.
///
/// In oneDNN's default (library) mode a primitive's scratchpad is a thread-local global of the
/// thread that created the primitive, and executing it is only safe on that thread: on another
/// one oneDNN uses that thread's global, which is absent (null) or too small. The interpreter
/// runs each REPL input and each cell of a script on a new thread, so a `gradcam` in a second
/// cell crashed (SIGSEGV in memset inside libdnnl: the NCHW convolutions of retaining passes
/// need a scratchpad). `OneDNNEngine.execute` passes the engine's own scratchpad instead.
func makeOneDNNAttributes() throws -> dnnl_primitive_attr_t {
    var attributes: dnnl_primitive_attr_t?
    try oneDNNCheck(dnnl_primitive_attr_create(&attributes), "primitive_attr_create")
    guard let attributes else { throw RuntimeError("oneDNN: primitive_attr_create returned no attributes") }
    let status = dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user)
    guard status == dnnl_success else {
        dnnl_primitive_attr_destroy(attributes)
        throw RuntimeError("oneDNN: primitive_attr_set_scratchpad_mode failed with status \(status.rawValue)")
    }
    return attributes
}

/// Throws a `RuntimeError` naming the call when a oneDNN function fails.
func oneDNNCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    guard status == dnnl_success else {
        throw RuntimeError("oneDNN: \(call()) failed with status \(status.rawValue)")
    }
}

/// A memory descriptor of f32 elements with the given dimensions and layout tag.
func oneDNNDescriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var desc = dnnl_memory_desc_t()
    var d = dims.map { Int64($0) }
    try oneDNNCheck(dnnl_memory_desc_init_by_tag(&desc, Int32(dims.count), &d, dnnl_f32, tag),
                    "memory_desc_init_by_tag(\(dims))")
    return desc
}

/// The CPU engine and stream every oneDNN primitive of one network runs on.
final class OneDNNEngine {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// Reorder primitives by (source, destination) layout, reused across layers and passes.
    private var reorders: [(source: dnnl_memory_desc_t, destination: dnnl_memory_desc_t, primitive: OneDNNPrimitive)] = []
    /// The scratchpad every primitive of this engine uses (64-byte aligned; grows to the
    /// largest size asked for). Primitives run one at a time on the engine's one stream.
    private var scratchpad: UnsafeMutableRawPointer?
    private var scratchpadBytes = 0

    /// Whether 3×3 convolutions may use Winograd (`RuntimeOptions.allowsWinograd`).
    let allowsWinograd: Bool

    init(allowsWinograd: Bool = true) throws {
        self.allowsWinograd = allowsWinograd
        var engine: dnnl_engine_t?
        try oneDNNCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create")
        guard let engine else { throw RuntimeError("oneDNN: engine_create returned no engine") }
        var stream: dnnl_stream_t?
        let status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue)
        guard status == dnnl_success, let stream else {
            dnnl_engine_destroy(engine)
            throw RuntimeError("oneDNN: stream_create failed with status \(status.rawValue)")
        }
        self.engine = engine
        self.stream = stream
    }

    deinit {
        free(scratchpad)
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    /// The engine's scratchpad, at least `bytes` long.
    private func scratchpad(bytes: Int) throws -> UnsafeMutableRawPointer {
        if let scratchpad, scratchpadBytes >= bytes { return scratchpad }
        free(scratchpad)
        scratchpad = nil
        scratchpadBytes = 0
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            throw RuntimeError("oneDNN: cannot allocate a scratchpad of \(bytes) bytes")
        }
        scratchpad = raw
        scratchpadBytes = bytes
        return raw
    }

    /// Runs a primitive with (argument index, memory) pairs (and the engine's scratchpad when
    /// it needs one) and waits for it.
    func execute(_ primitive: OneDNNPrimitive, _ arguments: [(Int32, dnnl_memory_t)]) throws {
        var args = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1) }
        var scratchpadMemory: dnnl_memory_t?
        defer { if let scratchpadMemory { dnnl_memory_destroy(scratchpadMemory) } }
        if var desc = primitive.scratchpad {
            let buffer = try scratchpad(bytes: dnnl_memory_desc_get_size(&desc))
            try oneDNNCheck(dnnl_memory_create(&scratchpadMemory, &desc, engine, buffer), "memory_create(scratchpad)")
            args.append(dnnl_exec_arg_t(arg: OneDNNArgument.scratchpad, memory: scratchpadMemory))
        }
        try oneDNNCheck(dnnl_primitive_execute(primitive.primitive, stream, Int32(args.count), &args),
                        "primitive_execute(\(primitive.name))")
        try oneDNNCheck(dnnl_stream_wait(stream), "stream_wait")
    }

    /// Copies `source` into `destination`, converting between their layouts.
    func reorder(_ source: dnnl_memory_t, _ sourceDesc: dnnl_memory_desc_t,
                 into destination: dnnl_memory_t, _ destinationDesc: dnnl_memory_desc_t) throws {
        var src = sourceDesc, dst = destinationDesc
        let cached = reorders.first { entry in
            var a = entry.source, b = entry.destination
            return dnnl_memory_desc_equal(&a, &src) != 0 && dnnl_memory_desc_equal(&b, &dst) != 0
        }
        let primitive: OneDNNPrimitive
        if let cached {
            primitive = cached.primitive
        } else {
            let attributes = try makeOneDNNAttributes()
            defer { dnnl_primitive_attr_destroy(attributes) }
            var pd: dnnl_primitive_desc_t?
            try oneDNNCheck(dnnl_reorder_primitive_desc_create(&pd, &src, engine, &dst, engine, attributes),
                            "reorder_primitive_desc_create")
            primitive = try OneDNNPrimitive(descriptor: pd, name: "reorder")
            // A handful of layouts per network; a bounded list keeps lookups cheap.
            if reorders.count >= 64 { reorders.removeFirst() }
            reorders.append((sourceDesc, destinationDesc, primitive))
        }
        try execute(primitive, [(OneDNNArgument.source, source), (OneDNNArgument.destination, destination)])
    }
}

/// A created primitive with its descriptor; both are destroyed with it.
final class OneDNNPrimitive {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    let name: String
    /// The layout of the scratchpad the primitive needs, or nil when it needs none.
    let scratchpad: dnnl_memory_desc_t?

    /// Takes ownership of `descriptor` (destroyed here if the primitive cannot be created).
    init(descriptor: dnnl_primitive_desc_t?, name: String) throws {
        guard let descriptor else { throw RuntimeError("oneDNN: no primitive descriptor for \(name)") }
        var primitive: dnnl_primitive_t?
        let status = dnnl_primitive_create(&primitive, descriptor)
        guard status == dnnl_success, let primitive else {
            dnnl_primitive_desc_destroy(descriptor)
            throw RuntimeError("oneDNN: primitive_create(\(name)) failed with status \(status.rawValue)")
        }
        self.descriptor = descriptor
        self.primitive = primitive
        self.name = name
        if var desc = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0)?.pointee,
           dnnl_memory_desc_get_size(&desc) > 0 {
            scratchpad = desc
        } else {
            scratchpad = nil
        }
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// The layout the primitive expects or produces for a query (`dnnl_query_src_md`, …).
    func layout(_ query: dnnl_query_t) throws -> dnnl_memory_desc_t {
        guard let desc = dnnl_primitive_desc_query_md(descriptor, query, 0) else {
            throw RuntimeError("oneDNN: \(name) has no memory descriptor for query \(query.rawValue)")
        }
        return desc.pointee
    }
}

/// oneDNN memory that owns its buffer (64-byte aligned), in any layout.
///
/// Activations of an inference pass stay in this form between the layers that oneDNN runs;
/// `tensor()` converts back to a plain NCHW `Tensor`.
final class OneDNNTensor {
    /// The logical dimensions ([N, C, H, W] for activations).
    let shape: [Int]
    let desc: dnnl_memory_desc_t
    let memory: dnnl_memory_t
    let engine: OneDNNEngine
    private let buffer: UnsafeMutableRawPointer

    /// Allocates uninitialised memory for `desc`.
    init(shape: [Int], desc: dnnl_memory_desc_t, engine: OneDNNEngine) throws {
        var d = desc
        let size = Swift.max(dnnl_memory_desc_get_size(&d), 64)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, size) == 0, let raw else {
            throw RuntimeError("oneDNN: cannot allocate \(size) bytes for a \(shape) activation")
        }
        var memory: dnnl_memory_t?
        let status = dnnl_memory_create(&memory, &d, engine.engine, raw)
        guard status == dnnl_success, let memory else {
            free(raw)
            throw RuntimeError("oneDNN: memory_create(\(shape)) failed with status \(status.rawValue)")
        }
        self.shape = shape
        self.desc = desc
        self.memory = memory
        self.engine = engine
        self.buffer = raw
    }

    /// A copy of a plain tensor (NCHW for rank 4, plain row-major otherwise).
    convenience init(_ tensor: Tensor, engine: OneDNNEngine) throws {
        try self.init(shape: tensor.shape, desc: try oneDNNDescriptor(tensor.shape, OneDNNTensor.plainTag(tensor.rank)),
                      engine: engine)
        tensor.withUnsafeBufferPointer { source in
            guard let base = source.baseAddress else { return }
            buffer.copyMemory(from: base, byteCount: source.count * MemoryLayout<Float>.stride)
        }
    }

    deinit {
        dnnl_memory_destroy(memory)
        free(buffer)
    }

    /// The plain row-major tag of a rank.
    static func plainTag(_ rank: Int) -> dnnl_format_tag_t {
        switch rank {
        case 1: return dnnl_a
        case 2: return dnnl_ab
        case 3: return dnnl_abc
        case 4: return dnnl_abcd
        default: return dnnl_abcde
        }
    }

    /// Whether the memory has exactly the layout `other`.
    func hasLayout(_ other: dnnl_memory_desc_t) -> Bool {
        var a = desc, b = other
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    /// This memory in the layout `target` (itself when it already is).
    func converted(to target: dnnl_memory_desc_t) throws -> OneDNNTensor {
        if hasLayout(target) { return self }
        let result = try OneDNNTensor(shape: shape, desc: target, engine: engine)
        try engine.reorder(memory, desc, into: result.memory, target)
        return result
    }

    /// A copy in new memory of the same layout (for a residual that a convolution would
    /// overwrite while a later layer still reads it).
    func duplicate() throws -> OneDNNTensor {
        let copy = try OneDNNTensor(shape: shape, desc: desc, engine: engine)
        var d = desc
        copy.buffer.copyMemory(from: buffer, byteCount: dnnl_memory_desc_get_size(&d))
        return copy
    }

    /// The elements as a plain row-major `Tensor`.
    func tensor() throws -> Tensor {
        var plain = try oneDNNDescriptor(shape, OneDNNTensor.plainTag(shape.count))
        if hasLayout(plain) {
            let count = shape.reduce(1, *)
            let source = buffer.assumingMemoryBound(to: Float.self)
            return Tensor(shape: shape) { out in
                guard let base = out.baseAddress else { return }
                base.update(from: source, count: count)
            }
        }
        var result = Tensor(shape: shape)
        try result.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            var memory: dnnl_memory_t?
            try oneDNNCheck(dnnl_memory_create(&memory, &plain, engine.engine, base), "memory_create(plain \(shape))")
            guard let memory else { throw RuntimeError("oneDNN: memory_create returned no memory") }
            defer { dnnl_memory_destroy(memory) }
            try engine.reorder(self.memory, desc, into: memory, plain)
        }
        return result
    }
}

/// An activation during a forward pass: a plain tensor, or oneDNN memory in the layout the
/// layer that produced it chose (inference-only passes).
enum PassValue {
    case plain(Tensor)
    case oneDNN(OneDNNTensor)

    /// The value as a plain NCHW tensor.
    func tensor() throws -> Tensor {
        switch self {
        case let .plain(t): return t
        case let .oneDNN(m): return try m.tensor()
        }
    }

    /// The value as oneDNN memory (a copy of a plain tensor).
    func oneDNN(_ engine: OneDNNEngine) throws -> OneDNNTensor {
        switch self {
        case let .plain(t): return try OneDNNTensor(t, engine: engine)
        case let .oneDNN(m): return m
        }
    }
}

/// A oneDNN convolution for one input shape with its weights in the layout it wants.
final class OneDNNConvolution {
    /// The engine the primitive was created on (primitives only run with memory of their engine).
    let engine: OneDNNEngine
    let primitive: OneDNNPrimitive
    let sourceLayout: dnnl_memory_desc_t
    let destinationLayout: dnnl_memory_desc_t
    let outputShape: [Int]
    private let weights: OneDNNTensor
    private let bias: OneDNNTensor

    /// Builds the primitive for geometry `g`; `weights` are [out, in/groups, kh, kw] row-major
    /// (BN folded), `bias` per output channel; `accumulates` adds the destination's prior
    /// contents (a residual) before `activation`.
    /// With `plain`, input and output are NCHW (for passes that keep tensors for backward);
    /// otherwise oneDNN chooses their layouts.
    init(_ g: ConvGeometry, outChannels: Int, groups: Int, weights: [Float], bias: [Float],
         activation: Activation?, accumulates: Bool, plain: Bool = false, engine: OneDNNEngine) throws {
        let outputShape = [g.batch, outChannels, g.outHeight, g.outWidth]
        let tag = plain ? dnnl_nchw : dnnl_format_tag_any
        var src = try oneDNNDescriptor([g.batch, g.channels, g.height, g.width], tag)
        var dst = try oneDNNDescriptor(outputShape, tag)
        var biasDesc = try oneDNNDescriptor([outChannels], dnnl_a)
        let kernel = [g.kernelHeight, g.kernelWidth]
        let userWeightsShape = groups == 1
            ? [outChannels, g.channels] + kernel
            : [groups, outChannels / groups, g.channels / groups] + kernel
        var weightsAny = try oneDNNDescriptor(userWeightsShape, dnnl_format_tag_any)
        var strides: [Int64] = [Int64(g.strideY), Int64(g.strideX)]
        var dilation: [Int64] = [Int64(g.dilationY - 1), Int64(g.dilationX - 1)]
        var padLeft: [Int64] = [Int64(g.padTop), Int64(g.padLeft)]
        // The trailing padding that makes oneDNN's output size formula give outHeight × outWidth.
        func trailing(_ n: Int, _ out: Int, _ k: Int, _ s: Int, _ d: Int, _ lead: Int) -> Int64 {
            Int64(Swift.max((out - 1) * s + (k - 1) * d + 1 - n - lead, 0))
        }
        var padRight: [Int64] = [trailing(g.height, g.outHeight, g.kernelHeight, g.strideY, g.dilationY, g.padTop),
                                 trailing(g.width, g.outWidth, g.kernelWidth, g.strideX, g.dilationX, g.padLeft)]
        // Winograd F(2×2, 3×3) for dense 3×3 stride-1 convolutions of inference passes: ResNet-50's
        // forward takes ~13 % less time (bench/run.sh); the oneDNN-vs-OpenBLAS and PyTorch parity
        // tests hold at their tolerances. Direct where oneDNN has no Winograd kernel (no AVX-512).
        let winograd = engine.allowsWinograd && !plain && groups == 1 && g.kernelHeight == 3 && g.kernelWidth == 3
            && g.strideX == 1 && g.strideY == 1 && g.dilationX == 1 && g.dilationY == 1
        var algorithms = winograd ? [dnnl_convolution_winograd, dnnl_convolution_direct] : [dnnl_convolution_direct]

        var postOps: dnnl_post_ops_t?
        try oneDNNCheck(dnnl_post_ops_create(&postOps), "post_ops_create")
        defer { if let postOps { dnnl_post_ops_destroy(postOps) } }
        if accumulates { try oneDNNCheck(dnnl_post_ops_append_sum(postOps, 1), "post_ops_append_sum") }
        switch activation {
        case .relu?:
            try oneDNNCheck(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "append_eltwise(relu)")
        case .relu6?:
            try oneDNNCheck(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_clip, 0, 6), "append_eltwise(clip)")
        case nil:
            break
        }
        let attributes = try makeOneDNNAttributes()
        defer { dnnl_primitive_attr_destroy(attributes) }
        try oneDNNCheck(dnnl_primitive_attr_set_post_ops(attributes, postOps), "primitive_attr_set_post_ops")

        var pd: dnnl_primitive_desc_t?
        while let algorithm = algorithms.first {
            algorithms.removeFirst()
            var desc = dnnl_convolution_desc_t()
            try oneDNNCheck(dnnl_dilated_convolution_forward_desc_init(
                &desc, dnnl_forward_inference, algorithm, &src, &weightsAny, &biasDesc, &dst,
                &strides, &dilation, &padLeft, &padRight), "convolution_forward_desc_init(\(g))")
            let status = dnnl_primitive_desc_create(&pd, &desc, attributes, engine.engine, nil)
            if status == dnnl_success { break }
            if algorithms.isEmpty { try oneDNNCheck(status, "primitive_desc_create(convolution \(g))") }
        }
        self.engine = engine
        primitive = try OneDNNPrimitive(descriptor: pd, name: "convolution")
        sourceLayout = try primitive.layout(dnnl_query_src_md)
        destinationLayout = try primitive.layout(dnnl_query_dst_md)
        self.outputShape = outputShape

        let userWeights = try OneDNNTensor(Tensor(shape: userWeightsShape, storage: weights), engine: engine)
        self.weights = try userWeights.converted(to: try primitive.layout(dnnl_query_weights_md))
        self.bias = try OneDNNTensor(Tensor(shape: [outChannels], storage: bias), engine: engine)
    }

    /// Runs the convolution on `input` (reordered first when its layout differs); with
    /// `accumulating`, the output is written over (and added to) that memory, which must have
    /// `destinationLayout`.
    func run(_ input: OneDNNTensor, accumulating residual: OneDNNTensor? = nil) throws -> OneDNNTensor {
        let engine = input.engine
        let source = try input.converted(to: sourceLayout)
        let output = try residual ?? OneDNNTensor(shape: outputShape, desc: destinationLayout, engine: engine)
        try engine.execute(primitive, [
            (OneDNNArgument.source, source.memory), (OneDNNArgument.weights, weights.memory),
            (OneDNNArgument.bias, bias.memory), (OneDNNArgument.destination, output.memory),
        ])
        return output
    }

    /// Runs a plain-layout convolution (built with `plain`) on NCHW tensors, without copies.
    func run(plain input: Tensor, engine: OneDNNEngine) throws -> Tensor {
        var output = Tensor(shape: outputShape)
        try input.withUnsafeBufferPointer { x in
            try output.withUnsafeMutableBufferPointer { y in
                guard let xp = x.baseAddress, let yp = y.baseAddress else { return }
                var srcDesc = sourceLayout, dstDesc = destinationLayout
                var src: dnnl_memory_t?, dst: dnnl_memory_t?
                // oneDNN only reads the source; its API takes a mutable handle.
                try oneDNNCheck(dnnl_memory_create(&src, &srcDesc, engine.engine, UnsafeMutableRawPointer(mutating: xp)),
                                "memory_create(source)")
                defer { if let src { dnnl_memory_destroy(src) } }
                try oneDNNCheck(dnnl_memory_create(&dst, &dstDesc, engine.engine, yp), "memory_create(destination)")
                defer { if let dst { dnnl_memory_destroy(dst) } }
                guard let src, let dst else { throw RuntimeError("oneDNN: memory_create returned no memory") }
                try engine.execute(primitive, [
                    (OneDNNArgument.source, src), (OneDNNArgument.weights, weights.memory),
                    (OneDNNArgument.bias, bias.memory), (OneDNNArgument.destination, dst),
                ])
            }
        }
        return output
    }
}

/// oneDNN max pooling (forward inference) for one input shape and layout.
final class OneDNNMaxPool {
    /// The engine the primitive was created on.
    let engine: OneDNNEngine
    let primitive: OneDNNPrimitive
    let sourceLayout: dnnl_memory_desc_t
    let destinationLayout: dnnl_memory_desc_t
    let outputShape: [Int]

    /// `padding` is (top, left, bottom, right); the trailing padding makes oneDNN's output size
    /// the one asked for (ceil mode).
    init(input: OneDNNTensor, outputShape: [Int], kernel: (Int, Int), stride: (Int, Int),
         padding: (Int, Int, Int, Int)) throws {
        var src = input.desc
        var dst = try oneDNNDescriptor(outputShape, dnnl_format_tag_any)
        var strides: [Int64] = [Int64(stride.0), Int64(stride.1)]
        var window: [Int64] = [Int64(kernel.0), Int64(kernel.1)]
        var dilation: [Int64] = [0, 0]
        var padLeft: [Int64] = [Int64(padding.0), Int64(padding.1)]
        var padRight: [Int64] = [
            Int64(Swift.max((outputShape[2] - 1) * stride.0 + kernel.0 - input.shape[2] - padding.0, 0)),
            Int64(Swift.max((outputShape[3] - 1) * stride.1 + kernel.1 - input.shape[3] - padding.1, 0)),
        ]
        var desc = dnnl_pooling_v2_desc_t()
        try oneDNNCheck(dnnl_pooling_v2_forward_desc_init(&desc, dnnl_forward_inference, dnnl_pooling_max, &src, &dst,
                                                          &strides, &window, &dilation, &padLeft, &padRight),
                        "pooling_v2_forward_desc_init")
        let attributes = try makeOneDNNAttributes()
        defer { dnnl_primitive_attr_destroy(attributes) }
        var pd: dnnl_primitive_desc_t?
        try oneDNNCheck(dnnl_primitive_desc_create(&pd, &desc, attributes, input.engine.engine, nil),
                        "primitive_desc_create(pooling)")
        engine = input.engine
        primitive = try OneDNNPrimitive(descriptor: pd, name: "max pooling")
        sourceLayout = try primitive.layout(dnnl_query_src_md)
        destinationLayout = try primitive.layout(dnnl_query_dst_md)
        self.outputShape = outputShape
    }

    func run(_ input: OneDNNTensor) throws -> OneDNNTensor {
        let source = try input.converted(to: sourceLayout)
        let output = try OneDNNTensor(shape: outputShape, desc: destinationLayout, engine: input.engine)
        try input.engine.execute(primitive, [(OneDNNArgument.source, source.memory),
                                             (OneDNNArgument.destination, output.memory)])
        return output
    }
}

/// What oneDNN's threads need from the process environment.
public enum OneDNNRuntime {
    /// The widest instruction set oneDNN's kernels use in this process, e.g. `"avx512_core"` or
    /// `"avx2"`: the CPU's, or lower where `ONEDNN_MAX_CPU_ISA` caps it (as `make test` does to
    /// run the parity tests on the kernels an AVX2-only CPU gets).
    public static var instructionSet: String {
        let isa = dnnl_get_effective_cpu_isa()
        let names: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_all, "all"), (dnnl_cpu_isa_sse41, "sse41"), (dnnl_cpu_isa_avx, "avx"),
            (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"),
            (dnnl_cpu_isa_avx512_mic, "avx512_mic"), (dnnl_cpu_isa_avx512_mic_4ops, "avx512_mic_4ops"),
            (dnnl_cpu_isa_avx512_core, "avx512_core"), (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"),
            (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"), (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"),
        ]
        return names.first { $0.0 == isa }?.1 ?? "isa 0x\(String(isa.rawValue, radix: 16))"
    }

    /// The environment variables to set (by re-executing the process: libgomp reads them only
    /// when it loads) before running networks, or an empty dictionary when nothing is needed.
    ///
    /// Debian's libdnnl runs on OpenMP (libgomp), whose idle threads spin-wait by default while
    /// the Swift code and OpenBLAS run between primitives. On this 2-core machine that made the
    /// ResNet-50 forward 3–10× slower (406 ms spinning vs 76 ms with `OMP_WAIT_POLICY=passive`,
    /// docs/performance.md), so a passive wait policy is asked for unless the user chose one.
    public static func preferredEnvironment(_ environment: [String: String]) -> [String: String] {
        guard environment["OMP_WAIT_POLICY"] == nil, environment["GOMP_SPINCOUNT"] == nil else { return [:] }
        return ["OMP_WAIT_POLICY": "passive"]
    }
}

/// A oneDNN inner product (a fully connected layer, forward inference) for one batch size.
final class OneDNNInnerProduct {
    /// The engine the primitive was created on.
    let engine: OneDNNEngine
    let primitive: OneDNNPrimitive
    let batch: Int
    private let sourceLayout: dnnl_memory_desc_t
    private let weights: OneDNNTensor
    private let bias: OneDNNTensor
    private let outFeatures: Int

    /// `weights` are [out, in] row-major.
    init(batch: Int, weights: Tensor, bias: Tensor, engine: OneDNNEngine) throws {
        let (outFeatures, inFeatures) = (weights.shape[0], weights.shape[1])
        var src = try oneDNNDescriptor([batch, inFeatures], dnnl_ab)
        var weightsAny = try oneDNNDescriptor([outFeatures, inFeatures], dnnl_format_tag_any)
        var biasDesc = try oneDNNDescriptor([outFeatures], dnnl_a)
        var dst = try oneDNNDescriptor([batch, outFeatures], dnnl_ab)
        var desc = dnnl_inner_product_desc_t()
        try oneDNNCheck(dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_inference, &src, &weightsAny, &biasDesc, &dst),
                        "inner_product_forward_desc_init")
        let attributes = try makeOneDNNAttributes()
        defer { dnnl_primitive_attr_destroy(attributes) }
        var pd: dnnl_primitive_desc_t?
        try oneDNNCheck(dnnl_primitive_desc_create(&pd, &desc, attributes, engine.engine, nil),
                        "primitive_desc_create(inner product)")
        self.engine = engine
        primitive = try OneDNNPrimitive(descriptor: pd, name: "inner product")
        sourceLayout = try primitive.layout(dnnl_query_src_md)
        self.weights = try OneDNNTensor(weights, engine: engine).converted(to: try primitive.layout(dnnl_query_weights_md))
        self.bias = try OneDNNTensor(bias, engine: engine)
        self.batch = batch
        self.outFeatures = outFeatures
    }

    /// The layer's output [batch, out] for a plain [batch, in] input.
    func run(_ input: OneDNNTensor) throws -> Tensor {
        let engine = input.engine
        let source = try input.converted(to: sourceLayout)
        let output = try OneDNNTensor(shape: [batch, outFeatures], desc: try oneDNNDescriptor([batch, outFeatures], dnnl_ab),
                                      engine: engine)
        try engine.execute(primitive, [
            (OneDNNArgument.source, source.memory), (OneDNNArgument.weights, weights.memory),
            (OneDNNArgument.bias, bias.memory), (OneDNNArgument.destination, output.memory),
        ])
        return try output.tensor()
    }
}
