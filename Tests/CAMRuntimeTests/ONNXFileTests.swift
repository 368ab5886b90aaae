import Foundation
import XCTest
@testable import CAMRuntime

let onnxFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx")
let onnxFileFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx-files")

/// The ONNX file layer on real files: the 11 exports of Fixtures/onnx (TorchScript exporter at
/// opset 17, dynamo exporter at opset 20) and the small files of Fixtures/onnx-files written by
/// the `onnx` package (tools/fixtures/gen_onnx_files.py). Every expected number below was read
/// once with onnx 1.23.2 and numpy (`onnx.load`, `numpy_helper.to_array`) and written here, so
/// the tests need no Python.
final class ONNXFileTests: XCTestCase {
    /// What onnx and numpy read from one fixture.
    struct Facts {
        var stem: String
        var ir: Int64
        var opset: Int
        var producerVersion: String
        var nodes: Int
        var initializers: Int
        var valueInfo: Int
        var input: [ONNXDimension]
        var output: [ONNXDimension]
        var firstOps: [String]
        /// The first initializer: name, dims, first two and last values.
        var first: (name: String, dims: [Int], head: [Float], last: Float)
        /// The largest initializer: name, dims, the element at count / 2.
        var largest: (name: String, dims: [Int], index: Int, value: Float)
        var emptyInputs: Int
        var nodesWithMetadata: Int
    }

    static let image: [ONNXDimension] = [.fixed(1), .fixed(3), .fixed(64), .fixed(64)]
    static let logits: [ONNXDimension] = [.fixed(1), .fixed(5)]

    static let facts: [Facts] = [
        Facts(stem: "convnext_tiny", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 112, initializers: 65, valueInfo: 0,
              input: image, output: logits, firstOps: ["Conv", "Transpose", "LayerNormalization", "Transpose"],
              first: ("features.0.0.weight", [8, 3, 4, 4], [-0.29959529638290405, 0.19793248176574707], 0.3320655822753906),
              largest: ("onnx::MatMul_196", [64, 256], 8192, -0.06793452799320221), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "densenet121", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 72, initializers: 79, valueInfo: 0,
              input: image, output: logits, firstOps: ["Conv", "Relu", "MaxPool", "Concat"],
              first: ("features.denseblock1.denselayer1.norm1.weight", [16], [1.1369322538375854, 1.4358347654342651], 0.7577813863754272),
              largest: ("onnx::Conv_210", [16, 3, 7, 7], 1176, -0.12122520804405212), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "efficientnet_b0", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 151, initializers: 104, valueInfo: 0,
              input: image, output: logits, firstOps: ["Conv", "Sigmoid", "Mul", "Conv"],
              first: ("features.1.0.block.1.fc1.weight", [2, 8, 1, 1], [-0.12054651230573654, 0.017349697649478912], -0.17489327490329742),
              largest: ("onnx::Conv_499", [48, 192, 1, 1], 4608, -0.030493738129734993), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "mobilenet_v3_large", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 140, initializers: 128, valueInfo: 0,
              input: image, output: logits, firstOps: ["Conv", "HardSwish", "Conv", "Relu"],
              first: ("features.4.block.2.fc1.weight", [8, 24, 1, 1], [0.49981987476348877, -0.3769693076610565], -0.08869834989309311),
              largest: ("classifier.0.weight", [64, 144], 4608, 0.11623383313417435), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "resnet50", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 38, initializers: 36, valueInfo: 0,
              input: image, output: logits, firstOps: ["Conv", "Relu", "MaxPool", "Conv"],
              first: ("fc.weight", [5, 256], [-0.044562265276908875, -0.08299656212329865], -0.013956984505057335),
              largest: ("onnx::Conv_203", [64, 64, 3, 3], 18432, 0.027714945375919342), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "resnet50_dynamo", ir: 10, opset: 20, producerVersion: "2.13.0+cpu", nodes: 38, initializers: 38, valueInfo: 75,
              input: image, output: logits, firstOps: ["Conv", "Relu", "MaxPool", "Conv"],
              first: ("conv1.weight", [16, 3, 7, 7], [-0.0023600480053573847, -0.1188763901591301], -0.12809760868549347),
              largest: ("layer4.0.conv2.weight", [64, 64, 3, 3], 18432, 0.027714945375919342), emptyInputs: 0, nodesWithMetadata: 38),
        Facts(stem: "swin_t", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 1925, initializers: 82, valueInfo: 0,
              input: image, output: [.symbolic("Gemmlogits_dim_0"), .fixed(5)],
              firstOps: ["Constant", "Conv", "Transpose", "LayerNormalization"],
              first: ("features.0.0.weight", [6, 3, 2, 2], [0.6604799032211304, 0.06679648905992508], 0.5581212043762207),
              largest: ("onnx::MatMul_2886", [48, 192], 4608, 0.08242981880903244), emptyInputs: 8, nodesWithMetadata: 0),
        Facts(stem: "timm_vit_small_patch16_224", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 126, initializers: 32, valueInfo: 0,
              input: image, output: logits, firstOps: ["Conv", "Shape", "Constant", "Constant"],
              first: ("cls_token", [1, 1, 32], [-0.2915394604206085, -0.018318938091397285], 0.2951647639274597),
              largest: ("patch_embed.proj.weight", [32, 3, 8, 8], 3072, -0.09622911363840103), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "vgg16_bn", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 31, initializers: 26, valueInfo: 0,
              input: [.fixed(1), .fixed(3), .fixed(112), .fixed(112)], output: logits, firstOps: ["Conv", "Relu", "Conv", "Relu"],
              first: ("classifier.0.weight", [32, 1568], [0.016606023535132408, 0.03717799484729767], 0.03289138153195381),
              largest: ("classifier.0.weight", [32, 1568], 25088, 0.01981322653591633), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "vit_b_16", ir: 8, opset: 17, producerVersion: "2.13.0", nodes: 186, initializers: 32, valueInfo: 0,
              input: image, output: logits, firstOps: ["Constant", "Constant", "Constant", "Conv"],
              first: ("class_token", [1, 1, 32], [-0.2767089307308197, 0.023163340985774994], 0.15971583127975464),
              largest: ("conv_proj.weight", [32, 3, 8, 8], 3072, 0.1079915463924408), emptyInputs: 0, nodesWithMetadata: 0),
        Facts(stem: "vit_b_16_dynamo", ir: 10, opset: 20, producerVersion: "2.13.0+cpu", nodes: 86, initializers: 45, valueInfo: 130,
              input: image, output: logits, firstOps: ["Conv", "Reshape", "Transpose", "Concat"],
              first: ("conv_proj.weight", [32, 3, 8, 8], [-0.15793253481388092, 0.06541602313518524], -0.1024792343378067),
              largest: ("conv_proj.weight", [32, 3, 8, 8], 3072, 0.1079915463924408), emptyInputs: 0, nodesWithMetadata: 86),
    ]

