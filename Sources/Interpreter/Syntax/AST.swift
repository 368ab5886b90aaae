/// A binary operator.
public enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//",
         modulo = "%", power = "**"
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">",
         greaterEqual = ">="
    case contains = "in", notContains = "not in"
}

/// A unary operator.
public enum UnaryOperator: String, Sendable {
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
    case number(Double, SourceRange)
    case string(String, SourceRange)
    case bool(Bool, SourceRange)
    case none(SourceRange)
    case name(String, SourceRange)
    case list([ExpressionNode], SourceRange)
    case unary(UnaryOperator, ExpressionNode, SourceRange)
    case binary(BinaryOperator, ExpressionNode, ExpressionNode, SourceRange)
    case and(ExpressionNode, ExpressionNode, SourceRange)
    case or(ExpressionNode, ExpressionNode, SourceRange)
    /// A call in either form; `command` is true for the space-separated form.
    case call(ExpressionNode, [ArgumentSyntax], command: Bool, SourceRange)
    case index(ExpressionNode, ExpressionNode, SourceRange)
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
    case expression(ExpressionNode)
    case assign(String, ExpressionNode, SourceRange)
    case `if`([(condition: ExpressionNode, body: [Statement])], elseBody: [Statement]?, SourceRange)
    case `for`(String, ExpressionNode, [Statement], SourceRange)
    case `while`(ExpressionNode, [Statement], SourceRange)
    case def(FunctionDeclaration)
    case `return`(ExpressionNode?, SourceRange)
    case `break`(SourceRange)
    case `continue`(SourceRange)
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
