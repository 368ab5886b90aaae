import Foundation

extension ONNXOperators {
    /// Element-wise arithmetic, shape manipulation, normalisation and attention.
    static let tensor: [String: Lower] = [
        "Add": { c in try c.lowering.emit(Add(), try c.two(), for: c.node) },
        "Sub": { c in try c.lowering.emit(Binary(.sub), try c.two(), for: c.node) },
        "Mul": { c in try c.lowering.emit(Binary(.mul), try c.two(), for: c.node) },
        "Div": { c in
            let inputs = try c.two()
            try c.lowering.emit(Binary(inputs.allSatisfy(c.lowering.isInteger) ? .integerDiv : .div), inputs, for: c.node)
        },
        "Pow": { c in try c.lowering.emit(Binary(.pow), try c.two(), for: c.node) },
        "Equal": { c in try c.lowering.emit(Equal(), try c.two(), for: c.node) },
        "Less": { c in try c.lowering.emit(Less(), try c.two(), for: c.node) },
        "Greater": { c in try c.lowering.emit(Greater(), try c.two(), for: c.node) },
        "Not": { c in try c.lowering.emit(Not(), [c.inputs[0]], for: c.node) },
        "Where": { c in try c.lowering.emit(Where(), try c.inputs(3), for: c.node) },
        "Mod": { c in try c.lowering.emit(Mod(fmod: try c.int("fmod", default: 0) != 0), try c.two(), for: c.node) },
        "PRelu": { c in try c.lowering.emit(PRelu(), try c.two(), for: c.node) },
        "Sigmoid": unary(.sigmoid),
        "Tanh": unary(.tanh),
        "Erf": unary(.erf),
        "Sqrt": unary(.sqrt),
        "Reciprocal": unary(.reciprocal),
        "Neg": unary(.neg),
        "Exp": unary(.exp),
        "Log": unary(.log),
        "Abs": unary(.abs),
        "Softplus": unary(.softplus),
        "HardSwish": unary(.hardSwish),
        "HardSigmoid": { c in
            let kind = Unary.Kind.hardSigmoid(alpha: try c.float("alpha", default: 0.2), beta: try c.float("beta", default: 0.5))
            try c.lowering.emit(Unary(kind), [c.inputs[0]], for: c.node)
        },
        "LeakyRelu": { c in
            try c.lowering.emit(Unary(.leakyRelu(alpha: try c.float("alpha", default: 0.01))), [c.inputs[0]], for: c.node)
        },
        "Gelu": { c in
            let approximate = try c.string("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else {
                throw RuntimeError("approximate must be none or tanh, found \(approximate)")
            }
            try c.lowering.emit(Unary(.gelu(tanhApproximation: approximate == "tanh")), [c.inputs[0]], for: c.node)
        },
        "Clip": clip,
        "MatMul": { c in try c.lowering.emit(MatMul(), try c.two(), for: c.node) },
        "Reshape": { c in
            try c.lowering.emit(Reshape(allowZero: try c.int("allowzero", default: 0) != 0), try c.two(), for: c.node)
        },
        "Transpose": { c in try c.lowering.emit(Transpose(perm: try c.ints("perm")), [c.inputs[0]], for: c.node) },
        "Squeeze": { c in try c.lowering.emit(Squeeze(axes: try c.ints("axes")), c.inputs, for: c.node) },
        "Unsqueeze": { c in try c.lowering.emit(Unsqueeze(axes: try c.ints("axes")), c.inputs, for: c.node) },
        "Concat": { c in
            guard !c.inputs.isEmpty else { throw RuntimeError("Concat needs at least one input") }
            try c.lowering.emit(Concat(axis: try c.int("axis", default: 0)), c.inputs, for: c.node)
        },
        "Split": split,
        "Slice": { c in try c.lowering.emit(StridedSlice(), c.inputs, for: c.node) },
        "Gather": { c in try c.lowering.emit(Gather(axis: try c.int("axis", default: 0)), try c.two(), for: c.node) },
        "Expand": { c in try c.lowering.emit(Expand(), try c.two(), for: c.node) },
        "Pad": { c in
            var inputs = c.inputs
            // An axes input without a constant value: the value slot gets the default 0.
            if inputs.count == 4, inputs[2].isEmpty {
                let zero = c.node.name + "#pad_value"
                c.lowering.setConstant(zero, Tensor(shape: [], storage: [0]))
                inputs[2] = zero
            }
            try c.lowering.emit(Pad(mode: try c.string("mode", default: "constant")), inputs, for: c.node)
        },
        "Shape": { c in
            let end: Int? = c.node.attributes["end"] == nil ? nil : try c.int("end", default: 0)
            try c.lowering.emit(ShapeOf(start: try c.int("start", default: 0), end: end), [c.inputs[0]], for: c.node)
        },
        "ConstantOfShape": { c in
            var value: Float = 0
            if case let .tensor(t)? = c.node.attributes["value"] {
                value = try Lowering.floatTensor(t).storage.first ?? 0
            }
            try c.lowering.emit(ConstantOfShape(value: value), [c.inputs[0]], for: c.node)
        },
        "Cast": { c in try c.lowering.emit(Cast(to: try castTarget(try c.int("to", default: 1))), [c.inputs[0]], for: c.node) },
        "Range": { c in try c.lowering.emit(Arange(), try c.inputs(3), for: c.node) },
        "ScatterND": { c in
            try c.lowering.emit(ScatterND(reduction: try c.string("reduction", default: "none")), try c.inputs(3), for: c.node)
        },
        "LayerNormalization": { c in
            try c.refuse("stash_type", unless: try c.int("stash_type", default: 1) == 1, "other than 1 (float)")
            if c.node.outputs.count > 1, c.node.outputs.dropFirst().contains(where: { !$0.isEmpty }) {
                throw RuntimeError("the Mean and InvStdDev outputs are not supported")
            }
            try c.lowering.emit(LayerNormalization(axis: try c.int("axis", default: -1),
                                                   epsilon: try c.float("epsilon", default: 1e-5)), c.inputs, for: c.node)
        },
        "Softmax": { c in
            let legacy = c.lowering.opset < 13
            try c.lowering.emit(Softmax(axis: try c.int("axis", default: legacy ? 1 : -1), coercesTo2D: legacy),
                                [c.inputs[0]], for: c.node)
        },
        "ReduceMean": { c in try c.lowering.emit(reduce(c, sum: false), c.inputs, for: c.node) },
        "ReduceSum": { c in try c.lowering.emit(reduce(c, sum: true), c.inputs, for: c.node) },
        "AveragePool": averagePool,
        "Flatten": { c in try c.lowering.emit(Flatten(axis: try c.int("axis", default: 1)), [c.inputs[0]], for: c.node) },
    ]

