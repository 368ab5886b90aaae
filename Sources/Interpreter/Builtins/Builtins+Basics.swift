import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers the builtins that need no model or image: printing, help, variables,
    /// environment, numbers, lists and tensors.
    mutating func registerBasics() {
        let basics = "Basics"
        let values = [Parameter("value", [.any], doc: "The value.")]

        register(Builtin(BuiltinSignature(
            name: "print", parameters: [Parameter("sep", [.string], default: .string(" "), keywordOnly: true,
                                                  doc: "What goes between the values.")],
            variadic: Parameter("values", [.any], doc: "The values to print."),
            category: basics, summary: "Prints values separated by spaces (strings without quotes).",
            details: "Each value is shown as the REPL shows it, except strings, which are printed as they are, and tables (predict, metrics, sweep), which show their rows when printed alone and their one-line summary among other values. `print` with no values prints an empty line.",
            example: "print img.size x.shape \"done\"")) { args, context in
            let sep = try args.string("sep")
            // A table (predictions, metrics, a sweep) printed alone shows its rows, as the REPL
            // echoes it: in a script run with `camscript run`, `print` is the only way to see
            // them. Among other values on one line it keeps its one-line summary.
            if args.variadic.count == 1, case .object(let object) = args.variadic[0], object.table != nil {
                context.emit(.text(object.echoDescription))
                return .none
            }
            context.emit(.text(args.variadic.map(\.printed).joined(separator: sep)))
            return .none
        })

        register(Builtin(BuiltinSignature(
            name: "help", parameters: [Parameter("name", [.string, .any], default: Value.none, acceptsBareName: true,
                                                 doc: "A builtin, keyword or variable name.")],
            category: basics, summary: "Explains a builtin, a keyword or a variable; lists all builtins without a name.",
            details: "`help NAME` shows the signature, what it does, each argument, and for CAM methods the formula and the paper. `help` alone lists every builtin by category.",
            example: "help gradcam")) { args, context in
            context.emit(.text(try HelpText.render(args["name"], context: context)))
            return .none
        })

        register(Builtin(BuiltinSignature(
            name: "vars", category: basics, summary: "Lists your variables with their types and values.",
            details: "Builtins are not listed; `help` lists them.",
            example: "vars")) { _, context in
            let variables = context.variables
            guard !variables.isEmpty else {
                context.emit(.text("no variables yet"))
                return .none
            }
            let width = variables.map(\.name.count).max() ?? 0
            let typeWidth = variables.map(\.value.typeName.count).max() ?? 0
            let lines = variables.map { v in
                v.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                    + v.value.typeName.padding(toLength: typeWidth, withPad: " ", startingAt: 0) + "  "
                    + String(v.value.repr.split(separator: "\n").first ?? "").prefix(70)
            }
            context.emit(.text(lines.joined(separator: "\n")))
            return .none
        })

        register(Builtin(BuiltinSignature(
            name: "env", parameters: [Parameter("name", [.string], doc: "The variable's name."),
                                      Parameter("default", [.any], default: Value.none, doc: "What to return when it is not set.")],
            category: basics, summary: "Reads an environment variable.",
            details: "Returns the variable's value as a string, or `default` (none unless given) when it is not set.",
            example: "weights = env \"WEIGHTS\" \"resnet50.pth\"")) { args, context in
            let name = try args.string("name")
            if let value = context.environment[name] { return .string(value) }
            return args["default"]
        })

        register(Builtin(BuiltinSignature(
            name: "type", parameters: values, category: basics, summary: "The type of a value as a string.",
            details: "One of number, string, bool, none, list, function, builtin, tensor, or a runtime type such as image, cam, model.",
            example: "print type(x)")) { args, _ in
            .string(args["value"].typeName)
        })

        register(Builtin(BuiltinSignature(
            name: "str", parameters: values, category: basics, summary: "A value as a string, as `print` shows it.",
            example: "print \"top: \" + str(p)")) { args, _ in
            .string(args["value"].printed)
        })

        register(Builtin(BuiltinSignature(
            name: "float", parameters: [Parameter("value", [.number, .string, .bool], doc: "A number, a numeric string or a bool.")],
            category: basics, summary: "Converts a string (or bool) to a number.",
            example: "n = float(env(\"N\", \"3\"))")) { args, _ in
            try toNumber(args["value"], callee: "float")
        })

        register(Builtin(BuiltinSignature(
            name: "int", parameters: [Parameter("value", [.number, .string, .bool], doc: "A number, a numeric string or a bool.")],
            category: basics, summary: "Converts to a whole number, rounding toward zero.",
            example: "i = int(2.7)   # 2")) { args, _ in
            guard case .number(let v) = try toNumber(args["value"], callee: "int"), v.isFinite else {
                throw RuntimeError("int: cannot convert \(args["value"].repr) to a whole number")
            }
            return .number(v.rounded(.towardZero))
        })

        register(Builtin(BuiltinSignature(
            name: "len", parameters: [Parameter("value", [.list, .string, .tensor, .any], doc: "A list, a string, a tensor or an indexable value.")],
            category: basics, summary: "The number of elements of a list, characters of a string, or rows of a tensor.",
            example: "print len(args)")) { args, _ in
            switch args["value"] {
            case .list(let l): return .number(Double(l.count))
            case .string(let s): return .number(Double(s.count))
            case .tensor(let t): return .number(Double(t.rank == 0 ? 1 : t.shape[0]))
            case .object(let o):
                if let c = o.elementCount { return .number(Double(c)) }
                fallthrough
            default:
                throw RuntimeError("len: argument `value` must be a list, a string or a tensor, got \(args["value"].typeName)")
            }
        })

        register(Builtin(BuiltinSignature(
            name: "range", parameters: [Parameter("start", [.integer], doc: "The first number, or the end when alone."),
                                        Parameter("stop", [.integer], default: Value.none, doc: "The end (not included)."),
                                        Parameter("step", [.integer], default: .number(1), doc: "The increment (not 0).")],
            category: basics, summary: "A list of whole numbers: `range(n)` is 0…n-1, `range(a, b, step)` a, a+step, … before b.",
            example: "for i in range(3):\n    print i")) { args, _ in
            var start = try args.integer("start")
            var stop = start
            if args.isNone("stop") { start = 0 } else { stop = try args.integer("stop") }
            let step = try args.integer("step")
            guard step != 0 else { throw RuntimeError("range: argument `step` must not be 0") }
            let count = step > 0 ? Swift.max(0, (stop - start + step - 1) / step) : Swift.max(0, (start - stop - step - 1) / -step)
            guard count <= 10_000_000 else { throw RuntimeError("range: \(count) numbers is too many (at most 10000000)") }
            return .list(stride(from: start, to: stop, by: step).map { .number(Double($0)) })
        })

        let numberList = Parameter("values", [.number, .list, .tensor], doc: "Numbers, one list of numbers, or a tensor.")
        for (name, summary, pick) in [("min", "The smallest of several numbers, of a list, or of a tensor.", true),
                                      ("max", "The largest of several numbers, of a list, or of a tensor.", false)] {
            register(Builtin(BuiltinSignature(
                name: name, variadic: numberList, category: basics, summary: summary,
                example: "print \(name)(3, 1, 2) \(name)([4, 5])")) { args, _ in
                if args.variadic.count == 1, case .tensor(let t) = args.variadic[0] {
                    guard t.count > 0 else { throw RuntimeError("\(name): the tensor is empty") }
                    return numberValue(pick ? t.min : t.max)
                }
                let numbers = try numbersOf(args.variadic, callee: name)
                guard let result = pick ? numbers.min() : numbers.max() else {
                    throw RuntimeError("\(name): needs at least one number")
                }
                return .number(result)
            })
        }

        register(Builtin(BuiltinSignature(
            name: "sum", parameters: [Parameter("values", [.list, .tensor], doc: "A list of numbers or a tensor.")],
            category: basics, summary: "The sum of a list of numbers or of a tensor's elements.",
            example: "print sum([1, 2, 3])")) { args, _ in
            if case .tensor(let t) = args["values"] { return numberValue(t.sum) }
            return .number(try numbersOf([args["values"]], callee: "sum").reduce(0, +))
        })

        register(Builtin(BuiltinSignature(
            name: "mean", parameters: [Parameter("values", [.list, .tensor], doc: "A list of numbers or a tensor.")],
            category: basics, summary: "The arithmetic mean of a list of numbers or of a tensor's elements.",
            example: "print mean([1, 2, 3, 4])")) { args, _ in
            if case .tensor(let t) = args["values"] {
                guard t.count > 0 else { throw RuntimeError("mean: the tensor is empty") }
                return numberValue(t.mean)
            }
            let numbers = try numbersOf([args["values"]], callee: "mean")
            guard !numbers.isEmpty else { throw RuntimeError("mean: the list is empty") }
            return .number(numbers.reduce(0, +) / Double(numbers.count))
        })

        register(Builtin(BuiltinSignature(
            name: "abs", parameters: [Parameter("x", [.number, .tensor], doc: "A number or a tensor.")],
            category: basics, summary: "The absolute value.",
            example: "print abs(-2)")) { args, _ in
            if case .tensor(let t) = args["x"] { return .tensor(t.map { Swift.abs($0) }) }
            return .number(Swift.abs(try args.number("x")))
        })

        register(Builtin(BuiltinSignature(
            name: "round", parameters: [Parameter("x", [.number], doc: "The number."),
                                        Parameter("digits", [.integer], default: .number(0), doc: "Decimal places to keep.")],
            category: basics, summary: "Rounds to a number of decimal places as Python does (exact halves to even).",
            example: "print round(cam.max, 3)")) { args, _ in
            let x = try args.number("x")
            let digits = try args.integer("digits")
            guard (-15...15).contains(digits) else { throw RuntimeError("round: argument `digits` must be between -15 and 15, got \(digits)") }
            return .number(roundedLikePython(x, digits: digits))
        })

        register(Builtin(BuiltinSignature(
            name: "sorted", parameters: [Parameter("values", [.list], doc: "A list of numbers or of strings.")],
            category: basics, summary: "The list sorted in increasing order.",
            example: "print sorted([3, 1, 2])")) { args, _ in
            let items = try args.list("values")
            if let numbers = try? numbersOf([.list(items)], callee: "sorted") {
                return .list(numbers.sorted().map { .number($0) })
            }
            var strings: [String] = []
            for item in items {
                guard case .string(let s) = item else {
                    throw RuntimeError("sorted: the list must hold only numbers or only strings, found \(item.typeName)")
                }
                strings.append(s)
            }
            return .list(strings.sorted().map { .string($0) })
        })

        register(Builtin(BuiltinSignature(
            name: "tensor", parameters: [Parameter("values", [.list, .number, .tensor], doc: "A number or (nested) lists of numbers of equal lengths.")],
            category: "Tensors", summary: "Makes a tensor from nested lists of numbers.",
            example: "t = tensor([[1, 2], [3, 4]])")) { args, _ in
            if case .tensor = args["values"] { return args["values"] }
            var shape: [Int] = []
            var storage: [Float] = []
            try flatten(args["values"], depth: 0, shape: &shape, into: &storage)
            guard shape.reduce(1, *) == storage.count else {
                throw RuntimeError("tensor: the lists are ragged: \(storage.count) numbers do not fill shape \(Operators.shapeText(shape))")
            }
            return .tensor(Tensor(shape: shape, storage: storage))
        })

        register(Builtin(BuiltinSignature(
            name: "zeros", parameters: [Parameter("shape", [.list], doc: "The dimensions, e.g. [2, 3].")],
            category: "Tensors", summary: "A tensor of zeros of the given shape.",
            example: "z = zeros([2, 3])")) { args, _ in
            guard try args.list("shape").count <= 32 else {
                throw RuntimeError("zeros: at most 32 dimensions, got \(try args.list("shape").count)")
            }
            let shape = try args.list("shape").map { v -> Int in
                guard let i = v.integerValue, i >= 0 else {
                    throw RuntimeError("zeros: the shape must hold whole numbers ≥ 0, found \(v.repr)")
                }
                return i
            }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
            guard count <= 256_000_000 else { throw RuntimeError("zeros: \(Operators.shapeText(shape)) is too large") }
            return .tensor(Tensor(shape: shape))
        })
    }
}