    private func load(_ stem: String) throws -> ONNXFile {
        try ONNXFile(contentsOf: onnxFixtures.appendingPathComponent(stem + ".onnx"))
    }

    func testTheFactsCoverEveryFixture() throws {
        let stems = try FileManager.default.contentsOfDirectory(atPath: onnxFixtures.path)
            .filter { $0.hasSuffix(".onnx") }.map { String($0.dropLast(5)) }.sorted()
        XCTAssertEqual(stems, Self.facts.map(\.stem))
        XCTAssertEqual(stems.count, 11)
    }

    func testEveryFixtureDecodesToWhatOnnxReads() throws {
        for facts in Self.facts {
            let model = try load(facts.stem)
            let graph = model.graph
            let stem = facts.stem
            XCTAssertEqual(model.fileName, stem + ".onnx")
            XCTAssertEqual(model.irVersion, facts.ir, stem)
            XCTAssertEqual(model.opsets, ["": facts.opset], stem)
            XCTAssertEqual(model.defaultOpset, facts.opset, stem)
            XCTAssertEqual(model.producerName, "pytorch", stem)
            XCTAssertEqual(model.producerVersion, facts.producerVersion, stem)
            XCTAssertEqual(model.localFunctionCount, 0, stem)
            XCTAssertEqual(graph.name, "main_graph", stem)
            XCTAssertEqual(graph.nodes.count, facts.nodes, stem)
            XCTAssertEqual(graph.initializers.count, facts.initializers, stem)
            XCTAssertEqual(graph.initializerNames.count, facts.initializers, stem)
            XCTAssertEqual(graph.valueInfo.count, facts.valueInfo, stem)
            XCTAssertEqual(graph.inputs, [ONNXValueInfo(name: "input", elementType: .float, dims: facts.input)], stem)
            XCTAssertEqual(graph.outputs, [ONNXValueInfo(name: "logits", elementType: .float, dims: facts.output)], stem)
            XCTAssertEqual(graph.nodes.prefix(4).map(\.opType), facts.firstOps, stem)
            XCTAssertEqual(graph.nodes.flatMap(\.inputs).filter(\.isEmpty).count, facts.emptyInputs, stem)
            XCTAssertEqual(graph.nodes.filter { !$0.metadata.isEmpty }.count, facts.nodesWithMetadata, stem)
            XCTAssertTrue(graph.nodes.allSatisfy { $0.domain == "" }, stem)

            XCTAssertEqual(graph.initializerNames.first, facts.first.name, stem)
            let first = try XCTUnwrap(graph.initializers[facts.first.name], stem)
            XCTAssertEqual(first.dims, facts.first.dims, stem)
            XCTAssertEqual(first.dataType, .float, stem)
            let firstValues = try XCTUnwrap(first.floats, stem)
            XCTAssertEqual(firstValues.count, facts.first.dims.reduce(1, *), stem)
            XCTAssertEqual(Array(firstValues.prefix(2)), facts.first.head, stem)  // exact: the same float32 bits
            XCTAssertEqual(firstValues.last, facts.first.last, stem)

            let largest = try XCTUnwrap(graph.initializers[facts.largest.name], stem)
            XCTAssertEqual(largest.dims, facts.largest.dims, stem)
            XCTAssertEqual(largest.floats?[facts.largest.index], facts.largest.value, stem)
            // The largest by element count, as the facts say.
            XCTAssertEqual(graph.initializers.values.map(\.count).max(), facts.largest.dims.reduce(1, *), stem)
        }
    }

