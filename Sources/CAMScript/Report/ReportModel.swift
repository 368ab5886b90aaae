import CAMRuntime
import Foundation
import Interpreter

/// The version `camscript --version` prints and reports record.
enum CAMScriptVersion {
    /// The version number.
    static let current = "0.1.0"
}

/// Everything a report says about one run of a `.cam` file, independent of its format.
struct RunReport {
    /// The script's path as given on the command line.
    var fileName: String
    /// When the run started.
    var date: Date
    /// The camscript version.
    var version: String = CAMScriptVersion.current
    /// Where it ran: the BLAS kernels and threads, and the operating system.
    var platform: String = RunReport.currentPlatform
    /// The files the run loaded (models), with their SHA-256.
    var provenance: [ProvenanceRecord] = []
    /// Every cell of the file, in order.
    var cells: [CellReport]
    /// The diagnostic that stopped the run, if any (also attached to its cell when it has one).
    var failure: RenderedError?

    /// Whether the run stopped with an error.
    var failed: Bool { failure != nil }

    /// This machine: OpenBLAS core and threads, operating system.
    static var currentPlatform: String {
        "OpenBLAS \(BLAS.coreName) core, \(BLAS.threadCount) thread\(BLAS.threadCount == 1 ? "" : "s"); "
            + ProcessInfo.processInfo.operatingSystemVersionString
    }

    /// The date as an ISO 8601 UTC timestamp, e.g. `2026-11-30T00:05:20Z`.
    var dateText: String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}

/// A diagnostic as the CLI prints it, plus the parts notebooks want separately.
struct RenderedError: Equatable {
    /// A Python-like exception name for notebooks, e.g. `RuntimeError`.
    var name: String
    /// The message alone.
    var message: String
    /// The full CLI text: `file:line:col: error: message`, the source line, the caret, notes.
    var text: String

    /// Renders `diagnostic` the way the CLI does.
    init(_ diagnostic: Diagnostic, renderer: DiagnosticRenderer) {
        switch diagnostic.kind {
        case .syntax: name = "SyntaxError"
        case .resolution: name = "NameError"
        case .runtime: name = "RuntimeError"
        case .io: name = "IOError"
        case .missingFile: name = "FileNotFoundError"
        case .interrupted: name = "KeyboardInterrupt"
        }
        message = diagnostic.message
        text = renderer.render(diagnostic)
    }
}

/// One cell of a report.
struct CellReport {
    /// How far the cell got.
    enum Status: Equatable {
        /// A markdown cell (never runs).
        case markdown
        /// A code cell that did not run (an earlier cell failed, or it comes after `--cell`).
        case notRun
        /// A code cell that ran with its output hidden (before the `--cell` one).
        case ranSilently
        /// A code cell that ran to its end.
        case succeeded
        /// A code cell that stopped with an error.
        case failed
    }

    /// The cell of the file.
    var cell: Cell
    /// How far it got.
    var status: Status
    /// The position among the code cells that ran with output (Jupyter's `execution_count`).
    var executionCount: Int?
    /// The wall-clock time it took, in seconds.
    var duration: Double?
    /// What it printed and showed, in order.
    var outputs: [CellOutput] = []
    /// The error that stopped it.
    var error: RenderedError?
}

/// One output of a cell.
enum CellOutput {
    /// Text from `print`, `help`, `vars`, `time` (lines joined with newlines, no trailing newline).
    case text(String)
    /// The value of a bare expression, as the REPL echoes it: its echo text, its picture when it
    /// has one, whether it is the cell's last statement (Jupyter's execute_result), and its table
    /// when it is one (`predict`, `metrics`), drawn as a table instead of the text.
    case value(String, image: DisplayImage?, isLast: Bool, table: TextTable? = nil)
    /// A picture from `show`, with a one-line description.
    case image(DisplayImage, description: String)
}

extension DisplayImage {
    /// The picture encoded as PNG, or `nil` when it is empty or libpng fails.
    var pngData: Data? {
        guard width > 0, height > 0 else { return nil }
        return try? RGBImage(width: width, height: height, pixels: rgb).pngData()
    }
}

extension Cell {
    /// The source without its trailing blank lines (those before the next `# %%` marker).
    var trimmedSource: String {
        var lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        while let last = lines.last, last.allSatisfy({ $0 == " " || $0 == "\t" }) { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}
