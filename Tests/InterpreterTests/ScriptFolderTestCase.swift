import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// A test case whose scripts run in a temporary folder of their own (made per test, removed
/// after it), with helpers to write checkpoints there and run a script: the base of the
/// end-to-end runtime tests. It has no tests itself.
class ScriptFolderTestCase: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let photos = repository.appendingPathComponent("examples/images")

    var folder = FileManager.default.temporaryDirectory

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-runtime-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        // Only the folder setUp made (never the temporary directory itself).
        if folder.lastPathComponent.hasPrefix("camscript-runtime-") {
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// Writes a random-weight checkpoint of `architecture` as safetensors under `name`.
    func writeCheckpoint(_ architecture: String, named name: String) throws {
        let network = try ModelStore.randomNetwork(architecture: architecture)
        try SafeTensors.write(ModelStore.stateDict(of: network), to: folder.appendingPathComponent(name))
    }

    /// Runs `source` in a session based in the temporary folder; returns the output lines and
    /// the error message, if any.
    func run(_ source: String, environment: [String: String] = [:], base: URL? = nil) -> (lines: [String], error: String?) {
        let sink = CollectingSink()
        var env = environment
        env["HOME"] = env["HOME"] ?? folder.path
        let session = Session(output: sink, baseDirectory: (base ?? folder).path, environment: env)
        let script = ScriptFile(source: source, fileName: "test.cam")
        do {
            for (cell, program) in try script.parse() {
                session.currentCell = cell.index
                if case .failure(let d) = session.execute(program) { return (sink.lines, d.message) }
            }
        } catch let d as Diagnostic {
            return (sink.lines, d.message)
        } catch {
            return (sink.lines, "\(error)")
        }
        return (sink.lines, nil)
    }
}