    func testTheFileAndItsBytesDecodeAlike() throws {
        let url = onnxFixtures.appendingPathComponent("resnet50.onnx")
        let fromFile = try ONNXFile(contentsOf: url)
        let fromBytes = try ONNXFile(data: Data(contentsOf: url), fileName: "resnet50.onnx")
        XCTAssertEqual(fromFile, fromBytes)
    }

    func testTorchScriptAttributesAndConstantTensorsDecode() throws {
        let resnet = try load("resnet50").graph.nodes[0]
        XCTAssertEqual(resnet.name, "/conv1/Conv")
        XCTAssertEqual(resnet.inputs, ["input", "onnx::Conv_161", "onnx::Conv_162"])
        XCTAssertEqual(resnet.outputs, ["/conv1/Conv_output_0"])
        XCTAssertEqual(resnet.attributes, ["dilations": .ints([1, 1]), "group": .int(1), "kernel_shape": .ints([7, 7]),
                                           "pads": .ints([3, 3, 3, 3]), "strides": .ints([2, 2])])
        // vit_b_16 starts with Constant nodes whose value is an INT64 scalar tensor (raw data).
        let vit = try load("vit_b_16").graph.nodes
        XCTAssertEqual(vit[0].name, "/Constant")
        XCTAssertEqual(vit[0].attributes["value"], .tensor(ONNXTensor(name: "", dims: [], dataType: .int64, values: .ints([0]))))
        XCTAssertEqual(vit[1].attributes["value"], .tensor(ONNXTensor(name: "", dims: [], dataType: .int64, values: .ints([2]))))
        XCTAssertEqual(vit[2].attributes["value"], .tensor(ONNXTensor(name: "", dims: [], dataType: .int64, values: .ints([1]))))
        // A FLOAT attribute: convnext's LayerNormalization epsilon (1e-6 as float32).
        let layerNorm = try load("convnext_tiny").graph.nodes[2]
        XCTAssertEqual(layerNorm.opType, "LayerNormalization")
        XCTAssertEqual(layerNorm.attributes, ["axis": .int(-1), "epsilon": .float(9.999999974752427e-07)])
    }

