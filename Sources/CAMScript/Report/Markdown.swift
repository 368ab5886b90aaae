import Foundation

/// Turns the text of a markdown cell into HTML; a protocol so that another renderer (e.g. a
/// full CommonMark package) can replace the built-in one.
protocol MarkdownRendering {
    /// The HTML for `markdown`; everything not understood is escaped, never passed through.
    func html(from markdown: String) -> String
}

/// A small Markdown renderer for the cells of `.cam` files: ATX headings, paragraphs, emphasis
/// (`*em*`, `_em_`, `**strong**`), code spans, fenced code blocks, bullet and numbered lists (with
/// one level of nesting by indentation), block quotes, links, horizontal rules and backslash
/// escapes. Raw HTML is escaped, and links keep only `http`, `https`, `mailto`, fragment and
/// relative targets.
struct MarkdownRenderer: MarkdownRendering {
    /// Creates the renderer.
    init() {}

    func html(from markdown: String) -> String {
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return blocks(lines[...])
    }

    // MARK: - Blocks

    private func blocks(_ lines: ArraySlice<String>) -> String {
        var out = ""
        var index = lines.startIndex
        var paragraph: [String] = []
        func flush() {
            if !paragraph.isEmpty {
                out += "<p>" + inline(paragraph.map { $0.trimmingLeadingSpaces() }.joined(separator: "\n")) + "</p>\n"
                paragraph.removeAll()
            }
        }
        while index < lines.endIndex {
            let line = lines[index]
            let trimmed = line.trimmingLeadingSpaces()
            if trimmed.isEmpty {
                flush()
                index += 1
            } else if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
                flush()
                let fence = String(trimmed.prefix(3))
                let language = trimmed.dropFirst(3).trimmingCharacters(in: .whitespaces)
                var code: [String] = []
                index += 1
                while index < lines.endIndex, !lines[index].trimmingLeadingSpaces().hasPrefix(fence) {
                    code.append(lines[index])
                    index += 1
                }
                index += 1   // the closing fence (or the end)
                let cls = language.isEmpty ? "" : " class=\"language-\(HTML.escape(language))\""
                out += "<pre><code\(cls)>" + HTML.escape(code.joined(separator: "\n")) + "</code></pre>\n"
            } else if let (level, text) = heading(trimmed) {
                flush()
                out += "<h\(level)>" + inline(text) + "</h\(level)>\n"
                index += 1
            } else if isRule(trimmed) {
                flush()
                out += "<hr>\n"
                index += 1
            } else if trimmed.hasPrefix(">") {
                flush()
                var quoted: [String] = []
                while index < lines.endIndex, lines[index].trimmingLeadingSpaces().hasPrefix(">") {
                    var rest = Substring(lines[index].trimmingLeadingSpaces().dropFirst())
                    if rest.first == " " { rest = rest.dropFirst() }
                    quoted.append(String(rest))
                    index += 1
                }
                out += "<blockquote>\n" + blocks(quoted[...]) + "</blockquote>\n"
            } else if listMarker(line) != nil {
                flush()
                index = list(lines, from: index, into: &out)
            } else {
                paragraph.append(line)
                index += 1
            }
        }
        flush()
        return out
    }

    /// Renders the list starting at `start`; returns the index after it.
    private func list(_ lines: ArraySlice<String>, from start: Int, into out: inout String) -> Int {
        guard let first = listMarker(lines[start]) else { return start + 1 }
        let tag = first.ordered ? "ol" : "ul"
        var items: [[String]] = []
        var index = start
        while index < lines.endIndex {
            let line = lines[index]
            if let marker = listMarker(line), marker.indent <= first.indent {
                guard marker.ordered == first.ordered else { break }
                items.append([marker.text])
                index += 1
            } else if line.trimmingLeadingSpaces().isEmpty {
                // A blank line ends the list unless an indented continuation follows.
                if index + 1 < lines.endIndex, lines[index + 1].leadingSpaces > first.indent,
                   !lines[index + 1].trimmingLeadingSpaces().isEmpty {
                    items[items.count - 1].append("")
                    index += 1
                } else {
                    break
                }
            } else if line.leadingSpaces > first.indent {
                items[items.count - 1].append(String(line.dropFirst(min(line.leadingSpaces, first.contentIndent))))
                index += 1
            } else {
                // A lazy continuation line of the item's paragraph.
                items[items.count - 1].append(line.trimmingLeadingSpaces())
                index += 1
            }
        }
        let startAttribute = first.ordered && first.number != 1 ? " start=\"\(first.number)\"" : ""
        out += "<\(tag)\(startAttribute)>\n"
        for item in items {
            var body = blocks(item[...])
            // Tight items: drop the paragraph around a single paragraph.
            if body.hasPrefix("<p>"), let close = body.range(of: "</p>\n"), !body[close.upperBound...].contains("<p>") {
                body = String(body[body.index(body.startIndex, offsetBy: 3)..<close.lowerBound]) + "\n" + body[close.upperBound...]
            }
            out += "<li>" + body.trimmingCharacters(in: .newlines) + "</li>\n"
        }
        out += "</\(tag)>\n"
        return index
    }

    private struct ListMarker {
        var ordered: Bool
        var number: Int
        var indent: Int
        var contentIndent: Int
        var text: String
    }

    private func listMarker(_ line: String) -> ListMarker? {
        let indent = line.leadingSpaces
        let rest = line.dropFirst(indent)
        if let c = rest.first, "-*+".contains(c), rest.dropFirst().first == " " {
            if isRule(String(rest)) { return nil }
            return ListMarker(ordered: false, number: 0, indent: indent, contentIndent: indent + 2,
                              text: String(rest.dropFirst(2)))
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9 else { return nil }
        let after = rest.dropFirst(digits.count)
        guard let dot = after.first, dot == "." || dot == ")", after.dropFirst().first == " " else { return nil }
        return ListMarker(ordered: true, number: Int(digits) ?? 1, indent: indent,
                          contentIndent: indent + digits.count + 2, text: String(after.dropFirst(2)))
    }

    private func heading(_ line: String) -> (Int, String)? {
        let hashes = line.prefix { $0 == "#" }.count
        guard (1...6).contains(hashes) else { return nil }
        let rest = line.dropFirst(hashes)
        guard rest.isEmpty || rest.first == " " else { return nil }
        var text = rest.trimmingCharacters(in: .whitespaces)
        // An optional closing run of `#`.
        while text.hasSuffix("#") { text.removeLast() }
        return (hashes, text.trimmingCharacters(in: .whitespaces))
    }

    private func isRule(_ line: String) -> Bool {
        let compact = line.filter { $0 != " " }
        guard compact.count >= 3, let c = compact.first, "-*_".contains(c) else { return false }
        return compact.allSatisfy { $0 == c }
    }

    // MARK: - Inline

    /// Renders inline markup; everything else is escaped.
    func inline(_ text: String) -> String {
        inline(Array(text)[...])
    }

    private func inline(_ chars: ArraySlice<Character>) -> String {
        var out = ""
        var i = chars.startIndex
        while i < chars.endIndex {
            let c = chars[i]
            if c == "\\", i + 1 < chars.endIndex, chars[i + 1].isASCII, chars[i + 1].isPunctuation || chars[i + 1].isSymbol {
                out += HTML.escape(String(chars[i + 1]))
                i += 2
            } else if c == "`" {
                let run = chars[i...].prefix { $0 == "`" }.count
                if let close = findRun(of: "`", count: run, in: chars, from: i + run) {
                    let code = String(chars[(i + run)..<close]).trimmingCharacters(in: .whitespaces)
                    out += "<code>" + HTML.escape(code) + "</code>"
                    i = close + run
                } else {
                    out += String(repeating: "`", count: run)
                    i += run
                }
            } else if c == "[", let (label, target, end) = link(in: chars, at: i) {
                if let href = safeURL(target) {
                    out += "<a href=\"" + HTML.escape(href) + "\">" + inline(label) + "</a>"
                } else {
                    out += inline(label)
                }
                i = end
            } else if (c == "*" || c == "_"), let (inner, end, strong) = emphasis(in: chars, at: i) {
                let tag = strong ? "strong" : "em"
                out += "<\(tag)>" + inline(inner) + "</\(tag)>"
                i = end
            } else if c == "\n" {
                out += "\n"
                i += 1
            } else {
                out += HTML.escape(String(c))
                i += 1
            }
        }
        return out
    }

    /// The index of the next run of exactly `count` `mark` characters at or after `from`.
    private func findRun(of mark: Character, count: Int, in chars: ArraySlice<Character>, from: Int) -> Int? {
        var j = from
        while j < chars.endIndex {
            if chars[j] == mark {
                let run = chars[j...].prefix { $0 == mark }.count
                if run == count { return j }
                j += run
            } else {
                j += 1
            }
        }
        return nil
    }

    /// `[label](target)` at `i`: the label, the target and the index after the `)`.
    private func link(in chars: ArraySlice<Character>, at i: Int) -> (ArraySlice<Character>, String, Int)? {
        var depth = 0
        var j = i
        var closeBracket: Int?
        while j < chars.endIndex {
            if chars[j] == "\\" { j += 2; continue }
            if chars[j] == "[" { depth += 1 }
            if chars[j] == "]" {
                depth -= 1
                if depth == 0 { closeBracket = j; break }
            }
            j += 1
        }
        guard let close = closeBracket, close + 1 < chars.endIndex, chars[close + 1] == "(" else { return nil }
        // The target ends at the `)` that balances the `(` (URLs may hold parentheses).
        var parens = 0
        var cursor = close + 2
        var closeParen: Int?
        while cursor < chars.endIndex {
            if chars[cursor] == "(" { parens += 1 }
            if chars[cursor] == ")" {
                if parens == 0 { closeParen = cursor; break }
                parens -= 1
            }
            cursor += 1
        }
        guard let end = closeParen else { return nil }
        var target = String(chars[(close + 2)..<end]).trimmingCharacters(in: .whitespaces)
        // Drop an optional "title".
        if let space = target.firstIndex(of: " ") { target = String(target[..<space]) }
        if target.hasPrefix("<") && target.hasSuffix(">") { target = String(target.dropFirst().dropLast()) }
        return (chars[(i + 1)..<close], target, end + 1)
    }

    /// `*em*`, `_em_`, `**strong**` or `__strong__` at `i`: the inner text, the index after the
    /// closing mark, and whether it is strong. `_` only counts at word boundaries (so that
    /// `aug_smooth` stays one word).
    private func emphasis(in chars: ArraySlice<Character>, at i: Int) -> (ArraySlice<Character>, Int, Bool)? {
        let mark = chars[i]
        if mark == "_", i > chars.startIndex, chars[i - 1].isLetter || chars[i - 1].isNumber { return nil }
        let strong = i + 1 < chars.endIndex && chars[i + 1] == mark
        let width = strong ? 2 : 1
        let start = i + width
        guard start < chars.endIndex, chars[start] != " ", chars[start] != "\n" else { return nil }
        var j = start
        while j < chars.endIndex {
            if chars[j] == "`" {
                // Skip code spans inside emphasis.
                let run = chars[j...].prefix { $0 == "`" }.count
                j = (findRun(of: "`", count: run, in: chars, from: j + run) ?? j) + run
                continue
            }
            if chars[j] == mark, chars[j - 1] != " ", j > start {
                let run = chars[j...].prefix { $0 == mark }.count
                let after = j + width
                let boundary = mark == "*" || after >= chars.endIndex || !(chars[after].isLetter || chars[after].isNumber)
                if run == width, boundary {
                    return (chars[start..<j], after, strong)
                }
                j += run
                continue
            }
            j += 1
        }
        return nil
    }

    private func safeURL(_ target: String) -> String? {
        let lower = target.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("mailto:") || lower.hasPrefix("#") {
            return target
        }
        // Relative paths: anything without a scheme.
        if let colon = target.firstIndex(of: ":") {
            let scheme = target[..<colon]
            if !scheme.contains("/") && !scheme.contains("?") && !scheme.contains("#") { return nil }
        }
        return target
    }
}

extension String {
    /// The number of leading spaces (a tab counts as four).
    fileprivate var leadingSpaces: Int {
        var n = 0
        for c in self {
            if c == " " { n += 1 } else if c == "\t" { n += 4 } else { break }
        }
        return n
    }

    /// The string without leading spaces and tabs.
    fileprivate func trimmingLeadingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" })
    }
}