    private static func unary(_ kind: Unary.Kind) -> Lower {
        { c in try c.lowering.emit(Unary(kind), [c.inputs[0]], for: c.node) }
    }

    /// Clip(0, 6) is ReLU6 and Clip(0, ∞) ReLU (PyTorch's gradients at the bounds, and they fuse
    /// into convolutions); other bounds are an element-wise clip.
    private static func clip(_ c: NodeContext) throws {
        var low = -Float.infinity, high = Float.infinity
        if c.lowering.opset < 11 {
            low = try c.float("min", default: low)
            high = try c.float("max", default: high)
        } else {
            let inputs = c.inputs
            if inputs.count > 1, !inputs[1].isEmpty { low = try c.constant(1, "min").storage.first ?? low }
            if inputs.count > 2, !inputs[2].isEmpty { high = try c.constant(2, "max").storage.first ?? high }
        }
        let op: Operator
        switch (low, high) {
        case (0, 6): op = ReLU(.relu6)
        case (0, .infinity): op = ReLU(.relu)
        default: op = Unary(.clip(min: low, max: high))
        }
        try c.lowering.emit(op, [c.inputs[0]], for: c.node)
    }

    /// Split into one slice per output, with sizes from the `split` input or attribute.
    private static func split(_ c: NodeContext) throws {
        let axis = try c.int("axis", default: 0)
        var sizes: [Int]?
        if c.inputs.count > 1 {
            sizes = try c.constant(1, "split sizes").storage.map { Int($0) }
        } else {
            sizes = try c.ints("split")
        }
        guard let sizes, sizes.count == c.node.outputs.count, sizes.allSatisfy({ $0 >= 0 }) else {
            throw RuntimeError("Split is supported with explicit sizes (a split input or attribute) for each output")
        }
        var start = 0
        for (index, size) in sizes.enumerated() {
            let bounds = c.node.name + "#split\(index)"
            c.lowering.setConstant(bounds + ".starts", Tensor(shape: [1], storage: [Float(start)]))
            c.lowering.setConstant(bounds + ".ends", Tensor(shape: [1], storage: [Float(start + size)]))
            c.lowering.setConstant(bounds + ".axes", Tensor(shape: [1], storage: [Float(axis)]))
            if !c.node.outputs[index].isEmpty {
                try c.lowering.emit(StridedSlice(), [c.inputs[0], bounds + ".starts", bounds + ".ends", bounds + ".axes"],
                                    for: c.node, output: index)
            }
            start += size
        }
    }

