@preconcurrency import CReadline
import CAMRuntime
import Foundation
import Interpreter

/// State that readline's C callbacks reach. C function pointers cannot capture context, so this
/// is the one place with process-wide mutable state; only the REPL's main thread touches it.
enum ReadlineBridge {
    nonisolated(unsafe) static var completer: ((_ word: String, _ linePrefix: String) -> [String])?
    nonisolated(unsafe) static var matches: [String] = []
    nonisolated(unsafe) static var matchIndex = 0
    nonisolated(unsafe) static var lineReady = false
    nonisolated(unsafe) static var line: String?

    static let lineHandler: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { pointer in
        if let pointer {
            ReadlineBridge.line = String(cString: pointer)
            free(pointer)
        } else {
            ReadlineBridge.line = nil
        }
        ReadlineBridge.lineReady = true
    }

    static let generator: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>? = { _, state in
        if state == 0 { ReadlineBridge.matchIndex = 0 }
        guard ReadlineBridge.matchIndex < ReadlineBridge.matches.count else { return nil }
        let match = ReadlineBridge.matches[ReadlineBridge.matchIndex]
        ReadlineBridge.matchIndex += 1
        return strdup(match)
    }

    static let attemptCompletion: @convention(c) (UnsafePointer<CChar>?, Int32, Int32)
        -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = { text, start, _ in
        rl_attempted_completion_over = 1
        let word = text.map { String(cString: $0) } ?? ""
        var prefix = ""
        if let buffer = rl_line_buffer {
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(buffer).assumingMemoryBound(to: UInt8.self),
                                            count: Int(start))
            prefix = String(decoding: bytes, as: UTF8.self)
        }
        let matches = ReadlineBridge.completer?(word, prefix) ?? []
        ReadlineBridge.matches = matches
        ReadlineBridge.matchIndex = 0
        if Session.insideString(prefix) {
            rl_completion_suppress_append = 1   // no space inside a path string
            if matches.count == 1, let only = matches.first, only.hasSuffix("/") {
                rl_completion_suppress_quote = 1   // a folder: the path goes on, keep the string open
            }
        } else if matches.count == 1, let only = matches.first, only.hasSuffix("=") || only.hasSuffix(".") {
            rl_completion_suppress_append = 1   // the value or member comes next
        }
        guard !matches.isEmpty else { return nil }
        return rl_completion_matches(text, ReadlineBridge.generator)
    }
}

/// The source lines typed so far, for showing them under diagnostics.
final class Transcript: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    func line(_ number: Int) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return number >= 1 && number <= lines.count ? lines[number - 1] : nil
    }
}

/// The lines of script files that diagnostics point into, read once each.
final class ScriptLineCache: @unchecked Sendable {
    private let lock = NSLock()
    private var files: [String: ScriptFile] = [:]

    func line(_ number: Int, of path: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        if files[path] == nil {
            // Through UserFile: a script swapped for a FIFO since it ran must not block the prompt.
            guard let data = try? UserFile.read(path), let text = String(data: data, encoding: .utf8) else {
                return nil
            }
            files[path] = ScriptFile(source: text, fileName: path)
        }
        return files[path]?.line(number)
    }
}

/// The interactive prompt, and the line-by-line reader used when stdin is not a terminal.
struct REPL {
    let noImages: Bool

    static let prompt = "cam> "
    static let continuationPrompt = "...> "

    /// Runs until end of input; returns the exit code.
    func run() -> Int32 {
        let sink = TerminalSink(noImages: noImages, showEchoes: true)
        let session = Session(output: sink, arguments: [], environment: processEnvironment)
        session.recordsProvenance = false  // the REPL writes no report
        return run(continuing: session)
    }

    /// Runs until end of input in `session`, whose variables a script may already have set
    /// (`run -i`); values are echoed from here on.
    func run(continuing session: Session) -> Int32 {
        session.output = TerminalSink(noImages: noImages, showEchoes: true)
        session.currentCell = nil
        let interrupts = InterruptHandler(cancellation: session.cancellation)
        defer { interrupts.stop() }
        let transcript = Transcript()
        // Typed lines from the transcript; a script's (`run "file.cam"`, `run -i`) from its file.
        let files = ScriptLineCache()
        let renderer = DiagnosticRenderer { file, line in
            file == "<stdin>" ? transcript.line(line) : files.line(line, of: file)
        }
        if isatty(STDIN_FILENO) == 1 {
            return interactive(session, interrupts, transcript, renderer)
        }
        return piped(session, interrupts, transcript, renderer)
    }

