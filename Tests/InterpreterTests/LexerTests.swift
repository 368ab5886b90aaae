import Interpreter
import XCTest

final class LexerTests: XCTestCase {
    private func kinds(_ source: String) -> [TokenKind] {
        Lexer.tokenize(source, file: "t").tokens.map(\.kind)
    }

    func testSimpleStatement() {
        XCTAssertEqual(kinds("x = 1.5 + y"), [.identifier("x"), .symbol("="), .number(1.5), .symbol("+"),
                                                .identifier("y"), .newline, .end])
    }

    func testKeywordsAndTwoCharacterSymbols() {
        XCTAssertEqual(kinds("a ** 2 // 3 != none"), [.identifier("a"), .symbol("**"), .number(2), .symbol("//"),
                                                      .number(3), .symbol("!="), .keyword(.none), .newline, .end])
    }

    func testIndentAndDedent() {
        let k = kinds("if x:\n    y\n    z\nw\n")
        XCTAssertEqual(k, [.keyword(.if), .identifier("x"), .symbol(":"), .newline, .indent, .identifier("y"), .newline,
                           .identifier("z"), .newline, .dedent, .identifier("w"), .newline, .end])
    }

    func testDedentAtEndOfInput() {
        let k = kinds("def f():\n    if a:\n        b")
        XCTAssertEqual(k.suffix(4), [.newline, .dedent, .dedent, .end])
    }

    func testBlankAndCommentLinesDoNotChangeIndentation() {
        let k = kinds("if x:\n\n    # note\n    y\n")
        XCTAssertEqual(k, [.keyword(.if), .identifier("x"), .symbol(":"), .newline, .indent, .identifier("y"),
                           .newline, .dedent, .end])
    }

    func testNewlinesInsideBracketsAreIgnored() {
        XCTAssertEqual(kinds("[1,\n   2]"), [.symbol("["), .number(1), .symbol(","), .number(2), .symbol("]"), .newline, .end])
    }

    func testStringEscapes() {
        XCTAssertEqual(kinds(#""a\n\t\"\\\u{41}""#), [.string("a\n\t\"\\A"), .newline, .end])
    }

    func testSpacingFlags() {
        let tokens = Lexer.tokenize("f -1 - 2", file: "t").tokens
        XCTAssertTrue(tokens[1].spaceBefore)
        XCTAssertFalse(tokens[1].spaceAfter)
        XCTAssertTrue(tokens[3].spaceBefore)
        XCTAssertTrue(tokens[3].spaceAfter)
    }

    func testRangesAreOneBasedAndUseTheFirstLineOffset() {
        let tokens = Lexer.tokenize("x = \"ab\"", file: "s.cam", firstLine: 10).tokens
        XCTAssertEqual(tokens[2].range, SourceRange(file: "s.cam", line: 10, column: 5, length: 4))
    }

    func testErrorsCarryARange() {
        let result = Lexer.tokenize("x = 1\ny = @", file: "t")
        XCTAssertEqual(result.error?.message, "unexpected character `@`")
        XCTAssertEqual(result.error?.range?.line, 2)
        XCTAssertEqual(result.error?.range?.column, 5)
    }

    func testOpenBracketAndStringAreReported() {
        XCTAssertEqual(Lexer.tokenize("f(1,", file: "t").openBrackets, 1)
        XCTAssertTrue(Lexer.tokenize("print \"a\\\n", file: "t").endsInsideString)
        XCTAssertFalse(Lexer.tokenize("print \"a", file: "t").endsInsideString)
    }
}
