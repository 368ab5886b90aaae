import Foundation
import XCTest

/// The Jupyter kernel against a real client: Tests/kernel/check_kernel.py drives `camscript
/// kernel` through jupyter_client's KernelManager (kernelspec, execute, pictures, errors,
/// completion, inspection, continuation, history, interrupts by signal and by message,
/// stop_on_error, forged and malformed messages, restart, shutdown) and prints one line per check.
final class KernelTests: XCTestCase {
    func testJupyterClientDrivesTheKernel() throws {
        let python = try Self.requirePython(modules: "jupyter_client")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("kernel/check_kernel.py").path
        let result = try Self.runPython(python, [script, CLI.executable.path])
        let failures = result.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        XCTAssertEqual(result.status, 0, failures.joined(separator: "\n") + "\n" + String(result.stderr.suffix(2000)))
        XCTAssertTrue(result.stdout.hasSuffix("all passed\n"), String(result.stdout.suffix(2000)) + String(result.stderr.suffix(2000)))
        // The check has teeth: it counts its checks, and they cover the protocol's requests.
        XCTAssertGreaterThanOrEqual(result.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count, 40)
    }

    /// The Python the kernel checks run with (`CAMSCRIPT_TEST_PYTHON`, else python3), once it
    /// imports `modules`; without them the test is skipped, or fails in CI.
    static func requirePython(modules: String, alsoNeeds other: (available: Bool, what: String)? = nil) throws -> String {
        let python = ProcessInfo.processInfo.environment["CAMSCRIPT_TEST_PYTHON"] ?? "python3"
        guard try runPython(python, ["-c", "import " + modules]).status == 0, other?.available ?? true else {
            let missing = "Python's " + modules + (other.map { " and " + $0.what } ?? "")
            let install = "scripts/setup.sh installs them"
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("\(missing) are required in CI: \(install)")
                throw XCTSkip("failed above")
            }
            throw XCTSkip("\(missing) are not installed: \(install)")
        }
        return python
    }

    static func runPython(_ python: String, _ arguments: [String]) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = environment["OPENBLAS_CORETYPE"] ?? "Haswell"
        environment["CAMSCRIPT_WEIGHTS_URL"] = "http://127.0.0.1:1/models/"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    }
}
