import CAMRuntime

/// An RGB picture that `show` can draw in a terminal: 8-bit samples, row-major, 3 per pixel.
public struct DisplayImage: Sendable, Equatable {
    /// The width in pixels.
    public var width: Int
    /// The height in pixels.
    public var height: Int
    /// `width * height * 3` bytes, red, green, blue for each pixel, rows from the top.
    public var rgb: [UInt8]

    /// Creates an image; `rgb.count` must be `width * height * 3`.
    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(width >= 0 && height >= 0 && rgb.count == width * height * 3,
                     "DisplayImage \(width)×\(height) needs \(width * height * 3) bytes, got \(rgb.count)")
        self.width = width
        self.height = height
        self.rgb = rgb
    }
}

/// A value of a runtime-backed type (image, CAM, model, prediction table) that the interpreter
/// handles without knowing its type.
///
/// Conform a type to it to make its values usable in scripts: members are read with `.`, the
/// echo shows `description`, tab completion lists `memberNames`, and `show` draws `displayImage`.
public protocol ScriptObject: Sendable {
    /// The type's name as scripts see it (`type(x)`, error messages), e.g. `"image"`.
    var typeName: String { get }
    /// A one-line summary shown when the value is echoed or printed, e.g. `image 451×300 RGB`.
    var description: String { get }
    /// The member called `name`, or `nil` when there is none (the interpreter then reports it
    /// with a did-you-mean from `memberNames`).
    func member(_ name: String) throws -> Value?
    /// The members that `member(_:)` answers, for completion and error messages.
    var memberNames: [String] { get }
    /// The picture `show` draws, if the value is one.
    var displayImage: DisplayImage? { get }
    /// A multi-line rendering used when the value is echoed (defaults to `description`), e.g.
    /// a prediction table's aligned rows.
    var echoDescription: String { get }
    /// The table a report draws for the value (`<table>`, a notebook's `text/html`), if it is one;
    /// terminals show `echoDescription`.
    var table: TextTable? { get }
    /// The number of elements `element(at:)` answers (for `len`, `for … in` and negative
    /// indices), or `nil` when the value cannot be indexed.
    var elementCount: Int? { get }
    /// The element at a non-negative index below `elementCount`.
    func element(at index: Int) throws -> Value?
    /// Whether Ctrl-C in a `for` loop over the value stops the loop before its next element
    /// instead of inside the body (a second Ctrl-C stops at once): true for streams whose
    /// elements are units of work worth finishing, as a dataset's batches.
    var stopsBetweenElements: Bool { get }
}

extension ScriptObject {
    /// Ctrl-C stops inside a loop's body by default.
    public var stopsBetweenElements: Bool { false }
    /// No members by default.
    public var memberNames: [String] { [] }
    /// Not drawable by default.
    public var displayImage: DisplayImage? { nil }
    /// The one-line description by default.
    public var echoDescription: String { description }
    /// Not a table by default.
    public var table: TextTable? { nil }
    /// Not indexable by default.
    public var elementCount: Int? { nil }
    /// No elements by default.
    public func element(at index: Int) throws -> Value? { nil }
}

/// A CAMScript value.
public enum Value: Sendable {
    /// A number; integers are numbers that print without `.0`.
    case number(Double)
    /// A string.
    case string(String)
    /// `true` or `false`.
    case bool(Bool)
    /// `none`.
    case none
    /// A list of values.
    case list([Value])
    /// A function defined with `def`.
    case function(UserFunction)
    /// A builtin function.
    indirect case builtin(Builtin)
    /// A Float32 tensor.
    case tensor(Tensor)
    /// A runtime-backed value (image, CAM, model, …).
    case object(any ScriptObject)

    /// The type's name as scripts see it.
    public var typeName: String {
        switch self {
        case .number: return "number"
        case .string: return "string"
        case .bool: return "bool"
        case .none: return "none"
        case .list: return "list"
        case .function: return "function"
        case .builtin: return "builtin"
        case .tensor: return "tensor"
        case .object(let o): return o.typeName
        }
    }

