import Interpreter

/// Colours CAMScript source for HTML with the interpreter's own lexer, so that the report
/// highlights exactly what the language sees.
struct SyntaxHighlighter {
    /// The names of the builtins (shown in their own colour).
    var builtinNames: Set<String>

    /// The token classes the style sheet knows.
    enum Style: String {
        case keyword = "kw", builtin = "bi", number = "nu", string = "st", comment = "co", symbol = "sy"
    }

    /// One line of HTML per source line (escaped, with `<span class="…">` around tokens).
    /// - Parameters:
    ///   - source: the cell's text.
    ///   - firstLine: the file line of its first line (token ranges use file lines).
    func highlightedLines(_ source: String, firstLine: Int) -> [String] {
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0) }
        let lexed = Lexer.tokenize(source, file: "", firstLine: firstLine)
        var spans: [Int: [(column: Int, length: Int, style: Style)]] = [:]
        for token in lexed.tokens {
            guard let style = style(of: token.kind), token.range.length > 0 else { continue }
            spans[token.range.line - firstLine, default: []].append((token.range.column, token.range.length, style))
        }
        // Past a lexical error the tokens stop; the rest of the text stays plain.
        let plainFrom = lexed.error?.range.map { ($0.line - firstLine, $0.column) }
        return lines.enumerated().map { index, chars in
            render(chars, spans: spans[index] ?? [], plainFromColumn: plainFrom.flatMap { $0.0 == index ? $0.1 : ($0.0 < index ? 1 : nil) })
        }
    }

    private func style(of kind: TokenKind) -> Style? {
        switch kind {
        case .keyword: return .keyword
        case .identifier(let name): return builtinNames.contains(name) ? .builtin : nil
        case .number: return .number
        case .string: return .string
        case .symbol: return .symbol
        case .newline, .indent, .dedent, .end: return nil
        }
    }

    /// Renders one line: tokens in their spans; text between tokens plain, except that a `#`
    /// there starts a comment (strings are tokens, so a `#` outside them is always one).
    private func render(_ chars: [Character], spans: [(column: Int, length: Int, style: Style)],
                        plainFromColumn: Int?) -> String {
        var out = ""
        var position = 0   // 0-based index into chars
        let plainStart = plainFromColumn.map { max(0, min(chars.count, $0 - 1)) } ?? chars.count
        func gap(upTo end: Int) {
            guard position < end else { return }
            // Only the part before a lexical error can hold a comment.
            let lexed = min(end, max(position, plainStart))
            let text = chars[position..<lexed]
            if let hash = text.firstIndex(of: "#") {
                out += HTML.escape(String(chars[position..<hash]))
                out += "<span class=\"co\">" + HTML.escape(String(chars[hash..<lexed])) + "</span>"
            } else {
                out += HTML.escape(String(text))
            }
            out += HTML.escape(String(chars[lexed..<end]))
            position = end
        }
        for span in spans.sorted(by: { $0.column < $1.column }) {
            let start = span.column - 1
            if let plain = plainFromColumn, start >= plain - 1 { break }
            guard start >= position, start < chars.count else { continue }
            gap(upTo: start)
            let end = min(chars.count, start + span.length)
            out += "<span class=\"\(span.style.rawValue)\">" + HTML.escape(String(chars[start..<end])) + "</span>"
            position = end
        }
        gap(upTo: chars.count)
        return out
    }
}
