import CAMRuntime
import Foundation
import Interpreter

/// Runs and checks `.cam` files for the `run` and `check` subcommands.
struct ScriptRunner {
    let path: String
    let noImages: Bool
    /// The reports to write (`--html`, `--ipynb`).
    var reports = ReportDestinations()
    /// What the script's session sees as its environment (`--shard` adds `CAMSCRIPT_SHARD`).
    var environment = processEnvironment
    /// The script's text when it is not read from `path` (the report `merge --html` writes).
    var source: String?

    /// Reads the script, or prints why not and gives the exit code. Read through `UserFile`: a
    /// FIFO or a device named as the script is refused, saying what it is, instead of blocking.
    private func load() -> Result<ScriptFile, ExitFailure> {
        if let source { return .success(ScriptFile(source: source, fileName: path)) }
        let data: Data
        do {
            data = try UserFile.read(path)
        } catch let error as FileIOError {
            if error.missing {
                return .failure(ExitFailure(code: ExitStatus.missingInput, message: "camscript: cannot open \(path): no such file"))
            }
            if let kind = error.fileKind {
                return .failure(ExitFailure(code: ExitStatus.io, message: "camscript: cannot run \(path): it is \(kind), not a .cam file"))
            }
            return .failure(ExitFailure(code: ExitStatus.io, message: "camscript: cannot read \(path): \(error.reason)"))
        } catch {
            return .failure(ExitFailure(code: ExitStatus.io, message: "camscript: cannot read \(path): \(error)"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ExitFailure(code: ExitStatus.syntax, message: "camscript: \(path) is not UTF-8 text"))
        }
        return .success(ScriptFile(source: text, fileName: path))
    }

    private func renderer(_ script: ScriptFile) -> DiagnosticRenderer {
        DiagnosticRenderer { _, line in script.line(line) }
    }

    /// Runs the script (or up to a cell); returns the exit code. `keep` receives the session once
    /// the script has run or failed in it (`run -i` continues in it); not on errors before it starts.
    func run(cell selector: String?, arguments: [String], keep: ((Session) -> Void)? = nil) -> Int32 {
        let script: ScriptFile
        switch load() {
        case .success(let s): script = s
        case .failure(let f):
            writeError(f.message + "\n")
            return f.code
        }
        if let problem = reports.problem() {
            writeError(problem + "\n")
            return ExitStatus.io
        }
        // Before anything runs: a report named like the script would replace it.
        var scriptInput = InputFiles()
        scriptInput.record(path)
        if let refusal = reports.inputConflict(scriptInput) {
            writeError(refusal + "\n")
            return ExitStatus.io
        }
        let reporter = reports.isEmpty ? nil : ReportBuilder(script: script, destinations: reports, renderer: renderer(script))
        let programs: [(cell: Cell, program: Program)]
        do {
            programs = try script.parse()
        } catch let diagnostic as Diagnostic {
            writeError(renderer(script).render(diagnostic))
            reporter?.recordSyntaxError(diagnostic)
            return reporter?.finish(provenance: [], exitCode: ExitStatus.syntax, inputs: scriptInput) ?? ExitStatus.syntax
        } catch {
            writeError("camscript: \(error)\n")
            return ExitStatus.syntax
        }
        var last = programs.count - 1
        if let selector {
            do {
                let chosen = try script.cell(named: selector)
                guard chosen.kind == .code, let position = programs.firstIndex(where: { $0.cell.index == chosen.index }) else {
                    writeError("camscript: cell \(chosen.index)\(chosen.title.isEmpty ? "" : " (\(chosen.title))") of \(path) is a markdown cell; choose a code cell\n")
                    return ExitStatus.usage
                }
                last = position
            } catch let diagnostic as Diagnostic {
                writeError("camscript: \(diagnostic.message)\n")
                return ExitStatus.usage
            } catch {
                writeError("camscript: \(error)\n")
                return ExitStatus.usage
            }
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().standardized.path
        let sink = TerminalSink(noImages: noImages, showEchoes: false)
        let session = Session(output: sink, arguments: arguments, baseDirectory: folder, environment: environment)
        session.workingDirectory = FileManager.default.currentDirectoryPath
        session.recordsProvenance = reporter != nil
        session.recordInput(path)
        defer { keep?(session) }
        let interrupts = InterruptHandler(cancellation: session.cancellation)
        interrupts.isBusy = true
        defer { interrupts.stop() }
        // SIGTERM and SIGHUP stop the run as Ctrl-C does; the exit code then names the signal.
        let code = execute(programs, upTo: last, selector: selector, script: script,
                           session: session, sink: sink, reporter: reporter)
        if code == 0, !session.listsShardItems, let (shard, _) = try? Shard.resolve(environment: environment), shard.count > 1 {
            writeError("camscript: warning: this run is shard \(shard), but the script listed no images with files or dataset, "
                       + "so this shard did all of the work (as every other one will); list the images with files(…) or dataset(…) to split them\n")
        }
        if let signal = interrupts.terminatingSignal {
            writeError("camscript: stopped by \(signal == SIGHUP ? "SIGHUP" : "SIGTERM") (exit code \(interrupts.exitCode(code)))\n")
        }
        return interrupts.exitCode(code)
    }

    /// Runs the programs up to `last` in `session`; returns the exit code.
    private func execute(_ programs: [(cell: Cell, program: Program)], upTo last: Int, selector: String?,
                         script: ScriptFile, session: Session, sink: OutputSink, reporter: ReportBuilder?) -> Int32 {
        let silent = DiscardingSink()
        guard last >= 0 else { return reporter?.finish(provenance: [], exitCode: 0, inputs: session.inputFiles) ?? 0 }
        for (position, entry) in programs.enumerated() where position <= last {
            let quiet = selector != nil && position < last
            session.currentCell = entry.cell.index
            let target: OutputSink = quiet ? silent : sink
            session.output = reporter?.begin(entry.cell, quiet: quiet, forwardingTo: target) ?? target
            let outcome = session.execute(entry.program)
            reporter?.end(entry.cell, program: entry.program, outcome: outcome)
            if case .failure(let diagnostic) = outcome {
                fflush(stdout)
                writeError(renderer(script).render(diagnostic))
                let code = ExitStatus.code(for: diagnostic.kind)
                return reporter?.finish(provenance: session.provenance, exitCode: code, inputs: session.inputFiles) ?? code
            }
        }
        fflush(stdout)
        return reporter?.finish(provenance: session.provenance, exitCode: 0, inputs: session.inputFiles) ?? 0
    }

    /// Prints the cells: number, kind, lines and title (or first line); returns the exit code.
    func listCells() -> Int32 {
        let script: ScriptFile
        switch load() {
        case .success(let s): script = s
        case .failure(let f):
            writeError(f.message + "\n")
            return f.code
        }
        let numberWidth = String(script.cells.count).count
        for cell in script.cells {
            let number = String(cell.index).leftPadded(to: numberWidth)
            let lines = "lines \(cell.firstLine)–\(cell.lastLine)"
            let first = cell.source.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            let name = cell.title.isEmpty ? (first.isEmpty ? "(empty)" : "(untitled) " + String(first.prefix(50))) : cell.title
            print("\(number)  \(cell.kind == .code ? "code    " : "markdown")  \(lines.padding(toLength: 14, withPad: " ", startingAt: 0))  \(name)")
        }
        let codeCells = script.cells.filter { $0.kind == .code }.count
        print("\(codeCells) code cell\(codeCells == 1 ? "" : "s"), \(script.cells.count - codeCells) markdown; "
              + "run one with: camscript run \(path) --cell N (the cells before it run first, silently)")
        return 0
    }

    /// Parses and resolves the script without running it; returns the exit code.
    func check() -> Int32 {
        let script: ScriptFile
        switch load() {
        case .success(let s): script = s
        case .failure(let f):
            writeError(f.message + "\n")
            return f.code
        }
        var programs: [Program] = []
        var syntaxErrors: [Diagnostic] = []
        for (_, result) in script.parseEachCell() {
            switch result {
            case .success(let program): programs.append(program)
            case .failure(let diagnostic): syntaxErrors.append(diagnostic)
            }
        }
        var checker = Checker(registry: .standard)
        let diagnostics = syntaxErrors + (syntaxErrors.isEmpty ? checker.check(programs) : [])
        for d in diagnostics { writeError(renderer(script).render(d)) }
        if !diagnostics.isEmpty { return ExitStatus.syntax }
        let codeCells = script.cells.filter { $0.kind == .code }.count
        print("\(path): ok (\(codeCells) code cell\(codeCells == 1 ? "" : "s"), \(script.cells.count - codeCells) markdown)")
        return 0
    }
}

/// A message and exit code for a failure before any script runs.
struct ExitFailure: Error {
    let code: Int32
    let message: String
}

/// Writes to standard error.
func writeError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

private extension String {
    /// The string right-aligned in `width` columns.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
