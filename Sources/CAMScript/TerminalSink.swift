import Foundation
import Interpreter

/// Prints session output to standard output, drawing images the way the terminal can.
final class TerminalSink: OutputSink {
    private let renderer: TerminalImageRenderer
    private let showEchoes: Bool

    /// - Parameters:
    ///   - noImages: print descriptions instead of drawing.
    ///   - showEchoes: print expression values (the REPL does, `run` does not).
    init(noImages: Bool, showEchoes: Bool, pngEncoder: (@Sendable (DisplayImage) -> [UInt8]?)? = BuiltinRegistry.standard.pngEncoder) {
        let environment = processEnvironment
        let graphics = noImages ? TerminalGraphics.none
            : TerminalGraphics.detect(environment: environment, isTerminal: isatty(STDOUT_FILENO) == 1)
        renderer = TerminalImageRenderer(graphics: graphics, columns: TerminalSink.columns(environment),
                                         pngEncoder: pngEncoder)
        self.showEchoes = showEchoes
    }

    static func columns(_ environment: [String: String]) -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return environment["COLUMNS"].flatMap { Int($0) } ?? 80
    }

    /// The window's size now: columns, rows and the cell's pixels (when the terminal says).
    static func window(_ environment: [String: String]) -> (columns: Int, rows: Int, cell: (width: Int, height: Int)?) {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 {
            let cell = size.ws_xpixel > 0 && size.ws_ypixel > 0
                ? (Int(size.ws_xpixel) / Int(size.ws_col), Int(size.ws_ypixel) / Int(size.ws_row)) : nil
            return (Int(size.ws_col), Int(size.ws_row), cell)
        }
        return (environment["COLUMNS"].flatMap { Int($0) } ?? 80, environment["LINES"].flatMap { Int($0) } ?? 24, nil)
    }

    func emit(_ item: OutputItem) {
        let text: String
        switch item.kind {
        case .text(let s): text = s + "\n"
        case .value(let s, _):
            guard showEchoes else { return }
            text = s + "\n"
        case .progress(let status, let finished):
            // On a terminal's stderr only, rewritten in place: pipes and logs get no progress.
            guard isatty(STDERR_FILENO) == 1 else { return }
            FileHandle.standardError.write(Data((finished ? "\r\u{1B}[K" : "\r" + status).utf8))
            return
        case .image(let image, let description):
            var current = renderer
            let window = TerminalSink.window(processEnvironment)
            current.columns = max(8, window.columns)
            current.rows = max(4, window.rows)
            if let cell = window.cell, cell.width > 0, cell.height > 0 { current.cellPixels = cell }
            text = current.render(image, description: description)
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
