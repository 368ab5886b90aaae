import Foundation
import XCTest

/// Saving and writing reports on a really full disk and a really read-only folder: a small
/// tmpfs mounted for the test (root is needed to mount; CI runs as root). Root may write into
/// a folder without write permission, so a read-only *mount* is the honest test. Each failure
/// must exit 74 with `file:line:col: error:`, keep the previous file byte for byte and leave
/// no temporary file behind.
final class RealFilesystemFaultTests: XCTestCase {
    private var mountPoint: URL?
    private var scripts: URL?

    override func setUpWithError() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-fs-\(UUID().uuidString)")
        let point = base.appendingPathComponent("disk")
        let scripts = base.appendingPathComponent("scripts")
        try FileManager.default.createDirectory(at: point, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        self.scripts = scripts
        let (status, output) = try Self.command("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", point.path])
        guard status == 0 else {
            throw XCTSkip("mounting a tmpfs needs root (\(output.trimmingCharacters(in: .whitespacesAndNewlines))); "
                          + "BadInputTests covers the same paths with an injected EFBIG")
        }
        mountPoint = point
    }

    override func tearDownWithError() throws {
        if let mountPoint {
            _ = try Self.command("/bin/umount", ["-l", mountPoint.path])
            try? FileManager.default.removeItem(at: mountPoint.deletingLastPathComponent())
        }
    }

    private static func command(_ path: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// The photo the scripts save: ~250 kB as PNG, more than the disk has left.
    private var photo: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/images/chelsea.png").path
    }

    private func script(_ name: String, _ source: String) throws -> String {
        guard let scripts else { throw XCTSkip("no script folder") }
        let url = scripts.appendingPathComponent(name)
        try source.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Fills the disk to the last byte with a filler file.
    private func fill(_ disk: URL) throws {
        let handle = try FileHandle(forWritingTo: {
            let url = disk.appendingPathComponent("filler")
            FileManager.default.createFile(atPath: url.path, contents: nil)
            return url
        }())
        defer { try? handle.close() }
        let chunk = Data(repeating: 0x5A, count: 4096)
        var written = 0
        while written < 1 << 20 {
            do { try handle.write(contentsOf: chunk) } catch { break }
            written += chunk.count
        }
        try? handle.synchronize()
    }

    private func assertUnchanged(_ disk: URL, _ files: [String: Data], _ context: String,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        for (name, data) in files {
            XCTAssertEqual(try Data(contentsOf: disk.appendingPathComponent(name)), data,
                           "\(context): \(name) changed", file: file, line: line)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: disk.path)
        let leftovers = names.filter { !files.keys.contains($0) && $0 != "filler" }
        XCTAssertEqual(leftovers, [], "\(context): files left behind", file: file, line: line)
    }

    func testSavingOnAFullDiskFailsAndKeepsThePreviousFile() throws {
        guard let disk = mountPoint else { return }
        let previous = Data((0..<3000).map { UInt8($0 % 253) })
        try previous.write(to: disk.appendingPathComponent("cat.png"))
        try fill(disk)
        let path = try script("full.cam", "img = load \"\(photo)\"\nprint img.size\nsave img \"\(disk.path)/cat.png\"\nprint \"saved\"\n")
        let result = try CLI.run(["run", path])
        XCTAssertEqual(result.status, 74, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("\(path):3:1: error: save: cannot write \(disk.path)/cat.png: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("No space left on device"), result.stderr)
        XCTAssertTrue(result.stderr.contains("the previous file, if any, is unchanged"), result.stderr)
        XCTAssertTrue(result.stdout.contains("451"), "the lines before the save ran: \(result.stdout)")
        XCTAssertFalse(result.stdout.contains("saved"), "nothing after the failing line runs")
        try assertUnchanged(disk, ["cat.png": previous], "full disk")
    }

    func testSavingIntoAReadOnlyMountFailsAndKeepsThePreviousFile() throws {
        guard let disk = mountPoint else { return }
        let previous = Data("an earlier result".utf8)
        try previous.write(to: disk.appendingPathComponent("cat.png"))
        let (status, output) = try Self.command("/bin/mount", ["-o", "remount,ro", disk.path])
        XCTAssertEqual(status, 0, output)
        let path = try script("ro.cam", "img = load \"\(photo)\"\nsave img \"\(disk.path)/cat.png\"\n")
        let result = try CLI.run(["run", path])
        XCTAssertEqual(result.status, 74, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("\(path):2:1: error: save: cannot write \(disk.path)/cat.png: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("Read-only file system"), result.stderr)
        try assertUnchanged(disk, ["cat.png": previous], "read-only")
    }

    func testAReportOnAFullDiskFailsAndKeepsThePreviousReport() throws {
        guard let disk = mountPoint else { return }
        let previous = Data("<html>the last good report</html>".utf8)
        try previous.write(to: disk.appendingPathComponent("report.html"))
        try fill(disk)
        // The report embeds the photo as a PNG: far more than the disk has left.
        let path = try script("report.cam", "img = load \"\(photo)\"\nshow img\n")
        let result = try CLI.run(["run", path, "--html", disk.appendingPathComponent("report.html").path])
        XCTAssertNotEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("cannot write the"), result.stderr)
        XCTAssertTrue(result.stderr.contains("No space left on device"), result.stderr)
        try assertUnchanged(disk, ["report.html": previous], "report on a full disk")
    }
}
