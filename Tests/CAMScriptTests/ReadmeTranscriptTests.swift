import CAMRuntime
import Foundation
import XCTest

/// The README's REPL transcript, typed into the real binary: every line it shows is what
/// camscript prints, error positions included (issue 16, item 18).
final class ReadmeTranscriptTests: XCTestCase {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md")

    /// The transcript's typed lines, and the lines it shows on standard output and on standard
    /// error (a diagnostic: its `<stdin>:` line, the source line and the caret).
    struct Transcript {
        var input: [String] = []
        var output: [String] = []
        var errors: [String] = []
    }

    static func transcript() throws -> Transcript {
        let lines = try String(contentsOf: readme, encoding: .utf8).components(separatedBy: "\n")
        guard let start = lines.firstIndex(of: "    $ .build/release/camscript") else {
            throw XCTSkip("README has no REPL transcript")
        }
        var result = Transcript()
        var inDiagnostic = 0
        for line in lines[(start + 1)...] {
            guard line.hasPrefix("    ") else { break }
            let text = String(line.dropFirst(4))
            if text.hasPrefix("CAMScript ") { continue }   // the banner: terminals only
            if text.hasPrefix("cam> ") {
                result.input.append(String(text.dropFirst(5)))
                inDiagnostic = 0
            } else if text.hasPrefix("<stdin>:") {
                result.errors.append(text)
                inDiagnostic = 2
            } else if inDiagnostic > 0 {
                result.errors.append(text)
                inDiagnostic -= 1
            } else {
                result.output.append(text)
            }
        }
        return result
    }

    func testTheTranscriptIsWhatCamscriptPrints() throws {
        let models = ModelStore.modelsFolder(environment: ProcessInfo.processInfo.environment)
        guard FileManager.default.fileExists(atPath: models + "/efficientnet-lite0-57934424.pth") else {
            throw XCTSkip("the default model is not installed in \(models); `make test` installs it")
        }
        let expected = try Self.transcript()
        XCTAssertGreaterThan(expected.input.count, 5)
        XCTAssertFalse(expected.errors.isEmpty, "the transcript shows an error")
        let root = Self.readme.deletingLastPathComponent()
        let r = try CLI.run(["--no-images"], stdin: expected.input.joined(separator: "\n") + "\n", in: root)
        // `show` draws in a terminal; without one (--no-images) it prints the picture's description.
        let printed = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { !$0.isEmpty && !$0.hasPrefix("[image ") }
        XCTAssertEqual(printed, expected.output)
        XCTAssertEqual(r.stderr.split(separator: "\n").map(String.init), expected.errors)
    }
}
