import CAMRuntime
import Foundation

/// A runtime error on its way out of the evaluator, with where it happened and the call trace.
struct ScriptError: Error {
    var message: String
    var range: SourceRange?
    var kind: DiagnosticKind
    var trace: [Diagnostic.Note] = []

    var diagnostic: Diagnostic {
        Diagnostic(kind: kind, message: message, range: range, notes: trace)
    }
}

/// Non-local exits of `return`, `break` and `continue`.
enum ControlFlow: Error {
    case returned(Value)
    case breakLoop
    case continueLoop
}

/// The state of a session and the tree-walking evaluator.
final class SessionState: @unchecked Sendable {
    let registry: BuiltinRegistry
    let cancellation: CancellationFlag
    var output: OutputSink
    var environment: [String: String]
    var baseDirectory: String
    /// The folder the command was started in, for hints about relative paths (see `Session`).
    var workingDirectory: String?
    var currentCell: Int?
    /// The files loaded so far that reports name (see `CallContext.recordLoadedFile`).
    var provenance: [ProvenanceRecord] = []
    /// Whether loaded files are recorded (and hashed) for a report.
    var recordsProvenance = true
    /// The files the run has read, which its outputs must not replace.
    var inputFiles = InputFiles()
    var currentRange: SourceRange?
    /// Whether `files` or `dataset` listed items (this shard's, in a sharded run).
    var listsShardItems = false
    /// The notes said so far that are said once a session (see `CallContext.noteOnce`).
    var notesSaid: Set<String> = []
    /// How many `run` calls are under way (`run` nests at most `maximumRunDepth` deep).
    var runDepth = 0
    /// Above 0 while `run` executes a script: its values are not echoed, as with `camscript run`.
    var echoesSuppressed = 0
    let builtinScope: Scope
    let globals: Scope
    private var depth = 0
    /// What is left of the evaluating thread's stack: the limit that actually keeps the
    /// process alive (see `StackBudget`).
    var stack = StackBudget()

    /// The deepest chain of user function calls before "recursion too deep", Python's default:
    /// it makes runaway recursion fail fast with a predictable message. What protects the
    /// process is `stack`, which also stops fewer calls that each need much stack.
    static let maximumDepth = 1000

    /// The deepest nesting of lists a list literal may build: printing, comparing and releasing
    /// a value recurse once per level, so a bound keeps all three within a few hundred KB of
    /// stack whatever the program does (`x = [x]` in a loop).
    static let maximumListNesting = 1000

    init(registry: BuiltinRegistry, output: OutputSink, arguments: [String], baseDirectory: String,
         environment: [String: String], cancellation: CancellationFlag) {
        self.registry = registry
        self.output = output
        self.baseDirectory = baseDirectory
        self.environment = environment
        self.cancellation = cancellation
        builtinScope = Scope(parent: nil)
        for (name, builtin) in registry.builtins { builtinScope.values[name] = .builtin(builtin) }
        builtinScope.values["args"] = .list(arguments.map { .string($0) })
        builtinScope.values["builtins"] = .object(BuiltinNamespace(registry: registry))
        globals = Scope(parent: builtinScope)
    }

    var context: CallContext { CallContext(session: self) }

    func emit(_ kind: OutputItem.Kind) {
        output.emit(OutputItem(kind: kind, cell: currentCell, range: currentRange))
    }

    /// `path` as a script means it: absolute and `~/` paths as they are, relative ones against
    /// `folder` (the script's folder, `baseDirectory`, unless another is given).
    func resolvePath(_ path: String, against folder: String? = nil) -> String {
        if path.hasPrefix("/") { return path }
        if path == "~" || path.hasPrefix("~/") {
            let home = environment["HOME"] ?? NSHomeDirectory()
            return home + path.dropFirst()
        }
        let resolved = URL(fileURLWithPath: folder ?? baseDirectory).appendingPathComponent(path).standardized.path
        // Keep a trailing slash: `save x "out.png/"` names a folder, and must be refused as one
        // rather than write out.png.
        return path.hasSuffix("/") && !resolved.hasSuffix("/") ? resolved + "/" : resolved
    }

