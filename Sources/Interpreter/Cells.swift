import Foundation

/// One Jupytext percent cell of a `.cam` file.
public struct Cell: Sendable {
    /// Whether it holds code or markdown.
    public enum Kind: String, Sendable {
        /// Statements to run.
        case code
        /// Text (`# ` comment lines) that never runs.
        case markdown
    }

    /// The 1-based position among all cells of the file (markdown cells count, as in editors).
    public var index: Int
    /// The text after `# %%` (without a `[markdown]` tag), or empty.
    public var title: String
    /// Code or markdown.
    public var kind: Kind
    /// The 1-based line of its first content line (after the `# %%` marker).
    public var firstLine: Int
    /// The 1-based line of its last line.
    public var lastLine: Int
    /// The content lines joined with newlines (for markdown: the text without the `# ` prefixes).
    public var source: String
}

/// A `.cam` file split into cells.
public struct ScriptFile: Sendable {
    /// The file name used in diagnostics.
    public var fileName: String
    /// The full text.
    public private(set) var source: String
    /// The cells in order. A file without `# %%` markers is one untitled code cell; lines before
    /// the first marker form an untitled code cell when they hold anything but blank lines.
    public var cells: [Cell]
    /// The lines of `source`, split once: a script with thousands of diagnostics renders one
    /// source line for each, and splitting the whole text every time was quadratic.
    private var lines: [String]

    /// Splits `source` into cells.
    public init(source: String, fileName: String) {
        self.fileName = fileName
        var source = source.contains("\r") ? source.replacingOccurrences(of: "\r\n", with: "\n") : source
        if source.hasPrefix("\u{FEFF}") { source.removeFirst() }
        self.source = source
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var cells: [Cell] = []
        var current: (title: String, kind: Cell.Kind, first: Int, lines: [String])?
        var leading: [String] = []
        func finish(_ c: (title: String, kind: Cell.Kind, first: Int, lines: [String])?, into cells: inout [Cell]) {
            guard let c else { return }
            let text: String
            if c.kind == .markdown {
                text = c.lines.map { line -> String in
                    if line.hasPrefix("# ") { return String(line.dropFirst(2)) }
                    if line == "#" { return "" }
                    return line
                }.joined(separator: "\n").trimmingCharacters(in: .newlines)
            } else {
                text = c.lines.joined(separator: "\n")
            }
            cells.append(Cell(index: cells.count + 1, title: c.title, kind: c.kind, firstLine: c.first,
                              lastLine: c.first + Swift.max(c.lines.count, 1) - 1, source: text))
        }
        for (i, line) in lines.enumerated() {
            let number = i + 1
            if let marker = ScriptFile.marker(line) {
                if current == nil, leading.contains(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    finish(("", .code, 1, leading), into: &cells)
                }
                finish(current, into: &cells)
                current = (marker.title, marker.kind, number + 1, [])
            } else if current != nil {
                current?.lines.append(line)
            } else {
                leading.append(line)
            }
        }
        if current == nil {
            finish(("", .code, 1, leading), into: &cells)
        } else {
            finish(current, into: &cells)
        }
        self.cells = cells
        self.lines = lines
    }

    /// The title and kind of a `# %%` marker line, or `nil` when the line is not one.
    static func marker(_ line: String) -> (title: String, kind: Cell.Kind)? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("# %%") || trimmed.hasPrefix("#%%") else { return nil }
        var rest = trimmed.dropFirst(trimmed.hasPrefix("# %%") ? 4 : 3)
        if rest.first == "%" { return nil }
        rest = rest.drop { $0 == " " }
        var kind = Cell.Kind.code
        if rest.hasPrefix("[markdown]") || rest.hasPrefix("[md]") {
            kind = .markdown
            rest = rest.drop { $0 != "]" }.dropFirst().drop { $0 == " " }
        }
        return (String(rest).trimmingCharacters(in: .whitespaces), kind)
    }

    /// The source line `line` (1-based), for rendering diagnostics.
    public func line(_ line: Int) -> String? {
        guard line >= 1 && line <= lines.count else { return nil }
        return lines[line - 1]
    }

    /// The cell a `--cell` argument names: a 1-based number or a title (exact, then
    /// case-insensitive).
    public func cell(named selector: String) throws -> Cell {
        if let n = Int(selector) {
            guard n >= 1 && n <= cells.count else {
                throw Diagnostic(kind: .runtime, message: "\(fileName) has \(cells.count) cell\(cells.count == 1 ? "" : "s"); there is no cell \(n)", range: nil)
            }
            return cells[n - 1]
        }
        if let c = cells.first(where: { $0.title == selector }) ?? cells.first(where: { $0.title.lowercased() == selector.lowercased() }) {
            return c
        }
        let titles = cells.map(\.title).filter { !$0.isEmpty }
        let hint = closestMatch(to: selector, in: titles).map { "; did you mean \(quote($0))?" } ?? ""
        throw Diagnostic(kind: .runtime, message: "\(fileName) has no cell titled \(quote(selector))" + hint
                         + (titles.isEmpty ? "" : " (titles: " + titles.map(quote).joined(separator: ", ") + ")"), range: nil)
    }

    /// Parses every code cell, returning each cell's program or its first syntax error.
    public func parseEachCell() -> [(cell: Cell, result: Result<Program, Diagnostic>)] {
        cells.filter { $0.kind == .code }.map { cell in
            do {
                return (cell, .success(try Parser.parse(cell.source, file: fileName, firstLine: cell.firstLine)))
            } catch let diagnostic as Diagnostic {
                return (cell, .failure(diagnostic))
            } catch {
                return (cell, .failure(Diagnostic(kind: .syntax, message: "\(error)", range: nil)))
            }
        }
    }

    /// Parses every code cell; the first syntax error is thrown as a `Diagnostic`.
    public func parse() throws -> [(cell: Cell, program: Program)] {
        try cells.filter { $0.kind == .code }.map { cell in
            (cell, try Parser.parse(cell.source, file: fileName, firstLine: cell.firstLine))
        }
    }
}
