import Foundation

/// Rewrites of exporter patterns into the single operators they spell, before lowering (the
/// "declutter" stage of tract, the graph transformers of ONNX Runtime): fewer passes over
/// memory, and one backward instead of several.
enum ONNXRewrites {
    /// The operator domain of nodes that only a rewrite makes. The importer refuses files with
    /// nodes outside the default domain before rewriting, so no file can name these itself.
    static let domain = "camscript.rewrites"

    /// How the rewrites' own operators lower, as `ONNXOperators.table` for the file's.
    static let lowerings: [String: ONNXOperators.Lower] = [
        "MatMulAdd": { c in try c.lowering.emit(MatMul(addsBias: true), try c.inputs(3), for: c.node) },
    ]

    /// Every rewrite, in order; `outputs` are the graph's outputs, which no rewrite may remove.
    static func apply(_ nodes: [ONNXNode], constants: (String) -> Tensor?, outputs: Set<String> = []) -> [ONNXNode] {
        fuseMatMulBias(fuseErfGELU(nodes, constants: constants), constants: constants, outputs: outputs)
    }

    /// A linear layer as both exporters write `nn.Linear` on 3-D input: `Add(MatMul(x, W), b)` with
    /// a constant W [k, m] and a constant b of m values (either operand order of the Add), the
    /// product read by that Add alone, becomes one `MatMulAdd` node named after the Add (so its
    /// module scope is kept), which adds the bias inside the product: one pass over the result
    /// fewer (ConvNeXt's 36 pointwise layers, ViT's 48 projections).
    static func fuseMatMulBias(_ nodes: [ONNXNode], constants: (String) -> Tensor?, outputs: Set<String>) -> [ONNXNode] {
        var readers: [String: [Int]] = [:]
        for (index, node) in nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty { readers[input, default: []].append(index) }
        }
        var removed = Set<Int>()
        var replacement: [Int: ONNXNode] = [:]
        for (index, node) in nodes.enumerated()
        where node.opType == "MatMul" && node.domain.isEmpty && node.inputs.count == 2 && node.outputs.count == 1 {
            let product = node.outputs[0]
            guard !outputs.contains(product), let weight = constants(node.inputs[1]), weight.shape.count == 2,
                  constants(node.inputs[0]) == nil,
                  let sole = readers[product], sole.count == 1, let add = sole.first, add > index,
                  replacement[add] == nil
            else { continue }
            let reader = nodes[add]
            guard reader.opType == "Add", reader.domain.isEmpty, reader.inputs.count == 2, reader.outputs.count == 1,
                  reader.inputs[0] != reader.inputs[1]
            else { continue }
            let biasName = reader.inputs[0] == product ? reader.inputs[1] : reader.inputs[0]
            let m = weight.shape[1]
            guard let bias = constants(biasName), bias.shape.last == m, bias.shape.dropLast().allSatisfy({ $0 == 1 }),
                  bias.shape.count <= 2
            else { continue }
            removed.insert(index)
            replacement[add] = ONNXNode(name: reader.name, opType: "MatMulAdd", domain: domain,
                                        inputs: [node.inputs[0], node.inputs[1], biasName], outputs: reader.outputs,
                                        attributes: [:], metadata: reader.metadata)
        }
        guard !replacement.isEmpty else { return nodes }
        return nodes.enumerated().compactMap { index, node in
            removed.contains(index) ? nil : (replacement[index] ?? node)
        }
    }

    /// GELU as the TorchScript exporter writes `nn.GELU()` before opset 20:
    /// `Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)` (either operand order of the Adds and Muls),
    /// each intermediate read by the next node only, becomes one `Gelu` node named after the
    /// last Mul (so its module scope is kept) — 5 element-wise passes and their backwards become one.
    static func fuseErfGELU(_ nodes: [ONNXNode], constants: (String) -> Tensor?) -> [ONNXNode] {
        var readers: [String: Int] = [:]
        for node in nodes { for input in node.inputs where !input.isEmpty { readers[input, default: 0] += 1 } }
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() { for output in node.outputs { producer[output] = index } }
        func scalar(_ name: String) -> Float? {
            guard let t = constants(name), t.count == 1 else { return nil }
            return t.storage[0]
        }
        /// The single reader of `value` with op type `op`, and the other input of that reader.
        func soleReader(of value: String, _ op: String, after index: Int) -> (Int, String)? {
            guard readers[value] == 1 else { return nil }
            for j in (index + 1)..<nodes.count where nodes[j].inputs.contains(value) {
                guard nodes[j].opType == op, nodes[j].inputs.count == 2, nodes[j].outputs.count == 1,
                      nodes[j].domain.isEmpty || nodes[j].domain == "ai.onnx"
                else { return nil }
                let other = nodes[j].inputs[0] == value ? nodes[j].inputs[1] : nodes[j].inputs[0]
                return (j, other)
            }
            return nil
        }
        var removed = Set<Int>()
        var replacement: [Int: ONNXNode] = [:]
        for (erf, node) in nodes.enumerated() where node.opType == "Erf" && node.inputs.count == 1 && node.outputs.count == 1 {
            guard let div = producer[node.inputs[0]], nodes[div].opType == "Div", nodes[div].inputs.count == 2,
                  readers[nodes[div].outputs[0]] == 1, let root = scalar(nodes[div].inputs[1]),
                  abs(root - Float(2).squareRoot()) < 1e-6 else { continue }
            let x = nodes[div].inputs[0]
            guard let (add, one) = soleReader(of: node.outputs[0], "Add", after: erf), scalar(one) == 1,
                  let (mul, other) = soleReader(of: nodes[add].outputs[0], "Mul", after: add), other == x,
                  let (half, h) = soleReader(of: nodes[mul].outputs[0], "Mul", after: mul), scalar(h) == 0.5
            else { continue }
            removed.formUnion([div, erf, add, mul])
            replacement[half] = ONNXNode(name: nodes[half].name, opType: "Gelu", domain: "", inputs: [x],
                                        outputs: nodes[half].outputs, attributes: [:], metadata: nodes[half].metadata)
        }
        guard !replacement.isEmpty else { return nodes }
        return nodes.enumerated().compactMap { index, node in
            removed.contains(index) ? nil : (replacement[index] ?? node)
        }
    }
}