private func toNumber(_ value: Value, callee: String) throws -> Value {
    switch value {
    case .number: return value
    case .bool(let b): return .number(b ? 1 : 0)
    case .string(let s):
        guard let d = Double(s.trimmingCharacters(in: .whitespaces)) else {
            throw RuntimeError("\(callee): cannot convert \(quote(s)) to a number")
        }
        return .number(d)
    default:
        throw RuntimeError("\(callee): argument `value` must be a number, a string or a bool, got \(value.typeName)")
    }
}

/// The numbers of `values`: several numbers, or one list of numbers.
private func numbersOf(_ values: [Value], callee: String) throws -> [Double] {
    var items = values
    if values.count == 1, case .list(let l) = values[0] { items = l }
    return try items.map { item in
        guard case .number(let v) = item else {
            throw RuntimeError("\(callee): expected numbers, found \(item.typeName)")
        }
        return v
    }
}

private func flatten(_ value: Value, depth: Int, shape: inout [Int], into storage: inout [Float]) throws {
    switch value {
    case .number(let v):
        if depth < shape.count { throw RuntimeError("tensor: the lists are ragged: expected a list at depth \(depth + 1), found a number") }
        if depth == 0 && shape.isEmpty && !storage.isEmpty { throw RuntimeError("tensor: ragged lists") }
        storage.append(Float(v))
    case .list(let items):
        guard depth < 32 else { throw RuntimeError("tensor: lists nested too deeply") }
        if depth == shape.count {
            guard storage.isEmpty || depth == 0 else {
                throw RuntimeError("tensor: the lists are ragged: expected a number at depth \(depth + 1), found a list")
            }
            shape.append(items.count)
        } else if depth > shape.count || shape[depth] != items.count {
            throw RuntimeError("tensor: the lists are ragged: expected \(depth < shape.count ? shape[depth] : 0) elements at depth \(depth + 1), found \(items.count)")
        }
        for item in items { try flatten(item, depth: depth + 1, shape: &shape, into: &storage) }
    default:
        throw RuntimeError("tensor: expected numbers or lists of numbers, found \(value.typeName)")
    }
}

/// Rounds `x` to `digits` decimal places the way Python's `round` does.
///
/// Multiplying by a power of ten first (the obvious way) overflows for large `x` (`1e300` with
/// 15 digits became `inf`) and rounds the product rather than the number (`2.675` is stored as
/// 2.67499…, so it must give 2.67). The C library's `%.*f` rounds the exact binary value
/// correctly, ties to even, which is what Python specifies; numbers of 2^52 or more are already
/// whole, so they come back unchanged. A zero result is returned as +0 so it never prints `-0`.
func roundedLikePython(_ x: Double, digits: Int) -> Double {
    guard x.isFinite, Swift.abs(x) < 4_503_599_627_370_496 || digits < 0 else { return x }
    let result: Double
    if digits >= 0 {
        result = Double(String(format: "%.*f", digits, x)) ?? x
    } else {
        let scale = pow(10.0, Double(-digits))
        let scaled = x / scale
        guard Swift.abs(scaled) < 4_503_599_627_370_496 else { return x }
        result = (Double(String(format: "%.0f", scaled)) ?? scaled) * scale
    }
    return result == 0 ? 0 : result
}
