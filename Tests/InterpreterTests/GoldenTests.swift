import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// Runs every `.cam` file under Golden/ and compares its output with the `# expect: LINE`
/// comments (in order) and its failure with `# expect error: MESSAGE` (checked against the
/// diagnostic's message, and its line when the comment trails a line of code). Files under
/// Golden/check/ are not run but checked with `Checker`; there `# expect error:` lists every
/// diagnostic in order.
final class GoldenTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    /// Where golden scripts fetch published weights from: a port nothing listens on, so that
    /// `load "resnet50"` fails at once with the offline message and no test reaches the internet.
    static let unreachableWeightsURL = "http://127.0.0.1:1/models/"

    struct Expectations {
        var lines: [String] = []
        var errors: [(message: String, line: Int?)] = []
    }

    static func expectations(in source: String) -> Expectations {
        var result = Expectations()
        for (i, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = String(line)
            let isTrailing = !text.trimmingCharacters(in: .whitespaces).hasPrefix("#")
            if let r = text.range(of: "# expect: ") {
                var rest = String(text[r.upperBound...])
                while rest.hasSuffix(" ") { rest.removeLast() }
                result.lines.append(rest)
            } else if text.hasSuffix("# expect:") {
                result.lines.append("")
            } else if let r = text.range(of: "# expect error: ") {
                result.errors.append((String(text[r.upperBound...]).trimmingCharacters(in: .whitespaces), isTrailing ? i + 1 : nil))
            }
        }
        return result
    }

    /// The ONNX fixtures of the runtime tests (golden scripts read them through `env`).
    static let onnxFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CAMRuntimeTests/Fixtures/onnx").path

    static func goldenFiles() throws -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return [] }
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "cam" }.sorted { $0.path < $1.path }
    }

    func testGoldenFiles() throws {
        let files = try GoldenTests.goldenFiles()
        XCTAssertGreaterThan(files.count, 40, "golden files missing from \(GoldenTests.folder.path)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for file in files {
            let source = try String(contentsOf: file, encoding: .utf8)
            let name = file.path.replacingOccurrences(of: GoldenTests.folder.path + "/", with: "")
            let expected = GoldenTests.expectations(in: source)
            if name.hasPrefix("check/") {
                verifyCheck(name, source, expected)
            } else {
                verifyRun(name, source, expected, scratch: scratch.path)
            }
        }
    }

    private func verifyRun(_ name: String, _ source: String, _ template: Expectations, scratch: String) {
        var expected = template
        let data = GoldenTests.folder.appendingPathComponent("data").path
        func substituted(_ text: String) -> String {
            text.replacingOccurrences(of: "{SCRATCH}", with: scratch).replacingOccurrences(of: "{DATA}", with: data)
        }
        expected.lines = expected.lines.map(substituted)
        expected.errors = expected.errors.map { (substituted($0.message), $0.line) }
        let script = ScriptFile(source: source, fileName: name)
        let sink = CollectingSink()
        let session = Session(output: sink, arguments: ["one", "two"], baseDirectory: scratch,
                              environment: ["CAMSCRIPT_TEST": "yes", "HOME": scratch,
                                            "CAMSCRIPT_TEST_ONNX": GoldenTests.onnxFixtures,
                                            "CAMSCRIPT_TEST_DATA": data,
                                            "CAMSCRIPT_WEIGHTS_URL": GoldenTests.unreachableWeightsURL])
        var failure: Diagnostic?
        do {
            for (cell, program) in try script.parse() {
                session.currentCell = cell.index
                if case .failure(let d) = session.execute(program) {
                    failure = d
                    break
                }
            }
        } catch let d as Diagnostic {
            failure = d
        } catch {
            XCTFail("\(name): unexpected \(error)")
        }
        XCTAssertEqual(sink.lines, expected.lines, "\(name): output differs")
        switch (failure, expected.errors.first) {
        case (nil, nil): break
        case (let d?, nil): XCTFail("\(name): unexpected error at line \(d.range?.line ?? 0): \(d.message)")
        case (nil, let e?): XCTFail("\(name): expected error \"\(e.message)\" but the script succeeded")
        case (let d?, let e?):
            XCTAssertEqual(d.message, e.message, "\(name): error message differs")
            if let line = e.line { XCTAssertEqual(d.range?.line, line, "\(name): error line differs") }
        }
    }

    private func verifyCheck(_ name: String, _ source: String, _ expected: Expectations) {
        let script = ScriptFile(source: source, fileName: name)
        var diagnostics: [Diagnostic] = []
        do {
            var checker = Checker(registry: .standard)
            diagnostics = checker.check(try script.parse().map(\.program))
        } catch let d as Diagnostic {
            diagnostics = [d]
        } catch {
            XCTFail("\(name): unexpected \(error)")
        }
        XCTAssertEqual(diagnostics.map(\.message), expected.errors.map(\.message), "\(name): diagnostics differ")
        for (d, e) in zip(diagnostics, expected.errors) {
            if let line = e.line { XCTAssertEqual(d.range?.line, line, "\(name): line of \(d.message)") }
        }
    }
}
