import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// Random inputs must produce diagnostics, never a crash.
final class RobustnessTests: XCTestCase {
    /// A small deterministic generator (so failures reproduce).
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    static let fragments = [
        "x", "y", "f", "print", "len", "range", "tensor", "help", "vars", "time", "=", "==", "+", "-", "*", "/",
        "//", "%", "**", "(", ")", "[", "]", ",", ":", ".", "shape", "1", "0", "-1", "2.5", "\"s\"", "'t'",
        "\"\\n\"", "true", "false", "none", "and", "or", "not", "in", "if", "elif", "else", "for", "while",
        "def", "return", "break", "continue", "pass", "\n", "\n    ", "\n        ", " ", " ", "#c", "\\", "\"",
        "$", "!", "\t", "\r\n", "é", "[1, 2]", "x.shape", "save", "load", "\"a.npy\"",
    ]

    func testRandomTokenSoupsNeverCrash() {
        var generator = Generator(state: 42)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("robust-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var outcomes: [DiagnosticKind?] = []
        let iterations = ProcessInfo.processInfo.environment["CAMSCRIPT_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 1500
        for _ in 0..<iterations {
            let count = 1 + generator.next(30)
            let source = (0..<count).map { _ in RobustnessTests.fragments[generator.next(RobustnessTests.fragments.count)] }
                .joined(separator: generator.next(3) == 0 ? "" : " ")
            let session = Session(output: CollectingSink(), baseDirectory: folder.path, environment: [:])
            let flag = session.cancellation
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { flag.cancel() }
            outcomes.append(session.run(source: source, fileName: "fuzz").diagnostic?.kind)
            _ = session.completions(forWord: String(source.suffix(3)), linePrefix: String(source.dropLast(3)))
            _ = Session.inputState(of: source)
            var checker = Checker(registry: .standard)
            if let program = try? Parser.parse(source, file: "fuzz") { _ = checker.check([program]) }
        }
        // The generator must exercise both outcomes, or it tests nothing.
        XCTAssertTrue(outcomes.contains { $0 == nil })
        XCTAssertTrue(outcomes.contains { $0 == .syntax })
        XCTAssertTrue(outcomes.contains { $0 == .runtime })
    }

    func testRandomBytesAsNPYNeverCrash() {
        var generator = Generator(state: 7)
        let valid = [UInt8](NPY.encode(Tensor(shape: [2, 2], storage: [1, 2, 3, 4])))
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<(1 + generator.next(4)) {
                bytes[generator.next(bytes.count)] = UInt8(generator.next(256))
            }
            if generator.next(4) == 0 { bytes.removeLast(generator.next(bytes.count)) }
            _ = try? NPY.decode(Data(bytes), name: "r.npy")
        }
    }
}