    func testDynamoNodeMetadataAndIntegerInitializersAreKept() throws {
        let graph = try load("resnet50_dynamo").graph
        let conv = graph.nodes[0]
        XCTAssertEqual(conv.name, "node_Conv_249")
        XCTAssertEqual(conv.inputs, ["input", "conv1.weight", "conv1.weight_bias"])
        XCTAssertEqual(conv.outputs, ["getitem"])
        XCTAssertEqual(conv.metadata["pkg.torch.onnx.name_scopes"], "['', 'bn1', '_native_batch_norm_legit_no_training']")
        XCTAssertEqual(conv.metadata["namespace"], ": torchvision.models.resnet.ResNet/bn1: torch.nn.modules.batchnorm.BatchNorm2d/_native_batch_norm_legit_no_training: aten._native_batch_norm_legit_no_training.default")
        XCTAssertEqual(Set(conv.metadata.keys), ["namespace", "pkg.onnxscript.rewriter.rule_name", "pkg.torch.onnx.class_hierarchy",
                                                 "pkg.torch.onnx.fx_node", "pkg.torch.onnx.name_scopes", "pkg.torch.onnx.stack_trace"])
        XCTAssertEqual(graph.initializers["val_193"], ONNXTensor(name: "val_193", dims: [2], dataType: .int64, values: .ints([-1, -2])))
        XCTAssertEqual(graph.initializers["val_197"], ONNXTensor(name: "val_197", dims: [2], dataType: .int64, values: .ints([1, 256])))
    }

    func testOmittedOptionalInputsStayEmptyStrings() throws {
        let pad = try load("swin_t").graph.nodes[58]
        XCTAssertEqual(pad.opType, "Pad")
        XCTAssertEqual(pad.inputs, ["/features/features.1/features.1.0/norm1/LayerNormalization_output_0",
                                    "/features/features.1/features.1.0/attn/Cast_1_output_0", ""])
    }

    // MARK: Every data type, attribute kind and subgraph (written by onnx itself)

    func testEveryDataTypeDecodesAsNumpyReadsIt() throws {
        let model = try ONNXFile(contentsOf: onnxFileFixtures.appendingPathComponent("dtypes.onnx"))
        let tensors = model.graph.initializers
        let floats: [(String, ONNXDataType, [Int], [Float])] = [
            ("float", .float, [2, 3], [1.5, -2.25, 2.999999892949745e-08, 65504.0, -0.0, 7.0]),
            ("float16", .float16, [4], [0.5, -2.0, 65504.0, 0.00010001659393310547]),
            ("double", .double, [3], [Float(1.0 / 3.0), Float(-1.0e30), 2.5]),
            ("bfloat16", .bfloat16, [4], [1.5, -3.0, 3.3895313892515355e+38, 0.0]),
        ]
        let ints: [(String, ONNXDataType, [Int], [Int64])] = [
            ("int8", .int8, [3], [-128, 0, 127]),
            ("uint8", .uint8, [3], [0, 200, 255]),
            ("int16", .int16, [3], [-32768, 1, 32767]),
            ("uint16", .uint16, [3], [0, 40000, 65535]),
            ("int32", .int32, [3], [-2147483648, 5, 2147483647]),
            ("uint32", .uint32, [3], [0, 3000000000, 4294967295]),
            ("int64", .int64, [2, 2], [Int64.min, 0, 1, Int64.max]),
            ("uint64", .uint64, [2], [0, Int64.max]),
            ("bool", .bool, [3], [1, 0, 1]),
        ]
        // r_: raw little-endian bytes; t_: the typed fields (float_data, int32_data, ...).
        for prefix in ["r_", "t_"] {
            for (name, type, dims, values) in floats {
                XCTAssertEqual(tensors[prefix + name], ONNXTensor(name: prefix + name, dims: dims, dataType: type, values: .floats(values)), prefix + name)
            }
            for (name, type, dims, values) in ints {
                XCTAssertEqual(tensors[prefix + name], ONNXTensor(name: prefix + name, dims: dims, dataType: type, values: .ints(values)), prefix + name)
            }
        }
        XCTAssertEqual(tensors["r_float"]?.floats?[4].sign, .minus)  // -0.0 kept
        XCTAssertEqual(tensors["scalar"], ONNXTensor(name: "scalar", dims: [], dataType: .float, values: .floats([42])))
        XCTAssertEqual(tensors["empty"], ONNXTensor(name: "empty", dims: [0, 3], dataType: .float, values: .floats([])))
        XCTAssertEqual(tensors.count, 2 * (floats.count + ints.count) + 2)
        XCTAssertEqual(model.graph.initializerNames.prefix(4), ["r_float", "t_float", "r_float16", "t_float16"])
    }

