import Foundation
import XCTest
@testable import CAMRuntime

/// Reading real `torch.save` output (zip and legacy) against values PyTorch wrote as safetensors.
final class CheckpointTests: XCTestCase {
    /// The keys of the tiny state dict, in the order torch saved them.
    let tinyKeys = ["conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                    "bn.num_batches_tracked", "fc.weight", "fc.bias", "view.transposed", "view.slice", "view.sparse",
                    "shared.first", "shared.second", "dtype.f16", "dtype.bf16", "dtype.f64", "dtype.i64",
                    "scalar", "empty"]

    /// Every tensor must equal PyTorch's own `.float().contiguous()` exactly (tolerance 0: the
    /// conversions f16/bf16/f64/int64 → f32 are exact or correctly rounded on both sides).
    func assertMatchesExpected(_ dict: StateDict, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try SafeTensors.read(contentsOf: checkpointFixtures.appendingPathComponent("expected.safetensors"))
        XCTAssertEqual(dict.keys, tinyKeys, name, file: file, line: line)
        for key in tinyKeys {
            guard let got = dict[key], let want = expected[key] else {
                XCTFail("\(name): \(key) missing", file: file, line: line)
                continue
            }
            XCTAssertEqual(got.shape, want.shape, "\(name): \(key)", file: file, line: line)
            XCTAssertEqual(got.storage, want.storage, "\(name): \(key)", file: file, line: line)
        }
    }