    private static func reduce(_ c: NodeContext, sum: Bool) throws -> Operator {
        let axes = try c.ints("axes")
        let keep = try c.int("keepdims", default: 1) != 0
        let noop = try c.int("noop_with_empty_axes", default: 0) != 0
        return sum ? ReduceSum(axes: axes, keepDims: keep, noopWithEmptyAxes: noop)
            : ReduceMean(axes: axes, keepDims: keep, noopWithEmptyAxes: noop)
    }

    private static func averagePool(_ c: NodeContext) throws {
        guard let kernel = try c.ints("kernel_shape"), kernel.count == 2 else {
            throw RuntimeError("kernel_shape must give two sizes (2-D images)")
        }
        let strides = try c.ints("strides") ?? [1, 1]
        let pads = try c.ints("pads") ?? [0, 0, 0, 0]
        guard strides.count == 2, strides.allSatisfy({ $0 >= 1 }), pads.count == 4, pads.allSatisfy({ $0 >= 0 }),
              kernel.allSatisfy({ (1...4096).contains($0) }) else {
            throw RuntimeError("kernel_shape, strides and pads must be 2, 2 and 4 non-negative sizes")
        }
        guard try c.string("auto_pad", default: "NOTSET") == "NOTSET" || c.node.attributes["auto_pad"] == .string("VALID") else {
            throw RuntimeError("auto_pad SAME_* is not supported for AveragePool; export with explicit pads")
        }
        if let dilations = try c.ints("dilations"), dilations.contains(where: { $0 != 1 }) {
            throw RuntimeError("dilated average pooling is not supported")
        }
        let op = AveragePool2d(kernel: (kernel[0], kernel[1]), stride: (strides[0], strides[1]),
                               pads: (pads[0], pads[1], pads[2], pads[3]),
                               ceilMode: try c.int("ceil_mode", default: 0) != 0,
                               countIncludePad: try c.int("count_include_pad", default: 0) != 0)
        try c.lowering.emit(op, [c.inputs[0]], for: c.node)
    }

    /// The cast target of an ONNX data type number.
    private static func castTarget(_ type: Int) throws -> CastTarget {
        switch type {
        case 1, 10, 11, 16: return .float
        case 9: return .bool
        case 3: return .int8
        case 5: return .int16
        case 6: return .int32
        case 7: return .int64
        case 2: return .uint8
        case 4: return .uint16
        case 12: return .uint32
        case 13: return .uint64
        default: throw RuntimeError("Cast to \(ONNXDataType(rawValue: Int32(clamping: type)).name) is not supported")
        }
    }

    /// Gemm in general (B computed at run time, transposed A, a C of another shape).
    static func gemmGeneral(_ c: NodeContext) throws {
        let op = Gemm(alpha: try c.float("alpha", default: 1), beta: try c.float("beta", default: 1),
                      transA: try c.int("transA", default: 0) != 0, transB: try c.int("transB", default: 0) != 0)
        try c.lowering.emit(op, c.inputs, for: c.node)
    }
}

extension NodeContext {
    /// The first two inputs, which the operator needs.
    func two() throws -> [String] { try inputs(2) }

    /// Exactly `count` inputs, or a clear error.
    func inputs(_ count: Int) throws -> [String] {
        let list = inputs
        guard list.count >= count else { throw RuntimeError("expected \(count) inputs, found \(list.count)") }
        return Array(list.prefix(count))
    }
}
