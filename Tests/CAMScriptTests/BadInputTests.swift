import Foundation
import XCTest

/// Issue 8's bad-input suite, through the real `camscript` binary: every kind of hostile or
/// broken file fails the run with `file:line:col: error:` at the script line that loaded it and
/// a sysexits code (never a signal or a Swift runtime trap), the REPL survives all of them with
/// its variables, and a failed save leaves the previous file intact.
///
/// The files are made by `tools/fixtures/gen_bad_inputs.py` (PyTorch, NumPy, Pillow) in
/// `Tests/CAMRuntimeTests/Fixtures/badinput/`.
final class BadInputTests: XCTestCase {
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-badinput-\(UUID().uuidString)")

    /// Where the generated bad files are.
    private static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CAMRuntimeTests/Fixtures/badinput")

    /// Each bad file and a part of the message it must be refused with.
    private static let badFiles: [(file: String, message: String)] = [
        ("truncated.png", "load: image 'truncated.png': the PNG data is truncated or corrupt"),
        ("truncated.jpg", "load: image 'truncated.jpg': the JPEG data is truncated or corrupt"),
        ("bomb.png", "load: image 'bomb.png': the PNG header claims 100000×100000 = 10000000000 pixels, more than the limit of 89478485"),
        ("truncated.pth", "load: truncated.pth: is a corrupt zip archive"),
        ("garbage.pth", "load: garbage.pth: is not a checkpoint"),
        ("hostile_os_system.pth", "load: hostile_os_system.pth: refusing to load global \"posix.system\""),
        ("hostile_os_system_legacy.pth", "load: hostile_os_system_legacy.pth: refusing to load global \"posix.system\""),
        ("huge_shape.npy", "huge_shape.npy: the .npy data is truncated: shape (1000000, 1000000) needs 4000000000000 bytes, found 16"),
        ("truncated_header.npy", "truncated_header.npy: truncated .npy header"),
        ("object.npy", "object.npy: unsupported .npy element type |O"),
    ]

