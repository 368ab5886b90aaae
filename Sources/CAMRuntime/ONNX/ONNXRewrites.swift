import Foundation

/// Rewrites of exporter patterns into the single operators they spell, before lowering (the
/// "declutter" stage of tract, the graph transformers of ONNX Runtime): fewer passes over
/// memory, and one backward instead of several.
enum ONNXRewrites {
    /// Every rewrite, in order.
    static func apply(_ nodes: [ONNXNode], constants: (String) -> Tensor?) -> [ONNXNode] {
        fuseErfGELU(nodes, constants: constants)
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
                guard nodes[j].opType == op, nodes[j].inputs.count == 2, nodes[j].domain.isEmpty || nodes[j].domain == "ai.onnx"
                else { return nil }
                let other = nodes[j].inputs[0] == value ? nodes[j].inputs[1] : nodes[j].inputs[0]
                return (j, other)
            }
            return nil
        }
        var removed = Set<Int>()
        var replacement: [Int: ONNXNode] = [:]
        for (erf, node) in nodes.enumerated() where node.opType == "Erf" && node.inputs.count == 1 {
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