    /// Runs one chunk; returns the diagnostic's kind on failure.
    private func execute(_ chunk: InputAccumulator.Chunk, _ session: Session, _ interrupts: InterruptHandler,
                         _ renderer: DiagnosticRenderer) -> DiagnosticKind? {
        let outcome = interrupts.runBusy(resetting: session.cancellation) {
            session.run(source: chunk.text, fileName: "<stdin>", firstLine: chunk.firstLine)
        }
        if case .failure(let diagnostic) = outcome { writeError(renderer.render(diagnostic)) }
        if let signal = interrupts.terminatingSignal {
            // SIGTERM or SIGHUP stopped the computation at a safe point: leave as the signal would.
            fflush(nil)
            exit(128 + signal)
        }
        guard case .failure(let diagnostic) = outcome else { return nil }
        return diagnostic.kind
    }

    private func piped(_ session: Session, _ interrupts: InterruptHandler, _ transcript: Transcript,
                       _ renderer: DiagnosticRenderer) -> Int32 {
        var accumulator = InputAccumulator()
        var firstFailure: DiagnosticKind?
        func runAll(_ chunks: [InputAccumulator.Chunk]) {
            for chunk in chunks {
                if let kind = execute(chunk, session, interrupts, renderer), firstFailure == nil { firstFailure = kind }
            }
        }
        while let line = readLine(strippingNewline: true) {
            transcript.append(line)
            runAll(accumulator.feed(line, blankEndsBlock: false))
        }
        runAll(accumulator.finish())
        return firstFailure.map(ExitStatus.code(for:)) ?? 0
    }

    private func historyPath() -> String {
        let environment = processEnvironment
        if let path = environment["CAMSCRIPT_HISTORY"], !path.isEmpty { return path }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.camscript_history"
    }

    private func interactive(_ session: Session, _ interrupts: InterruptHandler, _ transcript: Transcript,
                             _ renderer: DiagnosticRenderer) -> Int32 {
        let history = historyPath()
        // A history path that is a FIFO or a device would block or swallow the history: not kept.
        var info = stat()
        let special = stat(history, &info) == 0 ? UserFile.kind(of: info.st_mode) : nil
        let keepsHistory = special == nil
        if let special {
            writeError("camscript: the history is not kept: \(history) is \(special), not a regular file\n")
        } else if !FileManager.default.fileExists(atPath: history) {
            _ = FileManager.default.createFile(atPath: history, contents: nil)
        }
        if keepsHistory { read_history(history) }
        rl_readline_name = UnsafePointer(strdup("camscript"))
        rl_catch_signals = 0
        rl_completer_word_break_characters = UnsafePointer(strdup(String(Session.completionWordBreaks)))
        rl_attempted_completion_function = ReadlineBridge.attemptCompletion
        ReadlineBridge.completer = { word, prefix in session.completions(forWord: word, linePrefix: prefix) }

        print("CAMScript 0.1.0. Type `help` for the builtins, Ctrl-D to leave.")
        fflush(nil)
        var accumulator = InputAccumulator()
        interrupts.exitsWhenIdle = false
        rl_callback_handler_install(REPL.prompt, ReadlineBridge.lineHandler)
        while true {
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: interrupts.wakeupDescriptor, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents & Int16(POLLIN) != 0 {
                if let signal = interrupts.terminatingSignal {
                    // SIGTERM or SIGHUP at the prompt: give the terminal back its settings, then leave.
                    rl_callback_handler_remove()
                    print("")
                    if keepsHistory { history_truncate_file(history, 2000) }
                    return 128 + signal
                }
                interrupts.drain()
                session.cancellation.reset()
                rl_free_line_state()
                rl_callback_sigcleanup()
                rl_replace_line("", 0)
                rl_callback_handler_remove()
                accumulator.reset()
                print("^C")
                fflush(nil)
                rl_callback_handler_install(REPL.prompt, ReadlineBridge.lineHandler)
                continue
            }
            guard fds[0].revents != 0 else { continue }
            rl_callback_read_char()
            guard ReadlineBridge.lineReady else { continue }
            ReadlineBridge.lineReady = false
            rl_callback_handler_remove()
            guard let line = ReadlineBridge.line else {
                print("")
                for chunk in accumulator.finish() { _ = execute(chunk, session, interrupts, renderer) }
                break
            }
            if !line.trimmingCharacters(in: .whitespaces).isEmpty {
                add_history(line)
                if keepsHistory { append_history(1, history) }
            }
            // A bracketed paste can deliver several lines at once.
            let pieces = line.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for (index, piece) in pieces.enumerated() {
                transcript.append(piece)
                for chunk in accumulator.feed(piece, blankEndsBlock: index == pieces.count - 1) {
                    _ = execute(chunk, session, interrupts, renderer)
                }
            }
            fflush(nil)
            rl_callback_handler_install(accumulator.isEmpty ? REPL.prompt : REPL.continuationPrompt,
                                        ReadlineBridge.lineHandler)
        }
        if keepsHistory { history_truncate_file(history, 2000) }
        return 0
    }
}
