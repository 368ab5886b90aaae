import Foundation
import XCTest
@testable import CAMRuntime

/// Hostile, truncated, corrupt and absurd checkpoints: each must be refused with a message,
/// never crash, never allocate what a header claims, and never run anything.
final class CheckpointHostileTests: XCTestCase {
    /// A file that a hostile pickle would create if anything it names were ever called.
    var marker: URL!

    override func setUp() {
        marker = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-pwned-\(UUID())")
    }

    override func tearDown() {
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker.path), "a hostile pickle ran a command")
        try? FileManager.default.removeItem(at: marker)
    }

    /// `module.name("touch <marker>")` via REDUCE, as a bare pickle.
    func callPickle(_ module: String, _ name: String, argument: String? = nil) -> [UInt8] {
        var p = PickleBuilder()
        p.proto()
        p.global(module, name)
        p.mark(); p.string(argument ?? "touch \(marker.path)"); p.tuple()
        p.reduce()
        p.stop()
        return p.bytes
    }

    /// All the ways a hostile pickle can arrive: inside a zip, after a legacy header.
    func containers(_ pickle: [UInt8]) -> [(String, Data)] {
        [("zip", makeTorchZip(pickle: pickle)), ("zip64", makeTorchZip(pickle: pickle, zip64: true)),
         ("legacy", Data(legacyHeader() + pickle))]
    }

    func testGlobalOsSystemIsRefusedByName() {
        for (kind, data) in containers(callPickle("os", "system")) {
            XCTAssertThrowsError(try Checkpoint.read(data, fileName: "checkpoint.pth"), kind) { error in
                XCTAssertEqual("\(error)", "checkpoint.pth: refusing to load global \"os.system\": only PyTorch tensors and containers are allowed")
            }
        }
        assertRefused(makeTorchZip(pickle: callPickle("posix", "system")), "refusing to load global \"posix.system\"")
    }

    func testBuiltinsEvalIsRefusedByName() {
        let code = "__import__('os').system('touch \(marker.path)')"
        for (kind, data) in containers(callPickle("builtins", "eval", argument: code)) {
            XCTAssertThrowsError(try Checkpoint.read(data, fileName: "checkpoint.pth"), kind) { error in
                XCTAssertTrue("\(error)".contains("refusing to load global \"builtins.eval\""), "\(error)")
            }
        }
        assertRefused(makeTorchZip(pickle: callPickle("__builtin__", "exec", argument: code)), "\"__builtin__.exec\"")
    }

    func testSubprocessPopenViaReduceIsRefusedByName() {
        // subprocess.Popen(["touch", marker])
        var p = PickleBuilder()
        p.proto(); p.global("subprocess", "Popen")
        p.mark(); p.emptyList(); p.mark(); p.string("touch"); p.string(marker.path); p.op(0x65); p.tuple()
        p.reduce(); p.stop()
        for (kind, data) in containers(p.bytes) {
            XCTAssertThrowsError(try Checkpoint.read(data, fileName: "checkpoint.pth"), kind) { error in
                XCTAssertTrue("\(error)".contains("refusing to load global \"subprocess.Popen\""), "\(error)")
            }
        }
    }

    func testStackGlobalAndInstAreCheckedToo() {
        var p = PickleBuilder()
        p.proto(4)
        p.bytes += [0x8C, 2] + Array("os".utf8) + [0x8C, 6] + Array("system".utf8) + [0x93]
        p.bytes += [0x8C, 4] + Array("true".utf8) + [0x85]
        p.reduce(); p.stop()
        assertRefused(makeTorchZip(pickle: p.bytes), "refusing to load global \"os.system\"")
        var inst = PickleBuilder()
        inst.proto(); inst.mark(); inst.string("true")
        inst.bytes += [0x69] + Array("os\nsystem\n".utf8)
        inst.stop()
        assertRefused(makeTorchZip(pickle: inst.bytes), "refusing to load global \"os.system\"")
    }

    func testHostileGlobalHiddenInsideAStateDictIsRefused() {
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.mark()
        p.string("conv.weight"); p.tensor(key: "0", numel: 6, offset: 0, size: [6], stride: [1])
        p.string("evil"); p.bytes += callPickle("os", "system").dropFirst(2).dropLast()
        p.op(0x75); p.stop()
        assertRefused(makeTorchZip(pickle: p.bytes, storages: [sixFloats]), "refusing to load global \"os.system\"")
    }

    func testAllowedGlobalsCannotBeMisused() {
        // A storage class called as a function, and _rebuild_tensor_v2 without a storage.
        var p = PickleBuilder()
        p.proto(); p.global("torch", "FloatStorage"); p.mark(); p.int(10); p.tuple(); p.reduce(); p.stop()
        assertRefused(makeTorchZip(pickle: p.bytes), "calls a storage type")
        var q = PickleBuilder()
        q.proto(); q.global("torch._utils", "_rebuild_tensor_v2")
        q.mark(); q.int(0); q.int(0); q.emptyTuple(); q.emptyTuple(); q.tuple(); q.reduce(); q.stop()
        assertRefused(makeTorchZip(pickle: q.bytes), "whose storage is an int")
        var r = PickleBuilder()
        r.proto(); r.global("collections", "OrderedDict"); r.emptyTuple(); r.reduce()
        r.global("os", "getcwd"); r.op(0x62); r.stop()
        assertRefused(makeTorchZip(pickle: r.bytes), "refusing to load global \"os.getcwd\"")
    }

    func testSelfReferentialContainersDoNotHang() {
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.put(0); p.string("state_dict"); p.get(0); p.op(0x73); p.stop()
        assertRefused(makeTorchZip(pickle: p.bytes), "where a tensor was expected")
        var l = PickleBuilder()
        l.proto(); l.emptyList(); l.put(0); l.get(0); l.op(0x61); l.stop()
        assertRefused(makeTorchZip(pickle: l.bytes), "not a state dict")
    }

    func testMemoStackAndNestingAreBounded() {
        var tight = CheckpointLimits.default
        tight.maxMemoEntries = 10
        var memo = PickleBuilder()
        memo.proto(); memo.emptyList()
        for i in 0..<11 { memo.put(UInt8(i)) }
        memo.stop()
        assertRefused(makeTorchZip(pickle: memo.bytes), "memo larger than 10", limits: tight)

        tight.maxStackItems = 100
        var stack = PickleBuilder()
        stack.proto()
        for _ in 0..<101 { stack.op(0x4E) }
        stack.stop()
        assertRefused(makeTorchZip(pickle: stack.bytes), "stack grows beyond 100", limits: tight)

        var nested = PickleBuilder()
        nested.proto()
        for _ in 0..<5000 { nested.mark() }
        nested.stop()
        assertRefused(makeTorchZip(pickle: nested.bytes), "deeper than 1000")

        tight.maxContainers = 50
        var many = PickleBuilder()
        many.proto()
        for _ in 0..<51 { many.emptyTuple(); many.op(0x30) }
        many.stop()
        assertRefused(makeTorchZip(pickle: many.bytes), "more than 50 pickle containers", limits: tight)
    }

    func testLengthsBeyondTheInputAreRefusedWithoutAllocating() {
        let cases: [([UInt8], String)] = [
            ([0x80, 2, 0x58, 0xFF, 0xFF, 0xFF, 0x7F], "claims 2147483647 bytes"),          // BINUNICODE
            ([0x80, 4, 0x8D] + littleEndian(1 << 62, 8), "claims 4611686018427387904 bytes"), // BINUNICODE8
            ([0x80, 4, 0x8E] + littleEndian(UInt64.max, 8), "bytes"),                    // BINBYTES8
            ([0x80, 2, 0x8B, 0xFF, 0xFF, 0xFF, 0x7F], "claims 2147483647 bytes"),          // LONG4
            ([0x80, 4, 0x95] + littleEndian(1 << 40, 8), "FRAME"),                       // FRAME
            ([0x80, 2, 0x6A, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "never stored"),             // LONG_BINGET
            ([0x80, 2, 0x52, 0x2E], "stack is empty"),                                   // REDUCE on nothing
            ([0x80, 2, 0x65, 0x2E], "MARK is missing"),                                  // APPENDS without MARK
            ([0x80, 9, 0x2E], "protocol 9"),
            ([0x80, 2, 0xFF, 0x2E], "unsupported pickle opcode 0xff"),
        ]
        for (bytes, fragment) in cases {
            assertRefused(makeTorchZip(pickle: bytes), fragment)
        }
    }

    func testAbsurdTensorAndStorageSizesAreRefusedWithoutAllocating() throws {
        assertRefused(try checkpointFixture("huge_view.pth"), "more than the limit of 1073741824 elements")
        assertRefused(try checkpointFixture("out_of_storage.pth"), "reaches element 999999999999 of a storage of 6 elements")
        assertRefused(try checkpointFixture("storage_too_short.pth"), "claims 1000 float32 elements but its entry has 24 bytes")

        // Legacy: a storage that claims 10^15 elements, with a matching data header but 24 bytes.
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.string("w")
        p.tensor(key: "k", numel: 1_000_000_000_000_000, offset: 0, size: [6], stride: [1], legacy: true)
        p.op(0x73); p.stop()
        var keys = PickleBuilder()
        keys.proto(); keys.emptyList(); keys.string("k"); keys.op(0x61); keys.stop()
        let legacy = Data(legacyHeader() + p.bytes + keys.bytes + littleEndian(1_000_000_000_000_000, 8) + sixFloats)
        assertRefused(legacy, "needs 4000000000000000 bytes but 24 remain")
        // A storage count of 2^62 overflows the byte count: refused, not trapped.
        var q = PickleBuilder()
        q.proto(); q.emptyDict(); q.string("w")
        q.tensor(key: "k", numel: 1 << 62, offset: 0, size: [6], stride: [1], legacy: true)
        q.op(0x73); q.stop()
        assertRefused(Data(legacyHeader() + q.bytes + keys.bytes + littleEndian(1 << 62, 8) + sixFloats), "needs")
        // Size × stride overflowing Int.
        var r = PickleBuilder()
        r.proto(); r.emptyDict(); r.string("w")
        r.tensor(key: "0", numel: 6, offset: 0, size: [3, 2], stride: [Int(Int32.max), Int(Int32.max)])
        r.op(0x73); r.stop()
        assertRefused(makeTorchZip(pickle: r.bytes, storages: [sixFloats]), "reaches element")
        var small = CheckpointLimits.default
        small.maxElements = 10
        assertRefused(try checkpointFixture("tiny_zip.pth"), "more than the limit of 10 elements", limits: small)
    }

    func testCompressedEntriesAreRefused() throws {
        assertRefused(try checkpointFixture("compressed.pth"), "is compressed (method 8)")
    }

    func testLegacyHeaderMismatchesAreRefused() {
        var p = PickleBuilder()
        p.proto(); p.int(42); p.stop()
        assertRefused(Data(p.bytes), "not a PyTorch checkpoint")
        var header = legacyHeader()
        header[header.count - 3] = 0x89 // little_endian: False
        assertRefused(Data(header), "big-endian")
    }

    /// Every fixture cut at every length (or, for larger files, at ~600 lengths) must throw.
    func testEveryTruncationIsRefused() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: checkpointFixtures.path)
            .filter { $0.hasSuffix(".pth") || $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertGreaterThan(names.count, 10)
        for name in names {
            let data = try checkpointFixture(name)
            let step = max(1, data.count / 600)
            var lengths = Array(stride(from: 0, to: data.count, by: step))
            lengths += [data.count - 1, data.count - 22, data.count - 23, data.count / 2].filter { $0 >= 0 }
            for length in lengths {
                XCTAssertThrowsError(try Checkpoint.read(data.prefix(length), fileName: name), "\(name) cut at \(length)")
            }
        }
    }

    func testCorruptZipOffsetsAreRefused() throws {
        let original = try checkpointFixture("tiny_zip.pth")
        let bytes = [UInt8](original)
        let eocd = try XCTUnwrap((0...(bytes.count - 22)).reversed().first {
            bytes[$0] == 0x50 && bytes[$0 + 1] == 0x4B && bytes[$0 + 2] == 5 && bytes[$0 + 3] == 6
        })
        func u32(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24 }
        func patched(_ at: Int, _ value: UInt64, _ width: Int) -> Data {
            var b = bytes
            b.replaceSubrange(at ..< at + width, with: littleEndian(value, width))
            return Data(b)
        }
        let directory = u32(bytes, eocd + 16)
        assertRefused(patched(eocd + 16, 0xFFFF_FFF0, 4), "corrupt zip")              // directory offset
        assertRefused(patched(eocd + 12, UInt64(bytes.count), 4), "corrupt zip")       // directory size
        assertRefused(patched(eocd + 10, 60_000, 2), "corrupt zip")                    // entry count
        assertRefused(patched(directory + 42, UInt64(bytes.count + 100), 4), "corrupt zip") // local header offset
        assertRefused(patched(directory + 20, 0x7FFF_FFFF, 4), "corrupt zip")          // entry size
        assertRefused(patched(directory + 28, 0xFFFF, 2), "corrupt zip")               // name length
        assertRefused(patched(directory, 0, 4), "corrupt zip")                         // signature
        assertRefused(patched(0, 0x0403_4B50 ^ 0xFF00_0000, 4), "is not a checkpoint")
        // ZIP64 markers without a locator, and a locator that points outside the file. (torch
        // itself always writes ZIP64 end records, so every tiny_zip*.pth test reads them too.)
        var plain = [UInt8](makeTorchZip(pickle: [0x80, 2, 0x7D, 0x2E]))
        plain.replaceSubrange(plain.count - 6 ..< plain.count - 2, with: littleEndian(0xFFFF_FFFF, 4))
        assertRefused(Data(plain), "ZIP64 end-of-directory locator is missing")
        let zip64 = [UInt8](makeTorchZip(pickle: [0x80, 2, 0x7D, 0x2E], zip64: true))
        var broken = zip64
        broken.replaceSubrange(zip64.count - 22 - 20 + 8 ..< zip64.count - 22 - 20 + 16, with: littleEndian(1 << 40, 8))
        assertRefused(Data(broken), "ZIP64 end-of-directory record is outside the file")
    }

    func testZipWithoutPickleOrStoragesIsRefused() {
        assertRefused(makeZip([("readme.txt", Array("hi".utf8))]), "without a data.pkl entry")
        var p = PickleBuilder()
        p.proto(); p.emptyDict(); p.string("w"); p.tensor(key: "0", numel: 6, offset: 0, size: [6], stride: [1]); p.op(0x73); p.stop()
        assertRefused(makeTorchZip(pickle: p.bytes), "has no entry archive/data/0")
        assertRefused(makeZip([("archive/data.pkl", p.bytes), ("archive/byteorder", Array("big".utf8)), ("archive/data/0", sixFloats)]), "byte order")
        var empty = PickleBuilder()
        empty.proto(); empty.emptyDict(); empty.stop()
        assertRefused(makeTorchZip(pickle: empty.bytes), "holds no tensors")
    }

    /// Truncated files on disk go through the `pread` source: refused, never a crash.
    func testTruncatedFilesOnDiskAreRefused() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(UUID()).pth")
        defer { try? FileManager.default.removeItem(at: url) }
        for name in ["tiny_zip.pth", "tiny_legacy.pth", "expected.safetensors"] {
            let data = try checkpointFixture(name)
            for length in [0, 1, 9, 100, data.count / 3, data.count / 2, data.count - 30, data.count - 1] {
                try data.prefix(length).write(to: url)
                XCTAssertThrowsError(try Checkpoint.read(contentsOf: url), "\(name) cut at \(length)")
            }
            try data.write(to: url)
            XCTAssertNoThrow(try Checkpoint.read(contentsOf: url), name)
        }
    }

    /// A file that shrinks after it was opened (another process rewriting it) is refused as
    /// truncated: the reader uses pread, so there is no mapping to fault on.
    func testFileThatShrinksWhileBeingReadIsRefused() throws {
        for name in ["tiny_zip.pth", "tiny_legacy.pth"] {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("shrink-\(UUID()).pth")
            defer { try? FileManager.default.removeItem(at: url) }
            let data = try checkpointFixture(name)
            try data.write(to: url)
            let source = try FileCheckpointBytes(url: url)
            XCTAssertEqual(source.count, data.count)
            let handle = try FileHandle(forWritingTo: url)
            try handle.truncate(atOffset: UInt64(data.count / 2))
            try handle.close()
            let reader = TorchCheckpointReader(source: source, limits: .default)
            XCTAssertThrowsError(try (name.contains("zip") ? reader.readZip() : reader.readLegacy()), name) { error in
                XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
            }
        }
    }

    func testFileThatCannotBeReadIsRefused() {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("missing-\(UUID()).pth")
        XCTAssertThrowsError(try Checkpoint.read(contentsOf: url)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(url.lastPathComponent): cannot be read"), "\(error)")
        }
        XCTAssertThrowsError(try Checkpoint.read(contentsOf: checkpointFixtures)) { error in
            XCTAssertEqual("\(error)", "checkpoints: is a folder, not a checkpoint file")
        }
    }
}