    func userVariables() -> [(name: String, value: Value)] {
        globals.values.keys.sorted().compactMap { name in globals.values[name].map { (name, $0) } }
    }

    // MARK: - Statements

    func execute(_ statements: [Statement], in scope: Scope) throws {
        for statement in statements {
            try execute(statement, in: scope)
        }
    }

    private func checkInterrupt(_ range: SourceRange) throws {
        if cancellation.isCancelled {
            throw ScriptError(message: "interrupted", range: range, kind: .interrupted)
        }
    }

    func execute(_ statement: Statement, in scope: Scope) throws {
        if cancellation.isCancelled { try checkInterrupt(statement.range) }
        if stack.isExhausted() { throw stackExhausted(statement.range) }
        if scope === globals { currentRange = statement.range }
        switch statement {
        case .expression(let expression):
            var value: Value
            if case .name(let name, let range) = expression, let v = scope.lookup(name), isCallable(v) {
                value = try call(v, name: name, [], range: range)
            } else {
                value = try evaluate(expression, in: scope)
            }
            if case .none = value { return }
            if scope === globals && echoesSuppressed == 0 { emit(.value(value.echo, value)) }
        case .assign(let name, let expression, _):
            scope.values[name] = try evaluate(expression, in: scope)
        case .if(let branches, let elseBody, _):
            for branch in branches where try truthy(branch.condition, in: scope) {
                try execute(branch.body, in: scope)
                return
            }
            if let elseBody { try execute(elseBody, in: scope) }
        case .for(let name, let sequenceExpression, let body, _):
            // Objects are asked for one element at a time, so that a stream (`batch` prefetching
            // its next batch) holds one element, not all of them.
            let sequenceValue = try evaluate(sequenceExpression, in: scope)
            let count: Int
            let element: (Int) throws -> Value
            var stream: ScriptObject?
            if case .object(let object) = sequenceValue, let n = object.elementCount {
                count = n
                element = { [self] index in try wrap(sequenceExpression.range) { try object.element(at: index) ?? .none } }
                if object.stopsBetweenElements { stream = object }
            } else {
                let items = try iterate(sequenceValue, sequenceExpression.range)
                count = items.count
                element = { items[$0] }
            }
            let loop = { [self] in
                for index in 0..<count {
                    if cancellation.isCancelled { try checkInterrupt(statement.range) }
                    if let stream, cancellation.stopIsRequested {
                        throw ScriptError(message: "interrupted after \(index) of \(count) \(stream.typeName) "
                                          + "(the one under way was finished first, as the first Ctrl-C asks)",
                                          range: statement.range, kind: .interrupted)
                    }
                    scope.values[name] = try element(index)
                    guard try runLoopBody(body, in: scope) else { break }
                }
            }
            if stream != nil { try cancellation.deferringInterrupts(loop) } else { try loop() }
        case .while(let condition, let body, _):
            while try truthy(condition, in: scope) {
                try checkInterrupt(statement.range)
                guard try runLoopBody(body, in: scope) else { break }
            }
        case .def(let declaration):
            scope.values[declaration.name] = .function(UserFunction(declaration: declaration, closure: scope))
        case .return(let expression, _):
            throw ControlFlow.returned(try expression.map { try evaluate($0, in: scope) } ?? .none)
        case .break:
            throw ControlFlow.breakLoop
        case .continue:
            throw ControlFlow.continueLoop
        case .pass:
            break
        }
    }

    /// Runs a loop's body once; false when it ran `break` (`continue` just ends the body).
    private func runLoopBody(_ body: [Statement], in scope: Scope) throws -> Bool {
        do {
            try execute(body, in: scope)
        } catch ControlFlow.breakLoop {
            return false
        } catch ControlFlow.continueLoop {}
        return true
    }