    func testAttributesOfEveryKindSubgraphsValueInfoAndMetadata() throws {
        let model = try ONNXFile(contentsOf: onnxFileFixtures.appendingPathComponent("dtypes.onnx"))
        XCTAssertEqual(model.irVersion, 9)
        XCTAssertEqual(model.producerName, "gen_onnx_files")
        XCTAssertEqual(model.producerVersion, "1")
        XCTAssertEqual(model.docString, "every data type")
        XCTAssertEqual(model.opsets, ["": 18, "com.example": 2])  // written as "ai.onnx"
        XCTAssertEqual(model.metadata, ["author": "camscript", "purpose": "tests"])
        let graph = model.graph
        XCTAssertEqual(graph.name, "dtypes")
        XCTAssertEqual(graph.nodes.map(\.opType), ["Constant", "Custom", "If"])
        XCTAssertEqual(graph.nodes[0].attributes, ["value": .tensor(ONNXTensor(name: "", dims: [3], dataType: .int64, values: .ints([3, 1, 2])))])

        let kinds = graph.nodes[1]
        XCTAssertEqual(kinds.name, "kinds")
        XCTAssertEqual(kinds.domain, "")  // written as "ai.onnx"
        XCTAssertEqual(kinds.inputs, ["x", "", "c"])
        XCTAssertEqual(kinds.outputs, ["y", ""])
        XCTAssertEqual(kinds.metadata, ["namespace": "m/kinds", "pkg.torch.onnx.name_scopes": "['', 'kinds']"])
        XCTAssertEqual(kinds.attributes, [
            "f": .float(0.25), "i": .int(-7), "s": .string("SAME_UPPER"),
            "floats": .floats([1, -0.5]), "ints": .ints([1, 2, 3]), "strings": .strings(["a", "bc"]),
            "t": .tensor(ONNXTensor(name: "", dims: [1, 2], dataType: .float, values: .floats([1, 2]))),
            "tensors": .tensors([ONNXTensor(name: "", dims: [1], dataType: .int32, values: .ints([1])),
                                 ONNXTensor(name: "", dims: [1], dataType: .double, values: .floats([0.5]))]),
        ])

        let branch = graph.nodes[2]
        XCTAssertEqual(branch.inputs, ["flag"])
        guard case .graph(let thenGraph)? = branch.attributes["then_branch"],
              case .graph(let elseGraph)? = branch.attributes["else_branch"] else {
            return XCTFail("the If node's branches are not graphs: \(branch.attributes)")
        }
        XCTAssertEqual(thenGraph.name, "then_branch")
        XCTAssertEqual(thenGraph.nodes.map(\.opType), ["Identity"])
        XCTAssertEqual(thenGraph.initializers, ["k": ONNXTensor(name: "k", dims: [2], dataType: .float, values: .floats([9, 8]))])
        XCTAssertEqual(thenGraph.outputs, [ONNXValueInfo(name: "then_out", elementType: .float, dims: [.fixed(2)])])
        XCTAssertEqual(elseGraph.nodes.map(\.name), ["else_neg"])
        XCTAssertEqual(elseGraph.outputs, [ONNXValueInfo(name: "else_out", elementType: .float, dims: nil)])

        XCTAssertEqual(graph.inputs, [
            ONNXValueInfo(name: "x", elementType: .float, dims: [.symbolic("batch"), .fixed(3), .unknown, .fixed(7)]),
            ONNXValueInfo(name: "flag", elementType: .bool, dims: []),
        ])
        XCTAssertEqual(graph.outputs, [ONNXValueInfo(name: "z", elementType: .float, dims: nil)])
        XCTAssertEqual(graph.valueInfo, [ONNXValueInfo(name: "y", elementType: .float16, dims: [.fixed(1), .symbolic("n")])])
    }