/// Random byte corruption of real checkpoints: every result is a state dict or a CheckpointError.
final class CheckpointFuzzTests: XCTestCase {
    /// A small deterministic generator (SplitMix64), so a failure can be replayed.
    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    func testRandomCorruptionNeverCrashes() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["CAMSCRIPT_FUZZ_ITERATIONS"] ?? "") ?? 300
        var rng = SplitMix64(state: 0xC0FFEE)
        var refused = 0
        for name in ["tiny_zip.pth", "tiny_legacy.pth", "tiny_legacy_proto4.pth", "wrapped_model_legacy.pth", "expected.safetensors"] {
            let original = [UInt8](try checkpointFixture(name))
            for i in 0..<iterations {
                var bytes = original
                for _ in 0...rng.below(4) {
                    let at = rng.below(bytes.count)
                    // Half the time aim at small values and 0xFF runs, which hit lengths and counts.
                    bytes[at] = rng.below(2) == 0 ? UInt8(rng.below(256)) : [0, 1, 0x7F, 0x80, 0xFF][rng.below(5)]
                }
                do {
                    _ = try Checkpoint.read(Data(bytes), fileName: name)
                } catch is CheckpointError {
                    refused += 1
                } catch {
                    XCTFail("\(name) mutation \(i): unexpected error type \(type(of: error)): \(error)")
                }
            }
        }
        XCTAssertGreaterThan(refused, 0, "corruption that is never refused means the fuzzer does not reach the checks")
    }
}