    private func truthy(_ expression: ExpressionNode, in scope: Scope) throws -> Bool {
        let value = try evaluate(expression, in: scope)
        do {
            return try value.isTruthy()
        } catch let error as UserFacingError {
            throw ScriptError(message: error.message, range: expression.range, kind: .runtime)
        }
    }

    private func iterate(_ value: Value, _ range: SourceRange) throws -> [Value] {
        switch value {
        case .list(let items): return items
        case .string(let s): return s.map { .string(String($0)) }
        case .tensor(let t):
            guard t.rank >= 1 else {
                throw ScriptError(message: "cannot loop over a tensor with no dimensions", range: range, kind: .runtime)
            }
            return (0..<t.shape[0]).map { t.rank == 1 ? numberValue(t.storage[$0]) : .tensor(t.slice($0)) }
        case .object(let o):
            if let count = o.elementCount {
                return try (0..<count).map { try o.element(at: $0) ?? .none }
            }
            fallthrough
        default:
            throw ScriptError(message: "cannot loop over \(value.typeName): expected a list, a string or a tensor",
                              range: range, kind: .runtime)
        }
    }

    // MARK: - Expressions

    /// The error for a program that needs more native stack than the interpreter's thread has.
    private func stackExhausted(_ range: SourceRange) -> ScriptError {
        ScriptError(message: "too deeply nested: this needs more than the interpreter's \(stack.sizeDescription) stack "
                    + "(\(depth) nested calls are under way); nest fewer calls and brackets",
                    range: range, kind: .runtime)
    }

