import CAMRuntime
import Foundation
import Interpreter

/// Where the reports of a run go (`--html`, `--ipynb`); empty when none was asked for.
struct ReportDestinations {
    /// The HTML report's path.
    var html: String?
    /// The notebook's path.
    var ipynb: String?

    /// Whether no report was asked for.
    var isEmpty: Bool { html == nil && ipynb == nil }

    /// Why a destination cannot be written (its folder is missing, or it is a folder), checked
    /// before the script runs so that a long run does not end without its report.
    func problem() -> String? {
        for path in [html, ipynb].compactMap({ $0 }) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                return "camscript: cannot write the report \(path): it is a folder; give a file name"
            }
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) || !isDirectory.boolValue {
                return "camscript: cannot write the report \(path): folder \(folder) does not exist"
            }
            // A trailing slash, a socket, a link to a folder: what AtomicFile would refuse at the end.
            do {
                try AtomicFile.checkDestination(path)
            } catch let error as FileIOError {
                return "camscript: cannot write the report: \(error.message)"
            } catch {
                return "camscript: cannot write the report \(path): \(error)"
            }
        }
        if let html, let ipynb {
            let same = URL(fileURLWithPath: html).standardized == URL(fileURLWithPath: ipynb).standardized
                || FileIdentity(path: html).map { $0 == FileIdentity(path: ipynb) } == true
            if same { return "camscript: --html and --ipynb name the same file \(html); give two different files" }
        }
        return nil
    }

    /// Why a destination must not be written: it is the same file (after symbolic links) as
    /// one of the run's `inputs`, which the report would replace.
    func inputConflict(_ inputs: InputFiles) -> String? {
        for (flag, path) in [("--html", html), ("--ipynb", ipynb)] {
            guard let path else { continue }
            do {
                try inputs.refuseOverwrite(of: path)
            } catch let error as ScriptIOError {
                return "camscript: \(flag): \(error.message)"
            } catch {
                return "camscript: \(flag): \(error)"
            }
        }
        return nil
    }
}

/// Collects a run cell by cell (outputs, times, errors) and writes the reports at its end.
final class ReportBuilder {
    private let destinations: ReportDestinations
    private let renderer: DiagnosticRenderer
    private let recorder: ReportRecorder
    private var report: RunReport
    private var executionCount = 0
    private var cellStart: UInt64 = 0

    /// Prepares a report of `script`; nothing is written until `finish`.
    init(script: ScriptFile, destinations: ReportDestinations, renderer: DiagnosticRenderer, date: Date = Date()) {
        self.destinations = destinations
        self.renderer = renderer
        recorder = ReportRecorder(forwardingTo: DiscardingSink())
        report = RunReport(fileName: script.fileName, date: date, cells: script.cells.map { cell in
            CellReport(cell: cell, status: cell.kind == .markdown ? .markdown : .notRun)
        })
    }

    /// Starts a code cell; returns the sink the session should write to (it passes items on to
    /// `sink`, and keeps them unless `quiet`).
    func begin(_ cell: Cell, quiet: Bool, forwardingTo sink: OutputSink) -> OutputSink {
        recorder.forward = sink
        recorder.isRecording = !quiet
        _ = recorder.take()
        cellStart = DispatchTime.now().uptimeNanoseconds
        return recorder
    }

    /// Ends the cell `begin` started, with how its program ended.
    func end(_ cell: Cell, program: Program, outcome: RunOutcome) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - cellStart) / 1e9
        guard let position = report.cells.firstIndex(where: { $0.cell.index == cell.index }) else { return }
        var entry = report.cells[position]
        entry.duration = elapsed
        if recorder.isRecording {
            executionCount += 1
            entry.executionCount = executionCount
            entry.outputs = ReportRecorder.outputs(of: recorder.take(), lastStatement: program.statements.last?.range)
            entry.status = .succeeded
        } else {
            entry.status = .ranSilently
        }
        if case .failure(let diagnostic) = outcome {
            let error = RenderedError(diagnostic, renderer: renderer)
            entry.status = .failed
            entry.error = error
            report.failure = error
        }
        report.cells[position] = entry
    }

    /// Records a syntax error found before anything ran, in the cell holding its line.
    func recordSyntaxError(_ diagnostic: Diagnostic) {
        let error = RenderedError(diagnostic, renderer: renderer)
        report.failure = error
        if let line = diagnostic.range?.line,
           let position = report.cells.firstIndex(where: { $0.cell.kind == .code && $0.cell.firstLine - 1 <= line && line <= $0.cell.lastLine }) {
            report.cells[position].error = error
            report.cells[position].status = .failed
        }
    }

    /// The report as it stands, with `provenance` (for tests and rendering).
    func snapshot(provenance: [ProvenanceRecord]) -> RunReport {
        var copy = report
        copy.provenance = provenance
        return copy
    }

    /// Writes every requested report atomically; returns the run's exit code, or the I/O
    /// exit code when a report could not be written after an otherwise successful run.
    /// When a destination is one of the run's `inputs` (the script, an image it loaded…),
    /// nothing is written and the exit code is 74.
    func finish(provenance: [ProvenanceRecord], exitCode: Int32, inputs: InputFiles) -> Int32 {
        if let refusal = destinations.inputConflict(inputs) {
            writeError(refusal + "\n")
            return ExitStatus.io
        }
        let final = snapshot(provenance: provenance)
        var code = exitCode
        if let path = destinations.html {
            let html = HTMLReport().render(final)
            code = write(Data(html.utf8), to: path, what: "HTML report", exitCode: code)
        }
        if let path = destinations.ipynb {
            do {
                let data = try NotebookExport().render(final)
                code = write(data, to: path, what: "notebook", exitCode: code)
            } catch {
                writeError("camscript: cannot encode the notebook \(path): \(error.localizedDescription)\n")
                if code == 0 { code = ExitStatus.io }
            }
        }
        return code
    }

    private func write(_ data: Data, to path: String, what: String, exitCode: Int32) -> Int32 {
        do {
            try AtomicFile.write(data, to: path)
            return exitCode
        } catch let error as ScriptIOError {
            writeError("camscript: cannot write the \(what): \(error.message)\n")
        } catch {
            writeError("camscript: cannot write the \(what) \(path): \(error.localizedDescription)\n")
        }
        return exitCode == 0 ? ExitStatus.io : exitCode
    }
}
