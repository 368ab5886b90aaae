import Foundation
import XCTest

/// `camscript run`, `check`, `--version`, `--help` and piped input, through the real binary.
final class RunnerTests: CLIFolderTestCase {
    func testSuccessPrintsAndExitsZero() throws {
        let path = try script("ok.cam", "# %% One\nx = 2\nprint x * 21\nx\n")
        let r = try CLI.run(["run", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "42\n")
        XCTAssertEqual(r.stderr, "")
    }

    func testSyntaxErrorExits65WithCaretAndRunsNothing() throws {
        let path = try script("bad.cam", "print \"first\"\nx = (1 +\n")
        let r = try CLI.run(["run", path])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, """
            \(path):2:5: error: unclosed `(`: expected a matching `)` before the end of the input
                x = (1 +
                    ^

            """)
    }

    func testRuntimeErrorExits70WithCallTrace() throws {
        let path = try script("rt.cam", "def f(n):\n    return n / 0\nprint \"before\"\nf(1)\nprint \"after\"\n")
        let r = try CLI.run(["run", path])
        XCTAssertEqual(r.status, 70)
        XCTAssertEqual(r.stdout, "before\n")
        XCTAssertEqual(r.stderr, """
            \(path):2:12: error: division by zero
                    return n / 0
                           ^~~~~
            \(path):4:1: note: in call to `f`
                f(1)
                ^~~~

            """)
    }

    func testMissingScriptExits66() throws {
        let r = try CLI.run(["run", folder.appendingPathComponent("nope.cam").path])
        XCTAssertEqual(r.status, 66)
        XCTAssertTrue(r.stderr.contains("no such file"), r.stderr)
    }

    func testMissingInputFileInsideScriptExits66() throws {
        let path = try script("load.cam", "t = load \"absent.npy\"\n")
        let r = try CLI.run(["run", path])
        XCTAssertEqual(r.status, 66)
        XCTAssertTrue(r.stderr.contains("load: file not found: \(folder.standardized.path)/absent.npy"), r.stderr)
    }

    func testWriteFailureExits74() throws {
        let path = try script("io.cam", "save tensor([1]) \"missing-folder/t.npy\"\n")
        let r = try CLI.run(["run", path])
        XCTAssertEqual(r.status, 74)
        XCTAssertTrue(r.stderr.contains("error: save: cannot write"), r.stderr)
        let dir = try CLI.run(["run", folder.path])
        XCTAssertEqual(dir.status, 74)
    }

    func testRelativePathsResolveAgainstTheScriptFolderAndArgsArrive() throws {
        let path = try script("paths.cam", "save tensor([1, 2]) \"out.npy\"\nprint len(load(\"out.npy\")) args\n")
        let elsewhere = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let r = try CLI.run(["run", path, "--", "a", "b c"], in: elsewhere)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "2 [\"a\", \"b c\"]\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("out.npy").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: elsewhere.appendingPathComponent("out.npy").path))
    }

    func testCellSelectionRunsEarlierCellsSilently() throws {
        let path = try script("cells.cam", "# %% [markdown]\n# text\n# %% Setup\nx = 1\nprint \"setup\"\n# %% Use\nprint x + 1\n# %% Later\nprint \"later\"\n")
        let byTitle = try CLI.run(["run", path, "--cell", "Use"])
        XCTAssertEqual(byTitle.status, 0, byTitle.stderr)
        XCTAssertEqual(byTitle.stdout, "2\n")
        let byNumber = try CLI.run(["run", path, "--cell", "2"])
        XCTAssertEqual(byNumber.stdout, "setup\n")
        let markdown = try CLI.run(["run", path, "--cell", "1"])
        XCTAssertEqual(markdown.status, 64)
        let unknown = try CLI.run(["run", path, "--cell", "Uze"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.stderr.contains("did you mean \"Use\"?"), unknown.stderr)
    }

    func testCheckReportsNamesWithoutRunning() throws {
        let bad = try script("check.cam", "save tensor([1]) \"never.npy\"\nprint modle\n")
        let r = try CLI.run(["check", bad])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("\(bad):2:7: error: undefined name `modle`"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("never.npy").path))
        let good = try script("good.cam", "x = 1\nprint x\n")
        let ok = try CLI.run(["check", good])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try CLI.run(["check", folder.appendingPathComponent("none.cam").path]).status, 66)
        let twoBadCells = try script("cells.cam", "# %% A\nx = (\n# %% B\nprint \"open\n")
        let both = try CLI.run(["check", twoBadCells])
        XCTAssertEqual(both.status, 65)
        XCTAssertTrue(both.stderr.contains("\(twoBadCells):2:5: error: unclosed `(`"), both.stderr)
        XCTAssertTrue(both.stderr.contains("\(twoBadCells):4:7: error: unterminated string"), both.stderr)
    }

    func testVersionAndHelp() throws {
        let version = try CLI.run(["--version"])
        XCTAssertEqual(version.stdout, "camscript 0.1.0\n")
        let help = try CLI.run(["run", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--cell"), help.stdout)
        XCTAssertTrue(help.stdout.contains("--no-images"), help.stdout)
        XCTAssertTrue(try CLI.run(["check", "--help"]).stdout.contains("without running"))
        XCTAssertTrue(try CLI.run(["--help"]).stdout.contains("run"))
    }

    func testPipedInputEchoesContinuesAfterErrorsAndReportsThem() throws {
        let r = try CLI.run([], stdin: "x = 2\nx + 1\nprint 1 / 0\nfor i in range(2):\n    print i\nprint \"end\" x\n")
        XCTAssertEqual(r.stdout, "3\n0\n1\nend 2\n")
        XCTAssertTrue(r.stderr.contains("<stdin>:3:7: error: division by zero"), r.stderr)
        XCTAssertEqual(r.status, 70)
        let clean = try CLI.run([], stdin: "print \"hi\"\n")
        XCTAssertEqual(clean.status, 0)
        XCTAssertEqual(clean.stdout, "hi\n")
    }

    func testShowWithoutATerminalPrintsADescription() throws {
        let path = try script("show.cam", "show tensor([[0, 1], [2, 3]])\n")
        let r = try CLI.run(["run", path], environment: ["TERM": "xterm-kitty"])
        XCTAssertEqual(r.stdout, "[tensor 2×2 min 0 max 3 mean 1.5]\n")
    }

    func testImagesFlagAndOverride() throws {
        let path = try script("draw.cam", "show tensor([[0, 1], [2, 3]])\n")
        let drawn = try CLI.run(["run", path], environment: ["CAMSCRIPT_IMAGES": "blocks"])
        XCTAssertTrue(drawn.stdout.contains("▀"), drawn.stdout)
        let described = try CLI.run(["run", path, "--no-images"], environment: ["CAMSCRIPT_IMAGES": "blocks"])
        XCTAssertEqual(described.stdout, "[tensor 2×2 min 0 max 3 mean 1.5]\n")
    }

    func testInterruptExits130() throws {
        let path = try script("loop.cam", "print \"started\"\nwhile true:\n    pass\n")
        let process = Process()
        process.executableURL = CLI.executable
        process.arguments = ["run", path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let started = out.fileHandleForReading.availableData
        XCTAssertEqual(String(decoding: started, as: UTF8.self), "started\n")
        Thread.sleep(forTimeInterval: 0.3)
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(message.contains("error: interrupted"), message)
    }
}