    func evaluate(_ expression: ExpressionNode, in scope: Scope) throws -> Value {
        if stack.isExhausted() { throw stackExhausted(expression.range) }
        switch expression {
        case .number(let v, _): return .number(v)
        case .string(let s, _): return .string(s)
        case .bool(let b, _): return .bool(b)
        case .none: return .none
        case .name(let name, let range):
            guard let value = scope.lookup(name) else {
                var known = Array(scope.allNames)
                known.append(contentsOf: Keyword.allCases.map(\.rawValue))
                throw ScriptError(message: "undefined name `\(name)`" + (PythonHabits.name(name) ?? didYouMean(name, known)),
                                  range: range, kind: .runtime)
            }
            return value
        case .list(let elements, let range):
            let values = try elements.map { try evaluate($0, in: scope) }
            if values.contains(where: { if case .list = $0 { return true } else { return false } }),
               listNesting(of: values) > SessionState.maximumListNesting {
                throw ScriptError(message: "a list nested more than \(SessionState.maximumListNesting) levels deep "
                                  + "cannot be built; keep nested data flatter (a list of lists, or a tensor)",
                                  range: range, kind: .runtime)
            }
            return .list(values)
        case .unary(let op, let operand, let range):
            let value = try evaluate(operand, in: scope)
            return try wrap(range) { try Operators.unary(op, value) }
        case .binary:
            // A chain `a + b + … + z` is a left-deep tree: walk its left spine with a loop, so
            // that the chain's length costs no stack.
            var spine: [(op: BinaryOperator, right: ExpressionNode, range: SourceRange)] = []
            var leftmost = expression
            while case .binary(let op, let left, let right, let range) = leftmost {
                spine.append((op, right, range))
                leftmost = left
            }
            var value = try evaluate(leftmost, in: scope)
            for step in spine.reversed() {
                let l = value
                let r = try evaluate(step.right, in: scope)
                value = try wrap(step.range) { try Operators.binary(step.op, l, r) }
            }
            return value
        case .and, .or:
            return try evaluateLogicalChain(expression, in: scope)
        case .call(let calleeExpression, let arguments, _, let range):
            let callee = try evaluate(calleeExpression, in: scope)
            let name: String
            if case .name(let n, _) = calleeExpression { name = n } else { name = "this \(callee.typeName)" }
            var bareNameParameters: Set<Int> = []
            if case .builtin(let b) = callee {
                let positional = b.signature.parameters.filter { !$0.keywordOnly }
                for (i, p) in positional.enumerated() where p.acceptsBareName { bareNameParameters.insert(i) }
            }
            var values: [CallArgument] = []
            var positionalIndex = 0
            for argument in arguments {
                if argument.name == nil {
                    defer { positionalIndex += 1 }
                    if bareNameParameters.contains(positionalIndex), case .name(let n, _) = argument.value {
                        values.append(CallArgument(name: nil, value: .string(n)))
                        continue
                    }
                }
                values.append(CallArgument(name: argument.name, value: try evaluate(argument.value, in: scope)))
            }
            return try call(callee, name: name, values, range: range)
        case .index(let target, let indexExpression, let range):
            let value = try evaluate(target, in: scope)
            let index = try evaluate(indexExpression, in: scope)
            return try wrap(range) { try Operators.index(value, index) }
        case .member(let target, let name, let range):
            let value = try evaluate(target, in: scope)
            return try wrap(range) { try Operators.member(value, name) }
        case .timed(let inner, _):
            let start = DispatchTime.now().uptimeNanoseconds
            let value: Value
            if case .name(let name, let range) = inner, let v = scope.lookup(name), isCallable(v) {
                value = try call(v, name: name, [], range: range)
            } else {
                value = try evaluate(inner, in: scope)
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            emit(.text("time: " + formatDuration(elapsed)))
            return value
        }
    }

    /// Evaluates a chain of `and`/`or` with a loop over its left spine: `a and b and … ` of
    /// 44,000 terms (within the 50,000-operator limit) recursed once per term and ran out of
    /// stack (a fuzz finding). Short-circuiting is Python's: `and` goes on while the value so far
    /// is true, `or` while it is false, and the value returned is the last one evaluated.
    private func evaluateLogicalChain(_ expression: ExpressionNode, in scope: Scope) throws -> Value {
        var steps: [(isAnd: Bool, right: ExpressionNode)] = []
        var node = expression
        while true {
            if case .and(let left, let right, _) = node {
                steps.append((true, right))
                node = left
            } else if case .or(let left, let right, _) = node {
                steps.append((false, right))
                node = left
            } else {
                break
            }
        }
        var value = try evaluate(node, in: scope)
        var range = node.range
        for (isAnd, right) in steps.reversed() {
            let current = value
            let truthy = try wrap(range, { try current.isTruthy() })
            if truthy == isAnd { value = try evaluate(right, in: scope) }
            range = range.extended(to: right.range)
        }
        return value
    }

    private func wrap<T>(_ range: SourceRange, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ScriptError {
            throw error
        } catch let error as CancellationError {
            throw ScriptError(message: error.message, range: range, kind: .interrupted)
        } catch let error as ScriptIOError {
            throw ScriptError(message: error.message, range: range, kind: error.missing ? .missingFile : .io)
        } catch let error as UserFacingError {
            throw ScriptError(message: error.message, range: range, kind: .runtime)
        } catch let error as ControlFlow {
            throw error
        } catch {
            throw ScriptError(message: "\(error)", range: range, kind: .runtime)
        }
    }

    private func isCallable(_ value: Value) -> Bool {
        switch value {
        case .builtin, .function: return true
        default: return false
        }
    }

    // MARK: - Calls

    func callFromBuiltin(_ function: Value, _ arguments: [CallArgument]) throws -> Value {
        try call(function, name: "function", arguments, range: currentRange)
    }

    func call(_ callee: Value, name: String, _ arguments: [CallArgument], range: SourceRange?) throws -> Value {
        switch callee {
        case .builtin(let builtin):
            let signature = builtin.signature
            let fallback = range ?? SourceRange(file: "<builtin>", line: 1, column: 1, length: 1)
            return try wrap(fallback) {
                let bound = try signature.bind(arguments)
                do {
                    return try builtin.body(bound, context)
                } catch let error as ScriptError {
                    throw error
                } catch let error as ScriptIOError {
                    throw ScriptError(message: prefixed(signature.name, error.message), range: range,
                                      kind: error.missing ? .missingFile : .io)
                } catch let error as CancellationError {
                    throw error
                } catch let error as UserFacingError {
                    throw ScriptError(message: prefixed(signature.name, error.message), range: range, kind: .runtime)
                }
            }
        case .function(let function):
            return try callUser(function, arguments, range: range)
        default:
            let what = callee.typeName == "none" ? "none" : "a \(callee.typeName)"
            if registry.builtins[name] != nil, globals.values[name] != nil {
                // The user's assignment hid a builtin (`cam = gradcam …`, then `cam(model, x)`).
                throw ScriptError(message: "`\(name)` is your variable now (\(what)), which hides the builtin `\(name)`; "
                                  + "give the variable another name, or call the builtin as `builtins.\(name)(…)`",
                                  range: range, kind: .runtime)
            }
            throw ScriptError(message: "`\(name)` is \(what), not a function; it cannot take arguments",
                              range: range, kind: .runtime)
        }
    }

    private func prefixed(_ name: String, _ message: String) -> String {
        message.hasPrefix("\(name):") ? message : "\(name): \(message)"
    }

    private func callUser(_ function: UserFunction, _ arguments: [CallArgument], range: SourceRange?) throws -> Value {
        let declaration = function.declaration
        let signature = BuiltinSignature(
            name: declaration.name,
            parameters: declaration.parameters.map {
                Parameter($0.name, [.any], default: $0.defaultValue == nil ? nil : Value.none, doc: "")
            },
            category: "user", summary: "", example: "")
        let bound: BoundArguments
        do {
            bound = try signature.bind(arguments)
        } catch let error as UserFacingError {
            throw ScriptError(message: error.message, range: range, kind: .runtime)
        }
        guard depth < SessionState.maximumDepth else {
            throw ScriptError(message: "recursion too deep: more than \(SessionState.maximumDepth) nested calls (calling `\(declaration.name)`)",
                              range: range, kind: .runtime)
        }
        if stack.isExhausted() {
            throw ScriptError(message: "recursion too deep: \(depth) nested calls used up the interpreter's \(stack.sizeDescription) stack "
                              + "(calling `\(declaration.name)`)", range: range, kind: .runtime)
        }
        depth += 1
        defer { depth -= 1 }
        let scope = Scope(parent: function.closure)
        do {
            for p in declaration.parameters {
                if bound.isGiven(p.name) {
                    scope.values[p.name] = bound[p.name]
                } else if let d = p.defaultValue {
                    scope.values[p.name] = try evaluate(d, in: function.closure)
                }
            }
            try execute(declaration.body, in: scope)
            return .none
        } catch ControlFlow.returned(let value) {
            return value
        } catch var error as ScriptError {
            if error.trace.count < 20 {
                error.trace.append(Diagnostic.Note(message: "in call to `\(declaration.name)`", range: range))
            }
            throw error
        }
    }
}

/// How deeply `values` nest as the elements of one list (1 for a list of numbers), counted
/// with a loop rather than recursion; only lists are descended into.
func listNesting(of values: [Value]) -> Int {
    var deepest = 1
    var pending: [(items: [Value], level: Int)] = [(values, 1)]
    while let (items, level) = pending.popLast() {
        deepest = max(deepest, level)
        for case .list(let inner) in items { pending.append((inner, level + 1)) }
    }
    return deepest
}

/// "12.3 ms", "1.25 s", "2 min 3.4 s".
func formatDuration(_ seconds: Double) -> String {
    if seconds < 1e-3 { return String(format: "%.1f µs", seconds * 1e6) }
    if seconds < 1 { return String(format: "%.1f ms", seconds * 1e3) }
    if seconds < 60 { return String(format: "%.2f s", seconds) }
    return String(format: "%d min %.1f s", Int(seconds / 60), seconds.truncatingRemainder(dividingBy: 60))
}
