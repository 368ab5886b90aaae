import CAMRuntime
import Foundation

/// A type a builtin parameter accepts.
public enum ParameterType: Sendable, Equatable {
    /// Any value.
    case any
    /// A number.
    case number
    /// A whole number.
    case integer
    /// A string.
    case string
    /// `true` or `false`.
    case bool
    /// A list.
    case list
    /// A builtin or a user function.
    case callable
    /// A tensor.
    case tensor
    /// A runtime object whose `typeName` is the given name (e.g. `"image"`).
    case object(String)

    /// The name used in messages: "a number", "an image".
    public var phrase: String {
        switch self {
        case .any: return "any value"
        case .number: return "a number"
        case .integer: return "a whole number"
        case .string: return "a string"
        case .bool: return "true or false"
        case .list: return "a list"
        case .callable: return "a function"
        case .tensor: return "a tensor"
        case .object(let name):
            let vowel = name.first.map { "aeiou".contains($0) } ?? false
            return (vowel ? "an " : "a ") + name
        }
    }

    /// Whether `value` is of this type.
    public func accepts(_ value: Value) -> Bool {
        switch (self, value) {
        case (.any, _), (.number, .number), (.string, .string), (.bool, .bool), (.list, .list),
             (.callable, .builtin), (.callable, .function), (.tensor, .tensor):
            return true
        case (.integer, .number):
            return value.integerValue != nil
        case (.object(let name), .object(let o)):
            return o.typeName == name
        default:
            return false
        }
    }
}

/// One parameter of a builtin's signature.
public struct Parameter: Sendable {
    /// The name, also the keyword for `name=value`.
    public var name: String
    /// The accepted types (any one of them).
    public var types: [ParameterType]
    /// The default, or `nil` when the argument is required.
    public var defaultValue: Value?
    /// Whether the argument can only be given as `name=value`.
    public var keywordOnly: Bool
    /// Whether a bare name given here is passed as its spelling (as a string) instead of being
    /// evaluated, as for `help gradcam`.
    public var acceptsBareName: Bool
    /// One sentence about the parameter, for `help`.
    public var doc: String

    /// Creates a parameter.
    public init(_ name: String, _ types: [ParameterType], default defaultValue: Value? = nil,
                keywordOnly: Bool = false, acceptsBareName: Bool = false, doc: String) {
        self.name = name
        self.types = types
        self.defaultValue = defaultValue
        self.keywordOnly = keywordOnly
        self.acceptsBareName = acceptsBareName
        self.doc = doc
    }

    /// Whether the argument must be given.
    public var isRequired: Bool { defaultValue == nil }

    /// "a number or a string".
    public var typePhrase: String {
        let shown = types.count > 1 ? types.filter { $0 != .any } : types
        let phrases = shown.map(\.phrase)
        guard phrases.count > 1 else { return phrases.first ?? "any value" }
        return phrases.dropLast().joined(separator: ", ") + " or " + (phrases.last ?? "")
    }
}

/// The declaration of a builtin: its parameters and documentation. Argument binding, type
/// checking, `help` and completion all come from it.
public struct BuiltinSignature: Sendable {
    /// The name scripts call it by.
    public var name: String
    /// The positional-or-keyword and keyword-only parameters, in order.
    public var parameters: [Parameter]
    /// The parameter collecting extra positional arguments, if any (as a list).
    public var variadic: Parameter?
    /// What keyword arguments that are not parameters mean, when the builtin takes any name
    /// (`record out item score=0.3 label="cat"`: the row's columns); `nil` refuses them.
    public var extraKeywords: Parameter?
    /// The group `help` lists it under, e.g. "Basics", "Tensors", "CAM methods".
    public var category: String
    /// One line saying what it does.
    public var summary: String
    /// One paragraph of explanation.
    public var details: String
    /// For CAM methods: the formula.
    public var formula: String?
    /// For CAM methods: the paper.
    public var paper: String?
    /// A line of CAMScript showing a typical use.
    public var example: String
    /// Keyword arguments that were renamed: the old name, and the message that says the new one
    /// and why (given instead of "unknown keyword argument").
    public var renamed: [String: String] = [:]
    /// Keyword arguments that a sibling builtin takes but this one does not (ScoreCAM's
    /// `batch_size=` given to `gradcam`), and the message that says which ones take it.
    public var notApplicable: [String: String] = [:]

