/// A binary operator.
public enum BinaryOperator: String, Sendable {
    /// Arithmetic: `+ - * / // % **`.
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//",
         modulo = "%", power = "**"
    /// Comparison: `== != < <= > >=`.
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">",
         greaterEqual = ">="
    /// Membership: `in`, `not in` (the left operand is the element).
    case contains = "in", notContains = "not in"
}

/// A unary operator.
public enum UnaryOperator: String, Sendable {
    /// `-x`, `+x`, `not x`.
    case negate = "-", plus = "+", not = "not"
}

/// One argument of a call: positional (`name == nil`) or keyword (`key=value`).
public struct ArgumentSyntax: Sendable {
    /// The keyword, for `key=value`.
    public var name: String?
    /// The range of the keyword, for `key=value`.
    public var nameRange: SourceRange?
    /// The value.
    public var value: ExpressionNode
}

/// An expression node; every node keeps its source range for diagnostics.
public indirect enum ExpressionNode: Sendable {
    /// A number literal.
    case number(Double, SourceRange)
    /// A string literal.
    case string(String, SourceRange)
    /// `true` or `false`.
    case bool(Bool, SourceRange)
    /// `none`.
    case none(SourceRange)
    /// A variable or builtin name.
    case name(String, SourceRange)
    /// `[a, b, …]`.
    case list([ExpressionNode], SourceRange)
    /// A prefix operator applied to an operand.
    case unary(UnaryOperator, ExpressionNode, SourceRange)
    /// An infix operator applied to two operands.
    case binary(BinaryOperator, ExpressionNode, ExpressionNode, SourceRange)
    /// `a and b` (short-circuit).
    case and(ExpressionNode, ExpressionNode, SourceRange)
    /// `a or b` (short-circuit).
    case or(ExpressionNode, ExpressionNode, SourceRange)
    /// A call in either form; `command` is true for the space-separated form.
    case call(ExpressionNode, [ArgumentSyntax], command: Bool, SourceRange)
    /// `target[index]`.
    case index(ExpressionNode, ExpressionNode, SourceRange)
    /// `target.name`.
    case member(ExpressionNode, String, SourceRange)
    /// `time STATEMENT`: evaluates the inner expression and reports how long it took.
    case timed(ExpressionNode, SourceRange)

    /// Where the expression is (the operator or the callee for compound expressions).
    public var range: SourceRange {
        switch self {
        case .number(_, let r), .string(_, let r), .bool(_, let r), .none(let r), .name(_, let r),
             .list(_, let r), .unary(_, _, let r), .binary(_, _, _, let r), .and(_, _, let r),
             .or(_, _, let r), .call(_, _, _, let r), .index(_, _, let r), .member(_, _, let r),
             .timed(_, let r):
            return r
        }
    }
}

/// A parameter of a user function: a name and an optional default value.
public struct ParameterDeclaration: Sendable {
    /// The name.
    public var name: String
    /// The default value expression, evaluated at each call that omits the argument.
    public var defaultValue: ExpressionNode?
    /// Where the parameter is declared.
    public var range: SourceRange
}

/// A `def` statement's content.
public struct FunctionDeclaration: Sendable {
    /// The function's name.
    public var name: String
    /// Its parameters in order.
    public var parameters: [ParameterDeclaration]
    /// Its body.
    public var body: [Statement]
    /// Where the name is declared.
    public var range: SourceRange
}

/// A statement node.
public indirect enum Statement: Sendable {
    /// An expression (or command) whose value is echoed in the REPL.
    case expression(ExpressionNode)
    /// `name = value`.
    case assign(String, ExpressionNode, SourceRange)
    /// `if`/`elif` branches in order and the optional `else` block.
    case `if`([(condition: ExpressionNode, body: [Statement])], elseBody: [Statement]?, SourceRange)
    /// `for name in sequence:` with its block.
    case `for`(String, ExpressionNode, [Statement], SourceRange)
    /// `while condition:` with its block.
    case `while`(ExpressionNode, [Statement], SourceRange)
    /// `def name(params):` with its block.
    case def(FunctionDeclaration)
    /// `return [value]`.
    case `return`(ExpressionNode?, SourceRange)
    /// `break`.
    case `break`(SourceRange)
    /// `continue`.
    case `continue`(SourceRange)
    /// `pass`.
    case pass(SourceRange)

    /// Where the statement starts.
    public var range: SourceRange {
        switch self {
        case .expression(let e): return e.range
        case .assign(_, _, let r), .if(_, _, let r), .for(_, _, _, let r), .while(_, _, let r),
             .return(_, let r), .break(let r), .continue(let r), .pass(let r):
            return r
        case .def(let f): return f.range
        }
    }
}

/// A parsed source text.
public struct Program: Sendable {
    /// The top-level statements.
    public var statements: [Statement]
}
