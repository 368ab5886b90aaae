import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// Issue 17, class 3: no program text and no value may end the process by a stack overflow.
/// Before the stack budget, long operator chains, wide expressions in recursive functions and
/// deeply nested lists crashed `check` and `run` with SIGSEGV well inside the documented limits.
final class StackDepthTests: XCTestCase {
    private func run(_ source: String) -> (outcome: RunOutcome, printed: [String]) {
        let sink = CollectingSink()
        let session = Session(output: sink, baseDirectory: NSTemporaryDirectory(), environment: [:])
        let outcome = session.run(source: source, fileName: "s.cam")
        return (outcome, sink.items.compactMap { if case .text(let t) = $0.kind { return t } else { return nil } })
    }

    private func check(_ source: String) throws -> [Diagnostic] {
        let program = try Parser.parse(source, file: "s.cam")
        var checker = Checker(registry: .standard)
        return checker.check([program])
    }

    /// A 12,000-term `1+1+…` chain (the crash) is checked and run, and its value is right.
    func testALongOperatorChainIsCheckedAndRun() throws {
        let source = "x = " + Array(repeating: "1", count: 12_000).joined(separator: " + ") + "\nprint(x)\n"
        XCTAssertEqual(try check(source), [])
        let result = run(source)
        XCTAssertNil(result.outcome.diagnostic)
        XCTAssertEqual(result.printed, ["12000"])
        // `and`/`or` chains and comparisons too.
        let logic = "y = " + Array(repeating: "true", count: 12_000).joined(separator: " and ") + "\nprint(y)\n"
        XCTAssertEqual(try check(logic), [])
        XCTAssertEqual(run(logic).printed, ["true"])
    }

    /// Beyond `Parser.maximumOperators` a statement is a located syntax error, not a crash.
    func testAStatementWithTooManyOperatorsIsASyntaxError() {
        let source = "x = " + Array(repeating: "1", count: Parser.maximumOperators + 2).joined(separator: "+") + "\n"
        let diagnostic = run(source).outcome.diagnostic
        XCTAssertEqual(diagnostic?.kind, .syntax)
        XCTAssertEqual(diagnostic?.message.hasPrefix("statement too long: more than \(Parser.maximumOperators) operators"), true,
                       diagnostic?.message ?? "")
        XCTAssertEqual(diagnostic?.range?.line, 1)
    }

    /// Blocks nest at most `Parser.maximumNesting` deep: deeper is a syntax error, not a crash.
    func testDeeplyNestedBlocksAreASyntaxError() {
        var source = ""
        for depth in 0..<2_000 { source += String(repeating: "    ", count: depth) + "if true:\n" }
        source += String(repeating: "    ", count: 2_000) + "pass\n"
        let diagnostic = run(source).outcome.diagnostic
        XCTAssertEqual(diagnostic?.kind, .syntax)
        XCTAssertEqual(diagnostic?.message, "nested too deeply: more than \(Parser.maximumNesting) levels of brackets, prefix operators and blocks")
    }

    /// A recursive function whose body is a wide, deeply bracketed expression recursed 999 deep
    /// (under the 1000-call limit): it crashed well under 200 calls before.
    func testRecursionThroughWideExpressionsRunsUpToTheCallLimit() {
        let wide = String(repeating: "(", count: 95) + "n" + String(repeating: ")", count: 95)
        let source = """
        def f(n):
            if n == 0:
                return 0
            return f(n - 1) + \(wide) * 0 + \(wide) * 0 + [\(wide)][0] * 0
        print(f(999))

        """
        let result = run(source)
        XCTAssertNil(result.outcome.diagnostic, result.outcome.diagnostic?.message ?? "")
        XCTAssertEqual(result.printed, ["0"])
    }

    /// A postfix chain as long as the operator limit allows needs (in a debug build, about
    /// 5 KB per level) more stack than the evaluator's thread has: a located runtime error from
    /// the stack budget. `check` walks it in smaller frames; whatever it decides, it returns.
    func testAProgramThatNeedsMoreStackThanTheThreadHasIsAnError() throws {
        let source = "x = [1]" + String(repeating: "[0]", count: 49_000) + "\nprint(x)\n"
        let result = run(source)
        #if DEBUG
        let diagnostic = result.outcome.diagnostic
        XCTAssertEqual(diagnostic?.kind, .runtime)
        XCTAssertEqual(diagnostic?.message.hasPrefix("too deeply nested: this needs more than the interpreter's 256 MiB stack"), true,
                       diagnostic?.message ?? "")
        XCTAssertEqual(diagnostic?.range?.line, 1)
        #else
        XCTAssertEqual(result.printed, ["1"])
        #endif
        let checked = try check(source)
        XCTAssertTrue(checked.isEmpty || checked.first?.message.hasPrefix("too deeply nested to check") == true,
                      checked.first?.message ?? "")
    }

    /// `x = [x]` 100,000 times stops at the nesting bound with a located error; the session and
    /// the value built so far survive (printing, comparing and releasing it).
    func testListsNestAtMostTheBoundAndTheRestSurvives() {
        let sink = CollectingSink()
        let session = Session(output: sink, baseDirectory: NSTemporaryDirectory(), environment: [:])
        let outcome = session.run(source: "x = []\nfor i in range(100000):\n    x = [x]\n", fileName: "s.cam")
        XCTAssertEqual(outcome.diagnostic?.message,
                       "a list nested more than 1000 levels deep cannot be built; keep nested data flatter (a list of lists, or a tensor)")
        XCTAssertEqual(outcome.diagnostic?.range?.line, 3)
        let after = session.run(source: "print(i)\nprint(len(str(x)))\nprint(x == x)\nx = 0\nprint(x)\n", fileName: "t.cam")
        XCTAssertNil(after.diagnostic, after.diagnostic?.message ?? "")
        let printed = sink.items.compactMap { item -> String? in if case .text(let t) = item.kind { return t } else { return nil } }
        XCTAssertEqual(printed, ["999", "2000", "true", "0"])
    }
}