    func testZipFormatMatchesPyTorch() throws {
        try assertMatchesExpected(try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("tiny_zip.pth")), "zip")
    }

    func testLegacyFormatMatchesPyTorch() throws {
        try assertMatchesExpected(try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("tiny_legacy.pth")), "legacy")
    }

    func testPickleProtocol4InBothFormats() throws {
        try assertMatchesExpected(try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("tiny_zip_proto4.pth")), "zip p4")
        try assertMatchesExpected(try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("tiny_legacy_proto4.pth")), "legacy p4")
    }

    func testViewsSharedStoragesAndDtypesHaveTheirOwnValues() throws {
        let dict = try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("tiny_zip.pth"))
        let t = try XCTUnwrap(dict["view.transposed"])
        XCTAssertEqual(t.shape, [6, 5])
        let slice = try XCTUnwrap(dict["view.slice"])
        XCTAssertEqual(slice.shape, [3, 3])
        // view.slice = base[1:4, ::2] and view.transposed = base.t() share the base: slice[i][j] = t[2j][1+i].
        for i in 0..<3 { for j in 0..<3 { XCTAssertEqual(slice[i, j], t[2 * j, 1 + i]) } }
        let first = try XCTUnwrap(dict["shared.first"])
        let second = try XCTUnwrap(dict["shared.second"])
        XCTAssertEqual(first.shape, [3])
        XCTAssertNotEqual(first.storage, second.storage, "the second view starts at storage offset 3")
        XCTAssertEqual(dict["bn.num_batches_tracked"]?.storage, [12345], "int64 buffers are converted to Float, not dropped")
        XCTAssertEqual(dict["bn.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(dict["dtype.i64"]?.storage, [-3, 0, 7, 1_048_576])
        XCTAssertEqual(dict["scalar"]?.storage, [2.5])
        XCTAssertEqual(dict["empty"]?.shape, [0, 3])
    }

    func testDataParallelPrefixIsStripped() throws {
        try assertMatchesExpected(try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("dataparallel.pth")), "module.")
    }

    func testStateDictWrappedUnderStateDictOrModelIsUnwrapped() throws {
        try assertMatchesExpected(try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("wrapped_state_dict.pth")), "state_dict")
        try assertMatchesExpected(try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("wrapped_model_legacy.pth")), "model")
    }

    func testParametersAreRead() throws {
        let dict = try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("parameters.pth"))
        let expected = try SafeTensors.read(contentsOf: checkpointFixtures.appendingPathComponent("parameters_expected.safetensors"))
        XCTAssertEqual(dict.keys, ["weight", "bias"])
        XCTAssertEqual(dict["weight"], expected["weight"])
        XCTAssertEqual(dict["bias"], expected["bias"])
    }

    func testFormatIsDetectedByContentNotByName() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("misnamed-\(UUID()).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try checkpointFixture("tiny_legacy.pth").write(to: url)
        try assertMatchesExpected(try Checkpoint.read(contentsOf: url), "misnamed")
        XCTAssertEqual(Checkpoint.format(of: try checkpointFixture("tiny_zip.pth")), .pytorchZip)
        XCTAssertEqual(Checkpoint.format(of: try checkpointFixture("tiny_legacy.pth")), .pytorchLegacy)
        XCTAssertEqual(Checkpoint.format(of: try checkpointFixture("expected.safetensors")), .safetensors)
        XCTAssertNil(Checkpoint.format(of: Data("hello world".utf8)))
        assertRefused(Data("hello world".utf8), "is not a checkpoint")
    }

    func testSafeTensorsGoThroughTheSameEntryPoint() throws {
        let dict = try Checkpoint.read(contentsOf: checkpointFixtures.appendingPathComponent("expected.safetensors"))
        XCTAssertEqual(Set(dict.keys), Set(tinyKeys))
    }

    func testZip64RecordsAndExtraFieldsAreRead() throws {
        let original = try checkpointFixture("tiny_zip.pth")
        let source = MemoryCheckpointBytes(data: original, fileName: "tiny_zip.pth")
        let zip = try ZipArchive(source)
        let repacked = makeZip(try zip.entries.map { ($0.name, try source.bytes(try zip.dataRange(of: $0))) }, zip64: true)
        try assertMatchesExpected(try Checkpoint.read(repacked, fileName: "zip64.pth"), "zip64")
    }

    func testKeysThatCollideOnceModulePrefixIsStrippedAreRefused() throws {
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.mark()
        p.string("module.w"); p.tensor(key: "0", numel: 6, offset: 0, size: [6], stride: [1])
        p.string("w"); p.tensor(key: "0", numel: 6, offset: 0, size: [6], stride: [1])
        p.op(0x75); p.stop()
        assertRefused(makeTorchZip(pickle: p.bytes, storages: [sixFloats]), "DataParallel prefix")
    }

    func testHandBuiltLegacyFileWithAStorageView() throws {
        // Legacy view metadata: ('storage', FloatStorage, root, 'cpu', 6, (view_key, 2, 3)).
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.string("w")
        p.global("torch._utils", "_rebuild_tensor_v2"); p.mark()
        p.mark(); p.string("storage"); p.global("torch", "FloatStorage"); p.string("root"); p.string("cpu"); p.long(6)
        p.mark(); p.string("view"); p.int(2); p.int(3); p.tuple()
        p.tuple(); p.op(0x51)
        p.int(1); p.mark(); p.int(2); p.tuple(); p.mark(); p.int(1); p.tuple(); p.op(0x89)
        p.global("collections", "OrderedDict"); p.emptyTuple(); p.reduce(); p.tuple(); p.reduce()
        p.op(0x73); p.stop()
        var keys = PickleBuilder()
        keys.proto(); keys.emptyList(); keys.string("root"); keys.op(0x61); keys.stop()
        let file = Data(legacyHeader() + p.bytes + keys.bytes + littleEndian(6, 8) + sixFloats)
        let dict = try Checkpoint.read(file, fileName: "view.pth")
        XCTAssertEqual(dict["w"]?.storage, [3, 4], "view offset 2 + storage offset 1")
    }

    /// OrderedDict built from a list of pairs, torch.Size, BINFLOAT, _codecs.encode and BUILD
    /// state: paths that real files rarely take, built by hand.
    func testLessCommonAllowedConstructs() throws {
        var p = PickleBuilder()
        p.proto()
        p.global("collections", "OrderedDict")
        p.mark(); p.emptyList(); p.mark()
        p.mark(); p.string("w")
        p.global("torch._utils", "_rebuild_tensor_v2"); p.mark()
        p.mark(); p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.long(6); p.tuple()
        p.op(0x51) // BINPERSID
        p.int(0)
        p.global("torch", "Size"); p.mark(); p.mark(); p.int(2); p.int(3); p.tuple(); p.tuple(); p.reduce()
        p.mark(); p.int(3); p.int(1); p.tuple()
        p.op(0x89); p.op(0x4E)
        p.tuple(); p.reduce()
        p.tuple()   // ("w", tensor)
        p.op(0x65)  // APPENDS
        p.tuple(); p.reduce() // OrderedDict([("w", tensor)])
        p.emptyDict(); p.string("_metadata"); p.emptyDict()
        p.string("scale"); p.bytes += [0x47] + littleEndian(1.5.bitPattern, 8).reversed(); p.op(0x73)
        p.string("blob"); p.global("_codecs", "encode"); p.mark(); p.string("abc"); p.string("latin1"); p.tuple(); p.reduce(); p.op(0x73)
        p.op(0x73)  // state["_metadata"] = inner
        p.op(0x62)  // BUILD
        p.stop()
        let dict = try Checkpoint.read(makeTorchZip(pickle: p.bytes, storages: [sixFloats]), fileName: "rare.pth")
        XCTAssertEqual(dict.keys, ["w"])
        XCTAssertEqual(dict["w"], Tensor(shape: [2, 3], storage: [0, 1, 2, 3, 4, 5]))

        var unpickler = Unpickler(fileName: "rare.pth", limits: .default, allowsPersistentIDs: true)
        let (value, end) = try p.bytes.withUnsafeBytes { try unpickler.load($0, from: 0) }
        XCTAssertEqual(end, p.bytes.count)
        guard case .dict(let d) = value, case .tensor(let t)? = unpickler.dicts[d].value(forKey: "w") else {
            return XCTFail("expected a dict holding a tensor, got \(value.kind)")
        }
        XCTAssertEqual(unpickler.tensors[t].shape, [2, 3])
        XCTAssertEqual(unpickler.tensors[t].strides, [3, 1])
    }

    /// Integers wider than BININT: LONG1 with sign extension, and a 10-byte LONG1 kept as bytes.
    func testLongIntegers() throws {
        XCTAssertEqual("\(Unpickler.integer(fromLittleEndian: [0xFF]))", "\(PickleValue.int(-1))")
        XCTAssertEqual("\(Unpickler.integer(fromLittleEndian: [0x00, 0x80]))", "\(PickleValue.int(-32768))")
        XCTAssertEqual("\(Unpickler.integer(fromLittleEndian: [0xFF, 0x00]))", "\(PickleValue.int(255))")
        XCTAssertEqual("\(Unpickler.integer(fromLittleEndian: []))", "\(PickleValue.int(0))")
        XCTAssertEqual("\(Unpickler.integer(fromLittleEndian: TorchCheckpointReader.legacyMagic))",
                       "\(PickleValue.bigInt(TorchCheckpointReader.legacyMagic))")
    }

    /// The default EfficientNet-Lite0 (legacy format): every tensor's shape, sum and first four values (bit-exact)
    /// against what torch.load read (tolerance: sums within 1e-9 relative + 1e-8 absolute).
    func testDefaultEfficientNetLite0Loads() throws {
        let env = ProcessInfo.processInfo.environment["CAMSCRIPT_MODELS"]
        let folder = env.map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".local/share/camscript/models")
        let url = folder.appendingPathComponent("efficientnet-lite0-57934424.pth")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("the default model is not installed at \(url.path); run scripts/setup.sh")
        }
        let start = Date()
        let dict = try Checkpoint.read(contentsOf: url)
        let seconds = Date().timeIntervalSince(start)
        print(String(format: "efficientnet-lite0-57934424.pth read in %.1f ms", seconds * 1000))
        XCTAssertEqual(dict.count, 296)
        XCTAssertEqual(dict.keys.reduce(0) { $0 + (dict[$1]?.count ?? 0) }, 4_694_073)
        XCTAssertEqual(dict["_conv_stem.weight"]?.shape, [32, 3, 3, 3])

        let json = try Data(contentsOf: checkpointFixtures.appendingPathComponent("efficientnet_lite0_summary.json"))
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let keys = try XCTUnwrap(summary["keys"] as? [String])
        let shapes = try XCTUnwrap(summary["shapes"] as? [String: [Int]])
        let sums = try XCTUnwrap(summary["sums"] as? [String: Double])
        let firsts = try XCTUnwrap(summary["first_bits"] as? [String: [Int]])
        XCTAssertEqual(dict.keys, keys)
        for key in keys {
            let t = try XCTUnwrap(dict[key], key)
            XCTAssertEqual(t.shape, shapes[key], key)
            let sum = t.storage.reduce(0.0) { $0 + Double($1) }
            let want = try XCTUnwrap(sums[key], key)
            XCTAssertEqual(sum, want, accuracy: 1e-9 * abs(want) + 1e-8, key)
            XCTAssertEqual(t.storage.prefix(4).map { Int(Int32(bitPattern: $0.bitPattern)) }, firsts[key], key)
        }
    }
}
