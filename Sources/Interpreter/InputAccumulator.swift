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
        if Session.inputState(of: joined) == .openBlock {
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
        return Session.inputState(of: joined) == .complete ? [take()] : []
    }

    /// Ends the input: returns what is still waiting.
    public mutating func finish() -> [Chunk] {
        lines.isEmpty ? [] : [take()]
    }

    /// Drops the waiting lines (after Ctrl-C).
    public mutating func reset() {
        lines = []
    }

    private var joined: String { lines.joined(separator: "\n") }

    private mutating func start(_ line: String, _ number: Int) -> [Chunk] {
        let trimmed = line.trimmingWhitespace()
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return [] }
        lines = [line]
        firstLine = number
        return Session.inputState(of: line) == .complete ? [take()] : []
    }

    private mutating func take() -> Chunk {
        let chunk = Chunk(text: joined, firstLine: firstLine)
        lines = []
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