    /// Creates a signature.
    public init(name: String, parameters: [Parameter] = [], variadic: Parameter? = nil, extraKeywords: Parameter? = nil,
                category: String, summary: String, details: String = "", formula: String? = nil,
                paper: String? = nil, example: String, renamed: [String: String] = [:]) {
        self.renamed = renamed
        self.extraKeywords = extraKeywords
        self.name = name
        self.parameters = parameters
        self.variadic = variadic
        self.category = category
        self.summary = summary
        self.details = details
        self.formula = formula
        self.paper = paper
        self.example = example
    }

    /// The usage line, e.g. `gradcam MODEL X [layer=…] [target=…]`.
    public var usage: String {
        var parts = [name]
        for p in parameters where !p.keywordOnly && p.isRequired { parts.append(p.name.uppercased()) }
        if let v = variadic { parts.append("\(v.name.uppercased())…") }
        for p in parameters where p.keywordOnly || !p.isRequired {
            parts.append("[\(p.name)=\(p.defaultValue.map { $0.repr } ?? "…")]")
        }
        if extraKeywords != nil { parts.append("[NAME=VALUE…]") }
        return parts.joined(separator: " ")
    }

    /// The names accepted as keywords.
    public var keywordNames: [String] { parameters.map(\.name) }
}

/// A builtin function: a signature and the Swift code that runs it.
public struct Builtin: Sendable {
    /// The declaration.
    public var signature: BuiltinSignature
    /// The implementation; arguments arrive bound and type-checked.
    public var body: @Sendable (BoundArguments, CallContext) throws -> Value

    /// Creates a builtin.
    public init(_ signature: BuiltinSignature,
                body: @escaping @Sendable (BoundArguments, CallContext) throws -> Value) {
        self.signature = signature
        self.body = body
    }
}

/// The arguments of one call, bound to a builtin's parameters and type-checked.
public struct BoundArguments: Sendable {
    /// The callee's name, for error messages.
    public let callee: String
    /// The value of every parameter (given or default).
    public let values: [String: Value]
    /// The names of the parameters the caller gave explicitly.
    public let given: Set<String>
    /// The extra positional arguments collected by a variadic parameter.
    public let variadic: [Value]
    /// The keyword arguments that are not parameters, in the order given (with
    /// `extraKeywords`).
    public let extraKeywords: [(name: String, value: Value)]

    /// `variadic` with the items of lists in place of the lists (`hstack(a, [b, c])`).
    public var flattenedVariadic: [Value] {
        variadic.flatMap { value -> [Value] in
            if case .list(let items) = value { return items }
            return [value]
        }
    }

    /// Creates bound arguments (the interpreter's binder normally does this).
    public init(callee: String, values: [String: Value], given: Set<String>, variadic: [Value],
                extraKeywords: [(name: String, value: Value)] = []) {
        self.callee = callee
        self.values = values
        self.given = given
        self.variadic = variadic
        self.extraKeywords = extraKeywords
    }

    /// The value of a parameter (`none` when it has none).
    public subscript(_ name: String) -> Value { values[name] ?? .none }

    /// Whether the caller gave the argument.
    public func isGiven(_ name: String) -> Bool { given.contains(name) }

    /// Whether the argument is `none` (not given and defaulting to `none`, or given as `none`).
    public func isNone(_ name: String) -> Bool {
        if case .none = self[name] { return true }
        return false
    }

