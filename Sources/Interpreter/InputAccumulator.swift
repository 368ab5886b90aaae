/// Collects REPL input lines into complete chunks to run, the way Python's prompt does: a line
/// that leaves a bracket or string open, or opens a block with `:`, waits for more lines; a block
/// ends at an empty line (or at a new unindented line that is not `elif`/`else`).
public struct InputAccumulator: Sendable {
    /// A piece of input ready to run, with the input line number of its first line.
    public struct Chunk: Sendable, Equatable {
        /// The source text.
        public var text: String
        /// The 1-based number of its first line among all lines fed so far.
        public var firstLine: Int
        /// Creates a chunk.
        public init(text: String, firstLine: Int) {
            self.text = text
            self.firstLine = firstLine
        }
    }

    private var lines: [String] = []
    private var firstLine = 1
    private var nextLine = 1
    /// What the waiting lines are, kept up to date line by line (see `update()`).
    private var state = InputState.complete
    /// Whether the lines before `unsettled` open a block (a `:` at the end of a line).
    private var settledOpensBlock = false
    /// The first waiting line not yet lexed as part of a finished logical line: lines before it
    /// ended outside every bracket and string, so lexing can start afresh there.
    private var unsettled = 0
    /// The brackets open at the end of the waiting lines, when known from a clean lex.
    private var openBrackets: [Character] = []
    /// The indentation levels open at `unsettled`: an indentation is checked against the
    /// blocks of earlier fragments, as it is when the whole text is lexed.
    private var settledIndents: [Int] = [0]
    /// The indentation levels at the end of the fragment that opened `openBrackets`.
    private var bracketIndents: [Int] = [0]
    /// Whether a lexical error was met: what the waiting text is no longer changes.
    private var frozen = false

    /// Creates an empty accumulator.
    public init() {}

    /// Whether no lines are waiting (the REPL shows the primary prompt).
    public var isEmpty: Bool { lines.isEmpty }

    /// Adds one line; returns the chunks that became complete, in order.
    ///
    /// `blankEndsBlock` is the interactive rule: an empty line ends an open block at once, since
    /// nothing typed later can be seen yet. Where more input is already known to follow —
    /// piped input, and every line of a multi-line paste but its last — an empty line inside a
    /// block is kept and the next line decides, as in a file: an indented line goes on with the
    /// block, an unindented one ends it. That way `camscript < f.cam` and `camscript run f.cam`
    /// agree on a function with blank lines in its body.
    public mutating func feed(_ line: String, blankEndsBlock: Bool = true) -> [Chunk] {
        let number = nextLine
        nextLine += 1
        if lines.isEmpty { return start(line, number) }
        if state == .openBlock {
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty {
                guard blankEndsBlock else {
                    lines.append(line)
                    return []
                }
                return [take()]
            }
            let indented = line.first == " " || line.first == "\t"
            let firstWord = trimmed.prefix { $0.isLetter }
            if !indented && firstWord != "elif" && firstWord != "else" && !trimmed.hasPrefix("#") {
                let done = take()
                return [done] + start(line, number)
            }
        }
        lines.append(line)
        update()
        return state == .complete ? [take()] : []
    }

    /// Ends the input: returns what is still waiting.
    public mutating func finish() -> [Chunk] {
        lines.isEmpty ? [] : [take()]
    }

    /// Drops the waiting lines (after Ctrl-C).
    public mutating func reset() {
        lines = []
        state = .complete
        settledOpensBlock = false
        unsettled = 0
        openBrackets = []
        settledIndents = [0]
        bracketIndents = [0]
        frozen = false
    }

    /// Brings `state` up to date after a line was added, lexing only the lines since the last
    /// point outside every bracket and string.
    ///
    /// Re-lexing the whole waiting text on every line (as this once did) made a piped block of
    /// n lines cost n²: 5,000 lines took 142 s. At a line end outside brackets and strings the
    /// lexer keeps nothing that matters here but whether a block was opened, so that one bit
    /// is carried and lexing starts afresh from the next line: each line is lexed once (or,
    /// inside an open bracket, once per line of that bracket).
    ///
    /// Inside a bracket left open by earlier lines, only the new line is lexed, starting with
    /// those brackets open; after a lexical error or a string continued with `\` the lines
    /// since `unsettled` are lexed together, as the whole text once was.
    private mutating func update() {
        // Lexing the whole text stopped at its first error, so later lines never changed what
        // the text was; the same holds here.
        if frozen { return }
        if !openBrackets.isEmpty, let last = lines.last {
            let lexed = Lexer.tokenize(continuing: last, insideBrackets: openBrackets, file: "<input>")
            if !lexed.stoppedEarly {
                openBrackets = lexed.unclosedBrackets
                if openBrackets.isEmpty { settle(lexed.tokens, indents: bracketIndents) } else { state = .openBracketOrString }
                return
            }
        }
        let fragment = lines[unsettled...].joined(separator: "\n")
        let lexed = Lexer.tokenize(fragment, file: "<input>", indents: settledIndents)
        if lexed.stoppedEarly && !lexed.endsInsideString {
            frozen = true
            openBrackets = []
            if lexed.openBrackets > 0 {
                state = .openBracketOrString
            } else {
                settle(lexed.tokens, indents: lexed.indentsAtEnd)
            }
            return
        }
        if lexed.endsInsideString || lexed.openBrackets > 0 {
            state = .openBracketOrString
            openBrackets = lexed.endsInsideString ? [] : lexed.unclosedBrackets
            bracketIndents = lexed.indentsAtEnd
            return
        }
        openBrackets = []
        settle(lexed.tokens, indents: lexed.indentsAtEnd)
    }

    /// Marks every waiting line as lexed, `tokens` being those of the lines since `unsettled`.
    private mutating func settle(_ tokens: [Token], indents: [Int]) {
        settledIndents = indents
        if !settledOpensBlock && Session.inputState(ofTokens: tokens) == .openBlock {
            settledOpensBlock = true
        }
        unsettled = lines.count
        state = settledOpensBlock ? .openBlock : .complete
    }

    private mutating func start(_ line: String, _ number: Int) -> [Chunk] {
        let trimmed = line.trimmingWhitespace()
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return [] }
        lines = [line]
        firstLine = number
        settledOpensBlock = false
        unsettled = 0
        openBrackets = []
        settledIndents = [0]
        bracketIndents = [0]
        frozen = false
        update()
        return state == .complete ? [take()] : []
    }

    private mutating func take() -> Chunk {
        let chunk = Chunk(text: lines.joined(separator: "\n"), firstLine: firstLine)
        reset()
        return chunk
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> String {
        let chars = Array(self)
        var start = 0, end = chars.count
        while start < end, chars[start] == " " || chars[start] == "\t" || chars[start] == "\r" { start += 1 }
        while end > start, chars[end - 1] == " " || chars[end - 1] == "\t" || chars[end - 1] == "\r" { end -= 1 }
        return String(chars[start..<end])
    }
}
