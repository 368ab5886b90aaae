import Foundation
import XCTest
@testable import CAMRuntime

/// Graphs the importer must refuse at load time with one clear sentence — unsupported
/// operators and attributes, dangling inputs, cycles, missing initializers, inconsistent
/// shapes, absurd sizes, graphs that are not image classifiers — and metadata class names.
final class ONNXImportErrorTests: XCTestCase {
    private func tensor(_ name: String, _ dims: [Int], _ values: [Float]? = nil) -> ONNXTensor {
        let count = dims.reduce(1, *)
        let data: [Float] = values ?? (0..<count).map { (i: Int) -> Float in Float((i * 7919) % 23) / 23 - 0.5 }
        return ONNXTensor(name: name, dims: dims, dataType: .float, values: .floats(data))
    }

    private func ints(_ name: String, _ values: [Int64]) -> ONNXTensor {
        ONNXTensor(name: name, dims: [values.count], dataType: .int64, values: .ints(values))
    }

    private func node(_ op: String, _ inputs: [String], _ output: String, name: String? = nil,
                      _ attributes: [String: ONNXAttribute] = [:], domain: String = "") -> ONNXNode {
        ONNXNode(name: name ?? "/\(output)/\(op)", opType: op, domain: domain, inputs: inputs, outputs: [output],
                 attributes: attributes, metadata: [:])
    }

    /// input [1, 3, 8, 8] → conv (4 channels) → relu → global pool → flatten → gemm (2 classes).
    private func classifier(nodes edit: (inout [ONNXNode]) -> Void = { _ in }, features: Int = 4,
                            input: [ONNXDimension] = [.fixed(1), .fixed(3), .fixed(8), .fixed(8)],
                            extraInputs: [ONNXValueInfo] = [], initializers extra: [ONNXTensor] = [],
                            opset: Int = 17, metadata: [String: String] = [:], output: String = "logits") -> ONNXFile {
        var nodes = [
            node("Conv", ["input", "w", "b"], "c", ["pads": .ints([1, 1, 1, 1])]),
            node("Relu", ["c"], "r"),
            node("GlobalAveragePool", ["r"], "p"),
            node("Flatten", ["p"], "f"),
            node("Gemm", ["f", "fc", "fcb"], "logits", ["transB": .int(1)]),
        ]
        edit(&nodes)
        var initializers = [tensor("w", [4, 3, 3, 3]), tensor("b", [4]), tensor("fc", [2, features]), tensor("fcb", [2])]
        initializers += extra
        let graph = ONNXGraph(name: "g", nodes: nodes, initializers: Dictionary(uniqueKeysWithValues: initializers.map { ($0.name, $0) }),
                              initializerNames: initializers.map(\.name),
                              inputs: [ONNXValueInfo(name: "input", elementType: .float, dims: input)] + extraInputs,
                              outputs: [ONNXValueInfo(name: output, elementType: .float, dims: nil)], valueInfo: [])
        return ONNXFile(fileName: "m.onnx", irVersion: 8, producerName: "test", producerVersion: "", domain: "",
                        modelVersion: 0, docString: "", opsets: ["": opset], metadata: metadata, localFunctionCount: 0,
                        graph: graph)
    }