    private func mismatch(_ name: String, _ expected: String) -> RuntimeError {
        RuntimeError("\(callee): argument `\(name)` must be \(expected), got \(self[name].typeName)")
    }

    /// The argument as a number.
    public func number(_ name: String) throws -> Double {
        guard case .number(let v) = self[name] else { throw mismatch(name, "a number") }
        return v
    }

    /// The argument as a whole number.
    public func integer(_ name: String) throws -> Int {
        guard let v = self[name].integerValue else {
            if case .number(let d) = self[name] {
                throw RuntimeError("\(callee): argument `\(name)` must be a whole number, got \(formatNumber(d))")
            }
            throw mismatch(name, "a whole number")
        }
        return v
    }

    /// The argument as a string.
    public func string(_ name: String) throws -> String {
        guard case .string(let v) = self[name] else { throw mismatch(name, "a string") }
        return v
    }

    /// The argument as a bool.
    public func bool(_ name: String) throws -> Bool {
        guard case .bool(let v) = self[name] else { throw mismatch(name, "true or false") }
        return v
    }

    /// The argument as a list.
    public func list(_ name: String) throws -> [Value] {
        guard case .list(let v) = self[name] else { throw mismatch(name, "a list") }
        return v
    }

    /// The argument as a tensor.
    public func tensor(_ name: String) throws -> Tensor {
        guard case .tensor(let v) = self[name] else { throw mismatch(name, "a tensor") }
        return v
    }

    /// The argument as a runtime object of type `T`.
    public func object<T: ScriptObject>(_ name: String, as type: T.Type) throws -> T {
        guard case .object(let o) = self[name], let typed = o as? T else {
            throw RuntimeError("\(callee): argument `\(name)` has the wrong type: got \(self[name].typeName)")
        }
        return typed
    }
}

/// The best match for a misspelled name among `candidates`, by the one rule every
/// "did you mean" uses (`NameMatching`).
public func closestMatch<Candidates: Sequence>(to name: String, in candidates: Candidates) -> String?
where Candidates.Element == String {
    NameMatching.best(for: name, in: candidates)
}

/// " did you mean `x`?" or "".
func didYouMean<Candidates: Sequence>(_ name: String, _ candidates: Candidates) -> String
where Candidates.Element == String {
    closestMatch(to: name, in: candidates).map { "; did you mean `\($0)`?" } ?? ""
}

/// An argument before binding: its keyword (if any) and value.
public struct CallArgument: Sendable {
    /// The keyword of `key=value`, or `nil` for a positional argument.
    public var name: String?
    /// The value.
    public var value: Value
    /// Creates an argument.
    public init(name: String?, value: Value) {
        self.name = name
        self.value = value
    }
}

extension BuiltinSignature {
    /// The message for a keyword argument this builtin does not take: renamed, taken only by
    /// sibling builtins, a Python habit, or a did-you-mean; the same for `check` and at run time.
    public func unknownKeywordMessage(_ key: String) -> String {
        if let message = renamed[key] { return "\(name): `\(key)=` is now `" + message }
        if let message = notApplicable[key] { return "\(name): \(message)" }
        let known = parameters.map(\.name)
        let hint = PythonHabits.keyword(key) ?? didYouMean(key, known)
        let list = known.isEmpty ? "it takes no keyword arguments"
            : "known: " + known.map { "`\($0)`" }.joined(separator: ", ")
        return "\(name): unknown keyword argument `\(key)`" + (hint.isEmpty ? " (\(list))" : hint)
    }

