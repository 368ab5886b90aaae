import Foundation

/// The tokens of a source text, with the first lexical error if there was one.
public struct LexResult: Sendable {
    /// The tokens up to the first error (always ending with `.end`).
    public var tokens: [Token]
    /// The first lexical error, if any.
    public var error: Diagnostic?
    /// Whether the input ended inside a string (the REPL then asks for more lines).
    public var endsInsideString: Bool
    /// How many brackets are still open at the end (the REPL then asks for more lines).
    public var openBrackets: Int
    /// The brackets still open at the end, outermost first (`(` or `[`).
    var unclosedBrackets: [Character] = []
    /// Whether lexing stopped at an error before the end of the input (an unclosed bracket at
    /// the end is not such an error).
    var stoppedEarly = false
    /// The indentation levels open at the end of the input, before the closing dedents; the
    /// REPL carries them to the next fragment it lexes (see `InputAccumulator`).
    var indentsAtEnd: [Int] = [0]
}

/// Turns CAMScript source into tokens, with Python-style INDENT/DEDENT tokens and implicit
/// line joining inside brackets.
public struct Lexer {
    private let chars: [Character]
    private let file: String
    private var index = 0
    private var line: Int
    private var column = 1
    private var tokens: [Token] = []
    private var indents: [Int] = [0]
    private var brackets: [(Character, SourceRange)] = []
    private var atLineStart = true
    private var endsInsideString = false

    /// Creates a lexer for `source`, whose first line is line `firstLine` of `file`.
    public init(source: String, file: String, firstLine: Int = 1) {
        // "\r\n" is a single Character in Swift: make line ends uniform first.
        self.chars = Array(source.contains("\r") ? source.replacingOccurrences(of: "\r\n", with: "\n") : source)
        self.file = file
        self.line = firstLine
    }

    /// Tokenises the whole source.
    public static func tokenize(_ source: String, file: String, firstLine: Int = 1) -> LexResult {
        var lexer = Lexer(source: source, file: file, firstLine: firstLine)
        return lexer.run()
    }

    /// Tokenises `source` as the lines that follow complete lines whose indentation left the
    /// levels `indents` open, so that an indentation matching none of them is the same error
    /// it is when the whole text is lexed.
    static func tokenize(_ source: String, file: String, indents: [Int]) -> LexResult {
        var lexer = Lexer(source: source, file: file)
        lexer.indents = indents.isEmpty ? [0] : indents
        return lexer.run()
    }

    /// Tokenises `source` as the continuation of text that left `brackets` open (outermost
    /// first), so the REPL can lex each line of a long bracketed expression once instead of
    /// re-lexing it from its first line (see `InputAccumulator`).
    static func tokenize(continuing source: String, insideBrackets brackets: [Character], file: String) -> LexResult {
        var lexer = Lexer(source: source, file: file)
        lexer.brackets = brackets.map { ($0, SourceRange(file: file, line: 1, column: 1, length: 1)) }
        lexer.atLineStart = false
        return lexer.run()
    }

    private mutating func run() -> LexResult {
        var error: Diagnostic?
        var stoppedEarly = false
        do {
            try scanAll()
        } catch let diagnostic as Diagnostic {
            error = diagnostic
            stoppedEarly = true
        } catch {
            preconditionFailure("lexer threw \(error)")
        }
        if error == nil, let open = brackets.last {
            let closer = open.0 == "(" ? ")" : "]"
            error = Diagnostic(kind: .syntax,
                               message: "unclosed `\(open.0)`: expected a matching `\(closer)` before the end of the input",
                               range: open.1)
        }
        let indentsAtEnd = indents
        if error == nil {
            if let last = tokens.last, last.kind != .newline, last.kind != .dedent {
                append(.newline, at: here(length: 0), spaceBefore: false)
            }
            while indents.count > 1 {
                indents.removeLast()
                append(.dedent, at: here(length: 0), spaceBefore: false)
            }
        }
        append(.end, at: here(length: 0), spaceBefore: true)
        var result = LexResult(tokens: tokens, error: error, endsInsideString: endsInsideString,
                               openBrackets: brackets.count)
        result.unclosedBrackets = brackets.map(\.0)
        result.stoppedEarly = stoppedEarly
        result.indentsAtEnd = indentsAtEnd
        return result
    }

    private func here(length: Int) -> SourceRange {
        SourceRange(file: file, line: line, column: column, length: length)
    }

    private mutating func append(_ kind: TokenKind, at range: SourceRange, spaceBefore: Bool) {
        if !tokens.isEmpty { tokens[tokens.count - 1].spaceAfter = spaceBefore }
        tokens.append(Token(kind: kind, range: range, spaceBefore: spaceBefore, spaceAfter: true))
    }

