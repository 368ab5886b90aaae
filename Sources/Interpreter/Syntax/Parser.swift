/// Parses tokens into a `Program`.
///
/// The command form: a statement (or the right side of an assignment, or a `return` value) that
/// starts with a name followed, after a space, by something that can start an argument is a call
/// whose arguments are separated by spaces: `gradcam model x layer="layer4"`. Operators bind
/// tighter than spaces, so `print a + b c` has two arguments. A `-` or `+` with a space before it
/// and none after it starts a new argument (`f -1` passes minus one; `f - 1` subtracts), and so
/// does a `(` or `[` after a space (`print (a) [b]` has two arguments; `f(a)` is a call).
public struct Parser {
    private var tokens: [Token]
    private var position = 0
    private var functionDepth = 0
    private var loopDepth = 0
    private var nesting = 0
    private var operators = 0
    private var commandArgument = false

    /// The deepest nesting of brackets, prefix operators and blocks accepted, so that parsing
    /// cannot overflow the stack.
    public static let maximumNesting = 100

    /// The most binary operators, calls, indexes and member accesses one statement may hold. Chains are parsed, checked and evaluated
    /// iteratively, but the tree of a chain is as deep as the chain is long and Swift releases it
    /// recursively; this bound keeps that release within a few MB of stack (measured in
    /// RobustnessTests) while a chain of 12,000 terms still runs.
    public static let maximumOperators = 50_000

    /// Creates a parser over lexed tokens (which must end with `.end`).
    public init(tokens: [Token]) {
        self.tokens = tokens
    }

    /// Lexes and parses a source text; the first syntax error is thrown as a `Diagnostic`.
    public static func parse(_ source: String, file: String, firstLine: Int = 1) throws -> Program {
        let lexed = Lexer.tokenize(source, file: file, firstLine: firstLine)
        var parser = Parser(tokens: lexed.tokens)
        do {
            let program = try parser.parseProgram()
            if let error = lexed.error { throw error }
            return program
        } catch let diagnostic as Diagnostic {
            // A lexical error explains a parse failure at the point where tokens stop.
            if let error = lexed.error { throw error }
            throw diagnostic
        }
    }

    /// Parses statements up to the end of the tokens.
    public mutating func parseProgram() throws -> Program {
        var statements: [Statement] = []
        while !check(.end) {
            if check(.newline) { position += 1; continue }
            statements.append(try statement())
        }
        return Program(statements: statements)
    }

    // MARK: - Token helpers

    private var current: Token { tokens[Swift.min(position, tokens.count - 1)] }
    private func peekToken(_ offset: Int = 1) -> Token {
        tokens[Swift.min(position + offset, tokens.count - 1)]
    }
    private func check(_ kind: TokenKind) -> Bool { current.kind == kind }
    private func checkSymbol(_ s: String) -> Bool { current.isSymbol(s) }
    private func checkKeyword(_ k: Keyword) -> Bool { current.isKeyword(k) }

