/// A span of source text: the file it comes from, where it starts and how many characters it covers.
public struct SourceRange: Sendable, Equatable, CustomStringConvertible {
    /// The name of the file (or `<stdin>` for the REPL) as the user gave it.
    public var file: String
    /// The 1-based line in the file.
    public var line: Int
    /// The 1-based column (in characters) on that line.
    public var column: Int
    /// The number of characters the range covers on its first line (at least 1 when shown).
    public var length: Int

    /// Creates a range.
    public init(file: String, line: Int, column: Int, length: Int) {
        self.file = file
        self.line = line
        self.column = column
        self.length = length
    }

    /// `file:line:col`, the prefix of a rendered diagnostic.
    public var description: String { "\(file):\(line):\(column)" }

    /// The smallest range on the same line covering `self` and `other` (or `self` when they
    /// are on different lines).
    public func extended(to other: SourceRange) -> SourceRange {
        guard other.line == line, other.file == file else { return self }
        let start = Swift.min(column, other.column)
        let end = Swift.max(column + length, other.column + other.length)
        return SourceRange(file: file, line: line, column: start, length: end - start)
    }
}

/// How serious a diagnostic is.
public enum Severity: String, Sendable {
    /// The input cannot run (or did not finish).
    case error
    /// Something suspicious that does not stop the run.
    case warning
    /// Extra information attached to another diagnostic.
    case note
}

/// The class of failure a diagnostic reports; the CLI maps it to an exit code.
public enum DiagnosticKind: Sendable, Equatable {
    /// The source could not be tokenised or parsed (exit code 65).
    case syntax
    /// A name or argument error found by `camscript check` before running.
    case resolution
    /// An error raised while running (exit code 70).
    case runtime
    /// A file could not be read or written (exit code 74).
    case io
    /// A file the script reads does not exist (exit code 66).
    case missingFile
    /// The user interrupted the computation (Ctrl-C).
    case interrupted
}

/// One message about the source, with where it applies and optional notes (such as a call trace).
public struct Diagnostic: Sendable, Equatable, Error {
    /// Extra information attached to a diagnostic, optionally pointing at source.
    public struct Note: Sendable, Equatable {
        /// What the note says.
        public var message: String
        /// Where it applies, if anywhere.
        public var range: SourceRange?
        /// Creates a note.
        public init(message: String, range: SourceRange?) {
            self.message = message
            self.range = range
        }
    }

    /// How serious it is.
    public var severity: Severity
    /// The class of failure.
    public var kind: DiagnosticKind
    /// One sentence saying what was expected and what was found.
    public var message: String
    /// Where it applies.
    public var range: SourceRange?
    /// Notes, innermost first (for a runtime error inside a `def`, one per call frame).
    public var notes: [Note]

    /// Creates a diagnostic.
    public init(severity: Severity = .error, kind: DiagnosticKind, message: String,
                range: SourceRange?, notes: [Note] = []) {
        self.severity = severity
        self.kind = kind
        self.message = message
        self.range = range
        self.notes = notes
    }
}

/// Renders diagnostics the way compilers do: `file:line:col: error: message`, the source line and
/// a caret under the range, then each note the same way.
public struct DiagnosticRenderer: Sendable {
    /// Returns the text of a source line (1-based) of a file, or `nil` when unknown.
    public var sourceLine: @Sendable (_ file: String, _ line: Int) -> String?

    /// Creates a renderer that looks source lines up with `sourceLine`.
    public init(sourceLine: @escaping @Sendable (_ file: String, _ line: Int) -> String?) {
        self.sourceLine = sourceLine
    }

    /// The rendered text of `diagnostic`, ending with a newline.
    public func render(_ diagnostic: Diagnostic) -> String {
        var out = block(severity: diagnostic.severity.rawValue, message: diagnostic.message,
                        range: diagnostic.range)
        for note in diagnostic.notes {
            out += block(severity: "note", message: note.message, range: note.range)
        }
        return out
    }

    /// The widest source excerpt shown under a diagnostic, in columns (`…` marks included).
    public static let maximumExcerptWidth = 120

    private func block(severity: String, message: String, range: SourceRange?) -> String {
        guard let range else { return "\(severity): \(message)\n" }
        var out = "\(range): \(severity): \(message)\n"
        if let text = sourceLine(range.file, range.line) {
            let excerpt = DiagnosticRenderer.excerpt(of: text, column: range.column, length: range.length)
            out += "    \(excerpt.line)\n"
            out += "    " + String(repeating: " ", count: excerpt.caretOffset) + "^"
                + String(repeating: "~", count: excerpt.width - 1) + "\n"
        }
        return out
    }

    /// The part of a source line shown under a diagnostic, and where the caret goes in it.
    ///
    /// A line up to `maximumExcerptWidth` columns is shown whole. A longer one (a minified or
    /// generated script can have a 100 kB line) is cut to a window that puts the range's start
    /// about a third of the way in, with `…` where text was cut, so that the caret still sits
    /// under the character the range starts at; the underline stops at the window's end.
    /// Tabs count as one column and are shown as spaces.
    static func excerpt(of text: String, column: Int, length: Int)
        -> (line: String, caretOffset: Int, width: Int) {
        let limit = maximumExcerptWidth
        // Only the window is copied: a script can have thousands of diagnostics on one long line.
        let count = text.count
        // 0-based position of the range start; it may be one past the end (an "end of line" error).
        let start = Swift.min(Swift.max(0, column - 1), count)
        guard count > limit else {
            let available = Swift.max(1, count - start)
            return (text.replacingTabs(), start, Swift.max(1, Swift.min(length, available)))
        }
        // Room for the text itself when both ends may be cut.
        let room = limit - 2
        var first = Swift.max(0, start - room / 3)
        var last = Swift.min(count, first + room)  // exclusive
        if last == count { first = Swift.max(0, last - room) }
        // A cut at one end only leaves one more column for text.
        if first == 0 { last = Swift.min(count, last + 1) }
        if last == count && first > 0 { first -= 1 }
        let cutStart = first > 0, cutEnd = last < count
        let lower = text.index(text.startIndex, offsetBy: first)
        let upper = text.index(lower, offsetBy: last - first)
        let window = String(text[lower..<upper]).replacingTabs()
        let line = (cutStart ? "…" : "") + window + (cutEnd ? "…" : "")
        let caretOffset = (cutStart ? 1 : 0) + (start - first)
        let available = Swift.max(1, last - start)
        return (line, caretOffset, Swift.max(1, Swift.min(length, available)))
    }
}

extension String {
    /// The string with tabs expanded to single spaces so that carets line up.
    fileprivate func replacingTabs() -> String {
        String(map { $0 == "\t" ? " " : $0 })
    }
}
