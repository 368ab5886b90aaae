import Foundation
import CAMRuntime

/// `run "file.cam"`: a script's code cells run in the session that calls it (IPython's `%run`),
/// so a workshop script runs once and its variables stay for the prompt.
extension SessionState {
    /// How deep `run` may nest before a script that runs itself is stopped.
    static let maximumRunDepth = 16

    /// Runs the code cells of the script at `path` (all, or the one `cell` names) in the global
    /// scope, with relative paths resolving against the script's folder while it runs. Values
    /// are not echoed, as with `camscript run`; errors point into the script, with a note at the
    /// `run` that started it.
    func runScript(path: String, cell selector: String?) throws {
        let callRange = currentRange
        let resolved = resolvePath(path)
        let data: Data
        do {
            data = try UserFile.read(resolved)
        } catch let error as FileIOError {
            if error.missing { throw ScriptIOError("cannot open \(path): no such file", missing: true) }
            if let kind = error.fileKind { throw ScriptIOError("cannot run \(path): it is \(kind), not a .cam file") }
            throw ScriptIOError("cannot read \(path): \(error.reason)")
        }
        recordInput(resolved)
        guard let text = String(data: data, encoding: .utf8) else { throw RuntimeError("\(path) is not UTF-8 text") }
        let script = ScriptFile(source: text, fileName: resolved)
        let programs: [(cell: Cell, program: Program)]
        do {
            programs = try script.parse()
        } catch let diagnostic as Diagnostic {
            throw ScriptError(message: diagnostic.message, range: diagnostic.range, kind: diagnostic.kind,
                              trace: [Diagnostic.Note(message: "in `run \"\(path)\"`", range: callRange)])
        }
        var chosen = programs
        if let selector {
            let cell: Cell
            do {
                cell = try script.cell(named: selector)
            } catch let diagnostic as Diagnostic {
                throw RuntimeError(diagnostic.message + "; `camscript cells \(path)` lists them")
            }
            guard cell.kind == .code else {
                throw RuntimeError("cell \(cell.index) of \(path) is a markdown cell; choose a code cell "
                                   + "(`camscript cells \(path)` lists them)")
            }
            chosen = programs.filter { $0.cell.index == cell.index }
        }
        guard runDepth < SessionState.maximumRunDepth else {
            throw RuntimeError("scripts run each other more than \(SessionState.maximumRunDepth) deep; "
                               + "does \(path) run itself?")
        }
        let savedFolder = baseDirectory
        runDepth += 1
        echoesSuppressed += 1
        defer {
            baseDirectory = savedFolder
            runDepth -= 1
            echoesSuppressed -= 1
            currentRange = callRange
        }
        baseDirectory = URL(fileURLWithPath: resolved).deletingLastPathComponent().standardized.path
        for entry in chosen {
            do {
                try execute(entry.program.statements, in: globals)
            } catch var error as ScriptError {
                if error.trace.count < 20 {
                    error.trace.append(Diagnostic.Note(message: "in `run \"\(path)\"`", range: callRange))
                }
                throw error
            }
        }
    }
}
