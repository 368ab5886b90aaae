import CAMRuntime
import Foundation

/// The meaning of operators, indexing and members on values.
enum Operators {
    static func unary(_ op: UnaryOperator, _ value: Value) throws -> Value {
        switch (op, value) {
        case (.not, _): return .bool(!(try value.isTruthy()))
        case (.negate, .number(let v)): return .number(-v)
        case (.plus, .number(let v)): return .number(v)
        case (.negate, .tensor(let t)): return .tensor(t.map { -$0 })
        case (.plus, .tensor): return value
        default:
            throw RuntimeError("unary `\(op.rawValue)` needs a number or a tensor, got \(value.typeName)")
        }
    }

    static func binary(_ op: BinaryOperator, _ l: Value, _ r: Value) throws -> Value {
        switch op {
        case .equal: return .bool(try equal(l, r))
        case .notEqual: return .bool(!(try equal(l, r)))
        case .less, .lessEqual, .greater, .greaterEqual: return .bool(try compare(op, l, r))
        case .contains: return .bool(try contains(r, l))
        case .notContains: return .bool(!(try contains(r, l)))
        default: break
        }
        switch (l, r) {
        case (.number(let a), .number(let b)):
            return .number(try arithmetic(op, a, b))
        case (.string(let a), .string(let b)) where op == .add:
            return .string(a + b)
        case (.list(let a), .list(let b)) where op == .add:
            return .list(a + b)
        case (.string(let s), .number), (.number, .string(let s)):
            guard op == .multiply, let n = (l.integerValue ?? r.integerValue), n >= 0 else { break }
            let (total, overflow) = n.multipliedReportingOverflow(by: s.count)
            guard !overflow, total <= 10_000_000 else { throw RuntimeError("string repetition too large (\(n) copies)") }
            return .string(String(repeating: s, count: n))
        case (.list(let items), .number), (.number, .list(let items)):
            guard op == .multiply, let n = (l.integerValue ?? r.integerValue), n >= 0 else { break }
            let (total, overflow) = n.multipliedReportingOverflow(by: items.count)
            guard !overflow, total <= 10_000_000 else { throw RuntimeError("list repetition too large (\(n) copies)") }
            return .list(Array([[Value]](repeating: items, count: n).joined()))
        case (.tensor(let a), .tensor(let b)):
            guard a.shape == b.shape else {
                throw RuntimeError("`\(op.rawValue)` needs tensors of the same shape, got \(shapeText(a.shape)) and \(shapeText(b.shape))")
            }
            var out = a
            out.origin = nil   // new values: no longer the pixels `preprocess` made
            for i in 0..<out.count { out.storage[i] = Float(try arithmetic(op, Double(a.storage[i]), Double(b.storage[i]), elementwise: true)) }
            return .tensor(out)
        case (.tensor(let a), .number(let b)):
            return .tensor(try elementwise(a) { try arithmetic(op, $0, b, elementwise: true) })
        case (.number(let a), .tensor(let b)):
            return .tensor(try elementwise(b) { try arithmetic(op, a, $0, elementwise: true) })
        default:
            break
        }
        throw RuntimeError("`\(op.rawValue)` cannot combine \(l.typeName) and \(r.typeName)")
    }

    private static func elementwise(_ t: Tensor, _ f: (Double) throws -> Double) throws -> Tensor {
        var out = t
        out.origin = nil   // new values: no longer the pixels `preprocess` made
        for i in 0..<out.count { out.storage[i] = Float(try f(Double(t.storage[i]))) }
        return out
    }

    static func shapeText(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }

    private static func arithmetic(_ op: BinaryOperator, _ a: Double, _ b: Double, elementwise: Bool = false) throws -> Double {
        switch op {
        case .add: return a + b
        case .subtract: return a - b
        case .multiply: return a * b
        case .divide:
            if b == 0 && !elementwise { throw RuntimeError("division by zero") }
            return a / b
        case .floorDivide:
            if b == 0 && !elementwise { throw RuntimeError("division by zero") }
            return (a / b).rounded(.down)
        case .modulo:
            if b == 0 && !elementwise { throw RuntimeError("modulo by zero") }
            let m = a.truncatingRemainder(dividingBy: b)
            return (m != 0 && (m < 0) != (b < 0)) ? m + b : m
        case .power: return pow(a, b)
        default: throw RuntimeError("`\(op.rawValue)` is not arithmetic")
        }
    }

