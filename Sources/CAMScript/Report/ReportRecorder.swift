import Foundation
import Interpreter

/// An output sink that passes every item on (to the terminal) and keeps a copy per cell for a
/// report.
final class ReportRecorder: OutputSink {
    /// Where items go on to (the terminal sink, or a discarding one for silent cells).
    var forward: OutputSink
    /// Whether items are kept (false while silent cells run).
    var isRecording = true
    /// The items kept so far, in order.
    private(set) var items: [OutputItem] = []

    /// Creates a recorder that passes items on to `forward`.
    init(forwardingTo forward: OutputSink) {
        self.forward = forward
    }

    /// Keeps the item (when recording) and passes it on.
    func emit(_ item: OutputItem) {
        if case .progress = item.kind {} else if isRecording { items.append(item) }
        forward.emit(item)
    }

    /// Removes and returns the items kept so far.
    func take() -> [OutputItem] {
        defer { items.removeAll() }
        return items
    }

    /// A cell's outputs from its items: every text, image and echo, in order, as the REPL shows
    /// them — a table echoed in the middle of a cell is part of what the cell shows, not only
    /// the last statement's value that Jupyter would keep.
    static func outputs(of items: [OutputItem], lastStatement: SourceRange?) -> [CellOutput] {
        items.compactMap { item -> CellOutput? in
            switch item.kind {
            case .text(let text):
                return .text(text)
            case .image(let image, let description):
                return .image(image, description: description)
            case .progress:
                return nil
            case .value(let text, let value):
                var image: DisplayImage?
                var table: TextTable?
                if case .object(let object) = value {
                    image = object.displayImage
                    table = object.table
                }
                return .value(text, image: image, isLast: lastStatement != nil && item.range == lastStatement, table: table)
            }
        }
    }
}