    private var current: Character? { index < chars.count ? chars[index] : nil }
    private func peek(_ offset: Int = 1) -> Character? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    private mutating func advance() {
        if chars[index] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private func error(_ message: String, _ range: SourceRange) -> Diagnostic {
        Diagnostic(kind: .syntax, message: message, range: range)
    }

    private mutating func scanAll() throws {
        var spaceBefore = true
        while let c = current {
            if atLineStart && brackets.isEmpty {
                try scanIndentation()
                atLineStart = false
                spaceBefore = true
                continue
            }
            switch c {
            case " ", "\t", "\r":
                advance()
                spaceBefore = true
            case "#":
                while let d = current, d != "\n" { advance() }
            case "\n":
                if brackets.isEmpty {
                    if let last = tokens.last, last.kind != .newline, last.kind != .indent,
                       last.kind != .dedent {
                        append(.newline, at: here(length: 1), spaceBefore: spaceBefore)
                    }
                    atLineStart = true
                }
                advance()
                spaceBefore = true
            case "\"", "'":
                try scanString(quote: c, spaceBefore: spaceBefore)
                spaceBefore = false
            default:
                if c.isNumber && c.isASCII {
                    try scanNumber(spaceBefore: spaceBefore)
                } else if c.isLetter || c == "_" {
                    scanWord(spaceBefore: spaceBefore)
                } else {
                    try scanSymbol(spaceBefore: spaceBefore)
                }
                spaceBefore = false
            }
        }
    }

    /// Measures the indentation of a new line and emits INDENT/DEDENT; blank and comment-only
    /// lines are skipped.
    private mutating func scanIndentation() throws {
        var width = 0
        let start = here(length: 0)
        while let c = current, c == " " || c == "\t" || c == "\r" {
            if c == " " { width += 1 } else if c == "\t" { width = (width / 8 + 1) * 8 }
            advance()
        }
        guard let c = current, c != "\n", c != "#" else { return }
        let top = indents[indents.count - 1]
        if width > top {
            indents.append(width)
            append(.indent, at: SourceRange(file: file, line: line, column: 1, length: width),
                   spaceBefore: true)
        } else if width < top {
            let levels = indents
            while let last = indents.last, width < last {
                indents.removeLast()
                append(.dedent, at: here(length: 0), spaceBefore: true)
            }
            if indents.last != width {
                throw error("this line's indentation (\(width) columns) matches no enclosing block "
                            + "(expected \(levels.map(String.init).joined(separator: " or ")) columns)",
                            SourceRange(file: file, line: start.line, column: 1, length: Swift.max(width, 1)))
            }
        }
    }

    /// Scans a hexadecimal (`0x1F`), octal (`0o17`) or binary (`0b101`) literal as Python
    /// writes them, with `_` between digits; returns false when the number is not one of these.
    ///
    /// Without this, `0x10` lexed as `0` followed by the name `x10` and gave a confusing error
    /// far from the cause.
    private mutating func scanRadixNumber(spaceBefore: Bool) throws -> Bool {
        guard current == "0", let letter = peek() else { return false }
        let radix: Int
        let name: String
        switch letter {
        case "x", "X": radix = 16; name = "hexadecimal"
        case "o", "O": radix = 8; name = "octal"
        case "b", "B": radix = 2; name = "binary"
        default: return false
        }
        let start = here(length: 0)
        advance()
        advance()
        var digits = ""
        var lastWasDigit = true  // Python allows one `_` right after the prefix: 0x_ff
        while let c = current, c.isLetter || c.isNumber || c == "_" {
            if c == "_" {
                guard lastWasDigit else { break }
                lastWasDigit = false
            } else {
                guard c.isASCII, let value = c.hexDigitValue, value < radix else {
                    var range = start
                    range.length = column - start.column + 1
                    throw error("`\(c)` is not a \(name) digit in this \(name) number "
                                + "(\(name) digits are \(radix == 16 ? "0-9 and a-f" : "0-\(radix - 1)"))", range)
                }
                digits.append(c)
                lastWasDigit = true
            }
            advance()
        }
        var range = start
        range.length = column - start.column
        guard !digits.isEmpty, lastWasDigit else {
            throw error("a \(name) number needs digits after `0\(letter)` (for example 0\(letter)\(radix == 2 ? "101" : "17"))", range)
        }
        var value = 0.0
        for c in digits { value = value * Double(radix) + Double(c.hexDigitValue ?? 0) }
        append(.number(value), at: range, spaceBefore: spaceBefore)
        return true
    }

    private mutating func scanNumber(spaceBefore: Bool) throws {
        if try scanRadixNumber(spaceBefore: spaceBefore) { return }
        let start = here(length: 0)
        var text = ""
        func digits(_ lexer: inout Lexer, _ text: inout String) {
            while let d = lexer.current, (d.isASCII && d.isNumber) || d == "_" {
                if d != "_" { text.append(d) }
                lexer.advance()
            }
        }
        digits(&self, &text)
        if current == ".", let next = peek(), next.isASCII, next.isNumber {
            text.append(".")
            advance()
            digits(&self, &text)
        }
        if let e = current, e == "e" || e == "E" {
            var offset = 1
            if let sign = peek(), sign == "+" || sign == "-" { offset = 2 }
            if let d = peek(offset), d.isASCII, d.isNumber {
                text.append("e")
                if offset == 2, let sign = peek() { text.append(sign) }
                for _ in 0..<offset { advance() }
                digits(&self, &text)
            }
        }
        var range = start
        range.length = column - start.column
        append(.number(Double(text) ?? .nan), at: range, spaceBefore: spaceBefore)
    }

    private mutating func scanWord(spaceBefore: Bool) {
        let start = here(length: 0)
        var text = ""
        while let c = current, c.isLetter || c.isNumber || c == "_" {
            text.append(c)
            advance()
        }
        var range = start
        range.length = text.count
        if let keyword = Keyword(rawValue: text) {
            append(.keyword(keyword), at: range, spaceBefore: spaceBefore)
        } else {
            append(.identifier(text), at: range, spaceBefore: spaceBefore)
        }
    }

    private mutating func scanString(quote: Character, spaceBefore: Bool) throws {
        let start = here(length: 1)
        advance()
        var text = ""
        var continued = false
        while true {
            guard let c = current else {
                endsInsideString = continued
                throw error("unterminated string: expected a closing \(quote) before the end of the input", start)
            }
            if c == "\n" {
                throw error("unterminated string: expected a closing \(quote) before the end of the line (end a line with \\ to continue a string on the next)", start)
            }
            continued = false
            if c == quote {
                advance()
                break
            }
            if c == "\\" {
                let escapeStart = here(length: 2)
                advance()
                guard let e = current else {
                    continued = true
                    continue
                }
                switch e {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "r": text.append("\r")
                case "0": text.append("\0")
                case "\\": text.append("\\")
                case "\"": text.append("\"")
                case "'": text.append("'")
                case "\n": continued = true
                case "u":
                    advance()
                    guard current == "{" else {
                        throw error("invalid escape: expected \\u{HEX}", escapeStart)
                    }
                    advance()
                    var hex = ""
                    while let h = current, h != "}", h != quote, h != "\n" {
                        hex.append(h)
                        advance()
                    }
                    guard current == "}", let code = UInt32(hex, radix: 16),
                          let scalar = Unicode.Scalar(code) else {
                        throw error("invalid escape: expected \\u{HEX} with a valid code point", escapeStart)
                    }
                    text.unicodeScalars.append(scalar)
                default:
                    throw error("unknown escape sequence \\\(e) (known: \\n \\t \\r \\0 \\\\ \\\" \\' \\u{HEX})",
                                escapeStart)
                }
                advance()
                continue
            }
            text.append(c)
            advance()
        }
        var range = start
        range.length = start.line == line ? column - start.column : 1
        append(.string(text), at: range, spaceBefore: spaceBefore)
    }

    /// Whether `c` followed by `next` is one of `==`, `!=`, `<=`, `>=`, `//`, `**` (checked
    /// without building a string for every symbol character).
    private static func isTwoCharSymbol(_ c: Character, _ next: Character) -> Bool {
        switch (c, next) {
        case ("=", "="), ("!", "="), ("<", "="), (">", "="), ("/", "/"), ("*", "*"): return true
        default: return false
        }
    }
    private static let oneCharSymbols: Set<Character> = ["(", ")", "[", "]", ",", ":", ".", "=", "<", ">",
                                                         "+", "-", "*", "/", "%"]

    private mutating func scanSymbol(spaceBefore: Bool) throws {
        guard let c = current else { return }
        let start = here(length: 1)
        if let next = peek(), Lexer.isTwoCharSymbol(c, next) {
            advance()
            advance()
            append(.symbol(String([c, next])), at: SourceRange(file: file, line: start.line,
                                                               column: start.column, length: 2),
                   spaceBefore: spaceBefore)
            return
        }
        guard Lexer.oneCharSymbols.contains(c) else {
            if c == "!" {
                throw error("unexpected `!`: use `not` for negation and `!=` for inequality", start)
            }
            throw error("unexpected character `\(c)`", start)
        }
        switch c {
        case "(", "[":
            brackets.append((c, start))
        case ")", "]":
            let expected: Character = c == ")" ? "(" : "["
            guard let open = brackets.popLast() else {
                throw error("unmatched `\(c)`: no bracket is open", start)
            }
            if open.0 != expected {
                let closer = open.0 == "(" ? ")" : "]"
                throw error("mismatched `\(c)`: expected `\(closer)` to close the `\(open.0)` at line \(open.1.line) column \(open.1.column)", start)
            }
        default:
            break
        }
        advance()
        append(.symbol(String(c)), at: start, spaceBefore: spaceBefore)
    }
}
