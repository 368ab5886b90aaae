import Foundation
import XCTest
import ONNXProto
import SwiftProtobuf
@testable import CAMRuntime

/// Corrupt and hostile ONNX files: each must be refused with one clear `RuntimeError` that starts
/// with the file name, never a crash, a hang or an allocation of what the file merely claims.
/// The models are written here with SwiftProtobuf (or byte by byte where protobuf itself is bent).
final class ONNXFileHostileTests: XCTestCase {
    private var folders: [URL] = []

    override func tearDown() {
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
        folders = []
        super.tearDown()
    }

    // MARK: Building models

    /// A FLOAT tensor with raw little-endian data.
    private func floatTensor(_ name: String, dims: [Int64], _ values: [Float]) -> ONNXWireTensor {
        var tensor = ONNXWireTensor()
        tensor.name = name
        tensor.dims = dims
        tensor.dataType = 1
        tensor.rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
        return tensor
    }

    /// A FLOAT tensor whose data is in an external file.
    private func externalTensor(_ name: String, dims: [Int64], location: String, offset: String? = nil,
                                length: String? = nil) -> ONNXWireTensor {
        var tensor = ONNXWireTensor()
        tensor.name = name
        tensor.dims = dims
        tensor.dataType = 1
        tensor.dataLocation = .external
        var entries = [("location", location)]
        if let offset { entries.append(("offset", offset)) }
        if let length { entries.append(("length", length)) }
        tensor.externalData = entries.map { key, value in
            var entry = ONNXWireKeyValue()
            entry.key = key
            entry.value = value
            return entry
        }
        return tensor
    }

    /// IR 8, opset 17, one Mul of the input and the initializer `w` (FLOAT [2]).
    private func model(initializers: [ONNXWireTensor]? = nil, _ change: (inout ONNXWireModel) -> Void = { _ in }) -> ONNXWireModel {
        var model = ONNXWireModel()
        model.irVersion = 8
        var opset = ONNXWireOpsetImport()
        opset.version = 17
        model.opsetImport = [opset]
        var node = ONNXWireNode()
        node.name = "mul"
        node.opType = "Mul"
        node.input = ["x", "w"]
        node.output = ["y"]
        var graph = ONNXWireGraph()
        graph.name = "g"
        graph.node = [node]
        graph.initializer = initializers ?? [floatTensor("w", dims: [2], [1.5, -2])]
        var x = ONNXWireValueInfo()
        x.name = "x"
        var y = ONNXWireValueInfo()
        y.name = "y"
        graph.input = [x]
        graph.output = [y]
        model.graph = graph
        change(&model)
        return model
    }

    private func bytes(_ model: ONNXWireModel) throws -> Data {
        try model.serializedData()
    }

    /// Asserts that decoding `data` throws a RuntimeError whose message starts with the file name
    /// and contains `phrase`; returns the message.
    @discardableResult
    private func assertRefused(_ data: Data, folder: URL? = nil, _ phrase: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        var message: String?
        XCTAssertThrowsError(try ONNXFile(data: data, fileName: "h.onnx", folder: folder), file: file, line: line) { error in
            guard let error = error as? RuntimeError else {
                return XCTFail("not a RuntimeError: \(type(of: error)) \(error)", file: file, line: line)
            }
            message = error.message
            XCTAssertTrue(error.message.hasPrefix("h.onnx: "), error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(phrase), "\(error.message)\n  does not contain: \(phrase)", file: file, line: line)
        }
        return message
    }

    private func assertRefused(_ model: ONNXWireModel, folder: URL? = nil, _ phrase: String, file: StaticString = #filePath, line: UInt = #line) throws {
        assertRefused(try bytes(model), folder: folder, phrase, file: file, line: line)
    }

