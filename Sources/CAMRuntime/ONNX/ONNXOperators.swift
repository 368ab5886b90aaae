import Foundation

/// How each ONNX operator lowers onto the executor's operators: one entry per op type, a
/// binding table from which the importer's error lists what is supported.
enum ONNXOperators {
    typealias Lower = (NodeContext) throws -> Void

    /// Every supported ONNX op type and its lowering.
    static let table: [String: Lower] = convolutional.merging(tensor) { first, _ in first }

    /// The layers of convolutional classifiers whose weights move into the operators.
    static let convolutional: [String: Lower] = [
        "Conv": conv,
        "BatchNormalization": batchNormalization,
        "Relu": { c in try c.lowering.emit(ReLU(.relu), [c.inputs[0]], for: c.node) },
        "MaxPool": maxPool,
        "GlobalAveragePool": { c in try c.lowering.emit(GlobalAveragePool(), [c.inputs[0]], for: c.node) },
        "Gemm": gemm,

        "Identity": { c in try c.lowering.alias(c.node.outputs[0], to: c.inputs[0], for: c.node) },
        "Dropout": { c in try c.lowering.alias(c.node.outputs[0], to: c.inputs[0], for: c.node) },
        "Constant": constant,
    ]

    /// Spatial attributes of Conv and pooling: kernel, strides, dilations and padding, checked.
    private static func window(_ c: NodeContext, kernel: (Int, Int)) throws
        -> (stride: (Int, Int), dilation: (Int, Int), padding: ConvPadding) {
        let strides = try c.ints("strides") ?? [1, 1]
        let dilations = try c.ints("dilations") ?? [1, 1]
        guard strides.count == 2, dilations.count == 2, strides.allSatisfy({ $0 >= 1 }), dilations.allSatisfy({ $0 >= 1 }) else {
            throw RuntimeError("strides and dilations must be two positive integers (2-D images), found "
                               + "\(strides) and \(dilations)")
        }
        let padding: ConvPadding
        switch try c.string("auto_pad", default: "NOTSET") {
        case "NOTSET":
            let pads = try c.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ (0...65536).contains($0) }) else {
                throw RuntimeError("pads must be four non-negative integers (top, left, bottom, right), found \(pads)")
            }
            padding = .pads(pads[0], pads[1], pads[2], pads[3])
        case "VALID": padding = .pads(0, 0, 0, 0)
        case "SAME_UPPER": padding = .same
        case "SAME_LOWER": padding = .sameLower
        case let other: throw RuntimeError("auto_pad \(other) is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
        }
        guard kernel.0 >= 1, kernel.1 >= 1, kernel.0 <= 4096, kernel.1 <= 4096 else {
            throw RuntimeError("the kernel \(kernel.0)×\(kernel.1) is out of range")
        }
        return ((strides[0], strides[1]), (dilations[0], dilations[1]), padding)
    }

    private static func conv(_ c: NodeContext) throws {
        let weight = try c.constant(1, "weight (input 1)")
        guard weight.rank == 4 else {
            throw RuntimeError("only 2-D convolutions (a weight [out, in/groups, kh, kw]) are supported, the weight is "
                               + Network.describe(weight.shape))
        }
        let groups = try c.int("group", default: 1)
        let (out, perGroup, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        guard groups >= 1, out % groups == 0, out >= 1, perGroup >= 1 else {
            throw RuntimeError("group \(groups) does not divide the \(out) output channels")
        }
        if let shape = try c.ints("kernel_shape"), shape != [kh, kw] {
            throw RuntimeError("kernel_shape \(shape) disagrees with the weight \(Network.describe(weight.shape))")
        }
        let (stride, dilation, padding) = try window(c, kernel: (kh, kw))
        let bias = c.inputs.count > 2 ? try c.constant(2, "bias (input 2)") : nil
        if let bias, bias.count != out {
            throw RuntimeError("the bias has \(bias.count) values for \(out) output channels")
        }
        let op = Conv2d(inChannels: perGroup * groups, outChannels: out, kernelSize: (kh, kw), stride: stride,
                        padding: padding, dilation: dilation, groups: groups, bias: bias != nil)
        op.setParameter("weight", weight)
        if let bias { op.setParameter("bias", bias.reshaped([out])) }
        try c.lowering.emit(op, [c.inputs[0]], for: c.node)
    }

    private static func batchNormalization(_ c: NodeContext) throws {
        try c.refuse("training_mode", unless: try c.int("training_mode", default: 0) == 0, "= 1 (training)")
        guard c.inputs.count == 5 else { throw RuntimeError("expected 5 inputs (X, scale, B, mean, var), found \(c.inputs.count)") }
        let scale = try c.constant(1, "scale"), bias = try c.constant(2, "bias")
        let mean = try c.constant(3, "running mean"), variance = try c.constant(4, "running variance")
        let channels = scale.count
        guard [bias, mean, variance].allSatisfy({ $0.count == channels }) else {
            throw RuntimeError("scale, bias, mean and variance must have one value per channel")
        }
        let op = BatchNorm2d(channels: channels, eps: Double(try c.float("epsilon", default: 1e-5)))
        for (name, tensor) in [("weight", scale), ("bias", bias), ("running_mean", mean), ("running_var", variance)] {
            op.setParameter(name, tensor.reshaped([channels]))
        }
        try c.lowering.emit(op, [c.inputs[0]], for: c.node)
    }

    private static func maxPool(_ c: NodeContext) throws {
        guard let kernel = try c.ints("kernel_shape"), kernel.count == 2 else {
            throw RuntimeError("kernel_shape must give two sizes (2-D images)")
        }
        let (stride, dilation, padding) = try window(c, kernel: (kernel[0], kernel[1]))
        guard dilation == (1, 1) else { throw RuntimeError("dilated max pooling is not supported") }
        try c.refuse("storage_order", unless: try c.int("storage_order", default: 0) == 0, "= 1 (column major)")
        if c.node.outputs.count > 1, !c.node.outputs[1].isEmpty {
            throw RuntimeError("the indices output of MaxPool is not supported")
        }
        let pads: (Int, Int, Int, Int)
        switch padding {
        case let .pads(t, l, b, r): pads = (t, l, b, r)
        case let .explicit(h, w): pads = (h, w, h, w)
        case .same, .sameLower: throw RuntimeError("auto_pad SAME_* is not supported for MaxPool; export with explicit pads")
        }
        let op = MaxPool2d(kernel: (kernel[0], kernel[1]), stride: stride, padding: pads,
                           ceilMode: try c.int("ceil_mode", default: 0) != 0)
        try c.lowering.emit(op, [c.inputs[0]], for: c.node)
    }

    /// Gemm with a constant B: a linear layer (`nn.Linear` exports as transB = 1), the scales
    /// folded into the weights.
    private static func gemm(_ c: NodeContext) throws {
        guard c.inputs.count >= 2, c.lowering.isConstant(c.inputs[1]) else {
            return try gemmGeneral(c)
        }
        let alpha = try c.float("alpha", default: 1), beta = try c.float("beta", default: 1)
        guard try c.int("transA", default: 0) == 0 else { return try gemmGeneral(c) }
        var weight = try c.constant(1, "B")
        guard weight.rank == 2 else { throw RuntimeError("B must be a matrix, found \(Network.describe(weight.shape))") }
        if try c.int("transB", default: 0) == 0 { weight = transposed(weight) }
        let (out, features) = (weight.shape[0], weight.shape[1])
        var bias = Tensor(shape: [out])
        if c.inputs.count > 2 {
            let given = try c.constant(2, "C")
            guard given.count == out || given.count == 1 else {
                return try gemmGeneral(c)
            }
            bias = given.count == out ? given.reshaped([out]) : Tensor(shape: [out], repeating: given.storage[0])
        }
        let op = Linear(inFeatures: features, outFeatures: out)
        op.setParameter("weight", alpha == 1 ? weight : weight.map { $0 * alpha })
        op.setParameter("bias", beta == 1 ? bias : bias.map { $0 * beta })
        try c.lowering.emit(op, [c.inputs[0]], for: c.node)
    }

    /// The transpose of a matrix.
    static func transposed(_ m: Tensor) -> Tensor {
        let (rows, columns) = (m.shape[0], m.shape[1])
        return Tensor(shape: [columns, rows]) { out in
            for i in 0..<rows {
                for j in 0..<columns { out[j * rows + i] = m.storage[i * columns + j] }
            }
        }
    }

    private static func constant(_ c: NodeContext) throws {
        let name = c.node.outputs[0]
        switch c.node.attributes["value"] ?? c.node.attributes["value_float"] ?? c.node.attributes["value_floats"]
            ?? c.node.attributes["value_int"] ?? c.node.attributes["value_ints"] {
        case let .tensor(t)?: c.lowering.setConstant(name, try Lowering.floatTensor(t))
        case let .float(f)?: c.lowering.setConstant(name, Tensor(shape: [], storage: [f]))
        case let .floats(v)?: c.lowering.setConstant(name, Tensor(shape: [v.count], storage: v))
        case let .int(i)?: c.lowering.setConstant(name, Tensor(shape: [], storage: [Float(i)]))
        case let .ints(v)?: c.lowering.setConstant(name, Tensor(shape: [v.count], storage: v.map(Float.init)))
        default: throw RuntimeError("a Constant needs a value, value_float(s) or value_int(s) attribute")
        }
    }
}
