import Foundation
import XCTest

/// The command-line traps of a workshop's first hour (issue 16, items 10 and 13), through the real
/// binary: a file runs as `python file.py` does, cells are listed with the numbers `--cell` takes,
/// and `run -i` stays in the prompt with the script's variables.
final class FirstHourCLITests: CLIFolderTestCase {
    private let notebook = """
        # %% [markdown]
        # # A workshop
        # Some words.

        # %% Setup
        x = 20

        # %% [markdown]
        # More words.

        # %% Answer
        print x * 2 + 2

        """

    /// `camscript FILE.cam A B` is `camscript run FILE.cam -- A B`, arguments included.
    func testAFileRunsWithoutTheRunSubcommand() throws {
        let path = try script("args.cam", "print \"ran\" args\n")
        let r = try CLI.run([path, "one", "--two"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "ran [\"one\", \"--two\"]\n")
        let plain = try CLI.run([path])
        XCTAssertEqual(plain.stdout, "ran []\n", plain.stderr)
    }

    /// A missing file says so (exit 66), rather than "Unexpected argument … Usage: camscript repl".
    func testAMissingFileShorthandSaysTheFileIsMissing() throws {
        let r = try CLI.run([folder.appendingPathComponent("nope.cam").path])
        XCTAssertEqual(r.status, 66)
        XCTAssertTrue(r.stderr.contains("cannot open"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Unexpected argument"), r.stderr)
    }

    /// `--shard` splits only what `files` and `dataset` list: a script without them would do all
    /// the work in every shard, which the run says (and a script with them does not hear).
    func testAShardedRunOfAScriptWithoutAListingSaysEveryShardDidAll() throws {
        let plain = folder.appendingPathComponent("plain.cam")
        try "print 1\n".write(to: plain, atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", plain.path, "--shard", "1/4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: this run is shard 1/4, but the script listed no images"), r.stderr)
        let slurm = try CLI.run(["run", plain.path], environment: ["SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"])
        XCTAssertTrue(slurm.stderr.contains("this run is shard 2/4"), slurm.stderr)
        let listing = folder.appendingPathComponent("listing.cam")
        try "print len(files(\"*.png\"))\n".write(to: listing, atomically: true, encoding: .utf8)
        let quiet = try CLI.run(["run", listing.path, "--shard", "1/4"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertFalse(quiet.stderr.contains("warning"), quiet.stderr)
        let whole = try CLI.run(["run", plain.path])
        XCTAssertFalse(whole.stderr.contains("warning"), whole.stderr)
    }

    /// A relative path typed after `--` in the shell resolves against the script's folder, as
    /// every path in a script does; when it exists from the working directory instead, the
    /// error says so and gives the absolute path (exit 66, missing input), and nothing is
    /// said when it exists nowhere.
    func testARelativeArgumentMeantFromTheWorkingDirectoryIsPointedOut() throws {
        let scripts = folder.appendingPathComponent("scripts")
        try FileManager.default.createDirectory(at: scripts, withIntermediateDirectories: true)
        try "x = load args[0]\n".write(to: scripts.appendingPathComponent("show.cam"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("photos"), withIntermediateDirectories: true)
        let picture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CAMRuntimeTests/Fixtures/imaging/files/gray8.png")
        try FileManager.default.copyItem(at: picture, to: folder.appendingPathComponent("photos/cat.png"))
        let r = try CLI.run(["run", "scripts/show.cam", "--", "photos/cat.png"], in: folder)
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertTrue(r.stderr.contains("relative paths resolve against the script's folder"), r.stderr)
        XCTAssertTrue(r.stderr.contains("/photos/cat.png exists: give that absolute path"), r.stderr)
        let elsewhere = try CLI.run(["run", "scripts/show.cam", "--", "photos/dog.png"], in: folder)
        XCTAssertEqual(elsewhere.status, 66, elsewhere.stderr)
        XCTAssertFalse(elsewhere.stderr.contains("working directory"), elsewhere.stderr)
        let absolute = try CLI.run(["run", "scripts/show.cam", "--", folder.appendingPathComponent("photos/cat.png").path], in: folder)
        XCTAssertEqual(absolute.status, 0, absolute.stderr)
    }

    /// A misspelled subcommand names the one meant (exit 64) instead of being taken for a script
    /// ("cannot open rnu") or giving ArgumentParser's "Unknown option '--user'"; a word that is a
    /// file still runs as a script.
    func testAMisspelledSubcommandNamesTheOneMeant() throws {
        let run = try CLI.run(["rnu", "x.cam"])
        XCTAssertEqual(run.status, 64)
        XCTAssertEqual(run.stderr, "camscript: no command 'rnu'; did you mean 'camscript run'?\n")
        let install = try CLI.run(["kernel", "instal", "--user"])
        XCTAssertEqual(install.status, 64)
        XCTAssertEqual(install.stderr, "camscript kernel: no command 'instal'; did you mean 'camscript kernel install'?\n")
        let cells = try CLI.run(["cell", "x.cam"])
        XCTAssertTrue(cells.stderr.contains("did you mean 'camscript cells'"), cells.stderr)
        // A script file named like a command runs; a far-off word is still a missing script.
        _ = try script("chek", "print \"a script\"\n")
        let ran = try CLI.run(["chek"], in: folder)
        XCTAssertEqual(ran.stdout, "a script\n", ran.stderr)
        let far = try CLI.run(["zzzzzz"])
        XCTAssertEqual(far.status, 66, far.stderr)
    }

    func testCellsListsTheNumbersThatRunCellTakes() throws {
        let path = try script("nb.cam", notebook)
        let r = try CLI.run(["cells", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5, r.stdout)
        XCTAssertTrue(lines[1].hasPrefix("2  code"), lines[1])
        XCTAssertTrue(lines[1].hasSuffix("Setup"), lines[1])
        XCTAssertTrue(lines[3].hasPrefix("4  code"), lines[3])
        XCTAssertTrue(lines[3].hasSuffix("Answer"), lines[3])
        XCTAssertTrue(lines[0].contains("markdown") && lines[0].contains("# A workshop"), lines[0])
        XCTAssertTrue(lines[4].hasPrefix("2 code cells, 2 markdown"), lines[4])
        // The listed number is the one --cell runs.
        let cell = try CLI.run(["run", path, "--cell", "4"])
        XCTAssertEqual(cell.stdout, "42\n", cell.stderr)
        XCTAssertEqual(try CLI.run(["cells", folder.appendingPathComponent("none.cam").path]).status, 66)
    }

    /// `run -i` runs the script, then reads the prompt's input with its variables; values echo.
    func testRunInteractiveKeepsTheScriptsVariables() throws {
        let path = try script("nb.cam", notebook)
        let r = try CLI.run(["run", "-i", path], stdin: "x + 1\n")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "42\n21\n")
        // Also after a failing script, as python -i; the prompt's own errors set the exit code.
        let failing = try script("fail.cam", "y = 5\nz = nope\n")
        let f = try CLI.run(["run", "-i", failing], stdin: "y * 2\n")
        XCTAssertEqual(f.stdout, "10\n", f.stderr)
        XCTAssertTrue(f.stderr.contains("nope"), f.stderr)
        XCTAssertEqual(f.status, 0)
    }
}

/// `run "file.cam"` in the prompt (issue 16, item 13).
final class RunBuiltinCLITests: XCTestCase {
    func testRunKeepsVariablesRunsOneCellAndPointsIntoTheScript() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "# %% One\nx = 3\nprint \"ran\" x\nx * 2\n# %% Two\nx = x + 1\n"
            .write(to: folder.appendingPathComponent("a.cam"), atomically: true, encoding: .utf8)
        try "y = 1\nz = nope + 1\n".write(to: folder.appendingPathComponent("b.cam"), atomically: true, encoding: .utf8)
        let input = """
            run "a.cam"
            x
            run "a.cam" cell=2
            x
            run "b.cam"
            y
            run "a.cam" cell=7

            """
        let r = try CLI.run(["--no-images"], stdin: input, in: folder)
        // The script's echo `x * 2` is not shown; its print is; cell 2 alone adds 1 to the kept x.
        XCTAssertEqual(r.stdout, "ran 3\n4\n5\n1\n", r.stderr)
        XCTAssertTrue(r.stderr.contains("b.cam:2:5: error: undefined name `nope`"), r.stderr)
        XCTAssertTrue(r.stderr.contains("    z = nope + 1\n"), r.stderr)
        XCTAssertTrue(r.stderr.contains("<stdin>:5:1: note: in `run \"b.cam\"`"), r.stderr)
        XCTAssertTrue(r.stderr.contains("there is no cell 7; `camscript cells a.cam` lists them"), r.stderr)
    }

    func testAScriptThatRunsItselfStops() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try "run \"self.cam\"\n".write(to: folder.appendingPathComponent("self.cam"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["run", folder.appendingPathComponent("self.cam").path])
        XCTAssertEqual(r.status, 70)
        XCTAssertTrue(r.stderr.contains("more than 16 deep; does self.cam run itself?"), r.stderr)
    }
}

/// A report made with random weights says so at its top (issue 16, item 4).
final class RandomWeightsReportTests: XCTestCase {
    func testTheReportHeaderWarnsAboutRandomWeights() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("r.cam")
        try "m = random_model \"resnet18\"\nprint 1\n".write(to: script, atomically: true, encoding: .utf8)
        let page = folder.appendingPathComponent("r.html")
        let r = try CLI.run(["run", script.path, "--html", page.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOf: page, encoding: .utf8)
        XCTAssertTrue(html.contains("<p class=\"random-weights\" role=\"alert\">⚠ Random weights: resnet18"), html)
        XCTAssertFalse(html.contains("none loaded"))
        // Without random_model: no banner.
        try "print 1\n".write(to: script, atomically: true, encoding: .utf8)
        _ = try CLI.run(["run", script.path, "--html", page.path])
        XCTAssertFalse(try String(contentsOf: page, encoding: .utf8).contains("random-weights\" role"))
    }
}

/// Piped input and `run` agree on blocks with blank lines (issue 16, item 15): the REPL reading a
/// pipe sees what follows a blank line, as a file does.
final class PipedBlankLineTests: XCTestCase {
    func testPipedInputAndRunAgreeOnBlocksWithBlankLines() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let scripts = [
            "def f(x):\n    y = x * 2\n\n    return y\nprint f(3)\n",
            "for i in [1, 2]:\n    x = i\n\n\n    print x\n\nprint \"after\"\n",
            "if 1 > 2:\n    print \"no\"\n\nelse:\n    print \"else\"\n",
            "def g():\n    # a comment\n\n    for k in [1]:\n\n        print k\n\n    return 5\nprint g()\n",
            "x = 1\n\n\nwhile x < 4:\n\n    x = x + 1\nprint x\n",
        ]
        for (n, text) in scripts.enumerated() {
            let path = folder.appendingPathComponent("s\(n).cam")
            try text.write(to: path, atomically: true, encoding: .utf8)
            let run = try CLI.run(["run", path.path])
            let piped = try CLI.run([], stdin: text)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(piped.stdout, run.stdout, "script \(n): \(text)")
            XCTAssertEqual(piped.stderr, "", "script \(n)")
        }
    }
}
