import Foundation
import XCTest
@testable import CAMRuntime

/// The folder of the checkpoint fixtures made by tools/fixtures/gen_checkpoints.py.
let checkpointFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/checkpoints")

/// The bytes of a checkpoint fixture.
func checkpointFixture(_ name: String) throws -> Data {
    try Data(contentsOf: checkpointFixtures.appendingPathComponent(name))
}

/// Asserts that reading `data` throws a `CheckpointError` whose message contains `fragment`.
func assertRefused(_ data: Data, _ fragment: String, limits: CheckpointLimits = .default,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try Checkpoint.read(data, fileName: "checkpoint.pth", limits: limits), file: file, line: line) { error in
        XCTAssertTrue(error is CheckpointError, "not a CheckpointError: \(error)", file: file, line: line)
        XCTAssertTrue("\(error)".contains(fragment), "message \"\(error)\" lacks \"\(fragment)\"", file: file, line: line)
    }
}

/// Builds pickle bytes opcode by opcode, as pickletools would show them.
struct PickleBuilder {
    var bytes: [UInt8] = []

    mutating func op(_ code: UInt8) { bytes.append(code) }
    mutating func proto(_ v: UInt8 = 2) { bytes += [0x80, v] }
    mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58)
        bytes += le(UInt64(u.count), 4) + u
    }
    mutating func int(_ v: Int) {
        bytes.append(0x4A)
        bytes += le(UInt64(UInt32(truncatingIfNeeded: v)), 4)
    }
    mutating func long(_ v: Int64) {
        bytes += [0x8A, 8] + le(UInt64(bitPattern: v), 8)
    }
    mutating func mark() { op(0x28) }
    mutating func tuple() { op(0x74) }
    mutating func emptyTuple() { op(0x29) }
    mutating func emptyDict() { op(0x7D) }
    mutating func emptyList() { op(0x5D) }
    mutating func reduce() { op(0x52) }
    mutating func stop() { op(0x2E) }
    mutating func put(_ i: UInt8) { bytes += [0x71, i] }
    mutating func get(_ i: UInt8) { bytes += [0x68, i] }

    /// `_rebuild_tensor_v2(persistent storage(key, numel), offset, size, stride, False, OrderedDict())`.
    mutating func tensor(key: String, numel: Int64, offset: Int, size: [Int], stride: [Int], legacy: Bool = false) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark(); string("storage"); global("torch", "FloatStorage"); string(key); string("cpu"); long(numel)
        if legacy { op(0x4E) }
        tuple()
        op(0x51) // BINPERSID
        int(offset)
        mark(); size.forEach { int($0) }; tuple()
        mark(); stride.forEach { int($0) }; tuple()
        op(0x89)
        global("collections", "OrderedDict"); emptyTuple(); reduce()
        tuple()
        reduce()
    }

    func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
}

/// Little-endian bytes of an integer.
func littleEndian(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

/// Writes a STORED zip archive (optionally with ZIP64 records and extra fields everywhere).
func makeZip(_ files: [(name: String, data: [UInt8])], zip64: Bool = false) -> Data {
    var out: [UInt8] = []
    var central: [UInt8] = []
    for (name, data) in files {
        let offset = out.count
        let n = Array(name.utf8)
        let size = UInt64(data.count)
        let localExtra = zip64 ? littleEndian(1, 2) + littleEndian(16, 2) + littleEndian(size, 8) + littleEndian(size, 8) : []
        out += littleEndian(0x0403_4B50, 4) + littleEndian(zip64 ? 45 : 20, 2) + littleEndian(0, 2) + littleEndian(0, 2)
        out += littleEndian(0, 4) + littleEndian(0, 4) // time, date, crc
        out += littleEndian(zip64 ? 0xFFFF_FFFF : size, 4) + littleEndian(zip64 ? 0xFFFF_FFFF : size, 4)
        out += littleEndian(UInt64(n.count), 2) + littleEndian(UInt64(localExtra.count), 2) + n + localExtra + data
        let centralExtra = zip64 ? littleEndian(1, 2) + littleEndian(24, 2) + littleEndian(size, 8) + littleEndian(size, 8) + littleEndian(UInt64(offset), 8) : []
        central += littleEndian(0x0201_4B50, 4) + littleEndian(45, 2) + littleEndian(zip64 ? 45 : 20, 2) + littleEndian(0, 2) + littleEndian(0, 2)
        central += littleEndian(0, 4) + littleEndian(0, 4)
        central += littleEndian(zip64 ? 0xFFFF_FFFF : size, 4) + littleEndian(zip64 ? 0xFFFF_FFFF : size, 4)
        central += littleEndian(UInt64(n.count), 2) + littleEndian(UInt64(centralExtra.count), 2) + littleEndian(0, 2)
        central += littleEndian(0, 2) + littleEndian(0, 2) + littleEndian(0, 4)
        central += littleEndian(zip64 ? 0xFFFF_FFFF : UInt64(offset), 4) + n + centralExtra
    }
    let directoryOffset = UInt64(out.count)
    out += central
    if zip64 {
        let record = UInt64(out.count)
        out += littleEndian(0x0606_4B50, 4) + littleEndian(44, 8) + littleEndian(45, 2) + littleEndian(45, 2)
        out += littleEndian(0, 4) + littleEndian(0, 4) + littleEndian(UInt64(files.count), 8) + littleEndian(UInt64(files.count), 8)
        out += littleEndian(UInt64(central.count), 8) + littleEndian(directoryOffset, 8)
        out += littleEndian(0x0706_4B50, 4) + littleEndian(0, 4) + littleEndian(record, 8) + littleEndian(1, 4)
        out += littleEndian(0x0605_4B50, 4) + littleEndian(0, 2) + littleEndian(0, 2) + littleEndian(0xFFFF, 2) + littleEndian(0xFFFF, 2)
        out += littleEndian(0xFFFF_FFFF, 4) + littleEndian(0xFFFF_FFFF, 4) + littleEndian(0, 2)
    } else {
        out += littleEndian(0x0605_4B50, 4) + littleEndian(0, 2) + littleEndian(0, 2)
        out += littleEndian(UInt64(files.count), 2) + littleEndian(UInt64(files.count), 2)
        out += littleEndian(UInt64(central.count), 4) + littleEndian(directoryOffset, 4) + littleEndian(0, 2)
    }
    return Data(out)
}

/// A torch-like zip checkpoint around a pickle and raw storages named "0", "1", ...
func makeTorchZip(pickle: [UInt8], storages: [[UInt8]] = [], zip64: Bool = false) -> Data {
    var files: [(name: String, data: [UInt8])] = [("archive/data.pkl", pickle), ("archive/byteorder", Array("little".utf8))]
    for (i, s) in storages.enumerated() { files.append(("archive/data/\(i)", s)) }
    return makeZip(files, zip64: zip64)
}

/// The three header pickles of a legacy checkpoint: magic number, protocol 1001, system info.
func legacyHeader() -> [UInt8] {
    var p = PickleBuilder()
    p.proto(); p.bytes += [0x8A, 10] + TorchCheckpointReader.legacyMagic; p.stop()
    p.proto(); p.bytes += [0x4D, 0xE9, 0x03]; p.stop()
    p.proto(); p.emptyDict(); p.string("little_endian"); p.op(0x88); p.op(0x73); p.stop()
    return p.bytes
}

/// Six Float32 values 0...5 as raw little-endian bytes.
let sixFloats: [UInt8] = (0..<6).flatMap { littleEndian(UInt64(Float($0).bitPattern), 4) }
