/// Finds errors that can be seen without running: undefined names, and calls of builtins with
/// unknown keywords or too many or too few arguments.
///
/// Top-level names count as defined from the statement that assigns them on (any branch of an
/// `if`, any loop body); inside a `def`, its parameters, its own assignments and every top-level
/// name of the script are visible (the function may be called after they are assigned).
public struct Checker {
    private let registry: BuiltinRegistry
    private var diagnostics: [Diagnostic] = []
    private var allTopLevel: Set<String> = []
    private var stack = StackBudget()
    private var reportedStack = false

    /// Creates a checker for scripts that run with `registry`.
    public init(registry: BuiltinRegistry) {
        self.registry = registry
    }

    /// Checks the programs of a script's cells in order; `predefined` are names already bound
    /// (besides builtins and `args`).
    public mutating func check(_ programs: [Program], predefined: Set<String> = []) -> [Diagnostic] {
        // On the evaluator's large stack, so that `check` accepts what `run` can run.
        let start = self
        let (checked, found) = Session.onLargeStack { () -> (Checker, [Diagnostic]) in
            var checker = start
            let found = checker.checkHere(programs, predefined: predefined)
            return (checker, found)
        }
        self = checked
        return found
    }

    private mutating func checkHere(_ programs: [Program], predefined: Set<String>) -> [Diagnostic] {
        diagnostics = []
        reportedStack = false
        allTopLevel = predefined
        for program in programs { Checker.collectAssigned(program.statements, into: &allTopLevel) }
        var defined = predefined.union(registry.builtins.keys).union(["args", "builtins"])  // keys: no sorting
        for program in programs { check(program.statements, defined: &defined, inFunction: false) }
        return diagnostics
    }

    static func collectAssigned(_ statements: [Statement], into names: inout Set<String>) {
        for s in statements {
            switch s {
            case .assign(let name, _, _): names.insert(name)
            case .def(let f): names.insert(f.name)
            case .for(let name, _, let body, _):
                names.insert(name)
                collectAssigned(body, into: &names)
            case .while(_, let body, _): collectAssigned(body, into: &names)
            case .if(let branches, let elseBody, _):
                for b in branches { collectAssigned(b.body, into: &names) }
                if let elseBody { collectAssigned(elseBody, into: &names) }
            default: break
            }
        }
    }

    private mutating func check(_ statements: [Statement], defined: inout Set<String>, inFunction: Bool) {
        for s in statements {
            switch s {
            case .expression(let e):
                check(e, defined)
            case .assign(let name, let e, _):
                check(e, defined)
                defined.insert(name)
            case .if(let branches, let elseBody, _):
                var after = defined
                for b in branches {
                    check(b.condition, defined)
                    var inner = defined
                    check(b.body, defined: &inner, inFunction: inFunction)
                    after.formUnion(inner)
                }
                if let elseBody {
                    var inner = defined
                    check(elseBody, defined: &inner, inFunction: inFunction)
                    after.formUnion(inner)
                }
                defined = after
            case .for(let name, let sequence, let body, _):
                check(sequence, defined)
                defined.insert(name)
                Checker.collectAssigned(body, into: &defined)
                check(body, defined: &defined, inFunction: inFunction)
            case .while(let condition, let body, _):
                Checker.collectAssigned(body, into: &defined)
                check(condition, defined)
                check(body, defined: &defined, inFunction: inFunction)
            case .def(let f):
                defined.insert(f.name)
                var inner = defined.union(allTopLevel).union(f.parameters.map(\.name))
                for p in f.parameters { if let d = p.defaultValue { check(d, defined) } }
                Checker.collectAssigned(f.body, into: &inner)
                check(f.body, defined: &inner, inFunction: true)
            case .return(let e, _):
                if let e { check(e, defined) }
            case .break, .continue, .pass:
                break
            }
        }
    }

    private mutating func check(_ e: ExpressionNode, _ defined: Set<String>) {
        if stack.isExhausted() {
            if !reportedStack {
                reportedStack = true
                diagnostics.append(Diagnostic(kind: .syntax,
                                              message: "too deeply nested to check with this thread's \(stack.sizeDescription) stack",
                                              range: e.range))
            }
            return
        }
        switch e {
        case .number, .string, .bool, .none: break
        case .name(let name, let range):
            if !defined.contains(name) {
                diagnostics.append(Diagnostic(kind: .resolution,
                                              message: "undefined name `\(name)`" + (PythonHabits.name(name) ?? didYouMean(name, defined)),
                                              range: range))
            }
        case .list(let items, _): for i in items { check(i, defined) }
        case .unary(_, let x, _): check(x, defined)
        case .binary, .and, .or:
            // Chains are left-deep trees as deep as they are long: walk the left spine in a loop.
            var rights: [ExpressionNode] = []
            var leftmost = e
            while true {
                switch leftmost {
                case .binary(_, let l, let r, _), .and(let l, let r, _), .or(let l, let r, _):
                    rights.append(r)
                    leftmost = l
                    continue
                default: break
                }
                break
            }
            check(leftmost, defined)
            for r in rights.reversed() { check(r, defined) }
        case .index(let t, let i, _):
            check(t, defined)
            check(i, defined)
        case .member(let t, _, _): check(t, defined)
        case .timed(let inner, _): check(inner, defined)
        case .call(let callee, let arguments, _, let range):
            var bareName: Set<Int> = []
            if case .name(let name, _) = callee, !allTopLevel.contains(name), let builtin = registry.builtins[name] {
                checkArguments(builtin.signature, arguments, range)
                let positional = builtin.signature.parameters.filter { !$0.keywordOnly }
                for (i, p) in positional.enumerated() where p.acceptsBareName { bareName.insert(i) }
            }
            check(callee, defined)
            var position = 0
            for a in arguments {
                if a.name == nil {
                    defer { position += 1 }
                    if bareName.contains(position), case .name = a.value { continue }
                }
                check(a.value, defined)
            }
        }
    }

    private mutating func checkArguments(_ s: BuiltinSignature, _ arguments: [ArgumentSyntax], _ range: SourceRange) {
        var given: Set<String> = []
        let isParameter = s.parameterLookup()
        for a in arguments {
            guard let key = a.name else { continue }
            if !isParameter(key) && s.extraKeywords == nil {
                diagnostics.append(Diagnostic(kind: .resolution, message: s.unknownKeywordMessage(key),
                                              range: a.nameRange ?? range))
            }
            given.insert(key)
        }
        let positional = s.parameters.filter { !$0.keywordOnly }
        let count = arguments.filter { $0.name == nil }.count
        if s.variadic == nil && count > positional.count {
            diagnostics.append(Diagnostic(kind: .resolution,
                                          message: "\(s.name): takes at most \(positional.count) positional argument\(positional.count == 1 ? "" : "s"), got \(count)",
                                          range: range))
            return
        }
        for (i, p) in positional.enumerated() where p.isRequired && i >= count && !given.contains(p.name) {
            diagnostics.append(Diagnostic(kind: .resolution,
                                          message: "\(s.name): missing argument `\(p.name)` (\(p.typePhrase)); usage: \(s.usage)",
                                          range: range))
            return
        }
    }
}