    @discardableResult
    private mutating func advance() -> Token {
        let token = current
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    private func error(_ message: String, at token: Token? = nil) -> Diagnostic {
        let token = token ?? current
        var range = token.range
        range.length = Swift.max(range.length, 1)
        return Diagnostic(kind: .syntax, message: message, range: range)
    }

    private mutating func expectSymbol(_ s: String, _ context: String) throws -> Token {
        guard checkSymbol(s) else {
            throw error("expected `\(s)` \(context), found \(current.summary)")
        }
        return advance()
    }

    private mutating func identifier(_ context: String) throws -> (String, SourceRange) {
        guard case .identifier(let name) = current.kind else {
            if case .keyword(let k) = current.kind {
                throw error("expected a name \(context), found keyword `\(k.rawValue)` (keywords cannot be used as names)")
            }
            throw error("expected a name \(context), found \(current.summary)")
        }
        let token = advance()
        return (name, token.range)
    }

    private mutating func endOfStatement() throws {
        if check(.newline) { advance(); return }
        if check(.end) || check(.dedent) { return }
        throw error("expected end of line after the statement, found \(current.summary)")
    }

    // MARK: - Statements

    private mutating func statement() throws -> Statement {
        let token = current
        operators = 0
        switch token.kind {
        case .keyword(.if): return try ifStatement()
        case .keyword(.for): return try forStatement()
        case .keyword(.while): return try whileStatement()
        case .keyword(.def): return try defStatement()
        case .indent:
            throw error("unexpected indentation: this line is indented more than the one before it, but no block (`if`, `for`, `def`, …) was opened")
        case .keyword(.elif), .keyword(.else):
            throw error("`\(token.isKeyword(.elif) ? "elif" : "else")` without a matching `if` at the same indentation")
        default:
            let s = try simpleStatement()
            try endOfStatement()
            return s
        }
    }

    private mutating func simpleStatement() throws -> Statement {
        let token = current
        switch token.kind {
        case .keyword(.return):
            advance()
            guard functionDepth > 0 else { throw error("`return` outside a function", at: token) }
            if check(.newline) || check(.end) || check(.dedent) { return .return(nil, token.range) }
            return .return(try commandOrExpression(), token.range)
        case .keyword(.break):
            advance()
            guard loopDepth > 0 else { throw error("`break` outside a loop", at: token) }
            return .break(token.range)
        case .keyword(.continue):
            advance()
            guard loopDepth > 0 else { throw error("`continue` outside a loop", at: token) }
            return .continue(token.range)
        case .keyword(.pass):
            advance()
            return .pass(token.range)
        case .identifier(let name) where peekToken().isSymbol("="):
            advance()
            advance()
            if check(.newline) || check(.end) {
                throw error("expected a value after `=`, found \(current.summary)")
            }
            return .assign(name, try commandOrExpression(), token.range)
        default:
            let expression = try commandOrExpression()
            if checkSymbol("=") {
                throw error("cannot assign to this expression: only a plain name can be on the left of `=`",
                            at: current)
            }
            return .expression(expression)
        }
    }

    /// A block after `:`: an indented block on the next lines, or one simple statement on the
    /// same line.
    private mutating func block(after keyword: String) throws -> [Statement] {
        _ = try expectSymbol(":", "after the `\(keyword)` header")
        if check(.newline) {
            advance()
            guard check(.indent) else {
                throw error("expected an indented block after `\(keyword)`, found \(current.summary)")
            }
            advance()
            return try nested { parser in
                var body: [Statement] = []
                while !parser.check(.dedent) && !parser.check(.end) {
                    if parser.check(.newline) { parser.advance(); continue }
                    body.append(try parser.statement())
                }
                if parser.check(.dedent) { parser.advance() }
                return body
            }
        }
        let s = try simpleStatement()
        try endOfStatement()
        return [s]
    }

    private mutating func ifStatement() throws -> Statement {
        let start = advance()
        var branches: [(condition: ExpressionNode, body: [Statement])] = []
        let condition = try expression()
        branches.append((condition, try block(after: "if")))
        var elseBody: [Statement]?
        while checkKeyword(.elif) {
            advance()
            let c = try expression()
            branches.append((c, try block(after: "elif")))
        }
        if checkKeyword(.else) {
            advance()
            elseBody = try block(after: "else")
        }
        return .if(branches, elseBody: elseBody, start.range)
    }

    private mutating func forStatement() throws -> Statement {
        let start = advance()
        let (name, _) = try identifier("after `for`")
        guard checkKeyword(.in) else {
            throw error("expected `in` after `for \(name)`, found \(current.summary)")
        }
        advance()
        let sequence = try expression()
        loopDepth += 1
        defer { loopDepth -= 1 }
        return .for(name, sequence, try block(after: "for"), start.range)
    }

    private mutating func whileStatement() throws -> Statement {
        let start = advance()
        let condition = try expression()
        loopDepth += 1
        defer { loopDepth -= 1 }
        return .while(condition, try block(after: "while"), start.range)
    }

    private mutating func defStatement() throws -> Statement {
        advance()
        let (name, range) = try identifier("after `def`")
        _ = try expectSymbol("(", "after the function name")
        var parameters: [ParameterDeclaration] = []
        var parameterNames: Set<String> = []  // a set, so 10,000 parameters stay linear
        while !checkSymbol(")") {
            let (pname, prange) = try identifier("for a parameter")
            guard parameterNames.insert(pname).inserted else {
                throw Diagnostic(kind: .syntax, message: "duplicate parameter `\(pname)` in `def \(name)`",
                                 range: prange)
            }
            var defaultValue: ExpressionNode?
            if checkSymbol("=") {
                advance()
                defaultValue = try expression()
            } else if parameters.last?.defaultValue != nil {
                throw Diagnostic(kind: .syntax,
                                 message: "parameter `\(pname)` without a default follows a parameter with a default",
                                 range: prange)
            }
            parameters.append(ParameterDeclaration(name: pname, defaultValue: defaultValue, range: prange))
            if !checkSymbol(")") { _ = try expectSymbol(",", "between parameters") }
        }
        advance()
        let savedLoops = loopDepth
        loopDepth = 0
        functionDepth += 1
        defer {
            functionDepth -= 1
            loopDepth = savedLoops
        }
        let body = try block(after: "def")
        return .def(FunctionDeclaration(name: name, parameters: parameters, body: body, range: range))
    }

    // MARK: - Command form

    /// Whether `token`, following a name at the start of a statement, starts a command argument.
    private func startsCommandArgument(_ token: Token, followedBy next: Token) -> Bool {
        guard token.spaceBefore else { return false }
        if token.isKeyword(.not) && next.isKeyword(.in) { return false }
        switch token.kind {
        case .identifier, .number, .string: return true
        case .keyword(let k): return k == .true || k == .false || k == .none || k == .not
        case .symbol(let s):
            if s == "(" || s == "[" { return true }
            if s == "-" || s == "+" { return !token.spaceAfter }
            return false
        default: return false
        }
    }

    private func atEndOfCommand() -> Bool {
        switch current.kind {
        case .newline, .end, .dedent, .indent: return true
        default: return false
        }
    }

    private mutating func commandOrExpression() throws -> ExpressionNode {
        // `help for`, `help def`: the topics `help` lists include the keywords, which cannot be
        // names, so a keyword alone after `help` is its topic.
        if case .identifier("help") = current.kind, case .keyword(let k) = peekToken().kind, peekToken().spaceBefore,
           [.newline, .end, .dedent].contains(where: { peekToken(2).kind == $0 }) {
            let callee = advance()
            let topic = advance()
            return .call(.name("help", callee.range),
                         [ArgumentSyntax(name: nil, nameRange: nil, value: .string(k.rawValue, topic.range))],
                         command: true, callee.range.extended(to: topic.range))
        }
        if case .identifier(let name) = current.kind, startsCommandArgument(peekToken(), followedBy: peekToken(2)) {
            let callee = advance()
            if name == "time" {
                return .timed(try commandOrExpression(), callee.range)
            }
            var arguments: [ArgumentSyntax] = []
            while !atEndOfCommand() {
                if checkSymbol(":") || checkSymbol(")") || checkSymbol("]") || checkSymbol(",") {
                    throw error("unexpected \(current.summary) in the arguments of `\(name)`"
                                + (name == "with" ? PythonHabits.pointer(PythonHabits.with) : ""))
                }
                arguments.append(try argument(command: true))
            }
            let span = arguments.reduce(callee.range) { $0.extended(to: $1.value.range) }
            return .call(.name(name, callee.range), arguments, command: true, span)
        }
        return try expression()
    }

    private mutating func argument(command: Bool) throws -> ArgumentSyntax {
        if case .identifier(let key) = current.kind, peekToken().isSymbol("="),
           !command || !peekToken().spaceBefore {
            let keyToken = advance()
            advance()
            let value = command ? try commandArgumentExpression() : try expression()
            return ArgumentSyntax(name: key, nameRange: keyToken.range, value: value)
        }
        return ArgumentSyntax(name: nil, nameRange: nil,
                        value: command ? try commandArgumentExpression() : try expression())
    }

    private mutating func commandArgumentExpression() throws -> ExpressionNode {
        let saved = commandArgument
        commandArgument = true
        defer { commandArgument = saved }
        return try expression()
    }

    /// Whether the current token ends a command argument (a new argument starts after a space).
    private func splitsArgument() -> Bool {
        guard commandArgument, current.spaceBefore else { return false }
        if checkSymbol("-") || checkSymbol("+") { return !current.spaceAfter }
        return checkSymbol("(") || checkSymbol("[")
    }

    // MARK: - Expressions

    private mutating func nested<T>(_ body: (inout Parser) throws -> T) throws -> T {
        nesting += 1
        defer { nesting -= 1 }
        if nesting > Parser.maximumNesting {
            throw error("nested too deeply: more than \(Parser.maximumNesting) levels of brackets, prefix operators and blocks")
        }
        return try body(&self)
    }

    /// Counts one binary operator of the statement being parsed (see `maximumOperators`).
    private mutating func countOperator(_ token: Token) throws {
        operators += 1
        if operators > Parser.maximumOperators {
            throw error("statement too long: more than \(Parser.maximumOperators) operators; "
                        + "split the computation over several statements (or sum a list with `sum`)", at: token)
        }
    }

    /// Parses an expression (no command form; inside brackets spaces separate nothing).
    public mutating func expression() throws -> ExpressionNode {
        try nested { try $0.orExpression() }
    }

    private mutating func orExpression() throws -> ExpressionNode {
        var left = try andExpression()
        while checkKeyword(.or) {
            try countOperator(advance())
            let right = try andExpression()
            left = .or(left, right, left.range.extended(to: right.range))
        }
        return left
    }

    private mutating func andExpression() throws -> ExpressionNode {
        var left = try notExpression()
        while checkKeyword(.and) {
            try countOperator(advance())
            let right = try notExpression()
            left = .and(left, right, left.range.extended(to: right.range))
        }
        return left
    }

    private mutating func notExpression() throws -> ExpressionNode {
        if checkKeyword(.not) {
            let op = advance()
            let operand = try nested { try $0.notExpression() }
            return .unary(.not, operand, op.range.extended(to: operand.range))
        }
        return try comparison()
    }

    private mutating func comparison() throws -> ExpressionNode {
        var left = try additive()
        while true {
            let op: BinaryOperator
            let token = current
            switch token.kind {
            case .symbol("=="): op = .equal
            case .symbol("!="): op = .notEqual
            case .symbol("<"): op = .less
            case .symbol("<="): op = .lessEqual
            case .symbol(">"): op = .greater
            case .symbol(">="): op = .greaterEqual
            case .keyword(.in): op = .contains
            case .keyword(.not) where peekToken().isKeyword(.in):
                advance()
                op = .notContains
            default: return left
            }
            try countOperator(advance())
            let right = try additive()
            left = .binary(op, left, right, left.range.extended(to: right.range))
        }
    }

    private mutating func additive() throws -> ExpressionNode {
        var left = try multiplicative()
        while (checkSymbol("+") || checkSymbol("-")) && !splitsArgument() {
            let token = advance()
            try countOperator(token)
            let op: BinaryOperator = token.isSymbol("+") ? .add : .subtract
            let right = try multiplicative()
            left = .binary(op, left, right, left.range.extended(to: right.range))
        }
        return left
    }

    private mutating func multiplicative() throws -> ExpressionNode {
        var left = try unary()
        while true {
            let op: BinaryOperator
            switch current.kind {
            case .symbol("*"): op = .multiply
            case .symbol("/"): op = .divide
            case .symbol("//"): op = .floorDivide
            case .symbol("%"): op = .modulo
            default: return left
            }
            try countOperator(advance())
            let right = try unary()
            left = .binary(op, left, right, left.range.extended(to: right.range))
        }
    }

    private mutating func unary() throws -> ExpressionNode {
        if checkSymbol("-") || checkSymbol("+") {
            let token = advance()
            let operand = try nested { try $0.unary() }
            if case .number(let v, let r) = operand, token.isSymbol("-") {
                return .number(-v, token.range.extended(to: r))
            }
            return .unary(token.isSymbol("-") ? .negate : .plus, operand, token.range.extended(to: operand.range))
        }
        return try power()
    }

    private mutating func power() throws -> ExpressionNode {
        let base = try postfix()
        if checkSymbol("**") {
            advance()
            let exponent = try nested { try $0.unary() }
            return .binary(.power, base, exponent, base.range.extended(to: exponent.range))
        }
        return base
    }

    private mutating func postfix() throws -> ExpressionNode {
        var value = try primary()
        while true {
            if checkSymbol("("), !splitsArgument() {
                let open = advance()
                try countOperator(open)
                let saved = commandArgument
                commandArgument = false
                defer { commandArgument = saved }
                var arguments: [ArgumentSyntax] = []
                var sawKeyword = false  // a flag, not a search of `arguments`: linear in their number
                while !checkSymbol(")") {
                    if check(.end) { throw error("expected `)` to close the call's `(`", at: open) }
                    let arg = try nested { try $0.argument(command: false) }
                    sawKeyword = sawKeyword || arg.name != nil
                    if arg.name == nil, sawKeyword {
                        throw Diagnostic(kind: .syntax, message: "positional argument after a keyword argument",
                                         range: arg.value.range)
                    }
                    arguments.append(arg)
                    if !checkSymbol(")") { _ = try expectSymbol(",", "between arguments") }
                }
                let close = advance()
                value = .call(value, arguments, command: false, value.range.extended(to: close.range))
            } else if checkSymbol("["), !splitsArgument() {
                let open = advance()
                try countOperator(open)
                let saved = commandArgument
                commandArgument = false
                defer { commandArgument = saved }
                if checkSymbol(":") {
                    throw error("expected an index, found `:`" + PythonHabits.pointer(PythonHabits.multiAxisIndex))
                }
                let index = try expression()
                if checkSymbol(",") || checkSymbol(":") {
                    throw error("expected `]` to close the index, found \(current.summary)" + PythonHabits.pointer(PythonHabits.multiAxisIndex))
                }
                let close = try expectSymbol("]", "to close the index")
                value = .index(value, index, value.range.extended(to: open.range).extended(to: close.range))
            } else if checkSymbol(".") {
                try countOperator(advance())
                let (name, range) = try identifier("after `.`")
                value = .member(value, name, value.range.extended(to: range))
            } else {
                return value
            }
        }
    }

    private mutating func primary() throws -> ExpressionNode {
        let token = current
        switch token.kind {
        case .number(let v):
            advance()
            return .number(v, token.range)
        case .string(let s):
            advance()
            return .string(s, token.range)
        case .keyword(.true):
            advance()
            return .bool(true, token.range)
        case .keyword(.false):
            advance()
            return .bool(false, token.range)
        case .keyword(.none):
            advance()
            return .none(token.range)
        case .identifier(let name):
            advance()
            return .name(name, token.range)
        case .symbol("("):
            advance()
            let saved = commandArgument
            commandArgument = false
            defer { commandArgument = saved }
            let inner = try expression()
            _ = try expectSymbol(")", "to close the `(`")
            return inner
        case .symbol("["):
            advance()
            let saved = commandArgument
            commandArgument = false
            defer { commandArgument = saved }
            var elements: [ExpressionNode] = []
            while !checkSymbol("]") {
                if check(.end) { throw error("expected `]` to close the list", at: token) }
                elements.append(try expression())
                if !checkSymbol("]") { _ = try expectSymbol(",", "between list elements") }
            }
            let close = advance()
            return .list(elements, token.range.extended(to: close.range))
        case .end:
            throw error("unexpected end of input: expected a value")
        case .newline:
            throw error("expected a value, found end of line")
        default:
            throw error("expected a value, found \(token.summary)")
        }
    }
}
