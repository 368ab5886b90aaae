import Foundation
import XCTest
@testable import Interpreter
@testable import CAMRuntime

/// Long source lines are shown as a window around the error, and the checker's "did you mean"
/// hints stay the same while costing far less (issue 8).
final class DiagnosticExcerptTests: XCTestCase {
    private func render(_ line: String, column: Int, length: Int) -> (excerpt: String, caret: String) {
        let renderer = DiagnosticRenderer { _, _ in line }
        let d = Diagnostic(kind: .resolution, message: "m",
                           range: SourceRange(file: "a.cam", line: 1, column: column, length: length))
        let lines = renderer.render(d).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.count, 4, "header, excerpt, caret, empty")
        XCTAssertEqual(lines[0], "a.cam:1:\(column): error: m")
        XCTAssertTrue(lines[1].hasPrefix("    ") && lines[2].hasPrefix("    "))
        return (String(lines[1].dropFirst(4)), String(lines[2].dropFirst(4)))
    }

    func testAShortLineIsShownWholeAsBefore() {
        let shown = render("print\tx / 0", column: 7, length: 5)
        XCTAssertEqual(shown.excerpt, "print x / 0")
        XCTAssertEqual(shown.caret, "      ^~~~~")
        // Exactly the widest line shown whole.
        let widest = String(repeating: "w", count: DiagnosticRenderer.maximumExcerptWidth)
        XCTAssertEqual(render(widest, column: 120, length: 9).excerpt, widest)
        XCTAssertEqual(render(widest, column: 120, length: 9).caret, String(repeating: " ", count: 119) + "^")
    }

    func testAHundredKilobyteLineIsCutAroundTheColumnWithTheCaretUnderTheSameCharacter() {
        let line = String(repeating: "p", count: 50_000) + " bad " + String(repeating: "q", count: 50_000)
        let shown = render(line, column: 50_002, length: 3)
        XCTAssertEqual(shown.excerpt.count, 120)
        XCTAssertEqual(shown.excerpt, "…" + String(repeating: "p", count: 38) + " bad "
                       + String(repeating: "q", count: 75) + "…")
        XCTAssertEqual(shown.caret, String(repeating: " ", count: 40) + "^~~")
    }

    func testEveryColumnOfALongLineKeepsItsCaretOnItsCharacter() {
        // Distinct characters (with a tab and a non-ASCII one) so that a misplaced caret shows.
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789é\t")
        let original = String((0..<1000).map { alphabet[($0 * 7) % alphabet.count] })
        let expanded = Array(original.map { $0 == "\t" ? " " : $0 })
        for column in [1, 2, 40, 41, 42, 60, 119, 120, 121, 500, 920, 921, 922, 923, 960, 999, 1000, 1001] {
            let shown = render(original, column: column, length: 30)
            let excerpt = Array(shown.excerpt)
            XCTAssertLessThanOrEqual(excerpt.count, DiagnosticRenderer.maximumExcerptWidth, "column \(column)")
            XCTAssertEqual(excerpt.first == "…", column > 40, "column \(column): \(shown.excerpt)")
            XCTAssertEqual(excerpt.last == "…", column < 922, "column \(column): \(shown.excerpt)")
            let caretAt = shown.caret.prefix { $0 == " " }.count
            XCTAssertEqual(shown.caret.dropFirst(caretAt).first, "^", "column \(column)")
            let underline = shown.caret.count - caretAt
            if column <= expanded.count {
                XCTAssertEqual(excerpt[caretAt], expanded[column - 1], "column \(column): \(shown.excerpt)")
                // The underline covers the range but stops at the window's (or line's) end.
                XCTAssertEqual(Array(excerpt[caretAt..<(caretAt + underline)]),
                               Array(expanded[(column - 1)..<(column - 1 + underline)]), "column \(column)")
                XCTAssertTrue(underline == 30 || caretAt + underline == excerpt.count - (excerpt.last == "…" ? 1 : 0),
                              "column \(column): underline \(underline)")
            } else {
                XCTAssertEqual(caretAt, excerpt.count, "an error after the end points just past it")
                XCTAssertEqual(underline, 1)
            }
        }
    }

    func testRenderingOneDiagnosticPerLineGrowsLinearlyWithTheScript() {
        // ScriptFile.line used to split the whole script for every diagnostic rendered:
        // quadratic in the number of errors (a 4000-line script took seconds to report).
        func seconds(lines: Int) -> Double {
            let source = (0..<lines).map { "print undefined_\($0) + 1" }.joined(separator: "\n")
            let script = ScriptFile(source: source, fileName: "many.cam")
            let renderer = DiagnosticRenderer { _, line in script.line(line) }
            let ranges = (1...lines).map { SourceRange(file: "many.cam", line: $0, column: 7, length: 9) }
            var best = Double.infinity
            for _ in 0..<3 {
                let start = Date()
                var total = 0
                for r in ranges { total += renderer.render(Diagnostic(kind: .resolution, message: "m", range: r)).utf8.count }
                best = min(best, Date().timeIntervalSince(start))
                XCTAssertGreaterThan(total, lines * 40)
            }
            return best
        }
        // Before: 0.89 s for 1000 lines, 16.2 s for 4000 (4 ms per diagnostic, growing with the
        // script); now about 7 µs each. A per-diagnostic bound is steadier than a ratio of two
        // short timings on a loaded machine.
        let large = seconds(lines: 4000)
        XCTAssertLessThan(large / 4000, 0.001, "4000 diagnostics took \(large) s")
    }

    /// The implementation before issue 8: a full table per candidate, the first best wins.
    private func referenceEditDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = Swift.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = Swift.min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    private func referenceClosestMatch(_ name: String, _ candidates: [String]) -> String? {
        let limit = Swift.max(1, name.count / 3)
        var best: (String, Int)?
        for candidate in candidates where candidate != name {
            let d = referenceEditDistance(Array(name.lowercased()), Array(candidate.lowercased()))
            if d <= limit, d < (best?.1 ?? Int.max) { best = (candidate, d) }
        }
        return best?.0
    }

    func testTheBandedDistanceAgreesWithTheFullTable() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcAB_é")
        func word() -> [Character] { (0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng) ?? "a" } }
        for _ in 0..<3000 {
            let a = word(), b = word()
            let exact = referenceEditDistance(a, b)
            for bound in 0...6 {
                XCTAssertEqual(NameMatching.editDistance(a, b, atMost: bound), exact <= bound ? exact : nil,
                               "\(String(a)) / \(String(b)) bound \(bound)")
            }
            XCTAssertEqual(NameMatching.editDistance(String(a), String(b)), exact)
        }
        XCTAssertEqual(NameMatching.editDistance("modle", "model"), 1)
        XCTAssertEqual(NameMatching.editDistance(Array("a"), Array(String(repeating: "a", count: 5000)), atMost: 3), nil)
    }

    /// One rule for every did-you-mean (issue 16, item 8): whole words, then substrings, then
    /// spelling; ties by distance, common prefix, trailing number, then order.
    func testOneMatchingRuleForEveryHint() {
        let names = Array(BuiltinRegistry.standard.names).sorted() + ["model", "x", "xs", "layer4"]
        XCTAssertEqual(closestMatch(to: "modle", in: names), "model")
        XCTAssertEqual(closestMatch(to: "MODEL", in: names), "model")
        XCTAssertEqual(closestMatch(to: "gradcm", in: names), "gradcam")
        XCTAssertEqual(closestMatch(to: "prnt", in: names), "print")
        XCTAssertNil(closestMatch(to: "qqqqqq", in: names))
        // Words and substrings before spelling.
        let labels = ["tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat", "cab", "jay", "eft", "polecat"]
        XCTAssertEqual(NameMatching.suggestions(for: "cat", in: labels, limit: 5),
                       ["tiger cat", "Persian cat", "Siamese cat", "Egyptian cat", "polecat"])
        XCTAssertEqual(closestMatch(to: "grad", in: ["eigengradcam", "gradcam", "fullgrad"]), "gradcam")
        // Ties: the longer common prefix, then the closer trailing number, then the given order.
        XCTAssertEqual(closestMatch(to: "layer5", in: ["layer1", "layer2", "layer3", "layer4"]), "layer4")
        XCTAssertEqual(closestMatch(to: "_blocks.20", in: ["_blocks.0", "_blocks.2", "_blocks.12"]), "_blocks.2")
        XCTAssertEqual(closestMatch(to: "ab", in: ["ac", "ad"]), "ac")
    }

    func testRuntimeAndSpecialisedMessagesUseTheSameRule() throws {
        // Labels: "cat" lists the cats (was "cab", "jay", "eft").
        XCTAssertThrowsError(try ClassTarget.resolve("cat", classNames: ImageNetClasses.names)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("closest labels: \"tiger cat\" (282), \"Persian cat\" (283), \"Siamese cat\" (284), \"Egyptian cat\" (285), \"Madagascar cat\" (383)"), message)
        }
        XCTAssertThrowsError(try CAMMethods.make(named: "gradcamm")) { error in
            XCTAssertTrue("\(error)".contains("did you mean \"gradcam\"?"), "\(error)")
        }
    }

    func testCheckingAFourKilobyteScriptOfUnknownNamesIsFast() {
        // 800 undefined names (each gets a did-you-mean search over every builtin) and two
        // 1300-character names one edit apart: ~1 s in the fuzzer before, now milliseconds.
        let long = String(repeating: "k", count: 1300)
        let source = (0..<800).map { "x\($0)" }.joined(separator: " ") + "\n\(long) = 1\nprint \(long)j\n"
        let program: Program
        do { program = try Parser.parse(source, file: "u.cam") } catch { return XCTFail("\(error)") }
        var checker = Checker(registry: .standard)
        let start = Date()
        let diagnostics = checker.check([program])
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(diagnostics.count, 801)
        XCTAssertEqual(diagnostics.last?.message, "undefined name `\(long)j`; did you mean `\(long)`?")
        XCTAssertLessThan(elapsed, 2.0, "checking took \(elapsed) s")
    }
}
