import Foundation
import XCTest

/// Notebooks exported by `camscript run --ipynb` rerun through nbclient in the CAMScript kernel
/// and give the same outputs, text exactly and pictures by pixel (Tests/kernel/check_notebooks.py),
/// for every example script, in a copy of the examples folder.
final class NotebookKernelTests: XCTestCase {
    func testExportedExamplesRerunInTheKernel() throws {
        let python = try KernelTests.requirePython(modules: "nbclient, jupyter_client")
        let examples = ExamplesTests.examples
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-notebooks-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: examples, to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        let scripts = ExamplesTests.exampleScripts()
        XCTAssertGreaterThanOrEqual(scripts.count, 10)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("kernel/check_notebooks.py").path
        let result = try KernelTests.runPython(python, [script, CLI.executable.path, copy.path] + scripts)
        XCTAssertEqual(result.status, 0, result.stdout + String(result.stderr.suffix(3000)))
        XCTAssertEqual(result.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count, scripts.count, result.stdout)
    }
}

/// Every example round-trips through Jupytext's percent format unchanged, as a notebook for the
/// CAMScript kernel and back (Tests/kernel/check_jupytext.py).
final class JupytextRoundTripTests: XCTestCase {
    func testExamplesRoundTripThroughJupytext() throws {
        let python = try KernelTests.requirePython(modules: "jupytext")
        let scripts = ExamplesTests.exampleScripts().map { ExamplesTests.examples.appendingPathComponent($0).path }
        let check = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("kernel/check_jupytext.py").path
        let result = try KernelTests.runPython(python, [check, CLI.executable.path] + scripts)
        XCTAssertEqual(result.status, 0, result.stdout + String(result.stderr.suffix(2000)))
        XCTAssertEqual(result.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count, scripts.count, result.stdout)
    }
}

/// JupyterLab, headless on 127.0.0.1, runs a CAMScript notebook in headless Chromium and the
/// screenshot shows the heat map inline (Tests/kernel/check_jupyterlab.py; the screenshot is
/// kept in the test's folder while it runs).
final class JupyterLabTests: XCTestCase {
    func testJupyterLabShowsTheHeatMapInline() throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].contains { FileManager.default.isExecutableFile(atPath: $0) }
        let python = try KernelTests.requirePython(modules: "jupyterlab, tornado", alsoNeeds: (chromium, "Chromium"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-lab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let check = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("kernel/check_jupyterlab.py").path
        let result = try KernelTests.runPython(python, [check, CLI.executable.path, ExamplesTests.examples.path,
                                                        folder.appendingPathComponent("lab.png").path])
        XCTAssertEqual(result.status, 0, result.stdout + String(result.stderr.suffix(2000)))
        XCTAssertTrue(result.stdout.contains("ok the heat map's colours are on screen"), result.stdout)
    }
}
