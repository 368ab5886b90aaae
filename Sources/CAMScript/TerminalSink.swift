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
        let environment = ProcessInfo.processInfo.environment
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

    func emit(_ item: OutputItem) {
        let text: String
        switch item.kind {
        case .text(let s): text = s + "\n"
        case .value(let s, _):
            guard showEchoes else { return }
            text = s + "\n"
        case .image(let image, let description):
            var current = renderer
            current.columns = max(8, TerminalSink.columns(ProcessInfo.processInfo.environment))
            text = current.render(image, description: description)
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