    /// Binds call arguments to the parameters and checks their types, with one distinct message
    /// per kind of mistake (unknown keyword, given twice, too many, missing, wrong type).
    public func bind(_ arguments: [CallArgument]) throws -> BoundArguments {
        var values: [String: Value] = [:]
        var given: Set<String> = []
        var variadicValues: [Value] = []
        var extraValues: [(name: String, value: Value)] = []
        let positionalParameters = parameters.filter { !$0.keywordOnly }
        var nextPositional = 0
        let isParameter = parameterLookup()
        for argument in arguments {
            if let key = argument.name {
                guard isParameter(key) else {
                    guard let extra = extraKeywords else { throw RuntimeError(unknownKeywordMessage(key)) }
                    guard !extraValues.contains(where: { $0.name == key }) else {
                        throw RuntimeError("\(name): argument `\(key)` given twice")
                    }
                    guard extra.types.contains(where: { $0.accepts(argument.value) }) else {
                        throw RuntimeError("\(name): `\(key)=` must be \(extra.typePhrase), got \(argument.value.typeName)")
                    }
                    extraValues.append((key, argument.value))
                    continue
                }
                guard !given.contains(key) else {
                    throw RuntimeError("\(name): argument `\(key)` given twice")
                }
                values[key] = argument.value
                given.insert(key)
            } else {
                while nextPositional < positionalParameters.count,
                      given.contains(positionalParameters[nextPositional].name) {
                    nextPositional += 1
                }
                if nextPositional < positionalParameters.count {
                    let p = positionalParameters[nextPositional]
                    values[p.name] = argument.value
                    given.insert(p.name)
                    nextPositional += 1
                } else if variadic != nil {
                    variadicValues.append(argument.value)
                } else {
                    let count = arguments.filter { $0.name == nil }.count
                    let maximum = positionalParameters.count
                    let noun = maximum == 1 ? "argument" : "arguments"
                    throw RuntimeError(maximum == 0
                        ? "\(name): takes no positional arguments, got \(count)"
                        : "\(name): takes at most \(maximum) positional \(noun), got \(count)")
                }
            }
        }
        for p in parameters {
            if let value = values[p.name] {
                try checkType(p, value, among: values)
            } else if let d = p.defaultValue {
                values[p.name] = d
            } else {
                throw RuntimeError("\(name): missing argument `\(p.name)` (\(p.typePhrase)); usage: \(usage)")
            }
        }
        if let v = variadic {
            for value in variadicValues { try checkType(v, value) }
        }
        return BoundArguments(callee: name, values: values, given: given, variadic: variadicValues, extraKeywords: extraValues)
    }

    /// Whether a name is one of the parameters: a search for the few parameters of a builtin,
    /// a set for a user function with thousands, so that binding stays linear in the call's size.
    func parameterLookup() -> (String) -> Bool {
        if parameters.count <= 16 {
            let names = parameters.map(\.name)
            return { names.contains($0) }
        }
        let names = Set(parameters.map(\.name))
        return { names.contains($0) }
    }

    private func checkType(_ p: Parameter, _ value: Value, among values: [String: Value] = [:]) throws {
        if p.types.contains(where: { $0.accepts(value) }) { return }
        if case .none = value, case .some(.none) = p.defaultValue { return }
        if case .number(let d) = value, p.types.contains(.integer) {
            throw RuntimeError("\(name): argument `\(p.name)` must be \(p.typePhrase), got \(formatNumber(d))")
        }
        throw RuntimeError("\(name): argument `\(p.name)` must be \(p.typePhrase), got \(value.typeName)"
                           + wayOut(p, value, among: values))
    }

    /// What to do about a wrong type, when it can be told: two arguments given in each other's
    /// places (`overlay img cam`), or a picture where a model needs a tensor.
    private func wayOut(_ p: Parameter, _ value: Value, among values: [String: Value]) -> String {
        for q in parameters where q.name != p.name && !q.types.contains(.any) {
            guard let other = values[q.name], q.types.contains(where: { $0.accepts(value) }),
                  p.types.contains(where: { $0.accepts(other) }) else { continue }
            return "; `\(p.name)` and `\(q.name)` look swapped (usage: \(usage))"
        }
        if value.typeName == "image", p.types.contains(.tensor) {
            return "; a picture becomes a model's input tensor with preprocess(IMAGE, MODEL)"
        }
        return ""
    }
}
