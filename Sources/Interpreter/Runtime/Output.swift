/// One piece of output a session produces, tagged with its kind and the cell it came from, so
/// that the REPL can print it and a report can collect it per cell.
public struct OutputItem: Sendable {
    /// What was produced.
    public enum Kind: Sendable {
        /// Text from `print`, `help`, `vars`, `time` (one or more lines, no trailing newline).
        case text(String)
        /// The echo of an expression statement's value: its text and the value itself (so that
        /// a report can draw an echoed image).
        case value(String, Value)
        /// A picture from `show`, with a one-line description for places that cannot draw it.
        case image(DisplayImage, description: String)
        /// How far a long computation or a download is (`scorecam: 120/2048`), replaced by the
        /// next one; `finished` clears it. A terminal shows it on one line; reports keep none.
        case progress(String, finished: Bool)
    }

    /// What was produced.
    public var kind: Kind
    /// The 1-based cell of the script that produced it (`nil` in the REPL).
    public var cell: Int?
    /// The statement that produced it.
    public var range: SourceRange?

    /// Creates an item.
    public init(kind: Kind, cell: Int?, range: SourceRange?) {
        self.kind = kind
        self.cell = cell
        self.range = range
    }
}

/// Receives a session's output.
public protocol OutputSink: AnyObject {
    /// Handles one item.
    func emit(_ item: OutputItem)
}

/// A sink that keeps every item (for tests and reports).
public final class CollectingSink: OutputSink, @unchecked Sendable {
    /// The items so far.
    public private(set) var items: [OutputItem] = []

    /// Creates an empty sink.
    public init() {}

    /// Stores the item.
    public func emit(_ item: OutputItem) {
        items.append(item)
    }

    /// The output as the REPL would print it without images: one string per line.
    public var lines: [String] {
        items.flatMap { item -> [String] in
            switch item.kind {
            case .text(let s), .value(let s, _): return s.components(separatedBy: "\n")
            case .image(_, let description): return [description]
            case .progress: return []
            }
        }
    }
}

/// A sink that drops everything (for cells run only to define variables).
public final class DiscardingSink: OutputSink {
    /// Creates the sink.
    public init() {}
    /// Drops the item.
    public func emit(_ item: OutputItem) {}
}