    /// A fresh folder holding `h.onnx` (the model) and `files` (name → bytes), removed after the test.
    private func folder(_ model: ONNXWireModel, files: [String: [UInt8]] = [:]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-hostile-\(UUID().uuidString)")
        folders.append(root)
        let folder = root.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try bytes(model).write(to: folder.appendingPathComponent("h.onnx"))
        for (name, content) in files {
            let url = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content).write(to: url)
        }
        return folder
    }

    private func assertFileRefused(_ folder: URL, _ phrase: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ONNXFile(contentsOf: folder.appendingPathComponent("h.onnx")), file: file, line: line) { error in
            guard let error = error as? RuntimeError else {
                return XCTFail("not a RuntimeError: \(type(of: error)) \(error)", file: file, line: line)
            }
            XCTAssertTrue(error.message.hasPrefix("h.onnx: "), error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(phrase), "\(error.message)\n  does not contain: \(phrase)", file: file, line: line)
        }
    }

    /// Eight bytes: the floats 1.5 and -2 little-endian.
    private let eightBytes: [UInt8] = [0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0]

    func testTheLimitsHaveTheirDocumentedValues() {
        // docs/reliability.md, "Resource limits": the ONNX rows.
        XCTAssertEqual(ONNXFile.maxMessageDepth, 64)
        XCTAssertEqual(ONNXFile.maxElementsPerTensor, 2_147_483_648)
        XCTAssertEqual(ONNXFile.maxModelBytes, 2_147_483_647)
    }

    // MARK: Not ONNX, truncated, corrupt

    func testTheBaseModelOfTheseTestsIsRead() throws {
        let decoded = try ONNXFile(data: bytes(model()), fileName: "h.onnx")
        XCTAssertEqual(decoded.graph.initializers["w"]?.floats, [1.5, -2])
        XCTAssertEqual(decoded.graph.nodes.map(\.opType), ["Mul"])
    }

    func testAnEmptyFileIsRefused() throws {
        assertRefused(Data(), "is empty, not an ONNX model")
        let folder = try self.folder(model())
        try Data().write(to: folder.appendingPathComponent("h.onnx"))
        assertFileRefused(folder, "is empty, not an ONNX model")
    }

    func testOtherFormatsAreRefusedAsNotONNX() throws {
        let png = try Data(contentsOf: onnxFixtures.deletingLastPathComponent().appendingPathComponent("imaging/files/gray8.png"))
        assertRefused(png, "h.onnx: is not an ONNX model: its first bytes [89 50 4e 47 0d 0a 1a 0a] do not start an ONNX protobuf")
        let pth = try Data(contentsOf: onnxFixtures.deletingLastPathComponent().appendingPathComponent("checkpoints/tiny_zip.pth"))
        assertRefused(pth, "is not an ONNX model")
        assertRefused(Data("hello".utf8), "h.onnx: is not an ONNX model: its first bytes [68 65 6c 6c 6f] do not start an ONNX protobuf (malformed field)")
        // A protobuf of other fields decodes, but has no IR version and no graph.
        assertRefused(Data([0x68, 0x01, 0x12, 0x01, 0x41]), "h.onnx: is not an ONNX model: its first bytes [68 01 12 01 41] do not start an ONNX protobuf (it has neither an IR version nor a graph)")
    }

    func testEveryTruncationIsRefusedOrAValidSmallerModelNeverACrash() throws {
        let data = try Data(contentsOf: onnxFixtures.appendingPathComponent("densenet121.onnx"))
        let whole = try ONNXFile(data: data, fileName: "h.onnx")
        XCTAssertEqual(data.count, 90305)
        // Every cut in the first 400 bytes (header, graph start, first node), then through the
        // file, and the last bytes (the opset import: tag at 90301, 4 bytes).
        var cuts = Array(1..<400) + Array(stride(from: 400, to: data.count, by: 211)) + Array(data.count - 8 ..< data.count)
        cuts.removeAll { $0 >= data.count }
        var refused = 0, decoded: [Int] = []
        for cut in cuts {
            do {
                let model = try ONNXFile(data: data.prefix(cut), fileName: "h.onnx")
                decoded.append(cut)
                XCTAssertEqual(model.graph, whole.graph, "cut at \(cut)")  // only the opsets can be missing
            } catch let error as RuntimeError {
                refused += 1
                XCTAssertTrue(error.message.hasPrefix("h.onnx: "), error.message)
                let clear = ["truncated or corrupt", "has no graph", "is not an ONNX model"].contains { error.message.contains($0) }
                XCTAssertTrue(clear, "cut at \(cut): \(error.message)")
            }
        }
        // The one cut on a field boundary after the graph gives a model without opsets.
        XCTAssertEqual(decoded, [90301])
        XCTAssertEqual(refused, cuts.count - 1)
        let noOpset = try ONNXFile(data: data.prefix(90301), fileName: "h.onnx")
        XCTAssertNil(noOpset.defaultOpset)
        XCTAssertThrowsError(try noOpset.checkDefaultOpset())
        // Cut inside the graph: the message says so.
        assertRefused(data.prefix(50_000), "is truncated or corrupt: not a valid ONNX protobuf (the data ends inside a field)")
        // Cut right after the header: no graph.
        assertRefused(data.prefix(19), "has no graph")
    }

    func testFlippedBytesNeverCrash() throws {
        // Deterministic single-byte corruptions of a small model: refused or decoded, nothing else.
        let data = try bytes(model())
        var generator = SplitMix64(seed: 15)
        for _ in 0..<2000 {
            var copy = [UInt8](data)
            for _ in 0..<Int(generator.next() % 3 + 1) {
                copy[Int(generator.next() % UInt64(copy.count))] = UInt8(truncatingIfNeeded: generator.next())
            }
            do {
                _ = try ONNXFile(data: Data(copy), fileName: "h.onnx")
            } catch let error as RuntimeError {
                XCTAssertTrue(error.message.hasPrefix("h.onnx: "), error.message)
            }
        }
    }

    func testNoGraphOrNoIRVersionIsRefused() throws {
        try assertRefused(model { $0.clearGraph() }, "has no graph: an ONNX model must hold one")
        try assertRefused(model { $0.irVersion = 0 }, "has no IR version")
        try assertRefused(model { $0.irVersion = -3 }, "has IR version -3, which is not a version")
    }

    func testOpsetsMustBeVersionsAndTheDefaultOneImportedOnce() throws {
        try assertRefused(model {
            var again = ONNXWireOpsetImport()
            again.domain = "ai.onnx"
            again.version = 13
            $0.opsetImport.append(again)
        }, "imports the default ONNX opset twice, at versions 17 and 13")
        try assertRefused(model { $0.opsetImport[0].version = 0 }, "imports the default ONNX opset at version 0, which is not a version")
        // The same version twice is harmless.
        let same = try ONNXFile(data: bytes(model { $0.opsetImport.append($0.opsetImport[0]) }), fileName: "h.onnx")
        XCTAssertEqual(same.opsets, ["": 17])
    }

    // MARK: Nesting

    /// Protobuf by hand: a varint, a length-delimited field, a varint field.
    private func varint(_ value: UInt64) -> [UInt8] {
        var value = value, out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return out + [UInt8(value)]
    }
    private func field(_ number: UInt64, _ payload: [UInt8]) -> [UInt8] {
        varint(number << 3 | 2) + varint(UInt64(payload.count)) + payload
    }
    private func field(_ number: UInt64, varint value: UInt64) -> [UInt8] {
        varint(number << 3) + varint(value)
    }

    /// A model whose graph holds an If whose branch holds an If ... `levels` deep.
    private func nestedModel(levels: Int) -> Data {
        var graph: [UInt8] = field(2, Array("innermost".utf8))
        for _ in 0..<levels {
            let attribute = field(1, Array("then_branch".utf8)) + field(20, varint: 5) + field(6, graph)
            let node = field(4, Array("If".utf8)) + field(5, attribute)
            graph = field(1, node)
        }
        return Data(field(1, varint: 8) + field(7, graph))
    }

    func testSubgraphsNestedWithinTheLimitAreRead() throws {
        var graph = try ONNXFile(data: nestedModel(levels: 15), fileName: "h.onnx").graph
        for _ in 0..<15 {
            guard case .graph(let inner)? = graph.nodes.first?.attributes["then_branch"] else {
                return XCTFail("no subgraph where one was written")
            }
            graph = inner
        }
        XCTAssertEqual(graph.name, "innermost")
        XCTAssertEqual(graph.nodes, [])
    }

    func testHostileNestingIsRefusedNotAStackOverflow() throws {
        // 3 messages per level: 5000 levels would be 15 000 frames of recursion.
        assertRefused(nestedModel(levels: 5000), "nests messages more than 64 deep")
        // Unknown groups nested 100 000 deep (field 15, wire type 3: start group).
        assertRefused(Data(field(1, varint: 8) + [UInt8](repeating: 0x7B, count: 100_000)), "h.onnx: ")
    }

    // MARK: Tensors

    func testANegativeDimensionIsRefused() throws {
        var tensor = floatTensor("w", dims: [2, -1], [])
        tensor.rawData = Data()
        try assertRefused(model(initializers: [tensor]), #"initializer "w" has the negative dimension -1 in its dims [2, -1]"#)
    }

    func testDimensionsWhoseProductOverflowsOrPassesTheLimitAreRefused() throws {
        let overflow = floatTensor("w", dims: [1 << 40, 1 << 40], [1, 2])
        try assertRefused(model(initializers: [overflow]), #"initializer "w" has dims [1099511627776, 1099511627776]: more than 2147483648 elements, the most one tensor may have"#)
        let big = floatTensor("w", dims: [65536, 32769], [1, 2])  // 2^31 + 65536 elements
        try assertRefused(model(initializers: [big]), "more than 2147483648 elements")
        // A zero dimension makes the tensor empty, whatever the others claim.
        let empty = floatTensor("w", dims: [1 << 62, 0, 1 << 62], [])
        let decoded = try ONNXFile(data: bytes(model(initializers: [empty])), fileName: "h.onnx")
        XCTAssertEqual(decoded.graph.initializers["w"]?.floats, [])
        // Many dimensions are cut short in messages.
        let many = floatTensor("w", dims: Array(repeating: -1, count: 1000), [])
        let message = try XCTUnwrap(assertRefused(bytes(model(initializers: [many])), "(1000 dimensions)"))
        XCTAssertLessThan(message.count, 300)
    }

    func testRawDataWhoseLengthDisagreesWithDimsAndTypeIsRefused() throws {
        try assertRefused(model(initializers: [floatTensor("w", dims: [3], [1, 2])]),
                          #"initializer "w" holds 8 bytes of raw data, but its dims [3] and type FLOAT need 12"#)
        try assertRefused(model(initializers: [floatTensor("w", dims: [1], [1, 2])]), "need 4")
        var half = floatTensor("w", dims: [3], [1, 2])
        half.dataType = 10  // FLOAT16: 3 × 2 bytes, not 8
        try assertRefused(model(initializers: [half]), "type FLOAT16 need 6")
    }

    func testTypedValuesWhoseCountDisagreesOrThatSitInAnotherTypesFieldAreRefused() throws {
        var tensor = ONNXWireTensor()
        tensor.name = "w"
        tensor.dims = [3]
        tensor.dataType = 1
        tensor.floatData = [1, 2]
        try assertRefused(model(initializers: [tensor]), #"initializer "w" has 2 values in float_data, but its dims [3] need 3"#)
        tensor.floatData = []
        tensor.int64Data = [1, 2, 3]
        try assertRefused(model(initializers: [tensor]), "of type FLOAT has values in a field of another type (FLOAT values go in float_data)")
        tensor.int64Data = []
        try assertRefused(model(initializers: [tensor]), "has dims [3] (3 elements of FLOAT) but no data")
        tensor.floatData = [1, 2, 3]
        tensor.rawData = Data(count: 12)
        try assertRefused(model(initializers: [tensor]), "has both raw data and typed values")
    }

    func testUnsupportedDataTypesAreNamed() throws {
        var strings = ONNXWireTensor()
        strings.name = "labels"
        strings.dims = [1]
        strings.dataType = 8
        strings.stringData = [Data("cat".utf8)]
        try assertRefused(model(initializers: [strings]), #"initializer "labels" has data type STRING, which CAMScript does not read"#)
        var fp8 = floatTensor("w", dims: [2], [])
        fp8.dataType = 17
        fp8.rawData = Data([1, 2])
        try assertRefused(model(initializers: [fp8]), "has data type FLOAT8E4M3FN, which CAMScript does not read")
        var none = floatTensor("w", dims: [2], [1, 2])
        none.dataType = 0
        try assertRefused(model(initializers: [none]), #"initializer "w" has no data type"#)
        var big = ONNXWireTensor()
        big.name = "u"
        big.dataType = 13
        big.dims = [1]
        big.uint64Data = [UInt64.max]
        try assertRefused(model(initializers: [big]), "holds the UINT64 value 18446744073709551615, larger than CAMScript's integers (Int64) can hold")
    }

    func testDuplicateOrUnnamedInitializersAndSparseInitializersAreRefused() throws {
        let w = floatTensor("w", dims: [2], [1, 2])
        try assertRefused(model(initializers: [w, floatTensor("v", dims: [1], [3]), w]),
                          #"has two initializers named "w"; each must have its own name"#)
        try assertRefused(model(initializers: [floatTensor("", dims: [1], [3])]), "initializer 0 has no name")
        try assertRefused(model { $0.graph.sparseInitializer = [Data([0x0A, 0x00])] },
                          "has 1 sparse initializer(s), which CAMScript does not read")
    }

    func testNodeAndAttributeProblemsAreNamed() throws {
        try assertRefused(model { $0.graph.node[0].opType = "" }, #"node "mul" has no operator type"#)
        var attribute = ONNXWireAttribute()
        attribute.name = "axis"
        attribute.type = .int
        attribute.i = 1
        try assertRefused(model { $0.graph.node[0].attribute = [attribute, attribute] }, #"node "mul" has two attributes named "axis""#)
        // No type: inferred from the one value present (files of old exporters) ...
        var untyped = ONNXWireAttribute()
        untyped.name = "alpha"
        untyped.f = 0.5
        let inferred = try ONNXFile(data: bytes(model { $0.graph.node[0].attribute = [untyped] }), fileName: "h.onnx")
        XCTAssertEqual(inferred.graph.nodes[0].attributes, ["alpha": .float(0.5)])
        // ... refused when there is none, or more than one.
        untyped.ints = [1]
        try assertRefused(model { $0.graph.node[0].attribute = [untyped] }, #"attribute "alpha" of node "mul" has no type and values of 2 kinds"#)
        var reference = ONNXWireAttribute()
        reference.name = "alpha"
        reference.refAttrName = "outer"
        try assertRefused(model { $0.graph.node[0].attribute = [reference] }, #"refers to the attribute "outer" of a function"#)
        // Kinds CAMScript does not read are kept by name for the importer to refuse.
        var graphs = ONNXWireAttribute()
        graphs.name = "bodies"
        graphs.type = .graphs
        let kept = try ONNXFile(data: bytes(model { $0.graph.node[0].attribute = [graphs] }), fileName: "h.onnx")
        XCTAssertEqual(kept.graph.nodes[0].attributes, ["bodies": .unsupported(kind: "GRAPHS")])
        // A hostile attribute tensor inside a subgraph is refused with its place.
        var bad = ONNXWireAttribute()
        bad.name = "value"
        bad.type = .tensor
        bad.t = floatTensor("", dims: [-2], [])
        var inner = ONNXWireGraph()
        var constant = ONNXWireNode()
        constant.opType = "Constant"
        constant.attribute = [bad]
        inner.node = [constant]
        var branch = ONNXWireAttribute()
        branch.name = "then_branch"
        branch.type = .graph
        branch.g = inner
        try assertRefused(model { $0.graph.node[0].attribute = [branch] },
                          #"the tensor of attribute "value" of node 0 ("Constant") in the subgraph of attribute "then_branch" of node "mul" has the negative dimension -2"#)
    }

    // MARK: External data

    func testExternalDataInsideTheFolderIsRead() throws {
        // Two tensors in one file, one in a subfolder reached through "./" and "sub/..", and a
        // symbolic link that stays inside the folder.
        let initializers = [
            externalTensor("a", dims: [2], location: "w.bin", offset: "0", length: "8"),
            externalTensor("b", dims: [1], location: "./w.bin", offset: "8"),
            externalTensor("c", dims: [2], location: "sub/../sub/v.bin"),
            externalTensor("d", dims: [2], location: "link.bin"),
        ]
        let folder = try self.folder(model(initializers: initializers),
                                     files: ["w.bin": eightBytes + [0, 0, 0x80, 0x3F], "sub/v.bin": eightBytes, "sub/u.bin": eightBytes.reversed()])
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("link.bin").path, withDestinationPath: "sub/u.bin")
        let tensors = try ONNXFile(contentsOf: folder.appendingPathComponent("h.onnx")).graph.initializers
        XCTAssertEqual(tensors["a"]?.floats, [1.5, -2])
        XCTAssertEqual(tensors["b"]?.floats, [1])
        XCTAssertEqual(tensors["c"]?.floats, [1.5, -2])
        XCTAssertEqual(tensors["d"]?.floats, [Float(bitPattern: 0x0000_00C0), Float(bitPattern: 0x0000_C03F)])  // the bytes reversed
    }

    func testExternalLocationsThatLeaveTheFolderAreRefused() throws {
        for location in ["../x.bin", "sub/../../x.bin", "./../model/w.bin"] {
            let folder = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: location)]),
                                         files: ["w.bin": eightBytes, "sub/w.bin": eightBytes])
            assertFileRefused(folder, "the external data location \"\(location)\" of initializer \"w\" leads outside the model's folder; data files must be in the model's folder or below it")
        }
        let absolute = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "/etc/passwd")]))
        assertFileRefused(absolute, #"the external data location "/etc/passwd" of initializer "w" is an absolute path; it must be a path relative to the model's folder"#)
    }

    func testASymbolicLinkLeadingOutsideTheFolderIsRefused() throws {
        let folder = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "w.bin")]))
        let outside = folder.deletingLastPathComponent().appendingPathComponent("secret.bin")
        try Data(eightBytes).write(to: outside)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("w.bin").path, withDestinationPath: outside.path)
        assertFileRefused(folder, #"the external data location "w.bin" of initializer "w" leads outside the model's folder through a symbolic link"#)
        // A linked folder that leads outside is refused the same way.
        let viaFolder = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "data/secret.bin")]))
        try Data(eightBytes).write(to: viaFolder.deletingLastPathComponent().appendingPathComponent("secret.bin"))
        try FileManager.default.createSymbolicLink(atPath: viaFolder.appendingPathComponent("data").path, withDestinationPath: "..")
        assertFileRefused(viaFolder, "leads outside the model's folder through a symbolic link")
        // A link to /etc/passwd too, though the file exists and is readable.
        let passwd = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "p")]))
        try FileManager.default.createSymbolicLink(atPath: passwd.appendingPathComponent("p").path, withDestinationPath: "/etc/passwd")
        assertFileRefused(passwd, #"(to "/etc/passwd")"#)
    }

    func testExternalRangesPastTheEndOfTheFileAreRefused() throws {
        let cases: [(offset: String?, length: String?, phrase: String)] = [
            ("4", nil, #"the external data of initializer "w" lies past the end of "w.bin": bytes 4 to 12 were asked for, but the file has 8"#),
            ("100", "8", "bytes 100 to 108 were asked for, but the file has 8"),
            ("999999999999999999", nil, "bytes 999999999999999999 to 1000000000000000007 were asked for"),
            ("9223372036854775807", nil, #"has the external data offset "9223372036854775807", which is not a byte count"#),
            ("-4", nil, #"has the external data offset "-4", which is not a byte count"#),
            ("+4", nil, "which is not a byte count"),
            (nil, "12", #"initializer "w" has external data of length 12, but its dims [2] and type FLOAT need 8 bytes"#),
        ]
        for (offset, length, phrase) in cases {
            let folder = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "w.bin", offset: offset, length: length)]),
                                         files: ["w.bin": eightBytes])
            assertFileRefused(folder, phrase)
        }
        // A file that holds fewer bytes than the dims need, without offset or length.
        let short = try self.folder(model(initializers: [externalTensor("w", dims: [4], location: "w.bin")]), files: ["w.bin": eightBytes])
        assertFileRefused(short, "bytes 0 to 16 were asked for, but the file has 8")
    }

    func testAMissingExternalFileIsNamed() throws {
        let folder = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "weights/nothere.bin")]))
        assertFileRefused(folder, #"the external data file "weights/nothere.bin" of initializer "w" is missing (looked for "#)
    }

    func testAFolderOrAFIFOInPlaceOfADataFileIsRefusedWithoutHanging() throws {
        let folder = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "sub")]), files: ["sub/x": []])
        assertFileRefused(folder, #"the external data file "sub" is a folder"#)
        let fifo = try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "pipe")]))
        XCTAssertEqual(mkfifo(fifo.appendingPathComponent("pipe").path, 0o600), 0)
        assertFileRefused(fifo, #"the external data file "pipe" is a FIFO (named pipe)"#)
    }

    func testExternalRangesThatOverlapAreRefusedBeforeAnythingIsRead() throws {
        let initializers = [
            externalTensor("a", dims: [2], location: "w.bin", offset: "0"),
            externalTensor("b", dims: [1], location: "w.bin", offset: "4"),
        ]
        let folder = try self.folder(model(initializers: initializers), files: ["w.bin": eightBytes])
        assertFileRefused(folder, #"the external data of initializer "b" (bytes 4 to 8 of "w.bin") overlaps that of initializer "a" (bytes 0 to 8); each tensor must have its own bytes"#)
        // Thousands of tensors on the same bytes, under different spellings of the same path.
        let many = (0..<2000).map { externalTensor("t\($0)", dims: [2], location: $0 % 2 == 0 ? "w.bin" : "./w.bin") }
        let crowd = try self.folder(model(initializers: many), files: ["w.bin": eightBytes])
        assertFileRefused(crowd, "each tensor must have its own bytes")
        // Empty tensors share no bytes.
        let empty = [externalTensor("e", dims: [0], location: "w.bin"), externalTensor("f", dims: [0], location: "w.bin"),
                     externalTensor("w", dims: [2], location: "w.bin")]
        let fine = try self.folder(model(initializers: empty), files: ["w.bin": eightBytes])
        XCTAssertEqual(try ONNXFile(contentsOf: fine.appendingPathComponent("h.onnx")).graph.initializers["f"]?.floats, [])
    }

    func testExternalDescriptionsThatMakeNoSenseAreRefused() throws {
        var noLocation = externalTensor("w", dims: [2], location: "w.bin")
        noLocation.externalData.removeAll { $0.key == "location" }
        let folder = try self.folder(model(initializers: [noLocation]), files: ["w.bin": eightBytes])
        assertFileRefused(folder, #"initializer "w" is marked as external data but gives no location"#)
        var twice = externalTensor("w", dims: [2], location: "w.bin", offset: "0")
        twice.externalData.append(twice.externalData[1])
        assertFileRefused(try self.folder(model(initializers: [twice]), files: ["w.bin": eightBytes]), "gives its external data offset twice")
        var both = externalTensor("w", dims: [2], location: "w.bin")
        both.rawData = Data(eightBytes)
        assertFileRefused(try self.folder(model(initializers: [both]), files: ["w.bin": eightBytes]), "has both external data and data in the model file")
        var location = externalTensor("w", dims: [2], location: "w.bin")
        location.dataLocation = .UNRECOGNIZED(7)
        assertFileRefused(try self.folder(model(initializers: [location]), files: ["w.bin": eightBytes]), "has data location 7")
        assertFileRefused(try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "")])), "gives no location")
        assertFileRefused(try self.folder(model(initializers: [externalTensor("w", dims: [2], location: "w\0.bin")])), "contains a NUL character")
    }

    func testAModelFileThatIsNotARegularFileIsRefused() throws {
        let folder = try self.folder(model())
        XCTAssertThrowsError(try ONNXFile(contentsOf: folder)) { error in
            XCTAssertEqual((error as? RuntimeError)?.message, "model: is a folder")
        }
        XCTAssertThrowsError(try ONNXFile(contentsOf: folder.appendingPathComponent("absent.onnx"))) { error in
            XCTAssertEqual((error as? RuntimeError)?.message, "absent.onnx: cannot be opened (no such file)")
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible corruptions.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
