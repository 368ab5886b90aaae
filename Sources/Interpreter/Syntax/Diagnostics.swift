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

    private func block(severity: String, message: String, range: SourceRange?) -> String {
        guard let range else { return "\(severity): \(message)\n" }
        var out = "\(range): \(severity): \(message)\n"
        if let text = sourceLine(range.file, range.line) {
            let line = text.replacingTabs()
            out += "    \(line)\n"
            let prefix = String(text.prefix(Swift.max(0, range.column - 1))).replacingTabs()
            let available = Swift.max(1, line.count - prefix.count)
            let width = Swift.max(1, Swift.min(range.length, available))
            out += "    " + String(repeating: " ", count: prefix.count) + "^"
                + String(repeating: "~", count: width - 1) + "\n"
        }
        return out
    }
}

extension String {
    /// The string with tabs expanded to single spaces so that carets line up.
    fileprivate func replacingTabs() -> String {
        String(map { $0 == "\t" ? " " : $0 })
    }
}