    /// How `print` shows the value (strings without quotes).
    public var printed: String {
        if case .string(let s) = self { return s }
        return repr
    }

    /// How the value shows inside lists and when echoed (strings quoted).
    public var repr: String {
        switch self {
        case .number(let v): return formatNumber(v)
        case .string(let s): return quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .none: return "none"
        case .list(let items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case .function(let f): return "<function \(f.signatureText)>"
        case .builtin(let b): return "<builtin \(b.signature.name)>"
        case .tensor(let t): return tensorSummary(t)
        case .object(let o): return o.description
        }
    }

    /// How the REPL echoes the value (multi-line for tables).
    public var echo: String {
        if case .object(let o) = self { return o.echoDescription }
        return repr
    }

    /// Python-like truthiness: `false`, `none`, `0`, `""` and `[]` are false.
    public func isTruthy() throws -> Bool {
        switch self {
        case .bool(let b): return b
        case .none: return false
        case .number(let v): return v != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.isEmpty
        case .tensor:
            throw RuntimeError("a tensor is neither true nor false; compare one of its numbers, e.g. `t.max > 0`")
        default: return true
        }
    }

    /// The number as an integer if it is one.
    public var integerValue: Int? {
        guard case .number(let v) = self, v.rounded() == v, abs(v) < 9.0e15 else { return nil }
        return Int(v)
    }
}

/// Formats a number the way CAMScript prints it: integers without `.0`, others in the shortest
/// form that reads back the same.
public func formatNumber(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value.rounded() == value && abs(value) < 1e15 {
        return value == 0 ? "0" : String(Int(value))
    }
    return String(value)
}

/// `tensor 3×224×224 min -2.1 max 2.6 mean 0.05`: the shape and statistics, numbers printed
/// as CAMScript prints them.
public func tensorSummary(_ t: Tensor) -> String {
    let dims = t.shape.isEmpty ? "scalar" : t.shape.map(String.init).joined(separator: "×")
    guard t.count > 0 else { return "tensor \(dims) (empty)" }
    func f(_ v: Float) -> String { numberValue(v).repr }
    return "tensor \(dims) min \(f(t.min)) max \(f(t.max)) mean \(f(t.mean))"
}

/// A number from a Float32 statistic, rounded to the shortest decimal that reads back as the same
/// Float (so 0.1f prints as 0.1, not 0.10000000149011612).
public func numberValue(_ value: Float) -> Value {
    .number(Double(value.description) ?? Double(value))
}

/// A string in double quotes with escapes, as written in source.
func quote(_ s: String) -> String {
    var out = "\""
    for c in s {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default: out.append(c)
        }
    }
    return out + "\""
}

/// A function defined with `def`, with the scope it was defined in.
public final class UserFunction: @unchecked Sendable {
    /// Its declaration.
    public let declaration: FunctionDeclaration
    /// The scope it closes over.
    let closure: Scope

    init(declaration: FunctionDeclaration, closure: Scope) {
        self.declaration = declaration
        self.closure = closure
    }

    /// `name(a, b=…)`.
    public var signatureText: String {
        let params = declaration.parameters.map { p in
            p.defaultValue == nil ? p.name : "\(p.name)=…"
        }
        return "\(declaration.name)(\(params.joined(separator: ", ")))"
    }
}

/// Variables of one scope, chained to the enclosing one.
final class Scope: @unchecked Sendable {
    var values: [String: Value] = [:]
    let parent: Scope?

    init(parent: Scope?) {
        self.parent = parent
    }

    func lookup(_ name: String) -> Value? {
        if let v = values[name] { return v }
        return parent?.lookup(name)
    }

    /// Every name visible from this scope.
    var allNames: Set<String> {
        var names = parent?.allNames ?? []
        names.formUnion(values.keys)
        return names
    }
}
