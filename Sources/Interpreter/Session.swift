import CAMRuntime
import Foundation

/// How a run ended.
public enum RunOutcome: Sendable {
    /// Every statement ran.
    case success
    /// A syntax or runtime error (or an interruption) stopped the run.
    case failure(Diagnostic)

    /// The diagnostic of a failure.
    public var diagnostic: Diagnostic? {
        if case .failure(let d) = self { return d }
        return nil
    }
}

/// Whether REPL input is ready to run or needs more lines.
public enum InputState: Sendable, Equatable {
    /// Ready to run.
    case complete
    /// Inside an open bracket or string: more lines are needed.
    case openBracketOrString
    /// A block was opened with `:`: more lines until an empty one.
    case openBlock
}

/// A CAMScript session: variables, builtins, output and cancellation, shared by the REPL and the
/// script runner (they differ only in what happens after an error).
public final class Session: @unchecked Sendable {
    let state: SessionState

    /// The flag that Ctrl-C sets; loops and builtins poll it. The session does not reset it:
    /// the caller resets it before running new input.
    public var cancellation: CancellationFlag { state.cancellation }

    /// Where output goes.
    public var output: OutputSink {
        get { state.output }
        set { state.output = newValue }
    }

    /// The cell whose statements run now (tags output items; `nil` in the REPL).
    public var currentCell: Int? {
        get { state.currentCell }
        set { state.currentCell = newValue }
    }

    /// The folder relative paths resolve against.
    public var baseDirectory: String {
        get { state.baseDirectory }
        set { state.baseDirectory = newValue }
    }

    /// Whether the script listed items with `files` or `dataset`, the only builtins that split
    /// work between shards: a sharded run without them does all the work in every shard.
    public var listsShardItems: Bool { state.listsShardItems }

    /// The folder the command was started in, when it is not `baseDirectory` (`camscript run`
    /// of a script elsewhere): a missing relative path that exists from there is pointed out,
    /// since a path typed after `--` in the shell is usually meant from there.
    public var workingDirectory: String? {
        get { state.workingDirectory }
        set { state.workingDirectory = newValue }
    }

    /// The builtins, loaders and savers of the session.
    public var registry: BuiltinRegistry { state.registry }

    /// Creates a session.
    /// - Parameters:
    ///   - registry: the builtins (`.standard` in the shipped CLI).
    ///   - output: where `print`, echoes and `show` go.
    ///   - arguments: the script arguments (`args`).
    ///   - baseDirectory: the folder relative paths resolve against.
    ///   - environment: what `env` reads.
    ///   - cancellation: the flag Ctrl-C sets.
    public init(registry: BuiltinRegistry = .standard, output: OutputSink, arguments: [String] = [],
                baseDirectory: String = FileManager.default.currentDirectoryPath,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                cancellation: CancellationFlag = CancellationFlag()) {
        state = SessionState(registry: registry, output: output, arguments: arguments,
                             baseDirectory: baseDirectory, environment: environment,
                             cancellation: cancellation)
    }

    /// Parses and runs source text; `firstLine` is the line number of its first line in `fileName`.
    public func run(source: String, fileName: String, firstLine: Int = 1) -> RunOutcome {
        Session.onLargeStack {
            do {
                let program = try Parser.parse(source, file: fileName, firstLine: firstLine)
                return self.executeHere(program)
            } catch let diagnostic as Diagnostic {
                return .failure(diagnostic)
            } catch {
                return .failure(Diagnostic(kind: .syntax, message: "\(error)", range: nil))
            }
        }
    }

    /// Runs an already parsed program.
    public func execute(_ program: Program) -> RunOutcome {
        Session.onLargeStack { self.executeHere(program) }
    }

    private func executeHere(_ program: Program) -> RunOutcome {
        do {
            try state.execute(program.statements, in: state.globals)
            return .success
        } catch let error as ScriptError {
            return .failure(error.diagnostic)
        } catch {
            return .failure(Diagnostic(kind: .runtime, message: "\(error)", range: nil))
        }
    }

    /// The user's variables, sorted by name.
    public var variables: [(name: String, value: Value)] { state.userVariables() }

    /// The value of a variable or builtin.
    public func value(named name: String) -> Value? { state.globals.lookup(name) }

    /// Whether REPL input is complete, needs more lines inside a bracket or string, or opened
    /// a block (which an empty line closes).
    public static func inputState(of source: String) -> InputState {
        let lexed = Lexer.tokenize(source, file: "<input>")
        if lexed.endsInsideString || lexed.openBrackets > 0 { return .openBracketOrString }
        return inputState(ofTokens: lexed.tokens)
    }

    /// `.openBlock` when some `:` ends a line among `tokens` (lexed outside brackets and
    /// strings), else `.complete`.
    static func inputState(ofTokens tokens: [Token]) -> InputState {
        for (i, token) in tokens.enumerated() where token.isSymbol(":") {
            if i + 1 < tokens.count, tokens[i + 1].kind == .newline { return .openBlock }
        }
        return .complete
    }

    /// The evaluator thread's stack: reserved, not committed, so it costs address space only.
    /// 1000 nested calls of a small function need about 40 MB in a debug build; `StackBudget`
    /// turns anything deeper into an error well before the end.
    static let stackSize = 256 << 20

    /// Runs `body` on a thread with a `stackSize` stack, so that what the evaluator may do does
    /// not depend on the caller's thread (a test's main thread has 8 MB).
    ///
    /// The thread is joined, not just waited for: everything `body` captured is released
    /// before this returns (a semaphore signalled from inside the body let the thread outlive
    /// the call still holding the program, which LeakSanitizer rightly reported).
    static func onLargeStack<T>(_ body: @escaping () -> T) -> T {
        let box = ResultBox(body)
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(box as ThreadWork).toOpaque()
        let created = pthread_create(&thread, &attributes, { raw in
            guard let raw else { return nil }
            Unmanaged<ThreadWork>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, context)
        if created != 0 {
            // No thread (resources exhausted): run here, on the caller's stack.
            Unmanaged<ThreadWork>.fromOpaque(context).release()
            box.run()
            return box.take()
        }
        pthread_join(thread, nil)
        return box.take()
    }
}

/// Work for the evaluator thread, not generic so that a C thread entry point can run it.
private class ThreadWork: @unchecked Sendable {
    /// Runs the work.
    func run() {}
}

/// Carries a closure and its result between threads.
private final class ResultBox<T>: ThreadWork, @unchecked Sendable {
    private var value: T?
    private var body: (() -> T)?
    init(_ body: @escaping () -> T) { self.body = body }

    /// Runs the body once and drops it, so that what it captured is released on the thread.
    override func run() {
        guard let body else { return }
        self.body = nil
        value = body()
    }

    /// The result, given up by the box.
    func take() -> T {
        guard let value else { preconditionFailure("evaluator thread produced no result") }
        self.value = nil
        return value
    }
}
