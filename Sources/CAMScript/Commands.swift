import ArgumentParser
import CAMRuntime
import Foundation
import Interpreter

/// The exit codes of `camscript` (BSD sysexits where one fits).
enum ExitStatus {
    static let usage: Int32 = 64
    static let syntax: Int32 = 65
    static let missingInput: Int32 = 66
    static let runtime: Int32 = 70
    static let io: Int32 = 74
    static let interrupted: Int32 = 130
    /// Stopped by SIGHUP (128 + 1): a closed terminal.
    static let hangUp: Int32 = 129
    /// Stopped by SIGTERM (128 + 15): a killed job.
    static let terminated: Int32 = 143

    /// The exit code for a diagnostic's kind.
    static func code(for kind: DiagnosticKind) -> Int32 {
        switch kind {
        case .syntax, .resolution: return syntax
        case .runtime: return runtime
        case .io: return io
        case .missingFile: return missingInput
        case .interrupted: return interrupted
        }
    }
}

/// `camscript`: the REPL, `run` and `check`.
struct CAMScriptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camscript",
        abstract: "Class activation maps for image classifiers, in a small scripting language.",
        discussion: """
            Without a subcommand, starts the interactive prompt (REPL). `camscript FILE.cam [ARGS…]` \
            runs a script as `camscript run FILE.cam -- ARGS…` does.
            """,
        version: "camscript \(CAMScriptVersion.current)",
        subcommands: [REPLCommand.self, RunCommand.self, CheckCommand.self, CellsCommand.self, KernelCommand.self, MergeCommand.self],
        defaultSubcommand: REPLCommand.self)

    /// The arguments with `camscript FILE [ARGS…]` spelled out as `camscript run FILE -- ARGS…`, so
    /// that a script runs the way `python file.py a b` does: everything after the file is the
    /// script's `args`. Subcommands and options are left as they are.
    static func expandingScriptShorthand(_ arguments: [String]) -> [String] {
        guard let first = arguments.first, !first.hasPrefix("-") else { return arguments }
        let subcommands = configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
        guard !subcommands.contains(first) else { return arguments }
        let rest = Array(arguments.dropFirst())
        return ["run", first] + (rest.isEmpty ? [] : ["--"] + rest)
    }

    /// The message for a misspelled subcommand (`camscript rnu x.cam`, `camscript kernel instal`),
    /// naming the one meant, or nil when the arguments are not one.
    ///
    /// Without it the first misspelling is read as a script name ("cannot open rnu") and the
    /// second gives ArgumentParser's "Unknown option '--user'", neither of which names the
    /// mistake. A word that names an existing file, or looks like a path, is a script and is
    /// left alone.
    static func misspelledSubcommand(_ arguments: [String], fileExists: (String) -> Bool) -> String? {
        func check(_ word: String, among command: ParsableCommand.Type, prefix: String) -> String? {
            let names = command.configuration.subcommands.compactMap { $0.configuration.commandName } + ["help"]
            guard !word.hasPrefix("-"), !names.contains(word), !word.contains("."), !word.contains("/"),
                  !fileExists(word), let meant = NameMatching.best(for: word, in: names) else { return nil }
            return "\(prefix): no command '\(word)'; did you mean '\(prefix) \(meant)'?"
        }
        guard let first = arguments.first else { return nil }
        if first == KernelCommand.configuration.commandName, arguments.count > 1 {
            return check(arguments[1], among: KernelCommand.self, prefix: "camscript kernel")
        }
        return check(first, among: CAMScriptCommand.self, prefix: "camscript")
    }
}

