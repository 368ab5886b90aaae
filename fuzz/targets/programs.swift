// fuzz-max-len: 4096
// fuzz-needs: Interpreter

import Foundation
import CAMRuntime
@testable import Interpreter

/// The standard builtins, built once (building them per input cost more than the rest).
let standardRegistry = BuiltinRegistry.standard

/// Reads the fuzzer's bytes as a sequence of choices; past the end every choice is 0.
struct Choices {
    let bytes: [UInt8]
    var index = 0

    mutating func next() -> Int {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return Int(bytes[index])
    }

    /// A count up to `maximum`, from two bytes (so long chains and deep nests are reachable).
    mutating func count(_ maximum: Int) -> Int {
        (next() << 8 | next()) % (maximum + 1)
    }
}

/// Writes a random program that leans on the interpreter's limits (issue 17, class 3): deep
/// brackets, prefix operators, lists and calls on both sides of the 100-level parser limit,
/// operator chains on both sides of 50,000, blocks nested past 100, recursion past 1000
/// calls through wide expressions, lists nested past 1000 levels.
struct ProgramWriter {
    var choices: Choices
    var lines: [String] = []

    mutating func atom() -> String {
        switch choices.next() % 6 {
        case 0: return String(choices.next() % 10)
        case 1: return "x"
        case 2: return "\"s\""
        case 3: return "[1, 2]"
        case 4: return "true"
        default: return "0.5"
        }
    }

    mutating func expression(_ depth: Int) -> String {
        if depth > 5 { return atom() }
        switch choices.next() % 12 {
        case 0: return atom()
        case 1:
            let n = choices.count(130)
            return String(repeating: "(", count: n) + expression(depth + 1) + String(repeating: ")", count: n)
        case 2:
            let n = choices.count(52_000)
            let op = ["+", "*", "-", " and ", " or ", "==", "<"][choices.next() % 7]
            return expression(depth + 1) + String(repeating: op + "1", count: n)
        case 3: return String(repeating: "-", count: choices.count(130)) + expression(depth + 1)
        case 4:
            let n = choices.count(130)
            return String(repeating: "[", count: n) + expression(depth + 1) + String(repeating: "]", count: n)
        case 5:
            let n = choices.count(130)
            return String(repeating: "abs(", count: n) + expression(depth + 1) + String(repeating: ")", count: n)
        case 6: return expression(depth + 1) + String(repeating: "[0]", count: choices.count(200))
        case 7:
            let op = ["+", "-", "*", "/", "%", "**", "==", "!=", "<", " and ", " or ", " in "][choices.next() % 12]
            return "(" + expression(depth + 1) + op + expression(depth + 1) + ")"
        case 8:
            let f = ["len", "str", "abs", "min", "max", "sum", "sorted", "round"][choices.next() % 8]
            return f + "(" + expression(depth + 1) + ")"
        case 9: return String(repeating: "not ", count: choices.count(130)) + expression(depth + 1)
        case 10: return "(" + expression(depth + 1) + " if " + expression(depth + 1) + " else " + expression(depth + 1) + ")"
        default: return "g(" + String(choices.count(1_100)) + ")"
        }
    }

    mutating func statement() {
        switch choices.next() % 7 {
        case 0: lines.append("x = " + expression(0))
        case 1: lines.append("print(" + expression(0) + ")")
        case 2:
            // A function whose recursion goes through a wide expression.
            lines += ["def g(n):", "    if n <= 0:", "        return " + expression(1), "    return " + expression(1) + " == g(n - 1)"]
        case 3:
            let depth = choices.count(120)
            for d in 0 ..< depth { lines.append(String(repeating: " ", count: d) + "if true:") }
            lines.append(String(repeating: " ", count: depth) + "x = " + expression(1))
        case 4:
            lines += ["x = []", "for i in range(\(choices.count(1_100))):", "    x = [x]", "print(len(str(x)) + (x == x))"]
        case 5: lines.append("print(g(\(choices.count(1_100))))")
        default: lines.append("for i in range(\(choices.next() % 20)):\n    x = " + expression(1))
        }
    }
}

/// Random programs, checked as `camscript check` does and run as `camscript run` does. A
/// diagnostic is the expected refusal; a crash (the stack overflows this target exists to
/// find), a leak or a timeout is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPrograms(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        var writer = ProgramWriter(choices: Choices(bytes: [UInt8](data)))
        for _ in 0 ..< 1 + writer.choices.next() % 6 { writer.statement() }
        let source = writer.lines.joined(separator: "\n") + "\n"
        // FUZZ_PRINT=1 shows the program an artifact stands for.
        if ProcessInfo.processInfo.environment["FUZZ_PRINT"] != nil { print(source) }
        let program: Program
        do {
            program = try Parser.parse(source, file: "fuzz.cam")
        } catch is Diagnostic {
            return
        }
        _ = Session.onLargeStack {
            var checker = Checker(registry: standardRegistry)
            return checker.check([program]).count
        }
        let session = Session(registry: standardRegistry, output: CollectingSink(), baseDirectory: NSTemporaryDirectory(), environment: [:])
        _ = session.execute(program)
        // Functions hold the scope that holds them: break the cycle so LeakSanitizer sees
        // only real leaks.
        session.state.globals.values.removeAll()
    }
}