    private func refuses(_ file: ONNXFile, _ fragments: String..., line: UInt = #line) {
        XCTAssertThrowsError(try ONNXImporter.network(from: file, name: "m"), line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(error is RuntimeError, "not a RuntimeError: \(message)", line: line)
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "\"\(message)\" lacks \"\(fragment)\"", line: line)
            }
        }
    }

    func testAValidClassifierLoadsAndRuns() throws {
        let network = try ONNXImporter.network(from: classifier(), name: "m")
        XCTAssertEqual(network.outputCount, 2)
        XCTAssertEqual(network.classNames, ["class 0", "class 1"])
        XCTAssertEqual(network.defaultTargetLayer, "r")
        let x = Tensor(shape: [2, 3, 8, 8], repeating: 0.5)
        XCTAssertEqual(try network.forward(x).logits.shape, [2, 2])
    }

    func testUnsupportedOperatorNamesItsNodeAndOpset() {
        refuses(classifier(nodes: { $0[1] = self.node("LSTM", ["c"], "r", name: "lstm_node") }),
                "operator LSTM", "\"lstm_node\"", "opset 17", "supports", "Conv")
        refuses(classifier(nodes: { $0[1] = self.node("Relu", ["c"], "r", domain: "com.microsoft") }),
                "operator domain \"com.microsoft\"")
        // The rewrites' own domain is not open to files.
        refuses(classifier(nodes: { $0[1] = self.node("MatMulAdd", ["c"], "r", domain: ONNXRewrites.domain) }),
                "operator domain \"camscript.rewrites\"")
    }

    func testUnsupportedAttributeIsRefused() {
        refuses(classifier(nodes: { $0[0].attributes["auto_pad"] = .string("SOMETIMES") }), "auto_pad SOMETIMES")
        refuses(classifier(nodes: { $0[2] = self.node("MaxPool", ["r"], "p", ["kernel_shape": .ints([2, 2]),
                                                                                  "dilations": .ints([2, 2])]) }),
                "dilated max pooling")
    }

    func testDanglingInputsAndCyclesAreRefused() {
        refuses(classifier(nodes: { $0[1].inputs = ["nowhere"] }), "reads \"nowhere\"", "no earlier node")
        // A cycle: the ReLU reads the pooling's output, which reads the ReLU's.
        refuses(classifier(nodes: { $0[1].inputs = ["p"] }), "reads \"p\"")
    }

    func testMissingInitializerIsRefused() {
        refuses(classifier(nodes: { $0[0].inputs = ["input", "missing_weight", "b"] }), "weight", "must be a constant")
    }

    func testInconsistentShapesFailTheTrialForward() {
        refuses(classifier(features: 5), "trial forward", "expected input [N, 5]")
    }

    func testAbsurdSizesAreRefused() {
        refuses(classifier(nodes: { nodes in
            nodes.insert(self.node("ConstantOfShape", ["huge"], "z"), at: 0)
            nodes[1].inputs = ["input", "w", "b"]
            nodes.insert(self.node("Add", ["z", "z"], "zz"), at: 1)
        }, initializers: [ints("huge", [100_000, 100_000, 100_000])]), "too many elements")
        refuses(classifier(input: [.fixed(1), .fixed(3), .fixed(100_000), .fixed(8)]), "out of range")
    }

    func testGraphsThatAreNotImageClassifiers() {
        refuses(classifier(opset: 12), "opset")
        refuses(classifier(input: [.fixed(1), .fixed(1), .fixed(8), .fixed(8)]), "1 channels")
        refuses(classifier(input: [.fixed(1), .fixed(8), .fixed(8)]), "[N, 3, H, W]")
        refuses(classifier(extraInputs: [ONNXValueInfo(name: "mask", elementType: .float, dims: [.fixed(1)])]),
                "takes 2", "\"mask\"")
        refuses(classifier(output: "r"), "[N, classes]")
        refuses(classifier(output: "nothing"), "never computed")
    }

    func testClassNamesFromMetadata() throws {
        let listed = try ONNXImporter.network(from: classifier(metadata: ["classes": "[\"cat\", \"dog\"]"]), name: "m")
        XCTAssertEqual(listed.classNames, ["cat", "dog"])
        let lines = try ONNXImporter.network(from: classifier(metadata: ["class_names": "cat\ndog\n"]), name: "m")
        XCTAssertEqual(lines.classNames, ["cat", "dog"])
        let object = try ONNXImporter.network(from: classifier(metadata: ["labels": "{\"1\": \"dog\", \"0\": \"cat\"}"]),
                                              name: "m")
        XCTAssertEqual(object.classNames, ["cat", "dog"])
        refuses(classifier(metadata: ["labels": "[\"cat\", \"dog\", \"eel\"]"]), "metadata \"labels\"", "3 classes",
                "has 2")
    }

    func testDynamicBatchAndFixedBatchBothRunBatches() throws {
        let fixed = try ONNXImporter.network(from: classifier(), name: "m")
        XCTAssertTrue(fixed.batchIsFixed)
        let dynamic = try ONNXImporter.network(from: classifier(input: [.symbolic("N"), .fixed(3), .fixed(8), .fixed(8)]),
                                               name: "m")
        XCTAssertFalse(dynamic.batchIsFixed)
        var x = Tensor(shape: [3, 3, 8, 8])
        for i in 0..<x.count { x.storage[i] = Float(i % 17) / 17 }
        for network in [fixed, dynamic] {
            let forward = try network.forward(x, recording: ["c"], retainForBackward: true)
            var g = Tensor(shape: [3, 2])
            for i in 0..<3 { g[i, i % 2] = 1 }
            let backward = try network.backward(g, gradientsAt: ["c"], inputGradient: true)
            XCTAssertEqual(backward.gradients["c"]?.shape, [3, 4, 8, 8])
            XCTAssertEqual(backward.input?.shape, [3, 3, 8, 8])
            // Each image's logits equal a pass of that image alone.
            for i in 0..<3 {
                let one = try network.forward(x.slice(i).reshaped([1, 3, 8, 8])).logits
                XCTAssertLessThanOrEqual(one.reshaped([2]).maxAbsDifference(forward.logits.slice(i)), 1e-6)
            }
        }
        XCTAssertThrowsError(try fixed.forward(Tensor(shape: [1, 3, 16, 16]))) { error in
            XCTAssertTrue("\(error)".contains("exported for 8×8 images"), "\(error)")
        }
    }

    /// Integer tensors divide as integers (truncating), float tensors as floats: torch.chunk
    /// exports its slice ends as `(size + chunks - 1) / chunks` on int64 shape values, which
    /// was 1.67 instead of 1 while every tensor was divided as Float.
    func testIntegerDivisionTruncatesAndFloatDivisionDoesNot() throws {
        // Channels 4: (4 + 1) / 3 = 1 as integers, so the slice keeps 1 channel and the head
        // has 1 input feature; as floats the Slice would be asked to end at 1.67.
        let file = classifier(nodes: { nodes in
            let shape = [
                self.node("Shape", ["r"], "shape"),
                self.node("Gather", ["shape", "one"], "channels", ["axis": .int(0)]),
                self.node("Add", ["channels", "one"], "sum"),
                self.node("Div", ["sum", "three"], "quotient"),
                self.node("Unsqueeze", ["quotient", "zero"], "ends"),
                self.node("Slice", ["r", "starts", "ends", "axes"], "s"),
            ]
            nodes.insert(contentsOf: shape, at: 2)
            nodes[nodes.count - 3] = self.node("GlobalAveragePool", ["s"], "p")
        }, features: 1, initializers: [ONNXTensor(name: "one", dims: [], dataType: .int64, values: .ints([1])),
                                        ONNXTensor(name: "three", dims: [], dataType: .int64, values: .ints([3])),
                                        ints("zero", [0]), ints("starts", [0]), ints("axes", [1])])
        let network = try ONNXImporter.network(from: file, name: "m")
        XCTAssertEqual(try network.forward(Tensor(shape: [1, 3, 8, 8], repeating: 0.5)).logits.shape, [1, 2])
        // The type rule: integer in, integer out, except the operators that make a new type.
        XCTAssertTrue(Lowering.hasIntegerOutputs(node("Div", ["sum", "three"], "q"), integers: ["sum", "three"]))
        XCTAssertFalse(Lowering.hasIntegerOutputs(node("Div", ["sumf", "threef"], "q"), integers: ["sum", "three"]))
        XCTAssertFalse(Lowering.hasIntegerOutputs(node("Cast", ["sum"], "f", ["to": .int(1)]), integers: ["sum"]))
        XCTAssertTrue(Lowering.hasIntegerOutputs(node("Cast", ["x"], "i", ["to": .int(7)]), integers: []))
        XCTAssertTrue(Lowering.hasIntegerOutputs(node("Shape", ["r"], "s"), integers: []))
        XCTAssertFalse(Lowering.hasIntegerOutputs(node("Equal", ["sum", "three"], "e"), integers: ["sum", "three"]))
    }

    func testIntegerDivisionByZeroIsAnError() {
        let op = Binary(.integerDiv)
        var step = ForwardStep(retain: false, workspace: Workspace(options: RuntimeOptions(allowsOneDNN: false)))
        XCTAssertThrowsError(try op.forward([Tensor(shape: [1], storage: [5]), Tensor(shape: [1], storage: [0])], &step))
        XCTAssertEqual(try op.forward([Tensor(shape: [2], storage: [7, -7]), Tensor(shape: [1], storage: [2])], &step).storage,
                       [3, -3])
    }

    /// Shape arithmetic folded at load may not grow past the file's own largest tensor (and
    /// 4 M elements): the fuzzer's `ConstantOfShape([16_715_266])` → Transpose → Pad chain made
    /// a 30 kB file spend seconds per node at load.
    func testConstantsFoldedAtLoadAreBoundedByTheFile() throws {
        refuses(classifier(nodes: { $0.insert(self.node("ConstantOfShape", ["big"], "huge", name: "/grow"), at: 0) },
                           initializers: [ints("big", [5_000_000])]),
                "\"/grow\"", "computes a constant of [5000000]", "largest tensor (4194304 elements)", "damaged")
        // A constant as large as the file's largest tensor is a weight reshaped, and folds.
        XCTAssertNoThrow(try ONNXImporter.network(from: classifier(nodes: {
            $0.insert(self.node("ConstantOfShape", ["small"], "fine"), at: 0)
        }, initializers: [ints("small", [1000])]), name: "m"))
    }

    /// Nodes without inputs or without outputs are refused, not read past their ends: the
    /// `onnx_import` fuzzer's first crash was a Relu with no inputs (an index out of range).
    func testNodesWithoutInputsOrOutputsAreRefused() throws {
        refuses(classifier(nodes: { $0.insert(self.node("Relu", [], "orphan", name: "/bare"), at: 2) }),
                "\"/bare\" (Relu) has no inputs")
        // A Div by √2 feeding an Erf without outputs: the GELU rewrite looks at the Erf's output.
        let erf = ONNXNode(name: "/erf", opType: "Erf", domain: "", inputs: ["d"], outputs: [], attributes: [:], metadata: [:])
        refuses(classifier(nodes: { $0.insert(contentsOf: [self.node("Div", ["c", "root"], "d"), erf], at: 1) },
                           initializers: [tensor("root", [], [Float(2).squareRoot()])]),
                "\"/erf\" (Erf) has no output")
    }
}
