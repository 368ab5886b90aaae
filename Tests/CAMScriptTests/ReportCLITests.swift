import CAMRuntime
import Foundation
import XCTest

/// `camscript run FILE.cam --html/--ipynb` through the real binary: what the files contain, that
/// they are written when the run fails, that the notebook validates with `nbformat`, and that
/// headless Chromium renders the page to a non-blank screenshot.
final class ReportCLITests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/")

    override func setUpWithError() throws {
        folder = try CLI.temporaryFolder()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A script with markdown, prints, a last-expression value, a picture (`show` of a 2-D
    /// tensor), a runtime error and a cell after it that never runs.
    static let script = """
        # %% [markdown]
        # # Report *check*
        # Text with `a < b` and a [link](https://example.com).
        #
        # - one
        # - two

        # %% Numbers
        x = 2   # the answer's half
        print x * 21
        x + 1

        # %% Picture
        g = tensor([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
        show g
        print "shown"

        # %% Failing
        print "before"
        y = 1 / 0

        # %% Never runs
        print "never"

        """

    private func runDemo(_ extra: [String] = []) throws -> (CLI.Result, html: URL, ipynb: URL) {
        let script = folder.appendingPathComponent("demo.cam")
        try ReportCLITests.script.write(to: script, atomically: true, encoding: .utf8)
        let html = folder.appendingPathComponent("demo.html")
        let ipynb = folder.appendingPathComponent("demo.ipynb")
        let result = try CLI.run(["run", script.path, "--html", html.path, "--ipynb", ipynb.path] + extra)
        return (result, html, ipynb)
    }

    func testFailingRunStillWritesBothReportsAndExits70() throws {
        let (result, html, ipynb) = try runDemo()
        XCTAssertEqual(result.status, 70, result.stderr)
        XCTAssertTrue(result.stderr.contains("demo.cam:20:5: error: division by zero"), result.stderr)
        XCTAssertTrue(result.stdout.contains("42\n") && result.stdout.contains("before\n"), result.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: html.path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: ipynb.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [], "atomic writes leave no temporary files")
    }

    func testHTMLReportHasEveryCellInOrderWithOutputsPicturesErrorsAndHeader() throws {
        let (_, htmlURL, _) = try runDemo()
        let html = try String(contentsOf: htmlURL, encoding: .utf8)
        // Header.
        XCTAssertTrue(html.contains("camscript 0.1.0"))
        XCTAssertTrue(html.contains(folder.appendingPathComponent("demo.cam").path))
        XCTAssertTrue(html.contains("none loaded"), "no model was loaded")
        XCTAssertTrue(html.contains("<dt>Platform</dt><dd>OpenBLAS "))
        XCTAssertTrue(html.contains("failed"))
        // Markdown rendered, with the raw `<` escaped.
        XCTAssertTrue(html.contains("<h1>Report <em>check</em></h1>"))
        XCTAssertTrue(html.contains("<code>a &lt; b</code>"))
        XCTAssertTrue(html.contains("<a href=\"https://example.com\">link</a>"))
        XCTAssertTrue(html.contains("<li>one</li>"))
        // Cells in file order, titled, highlighted.
        let order = ["id=\"cell-1\"", "id=\"cell-2\"", "id=\"cell-3\"", "id=\"cell-4\"", "id=\"cell-5\""]
            .map { html.range(of: $0)?.lowerBound }
        XCTAssertFalse(order.contains { $0 == nil }, "every cell is in the page")
        let positions = order.compactMap { $0 }
        XCTAssertEqual(positions, positions.sorted())
        XCTAssertTrue(html.contains(">Numbers</h2>"))
        XCTAssertTrue(html.contains("<span class=\"bi\">print</span>"))
        XCTAssertTrue(html.contains("<span class=\"co\"># the answer&#39;s half</span>"))
        // Outputs: prints, the last expression's value, the picture, the error with its caret.
        XCTAssertTrue(html.contains("<pre class=\"stdout\">42</pre>"))
        XCTAssertTrue(html.contains("<pre class=\"result\">3</pre>"))
        XCTAssertTrue(html.contains("<img class=\"pixelated\" src=\"data:image/png;base64,"))
        XCTAssertTrue(html.contains("width=\"128\" height=\"96\""), "a 4×3 picture is enlarged 32 times")
        XCTAssertTrue(html.contains("demo.cam:20:5: error: division by zero\n    y = 1 / 0\n        ^~~~~"), html)
        XCTAssertTrue(html.contains("not run"))
        XCTAssertFalse(html.contains("never</pre>"), "the cell after the error did not run")
        // Self-contained: no scripts, no external resources.
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("src=\"http"))
        XCTAssertFalse(html.contains("<link"))
    }

    func testNotebookHasNbformat45StructureAndOutputs() throws {
        let (_, _, ipynbURL) = try runDemo()
        let data = try Data(contentsOf: ipynbURL)
        let notebook = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(notebook["nbformat"] as? Int, 4)
        XCTAssertEqual(notebook["nbformat_minor"] as? Int, 5)
        let metadata = try XCTUnwrap(notebook["metadata"] as? [String: Any])
        let kernel = try XCTUnwrap(metadata["kernelspec"] as? [String: Any])
        XCTAssertEqual(kernel["name"] as? String, "camscript")
        let language = try XCTUnwrap(metadata["language_info"] as? [String: Any])
        XCTAssertEqual(language["name"] as? String, "camscript")
        XCTAssertEqual(language["file_extension"] as? String, ".cam")
        let cells = try XCTUnwrap(notebook["cells"] as? [[String: Any]])
        XCTAssertEqual(cells.map { $0["cell_type"] as? String }, ["markdown", "code", "code", "code", "code"])
        XCTAssertEqual(Set(cells.compactMap { $0["id"] as? String }).count, 5, "unique cell ids")
        XCTAssertEqual(cells[0]["source"] as? [String],
                       ["# Report *check*\n", "Text with `a < b` and a [link](https://example.com).\n", "\n", "- one\n", "- two"])

        XCTAssertEqual(cells[1]["execution_count"] as? Int, 1)
        XCTAssertEqual(cells[1]["source"] as? [String], ["x = 2   # the answer's half\n", "print x * 21\n", "x + 1"])
        let numbers = try XCTUnwrap(cells[1]["outputs"] as? [[String: Any]])
        XCTAssertEqual(numbers.count, 2)
        XCTAssertEqual(numbers[0]["output_type"] as? String, "stream")
        XCTAssertEqual(numbers[0]["name"] as? String, "stdout")
        XCTAssertEqual(numbers[0]["text"] as? [String], ["42\n"])
        XCTAssertEqual(numbers[1]["output_type"] as? String, "execute_result")
        XCTAssertEqual(numbers[1]["execution_count"] as? Int, 1)
        XCTAssertEqual((numbers[1]["data"] as? [String: Any])?["text/plain"] as? [String], ["3"])

        let picture = try XCTUnwrap(cells[2]["outputs"] as? [[String: Any]])
        XCTAssertEqual(picture.map { $0["output_type"] as? String }, ["display_data", "stream"])
        let png = try XCTUnwrap((picture[0]["data"] as? [String: Any])?["image/png"] as? String)
        let image = try RGBImage(data: try XCTUnwrap(Data(base64Encoded: png)), fileName: "output.png")
        XCTAssertEqual(image.width, 4)
        XCTAssertEqual(image.height, 3)
        for y in 0..<3 {
            for x in 0..<4 {
                let expected = UInt8((Double(4 * y + x) * 255 / 11).rounded())
                XCTAssertEqual(image[x, y], RGBColor(red: expected, green: expected, blue: expected))
            }
        }

        XCTAssertEqual(cells[3]["execution_count"] as? Int, 3)
        let failing = try XCTUnwrap(cells[3]["outputs"] as? [[String: Any]])
        XCTAssertEqual(failing.map { $0["output_type"] as? String }, ["stream", "error"])
        XCTAssertEqual(failing[1]["ename"] as? String, "RuntimeError")
        XCTAssertEqual(failing[1]["evalue"] as? String, "division by zero")
        let traceback = try XCTUnwrap(failing[1]["traceback"] as? [String])
        XCTAssertEqual(traceback.count, 3)
        XCTAssertTrue(traceback[0].hasSuffix("demo.cam:20:5: error: division by zero"), traceback[0])

        XCTAssertTrue(cells[4]["execution_count"] is NSNull, "a cell that did not run has no count")
        XCTAssertEqual((cells[4]["outputs"] as? [Any])?.count, 0)
    }

    func testNotebookValidatesWithNbformat() throws {
        try requireTool("python3 with nbformat", available: run("/usr/bin/env", ["python3", "-c", "import nbformat"]).status == 0,
                        install: "python3 -m pip install nbformat (scripts/setup.sh does)")
        let (_, _, ipynb) = try runDemo()
        let validator = """
            import json, sys, nbformat
            nb = nbformat.read(sys.argv[1], as_version=nbformat.NO_CONVERT)
            nbformat.validate(nb)
            print(nb.nbformat, nb.nbformat_minor, len(nb.cells), nb.metadata.kernelspec.name)
            """
        let valid = try run("/usr/bin/env", ["python3", "-c", validator, ipynb.path])
        XCTAssertEqual(valid.status, 0, valid.stderr)
        XCTAssertEqual(valid.stdout, "4 5 5 camscript\n")

        // The check has teeth: a code cell without `outputs` is refused.
        var broken = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: ipynb)) as? [String: Any])
        var cells = try XCTUnwrap(broken["cells"] as? [[String: Any]])
        cells[1].removeValue(forKey: "outputs")
        broken["cells"] = cells
        let brokenURL = folder.appendingPathComponent("broken.ipynb")
        try JSONSerialization.data(withJSONObject: broken).write(to: brokenURL)
        let invalid = try run("/usr/bin/env", ["python3", "-c", validator, brokenURL.path])
        XCTAssertNotEqual(invalid.status, 0, "nbformat must refuse a code cell without outputs")
    }

    func testChromiumRendersTheReportToANonBlankScreenshot() throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try requireTool("chromium", available: chromium != nil, install: "apt-get install chromium (scripts/setup.sh does)")
        guard let chromium else { return }
        let (_, html, _) = try runDemo()
        let shot = folder.appendingPathComponent("shot.png")
        let profile = folder.appendingPathComponent("chromium-profile")
        let result = try run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                        "--no-first-run", "--disable-extensions", "--user-data-dir=\(profile.path)",
                                        "--window-size=1000,1400", "--screenshot=\(shot.path)", html.absoluteString],
                             timeout: 120)
        XCTAssertEqual(result.status, 0, result.stderr)
        let data = try Data(contentsOf: shot)
        XCTAssertGreaterThan(data.count, 10_000, "a rendered report is not a tiny PNG")
        let image = try RGBImage(data: data, fileName: "shot.png")
        XCTAssertEqual(image.width, 1000)
        XCTAssertEqual(image.height, 1400)
        var colors = Set<RGBColor>()
        var nonBackground = 0
        let background = image[2, image.height - 2]
        for y in stride(from: 0, to: image.height, by: 2) {
            for x in stride(from: 0, to: image.width, by: 2) {
                let c = image[x, y]
                colors.insert(c)
                if c != background { nonBackground += 1 }
            }
        }
        XCTAssertGreaterThan(colors.count, 50, "text, highlighting and the picture give many colours")
        XCTAssertGreaterThan(nonBackground, image.width * image.height / 4 / 10, "at least 10% of the page is drawn")
        // The failing cell's red error box is on the page.
        XCTAssertTrue(colors.contains { Int($0.red) > 200 && Int($0.green) < 80 && Int($0.blue) < 80 }
                      || colors.contains(RGBColor(red: 0xFD, green: 0xEC, blue: 0xEC)), "the error is drawn in red")
    }

    func testSyntaxErrorStillWritesTheReportWithTheErrorInItsCell() throws {
        let script = folder.appendingPathComponent("bad.cam")
        try "# %% Fine\nprint 1\n\n# %% Broken\nx = (1 +\n".write(to: script, atomically: true, encoding: .utf8)
        let html = folder.appendingPathComponent("bad.html")
        let ipynb = folder.appendingPathComponent("bad.ipynb")
        let result = try CLI.run(["run", script.path, "--html", html.path, "--ipynb", ipynb.path])
        XCTAssertEqual(result.status, 65, result.stderr)
        XCTAssertEqual(result.stdout, "", "nothing ran")
        let page = try String(contentsOf: html, encoding: .utf8)
        XCTAssertTrue(page.contains("error: unclosed `(`"), page)
        let notebook = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: ipynb)) as? [String: Any])
        let cells = try XCTUnwrap(notebook["cells"] as? [[String: Any]])
        XCTAssertTrue(cells[0]["execution_count"] is NSNull)
        XCTAssertEqual((cells[0]["outputs"] as? [Any])?.count, 0)
        let outputs = try XCTUnwrap(cells[1]["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.first?["ename"] as? String, "SyntaxError")
    }

    func testMissingReportFolderIsRefusedBeforeAnythingRuns() throws {
        let script = folder.appendingPathComponent("ok.cam")
        try "print 1\n".write(to: script, atomically: true, encoding: .utf8)
        let result = try CLI.run(["run", script.path, "--html", folder.appendingPathComponent("nope/report.html").path])
        XCTAssertEqual(result.status, 74)
        XCTAssertEqual(result.stdout, "")
        XCTAssertTrue(result.stderr.contains("folder") && result.stderr.contains("does not exist"), result.stderr)
        let same = try CLI.run(["run", script.path, "--html", folder.appendingPathComponent("r").path,
                                "--ipynb", folder.appendingPathComponent("r").path])
        XCTAssertEqual(same.status, 74)
        XCTAssertTrue(same.stderr.contains("same file"), same.stderr)
    }

    func testSuccessfulRunWithCellMarksEarlierCellsSilentAndExitsZero() throws {
        let script = folder.appendingPathComponent("cells.cam")
        try "# %% A\na = 1\nprint \"hidden\"\n# %% B\nprint a + 1\n# %% C\nprint 3\n".write(to: script, atomically: true, encoding: .utf8)
        let ipynb = folder.appendingPathComponent("cells.ipynb")
        let result = try CLI.run(["run", script.path, "--cell", "B", "--ipynb", ipynb.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "2\n")
        let notebook = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: ipynb)) as? [String: Any])
        let cells = try XCTUnwrap(notebook["cells"] as? [[String: Any]])
        XCTAssertEqual(cells.map { (($0["metadata"] as? [String: Any])?["camscript"] as? [String: Any])?["status"] as? String },
                       ["ran silently", "ok", "not run"])
        XCTAssertEqual(cells.map { $0["execution_count"] as? Int }, [nil, 1, nil])
    }

    // MARK: - Helpers

    /// Skips when a tool is missing outside CI; in CI (CI=true) a missing tool fails the test.
    private func requireTool(_ name: String, available: Bool, install: String) throws {
        guard !available else { return }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTFail("\(name) is required in CI: \(install)")
            throw XCTSkip("failed above")
        }
        throw XCTSkip("\(name) is not installed: \(install)")
    }

    private struct ToolResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a program to completion (killing it after `timeout` seconds).
    private func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> ToolResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = DispatchTime.now() + timeout
        let timer = DispatchSource.makeTimerSource()
        timer.schedule(deadline: deadline)
        timer.setEventHandler { if process.isRunning { process.terminate() } }
        timer.resume()
        defer { timer.cancel() }
        let errData = ThreadSafeBox<Data>()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.value = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return ToolResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData.value ?? Data(), as: UTF8.self))
    }
}

/// A value handed between threads under a lock.
private final class ThreadSafeBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