    func testExternalDataWrittenByOnnxIsReadFromBesideTheModel() throws {
        let model = try ONNXFile(contentsOf: onnxFileFixtures.appendingPathComponent("external/model.onnx"))
        let tensors = model.graph.initializers
        XCTAssertEqual(tensors["w"], ONNXTensor(name: "w", dims: [3, 4], dataType: .float,
                                                values: .floats((0..<12).map { Float($0) / 8 - 0.5 })))
        XCTAssertEqual(tensors["shape"], ONNXTensor(name: "shape", dims: [2], dataType: .int64, values: .ints([1, 12])))
        XCTAssertEqual(tensors["h"], ONNXTensor(name: "h", dims: [2], dataType: .float16, values: .floats([0.25, -1.5])))
        XCTAssertEqual(model.graph.nodes.map(\.opType), ["MatMul"])
        // The same bytes read from memory have no folder to look in.
        let data = try Data(contentsOf: onnxFileFixtures.appendingPathComponent("external/model.onnx"))
        XCTAssertThrowsError(try ONNXFile(data: data, fileName: "model.onnx")) { error in
            XCTAssertEqual((error as? RuntimeError)?.message,
                           #"model.onnx: initializer "w" keeps its data in the external file "weights.bin", but the model was read from memory, so there is no folder to look for it in"#)
        }
        // ... unless a folder is given.
        let again = try ONNXFile(data: data, fileName: "model.onnx", folder: onnxFileFixtures.appendingPathComponent("external"))
        XCTAssertEqual(again.graph, model.graph)
    }

    // MARK: Helpers of the values

    func testAFloatInitializerBecomesARuntimeTensorAndIntegersAreRefused() throws {
        let graph = try load("resnet50").graph
        let weight = try XCTUnwrap(graph.initializers["fc.weight"])
        let tensor = try weight.tensor()
        XCTAssertEqual(tensor.shape, [5, 256])
        XCTAssertEqual(tensor.storage, weight.floats)
        XCTAssertEqual(tensor.storage[0], -0.044562265276908875)

        let shape = try XCTUnwrap(try load("resnet50_dynamo").graph.initializers["val_197"])
        XCTAssertThrowsError(try shape.tensor()) { error in
            XCTAssertEqual((error as? RuntimeError)?.message, #"ONNX tensor "val_197" holds INT64 values, not floating-point weights"#)
        }
        XCTAssertNil(shape.floats)
        XCTAssertEqual(shape.ints, [1, 256])
    }

    func testDataTypeNamesAndWidths() {
        XCTAssertEqual(ONNXDataType.float.name, "FLOAT")
        XCTAssertEqual(ONNXDataType.bfloat16.name, "BFLOAT16")
        XCTAssertEqual(ONNXDataType(rawValue: 17).name, "FLOAT8E4M3FN")
        XCTAssertEqual(ONNXDataType(rawValue: 99).name, "type 99")
        XCTAssertEqual(ONNXDataType(rawValue: -1).name, "type -1")
        XCTAssertEqual(ONNXDataType.string.byteWidth, nil)
        XCTAssertEqual(ONNXDataType.uint64.byteWidth, 8)
        XCTAssertEqual(ONNXDataType.float16.byteWidth, 2)
        XCTAssertTrue(ONNXDataType.double.isFloatingPoint)
        XCTAssertFalse(ONNXDataType.bool.isFloatingPoint)
    }

    func testTheDefaultOpsetCheck() throws {
        try load("resnet50").checkDefaultOpset()  // 17
        try load("resnet50_dynamo").checkDefaultOpset()  // 20
        XCTAssertEqual(ONNXFile.supportedOpsets, 13...21)
        var model = try load("resnet50")
        model.opsets = ["": 12]
        XCTAssertThrowsError(try model.checkDefaultOpset()) { error in
            XCTAssertEqual((error as? RuntimeError)?.message,
                           "resnet50.onnx: uses ONNX opset 12; CAMScript reads opsets 13–21 (re-export the model with one of them, e.g. torch.onnx.export(..., opset_version=17))")
        }
        model.opsets = ["": 22]
        XCTAssertThrowsError(try model.checkDefaultOpset())
        model.opsets = ["com.microsoft": 1]
        XCTAssertThrowsError(try model.checkDefaultOpset()) { error in
            XCTAssertEqual((error as? RuntimeError)?.message,
                           "resnet50.onnx: does not import the default ONNX opset; CAMScript reads opsets 13–21")
        }
    }

    // MARK: Content sniffing

    func testEveryONNXFixtureLooksLikeONNX() throws {
        var files = Self.facts.map { onnxFixtures.appendingPathComponent($0.stem + ".onnx") }
        files += [onnxFileFixtures.appendingPathComponent("dtypes.onnx"), onnxFileFixtures.appendingPathComponent("external/model.onnx")]
        for url in files {
            let data = try Data(contentsOf: url)
            XCTAssertTrue(ONNXFile.looksLikeONNX(data), url.lastPathComponent)
            // The first 16 bytes and the file size are enough.
            XCTAssertTrue(ONNXFile.looksLikeONNX(prefix: Array(data.prefix(16))), url.lastPathComponent)
            // A truncated model still looks like one (and is then refused as truncated).
            XCTAssertTrue(ONNXFile.looksLikeONNX(data.prefix(100)), url.lastPathComponent)
        }
    }

    func testNoOtherFixtureLooksLikeONNX() throws {
        let root = onnxFixtures.deletingLastPathComponent()
        let repository = root.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var checked = 0
        for folder in [root, repository.appendingPathComponent("fuzz/seeds"), repository.appendingPathComponent("examples")] {
            let walker = try XCTUnwrap(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]))
            for case let url as URL in walker {
                guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true,
                      url.pathExtension != "onnx", !url.path.contains("/onnx-files/") else { continue }
                let data = try Data(contentsOf: url)
                XCTAssertFalse(ONNXFile.looksLikeONNX(data), url.path)
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 300)  // checkpoints, safetensors, images, npy, pickles, scripts
        XCTAssertFalse(ONNXFile.looksLikeONNX(Data()))
        XCTAssertFalse(ONNXFile.looksLikeONNX(Data([0x08])))  // cut inside the IR version
        XCTAssertFalse(ONNXFile.looksLikeONNX(Data([0x08, 0x00])))  // IR version 0
        XCTAssertFalse(ONNXFile.looksLikeONNX(Data([0x08, 0x08, 0x00, 0x00])))  // field 0
        XCTAssertFalse(ONNXFile.looksLikeONNX(Data([0x08, 0x08, 0x38, 0x01])))  // the graph as a varint
        XCTAssertFalse(ONNXFile.looksLikeONNX(Data([0x08, 0x08, 0x3A, 0x80, 0x80, 0x80, 0x80, 0x08])))  // a 2 GB graph
        XCTAssertFalse(ONNXFile.looksLikeONNX(Data([0x08, 0x08, 0x48, 0x01])))  // field 9 is not a ModelProto field
        XCTAssertTrue(ONNXFile.looksLikeONNX(Data([0x08, 0x08, 0x3A, 0x7F])))  // IR 8, a graph the cut-off file lacks
        XCTAssertTrue(ONNXFile.looksLikeONNX(Data([0x08, 0x08, 0x3A, 0x00])))  // IR 8, an empty graph
    }
}

/// A graph exported for one input smaller than 32×32 runs at that size (the 32×32 minimum is the
/// ImageNet families', not a graph's with a fixed size), gives onnxruntime's logits, explains a
/// class, and refuses any other size by naming its own.
final class ONNXSmallFixedInputTests: XCTestCase {
    func testSixteenBySixteenGraph() throws {
        let net = try ONNXImporter.network(contentsOf: onnxFileFixtures.appendingPathComponent("small16.onnx"))
        let x = Tensor(shape: [1, 3, 16, 16], storage: (0..<(3 * 16 * 16)).map { Float($0 % 11) / 10 })
        let logits = try net.forward(x).logits
        // onnxruntime 1.23 on the same input (gen_onnx_small.py prints them).
        for (ours, theirs) in zip(logits.storage, [Float(-0.12173829), 0.45922852, -0.59398437]) {
            XCTAssertEqual(ours, theirs, accuracy: 1e-5)
        }
        let cam = try CAMEngine(network: net).compute(GradCAM(), input: x, targets: [.index(1)])
        XCTAssertEqual(cam.map.shape, [1, 16, 16])
        XCTAssertThrowsError(try net.forward(Tensor(shape: [1, 3, 20, 20]))) { error in
            XCTAssertTrue("\(error)".contains("exported for 16×16"), "\(error)")
        }
        XCTAssertThrowsError(try Network.make(architecture: "resnet18").forward(Tensor(shape: [1, 3, 16, 16]))) { error in
            XCTAssertTrue("\(error)".contains("needs at least 32×32"), "\(error)")
        }
    }
}