    /// The file the hostile pickles would write if their `os.system` call ran.
    private let pwned = "/tmp/camscript-pwned"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: pwned)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func fixture(_ name: String) throws -> String {
        let path = Self.fixtures.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "missing fixture \(path): run tools/fixtures/gen_bad_inputs.py")
        return path
    }

    private func script(_ name: String, _ text: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Asserts the process ended by itself (no signal, no Swift runtime trap or backtrace).
    private func assertNoCrash(_ r: CLI.Result, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThan(r.status, 128, "\(what): ended by a signal: \(r.stderr)", file: file, line: line)
        for sign in ["Fatal error", "Crash", "backtrace", "Segmentation", "Illegal instruction", "Thread 0"] {
            XCTAssertFalse(r.stderr.contains(sign), "\(what): stderr shows a crash (\(sign)):\n\(r.stderr)", file: file, line: line)
        }
    }

    func testEveryBadFileFailsTheRunAtTheLineThatLoadedIt() throws {
        for (name, message) in Self.badFiles {
            let path = try script("load-\(name).cam", "a = 1\n# a comment\nx = load \"\(try fixture(name))\"\nprint \"after\"\n")
            let r = try CLI.run(["run", path])
            assertNoCrash(r, name)
            XCTAssertEqual(r.status, 70, "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("\(path):3:5: error: "), "\(name): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(name): expected \"\(message)\" in:\n\(r.stderr)")
            XCTAssertFalse(r.stdout.contains("after"), "\(name): the script went on after the error")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: pwned), "a hostile pickle ran os.system")
    }

    func testAMissingFileExits66() throws {
        let path = try script("missing.cam", "x = load \"\(folder.path)/nothing-here.png\"\n")
        let r = try CLI.run(["run", path])
        assertNoCrash(r, "missing file")
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("\(path):1:5: error: "), r.stderr)
    }

    func testRunawayRecursionIsAnErrorNotAStackOverflow() throws {
        let path = try script("recursion.cam", "def f(n):\n    return f(n + 1)\n\nprint \"before\"\nf(0)\n")
        let r = try CLI.run(["run", path])
        assertNoCrash(r, "recursion")
        XCTAssertEqual(r.status, 70, r.stderr)
        XCTAssertEqual(r.stdout, "before\n")
        XCTAssertTrue(r.stderr.hasPrefix("\(path):2:12: error: recursion too deep: more than 1000 nested calls (calling `f`)"), r.stderr)
        // Deep recursion through an expression nested in each call, too.
        let nested = try script("nested.cam", "def g(n):\n    return [g(n + 1) + 1]\ng(0)\n")
        let n = try CLI.run(["run", nested])
        assertNoCrash(n, "nested recursion")
        XCTAssertEqual(n.status, 70, n.stderr)
        XCTAssertTrue(n.stderr.hasPrefix("\(nested):2:13: error: recursion too deep"), n.stderr)
    }

    func testAScriptThatNestsTooDeeplyIsASyntaxErrorNotAStackOverflow() throws {
        // 3000 levels: far past the parser's limit of 100, while the error (which quotes the
        // line) still fits the pipe that CLI.run reads after stdout.
        let depth = 3000
        let path = try script("deep.cam", "x = " + String(repeating: "(", count: depth) + "1" + String(repeating: ")", count: depth) + "\n")
        let r = try CLI.run(["run", path])
        assertNoCrash(r, "deep nesting")
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("\(path):1:"), r.stderr)
        let check = try CLI.run(["check", path])
        assertNoCrash(check, "deep nesting, check")
        XCTAssertEqual(check.status, 65, check.stderr)
        // Blocks nested 500 deep.
        var blocks = ""
        for level in 0..<500 { blocks += String(repeating: " ", count: level) + "if true:\n" }
        blocks += String(repeating: " ", count: 500) + "print 1\n"
        let indented = try script("blocks.cam", blocks)
        let b = try CLI.run(["check", indented])
        assertNoCrash(b, "deep blocks")
        XCTAssertTrue(b.status == 0 || b.status == 65, "status \(b.status): \(b.stderr)")
    }

    func testTheREPLSurvivesEveryBadInputAndKeepsItsVariables() throws {
        var input = "a = 1\n"
        for (name, _) in Self.badFiles { input += "x = load \"\(try fixture(name))\"\n" }
        input += "def f(n):\n    return f(n + 1)\n\nf(0)\n"
        input += "save tensor([1, 2]) \"\(folder.path)/no-such-folder/t.npy\"\n"
        input += "print a\n"
        let r = try CLI.run([], stdin: input)
        assertNoCrash(r, "REPL")
        XCTAssertEqual(r.stdout, "1\n", r.stderr)
        XCTAssertNotEqual(r.status, 0)
        for (index, (name, message)) in Self.badFiles.enumerated() {
            XCTAssertTrue(r.stderr.contains("<stdin>:\(index + 2):5: error: \(message.hasPrefix("load: ") ? "" : "load: ")"),
                          "\(name): no located error in:\n\(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(name): expected \"\(message)\" in:\n\(r.stderr)")
        }
        let recursionLine = Self.badFiles.count + 3
        XCTAssertTrue(r.stderr.contains("<stdin>:\(recursionLine):12: error: recursion too deep"), r.stderr)
        XCTAssertTrue(r.stderr.contains("<stdin>:\(recursionLine + 3):1: error: save: cannot write"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: pwned), "a hostile pickle ran os.system")
    }

    // MARK: Saving into places that cannot be written

    func testSavingUnderAFileInsteadOfAFolderFailsAtTheScriptLine() throws {
        let blocker = folder.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        for target in ["t.npy", "c.png", "c.jpg"] {
            let value = target == "t.npy" ? "tensor([1, 2])" : "colorbar(\"jet\", length=8)"
            let path = try script("enotdir-\(target).cam", "v = \(value)\nsave v \"\(blocker.path)/\(target)\"\n")
            let r = try CLI.run(["run", path])
            assertNoCrash(r, target)
            XCTAssertEqual(r.status, 74, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("\(path):2:1: error: save: cannot write \(blocker.path)/\(target)"), r.stderr)
        }
    }

    func testSavingIntoAFolderThatRefusesNewFilesFailsEvenForRoot() throws {
        // /proc refuses new files whoever asks, unlike a read-only folder, which root may write.
        let path = try script("proc.cam", "save tensor([1, 2]) \"/proc/camscript-test.npy\"\n")
        let r = try CLI.run(["run", path])
        assertNoCrash(r, "/proc")
        XCTAssertEqual(r.status, 74, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("\(path):1:1: error: save: cannot write /proc/camscript-test.npy: cannot create a file in /proc: "), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/proc/camscript-test.npy"))
    }

    /// A real write failure in the middle of the data: the shell ignores SIGXFSZ and limits the
    /// file size (`ulimit -f`, inherited by camscript), so `write` fails with EFBIG as it would
    /// with ENOSPC on a full disk. The earlier file must survive whole, and no temporary be left.
    func testAWriteThatFailsHalfwayLeavesThePreviousFileIntact() throws {
        let previous = Data((0..<4000).map { UInt8($0 % 251) })
        try previous.write(to: folder.appendingPathComponent("t.npy"))
        // 8 blocks of 512 (dash) or 1024 (bash) bytes: less than the 40 kB of each new file.
        let big = "tensor(range(10000))"
        let path = try script("full.cam", "t = \(big)\nsave t \"t.npy\"\nprint \"saved\"\n")
        let shell = "trap '' XFSZ; ulimit -f 8; exec \"$0\" \"$@\""
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", shell, CLI.executable.path, "run", path]
        let err = Pipe(), out = Pipe()
        process.standardError = err
        process.standardOutput = out
        try process.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, errText)
        XCTAssertEqual(process.terminationStatus, 74, errText)
        XCTAssertTrue(errText.hasPrefix("\(path):2:1: error: save: cannot write \(folder.path)/t.npy: writing failed after "), errText)
        XCTAssertTrue(errText.contains("File too large; the previous file, if any, is unchanged"), errText)
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("t.npy")), previous)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [], "temporary files left behind")
    }
}