/// `camscript repl` (the default): the interactive prompt.
struct REPLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "Start the interactive prompt (the default when no subcommand is given).",
        discussion: """
            Line editing and history (saved in ~/.camscript_history, or $CAMSCRIPT_HISTORY), tab \
            completion, multi-line blocks closed by an empty line. Ctrl-C clears the line or stops a \
            computation; Ctrl-D exits. When standard input is not a terminal, lines are read without \
            prompts and the exit code tells whether any input failed (65 syntax, 70 runtime).
            """)

    @Flag(name: .long, help: "Print a one-line description instead of drawing images.")
    var noImages = false

    func run() throws {
        let code = REPL(noImages: noImages).run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// `camscript run FILE.cam`.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a .cam script from top to bottom.",
        discussion: """
            Relative paths in the script resolve against the script's folder. With --cell, the code \
            cells before the chosen one run first with their output hidden (so its variables exist), \
            then the chosen cell runs with its output shown. Expression values are not echoed \
            (the REPL echoes them). --html writes a self-contained report page and --ipynb a Jupyter \
            notebook of the run (every cell, its output, pictures, errors and times), also when the \
            run fails. -i then starts the prompt with the script's variables. `camscript cells FILE` \
            lists the numbers and titles --cell takes. Exit codes: 0 success, 64 bad --cell, 65 syntax error, 66 missing \
            file, 70 runtime error, 74 I/O error, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM, 129 by SIGHUP.
            """)

    @Argument(help: "The script to run.")
    var file: String

    @Option(name: .long, help: "Run only up to this cell (1-based number or title); earlier cells run silently first.")
    var cell: String?

    @Flag(name: .long, help: "Print a one-line description instead of drawing images.")
    var noImages = false

    @Option(name: .long, help: ArgumentHelp("Also write a self-contained HTML report of the run.", valueName: "REPORT.html"))
    var html: String?

    @Option(name: .long, help: ArgumentHelp("Also write the run as a Jupyter notebook (nbformat 4.5).", valueName: "OUT.ipynb"))
    var ipynb: String?

    @Flag(name: .customShort("i"), help: "Then stay in the interactive prompt with the script's variables (as python -i).")
    var interactive = false

    @Option(name: .long, help: ArgumentHelp("Run shard K of N (0-based) of the datasets `files` and `dataset` list; Slurm array tasks and Kubernetes Indexed Jobs are read without it.", valueName: "K/N"))
    var shard: String?

    @Argument(parsing: .postTerminator, help: "Arguments for the script (`args`), after --.")
    var scriptArguments: [String] = []

    func run() throws {
        var runner = ScriptRunner(path: file, noImages: noImages)
        runner.reports = ReportDestinations(html: html, ipynb: ipynb)
        if let shard {
            do {
                runner.environment["CAMSCRIPT_SHARD"] = try Shard(parsing: shard).description
            } catch {
                writeError("camscript: --shard: \(error)\n")
                throw ExitCode(ExitStatus.usage)
            }
        } else {
            // A malformed Slurm or Kubernetes index is a usage error before anything runs.
            do {
                _ = try Shard.resolve(environment: runner.environment)
            } catch {
                writeError("camscript: \(error)\n")
                throw ExitCode(ExitStatus.usage)
            }
        }
        guard interactive else {
            let code = runner.run(cell: cell, arguments: scriptArguments)
            if code != 0 { throw ExitCode(code) }
            return
        }
        // As python -i: the prompt follows whether or not the script failed; its exit code is the prompt's.
        var kept: Session?
        let code = runner.run(cell: cell, arguments: scriptArguments) { kept = $0 }
        guard let session = kept, code != ExitStatus.terminated, code != ExitStatus.hangUp else { throw ExitCode(code) }
        let prompt = REPL(noImages: noImages).run(continuing: session)
        if prompt != 0 { throw ExitCode(prompt) }
    }
}

/// `camscript check FILE.cam`.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Parse a .cam script and resolve its names without running it.",
        discussion: "Reports syntax errors, undefined names and builtin calls with unknown keywords or wrong argument counts. Exit code 0 when clean, 65 otherwise (66 for a missing file).")

    @Argument(help: "The script to check.")
    var file: String

    func run() throws {
        let code = ScriptRunner(path: file, noImages: true).check()
        if code != 0 { throw ExitCode(code) }
    }
}

/// `camscript cells FILE.cam`: the cells with the numbers and titles `run --cell` takes.
struct CellsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cells",
        abstract: "List a .cam script's cells: the numbers and titles that run --cell takes.",
        discussion: "Markdown cells are listed too (they have numbers, as in editors) but cannot be run. Exit code 0, 66 for a missing file, 74 when it cannot be read.")

    @Argument(help: "The script.")
    var file: String

    func run() throws {
        let code = ScriptRunner(path: file, noImages: true).listCells()
        if code != 0 { throw ExitCode(code) }
    }
}

/// `camscript kernel -f FILE`: CAMScript as a Jupyter kernel; `camscript kernel install` makes
/// Jupyter know it.
struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Run CAMScript as a Jupyter kernel (started by Jupyter with a connection file).",
        discussion: """
            `camscript kernel install --user` writes the kernelspec that JupyterLab, Notebook, VS Code and \
            `jupyter console --kernel camscript` use; Jupyter then starts `camscript kernel -f CONNECTION.json`. \
            Exit codes: 0 after a shutdown request, 64 without -f, 74 for an unreadable connection file or a port \
            that cannot be used.
            """,
        subcommands: [KernelInstallCommand.self])

    @Option(name: .customShort("f"), help: ArgumentHelp("The connection file Jupyter wrote.", valueName: "CONNECTION.json"))
    var connectionFile: String?

    func run() throws {
        guard let connectionFile else {
            writeError("camscript kernel: give the connection file with -f (Jupyter does); to register the kernel, run `camscript kernel install --user`\n")
            throw ExitCode(ExitStatus.usage)
        }
        let kernel: JupyterKernel
        do {
            kernel = try JupyterKernel(connectionFile: connectionFile, environment: processEnvironment)
        } catch {
            writeError("camscript kernel: \(error)\n")
            throw ExitCode(ExitStatus.io)
        }
        kernel.serve()
    }
}

