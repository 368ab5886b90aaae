import Foundation
import XCTest

/// Issue 17 through the real binary: outputs never replace the run's inputs (class 2), special
/// files are refused without blocking (class 4), and SIGTERM or SIGHUP stop a run at a safe
/// point with exit code 143 or 129 and no temporary file left (class 8).
final class FileSafetyCLITests: CLIFolderTestCase {
    /// A small PNG from the imaging fixtures.
    private static let picture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CAMRuntimeTests/Fixtures/imaging/files/gray8.png")

    private func temporaries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
    }

    func testAReportNamedLikeTheScriptIsRefusedBeforeAnythingRuns() throws {
        let text = "print \"ran\"\n"
        let script = try script("s.cam", text)
        for flag in ["--html", "--ipynb"] {
            let r = try CLI.run(["run", script, flag, script])
            XCTAssertEqual(r.status, 74, r.stderr)
            XCTAssertEqual(r.stdout, "", "the script ran")
            XCTAssertTrue(r.stderr.contains("camscript: \(flag): cannot write \(script): it is an input of this run"), r.stderr)
            XCTAssertTrue(r.stderr.contains("choose another name"), r.stderr)
            XCTAssertEqual(try String(contentsOfFile: script, encoding: .utf8), text)
        }
        // Through a symbolic link to the script, too.
        XCTAssertEqual(symlink("s.cam", folder.appendingPathComponent("report.html").path), 0)
        let r = try CLI.run(["run", script, "--html", folder.appendingPathComponent("report.html").path])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("(same file as \(script))"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: script, encoding: .utf8), text)
    }

    func testAReportNamedLikeALoadedImageIsRefused() throws {
        let image = folder.appendingPathComponent("a.png")
        try FileManager.default.copyItem(at: Self.picture, to: image)
        let before = try Data(contentsOf: image)
        let script = try script("r.cam", "img = load \"a.png\"\nprint \"loaded\"\n")
        let r = try CLI.run(["run", script, "--html", image.path])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.contains("cannot write \(image.path): it is an input of this run"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: image), before)
    }

    func testSavingOverALoadedImageIsRefusedAtTheSaveLine() throws {
        let image = folder.appendingPathComponent("a.png")
        try FileManager.default.copyItem(at: Self.picture, to: image)
        XCTAssertEqual(symlink("a.png", folder.appendingPathComponent("alias.png").path), 0)
        let before = try Data(contentsOf: image)
        for target in ["a.png", "alias.png"] {
            let script = try script("save-\(target).cam", "img = load \"a.png\"\nsave img \"\(target)\"\n")
            let r = try CLI.run(["run", script])
            XCTAssertEqual(r.status, 74, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("\(script):2:1: error: save: cannot write \(folder.appendingPathComponent(target).path): it is an input of this run"), r.stderr)
            XCTAssertEqual(try Data(contentsOf: image), before)
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: folder.appendingPathComponent("alias.png").path), "a.png")
        }
        // A script (whatever its name) that saves over itself.
        let itself = try script("self.npy", "save tensor([1]) \"self.npy\"\n")
        let r = try CLI.run(["run", itself])
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: itself, encoding: .utf8), "save tensor([1]) \"self.npy\"\n")
    }

    func testAScriptThatIsAFIFOIsRefusedAtOnce() throws {
        let fifo = folder.appendingPathComponent("s.cam").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let start = Date()
        let r = try CLI.run(["run", fifo])
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertEqual(r.stderr, "camscript: cannot run \(fifo): it is a FIFO (named pipe), not a .cam file\n")
        let zero = try CLI.run(["run", "/dev/zero"])
        XCTAssertEqual(zero.status, 74, zero.stderr)
        XCTAssertEqual(zero.stderr, "camscript: cannot run /dev/zero: it is a character device, not a .cam file\n")
    }

    /// Starts a run that saves in a loop forever, waits until it has saved, sends `signal`, and
    /// returns its exit status.
    private func stopLongRun(with signal: Int32) throws -> Int32 {
        let script = try script("long.cam", "t = tensor(range(100000))\nprint \"started\"\nwhile true:\n    save t \"t.npy\"\n")
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["run", script]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = environment["OPENBLAS_CORETYPE"] ?? "Haswell"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("started") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        usleep(300_000)  // well inside the loop of saves
        kill(process.processIdentifier, signal)
        _ = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "ended by the signal instead of stopping at a safe point")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("t.npy").path))
        XCTAssertEqual(try temporaries(), [])
        return process.terminationStatus
    }

    func testSIGTERMStopsALongRunWithExitCode143AndNoTemporaryFile() throws {
        XCTAssertEqual(try stopLongRun(with: SIGTERM), 143)
    }

    func testSIGHUPStopsALongRunWithExitCode129() throws {
        XCTAssertEqual(try stopLongRun(with: SIGHUP), 129)
    }
}