    static func equal(_ l: Value, _ r: Value) throws -> Bool {
        switch (l, r) {
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.none, .none): return true
        case (.list(let a), .list(let b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where !(try equal(x, y)) { return false }
            return true
        case (.tensor(let a), .tensor(let b)): return a == b
        case (.builtin(let a), .builtin(let b)): return a.signature.name == b.signature.name
        case (.function(let a), .function(let b)): return a === b
        case (.object(let a as ImageObject), .object(let b as ImageObject)):
            return a.image == b.image   // pictures are values: equal pixels are equal
        case (.object(let a), .object(let b)):
            return (a as AnyObject) === (b as AnyObject)
        default: return false
        }
    }

    private static func compare(_ op: BinaryOperator, _ l: Value, _ r: Value) throws -> Bool {
        let order: Int
        switch (l, r) {
        case (.number(let a), .number(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
        case (.string(let a), .string(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
        default:
            throw RuntimeError("`\(op.rawValue)` cannot compare \(l.typeName) and \(r.typeName)")
        }
        switch op {
        case .less: return order < 0
        case .lessEqual: return order <= 0
        case .greater: return order > 0
        default: return order >= 0
        }
    }

    private static func contains(_ container: Value, _ element: Value) throws -> Bool {
        switch (container, element) {
        case (.list(let items), _):
            for item in items where try equal(item, element) { return true }
            return false
        case (.string(let s), .string(let sub)): return sub.isEmpty || s.contains(sub)
        default:
            throw RuntimeError("`in` needs a list or a string on its right, got \(container.typeName)")
        }
    }

    private static func normalizedIndex(_ index: Value, count: Int, what: String) throws -> Int {
        guard let i = index.integerValue else {
            throw RuntimeError("an index must be a whole number, got \(index.typeName == "number" ? index.repr : index.typeName)")
        }
        let j = i < 0 ? i + count : i
        guard j >= 0 && j < count else {
            throw RuntimeError("index \(i) is out of range for \(what) of \(count) element\(count == 1 ? "" : "s")")
        }
        return j
    }

    static func index(_ value: Value, _ index: Value) throws -> Value {
        switch value {
        case .list(let items):
            return items[try normalizedIndex(index, count: items.count, what: "a list")]
        case .string(let s):
            let chars = Array(s)
            return .string(String(chars[try normalizedIndex(index, count: chars.count, what: "a string")]))
        case .tensor(let t):
            guard t.rank >= 1 else { throw RuntimeError("cannot index a tensor with no dimensions") }
            let i = try normalizedIndex(index, count: t.shape[0], what: "a tensor dimension")
            return t.rank == 1 ? numberValue(t.storage[i]) : .tensor(t.slice(i))
        case .object(let o):
            if let count = o.elementCount {
                let i = try normalizedIndex(index, count: count, what: "a \(o.typeName)")
                if let element = try o.element(at: i) { return element }
            }
            throw RuntimeError("cannot index \(o.typeName == "image" ? "an" : "a") \(o.typeName)")
        default:
            throw RuntimeError("cannot index a \(value.typeName): only lists, strings and tensors have elements")
        }
    }

    static let tensorMembers = ["shape", "min", "max", "mean", "sum", "rank", "count", "argmax"]

    /// The members a value has, for completion.
    static func memberNames(_ value: Value) -> [String] {
        switch value {
        case .tensor: return tensorMembers
        case .object(let o): return o.memberNames
        default: return []
        }
    }

    static func member(_ value: Value, _ name: String) throws -> Value {
        switch value {
        case .tensor(let t):
            switch name {
            case "shape": return .list(t.shape.map { .number(Double($0)) })
            case "min": return numberValue(t.min)
            case "max": return numberValue(t.max)
            case "mean": return numberValue(t.mean)
            case "sum": return numberValue(t.sum)
            case "rank": return .number(Double(t.rank))
            case "count": return .number(Double(t.count))
            case "argmax": return .number(Double(t.argmax))
            default:
                throw RuntimeError("tensor has no member `\(name)`" + (PythonHabits.member(name) ?? didYouMean(name, tensorMembers))
                                   + " (members: " + tensorMembers.joined(separator: ", ") + ")")
            }
        case .object(let o):
            if let v = try o.member(name) { return v }
            let names = o.memberNames
            // A model's layer as a member (`model.layer4[-1]`, pytorch-grad-cam's target_layers):
            // layers are named by strings here.
            if let model = o as? ModelObject, (try? model.network.resolveLayer(name)) != nil {
                throw RuntimeError("model has no member `\(name)`; in CAMScript: layer=\"\(name)\" (or \"\(name)[-1]\" for its last block) "
                                   + "names a layer in a CAM call, and `layers model` lists them (Python: target_layers=[model.\(name)[-1]])")
            }
            throw RuntimeError("\(o.typeName) has no member `\(name)`" + (PythonHabits.member(name) ?? didYouMean(name, names))
                               + (names.isEmpty ? "" : " (members: " + names.joined(separator: ", ") + ")"))
        default:
            throw RuntimeError("\(value.typeName == "none" ? "none" : "a \(value.typeName)") has no members (asked for `.\(name)`)")
        }
    }
}