/// `camscript kernel install [--user | --sys-prefix | --prefix P]`.
struct KernelInstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Write the CAMScript kernelspec where `jupyter kernelspec list` finds it.",
        discussion: "Without an option, into the system-wide /usr/local/share/jupyter/kernels. Exit codes: 0, 64 for two locations, 74 when the folder cannot be written.")

    @Flag(name: .long, help: "Into your Jupyter data directory ($JUPYTER_DATA_DIR or ~/.local/share/jupyter).")
    var user = false

    @Flag(name: .long, help: "Into the active virtualenv or conda environment.")
    var sysPrefix = false

    @Option(name: .long, help: ArgumentHelp("Into PREFIX/share/jupyter.", valueName: "PREFIX"))
    var prefix: String?

    func run() throws {
        let chosen = [user, sysPrefix, prefix != nil].filter { $0 }.count
        guard chosen <= 1 else {
            writeError("camscript kernel install: choose one of --user, --sys-prefix and --prefix\n")
            throw ExitCode(ExitStatus.usage)
        }
        let location: KernelSpec.Location = user ? .user : sysPrefix ? .sysPrefix : prefix.map { .prefix($0) } ?? .system
        // The absolute path of this executable, so that Jupyter finds it whatever its PATH.
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        do {
            let folder = try KernelSpec.install(location, executable: executable, environment: processEnvironment)
            print("Installed the CAMScript kernelspec in \(folder)")
        } catch {
            writeError("camscript kernel install: \(error)\n")
            throw ExitCode(ExitStatus.io)
        }
    }
}

/// `camscript merge OUT RESULTS…`: one results file from the files of a sharded run.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the results files (.jsonl) of a sharded dataset run into one.",
        discussion: """
            Checks that the files are exactly one run: the same model, method and options and the same \
            shard count in every file, each shard once and none missing, every image in its own shard and \
            in one file only, and no file ending in a partial line (a shard that did not finish); says which \
            file or shard is wrong otherwise. Rows are sorted by path; OUT is written atomically. Exit codes: \
            0 merged, 65 the files are not one complete run, 66 a file is missing, 74 a file cannot be read or written.
            """)

    @Argument(help: ArgumentHelp("The merged results file (.jsonl).", valueName: "OUT"))
    var output: String

    @Argument(help: ArgumentHelp("The shards' results files.", valueName: "RESULTS"))
    var inputs: [String] = []

    @Option(name: .long, help: ArgumentHelp("Also write the dataset report: the summary of --metric per group, its histogram, the lowest and highest images.", valueName: "REPORT.html"))
    var html: String?

    @Option(name: .long, help: "The numeric column the report summarises (needed with --html).")
    var metric: String?

    @Option(name: .long, help: "The column that groups the report's rows (default label).")
    var by = "label"

    @Option(name: .long, help: "The column holding each image's saved picture, relative to OUT's folder (the report shows the lowest and highest).")
    var picture: String?

    func run() throws {
        if html != nil && metric == nil {
            writeError("camscript merge: --html needs --metric NAME (the column the report summarises)\n")
            throw ExitCode(ExitStatus.usage)
        }
        do {
            let summary = try ResultsMerge.merge(inputs, into: output)
            print("merged \(summary.shards) shard\(summary.shards == 1 ? "" : "s"): \(summary.rows) images into \(output)")
            if let html, let metric {
                try writeReport(html, metric: metric, shards: summary.shards, rows: summary.rows, about: summary.about)
            }
        } catch let error as ExitCode {
            throw error
        } catch let error as FileIOError {
            writeError("camscript \(error.message)\n")
            throw ExitCode(error.missing ? ExitStatus.missingInput : ExitStatus.io)
        } catch {
            writeError("camscript \(error)\n")
            throw ExitCode(ExitStatus.syntax)
        }
    }

    /// The dataset report: a two-cell script over the merged file, run and reported as
    /// `camscript run --html` reports any script, so that the page looks like every other report.
    private func writeReport(_ html: String, metric: String, shards: Int, rows: Int, about: String) throws {
        let merged = URL(fileURLWithPath: output).standardizedFileURL
        var call = "s = summary \(Value.string(merged.lastPathComponent).repr) metric=\(Value.string(metric).repr) by=\(Value.string(by).repr)"
        if let picture { call += " picture=\(Value.string(picture).repr)" }
        let source = """
            # %% [markdown]
            # # Dataset run: \(metric)
            # \(rows) images from \(shards) shard\(shards == 1 ? "" : "s"), merged into `\(merged.lastPathComponent)`. \(MarkdownRenderer.literal(about))

            # %% Summary
            \(call)
            s

            """
        var runner = ScriptRunner(path: merged.deletingLastPathComponent().appendingPathComponent("merge-report.cam").path, noImages: true)
        runner.source = source
        runner.reports = ReportDestinations(html: html)
        let code = runner.run(cell: nil, arguments: [])
        if code != 0 { throw ExitCode(code) }
    }
}
