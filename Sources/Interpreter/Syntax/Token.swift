/// The reserved words of CAMScript.
public enum Keyword: String, Sendable, CaseIterable {
    /// Each keyword, spelled as in source.
    case and, or, not, `if`, elif, `else`, `for`, `in`, def, `return`, `while`, `break`, `continue`,
         pass, `true`, `false`, none
}

/// What a token is.
public enum TokenKind: Sendable, Equatable {
    /// A name such as `model` or `gradcam`.
    case identifier(String)
    /// A number literal (all numbers are doubles).
    case number(Double)
    /// A string literal with escapes already decoded.
    case string(String)
    /// A reserved word.
    case keyword(Keyword)
    /// Punctuation or an operator, e.g. `(`, `==`, `**`.
    case symbol(String)
    /// The end of a logical line.
    case newline
    /// The start of a more indented block.
    case indent
    /// The end of an indented block.
    case dedent
    /// The end of the input.
    case end
}

/// One token with where it is and whether whitespace separates it from the previous token.
public struct Token: Sendable, Equatable {
    /// What the token is.
    public var kind: TokenKind
    /// Where it is in the source.
    public var range: SourceRange
    /// Whether spaces (or a line start) come directly before it; command-form parsing uses this.
    public var spaceBefore: Bool
    /// Whether spaces come directly after it (false at the end of a line).
    public var spaceAfter: Bool

    /// Creates a token.
    public init(kind: TokenKind, range: SourceRange, spaceBefore: Bool, spaceAfter: Bool) {
        self.kind = kind
        self.range = range
        self.spaceBefore = spaceBefore
        self.spaceAfter = spaceAfter
    }

    /// Whether the token is the symbol `s`.
    public func isSymbol(_ s: String) -> Bool { kind == .symbol(s) }

    /// Whether the token is the keyword `k`.
    public func isKeyword(_ k: Keyword) -> Bool { kind == .keyword(k) }

    /// A short description for error messages, e.g. `identifier "x"` or `"("`.
    public var summary: String {
        switch kind {
        case .identifier(let name): return "name `\(name)`"
        case .number(let value): return "number \(formatNumber(value))"
        case .string: return "a string"
        case .keyword(let k): return "keyword `\(k.rawValue)`"
        case .symbol(let s): return "`\(s)`"
        case .newline: return "end of line"
        case .indent: return "an indented block"
        case .dedent: return "end of block"
        case .end: return "end of input"
        }
    }
}
