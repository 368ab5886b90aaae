import Foundation

/// The scalar a CAM explains, computed from one image's logits (pytorch-grad-cam's model targets).
public enum CAMTarget: Sendable, Equatable, CustomStringConvertible {
    /// `ClassifierOutputTarget(c)`: the raw logit of class `c`.
    case logit(Int)
    /// `ClassifierOutputSoftmaxTarget(c)`: the softmax probability of class `c`.
    case softmax(Int)
    /// `BinaryClassifierOutputTarget(c)` of a single-logit head: the logit for class 1, minus
    /// the logit for class 0 (the evidence for that class).
    case binary(Int)
    /// FinerCAM's `FinerWeightedTarget(main, comparisons, alpha)`: the logit of `main` minus
    /// `alpha` times each comparison class's logit, averaged with the comparison classes'
    /// softmax probabilities as weights — the evidence that tells `main` from its look-alikes.
    case finer(main: Int, comparisons: [Int], alpha: Float)

    /// The raw-score target of class `c` for a head of `outputs` logits: its logit
    /// (`ClassifierOutputTarget`), or for a single-logit binary head the signed logit
    /// (`BinaryClassifierOutputTarget`).
    static func rawScore(of c: Int, outputs: Int) -> CAMTarget {
        outputs == 1 ? .binary(c) : .logit(c)
    }

    /// The class this target is about.
    public var classIndex: Int {
        switch self {
        case .logit(let c), .softmax(let c), .binary(let c), .finer(let c, _, _): return c
        }
    }

    /// A short description such as `logit 281` or `softmax 281`.
    public var description: String {
        switch self {
        case .logit(let c): return "logit \(c)"
        case .softmax(let c): return "softmax \(c)"
        case .binary(let c): return "binary \(c)"
        case .finer(let c, let others, _): return "finer \(c) vs \(others.map(String.init).joined(separator: ", "))"
        }
    }

    /// The target's value on one row of logits.
    public func score(_ logits: ArraySlice<Float>) -> Float {
        switch self {
        case .logit(let c): return logits[logits.startIndex + c]
        case .softmax(let c): return Self.probabilities(logits)[c]
        case .binary(let c): return c == 1 ? logits[logits.startIndex] : -logits[logits.startIndex]
        case .finer(let main, let others, let alpha):
            let p = Self.probabilities(logits), x = Array(logits)
            var numerator: Float = 0, denominator: Float = 0
            for j in others {
                numerator += p[j] * (x[main] - alpha * x[j])
                denominator += p[j]
            }
            return numerator / (denominator + 1e-9)
        }
    }

    /// The gradient of the target's value with respect to one row of logits.
    public func gradient(_ logits: ArraySlice<Float>) -> [Float] {
        var g = [Float](repeating: 0, count: logits.count)
        switch self {
        case .logit(let c):
            g[c] = 1
        case .softmax(let c):
            let p = Self.probabilities(logits)
            for j in 0..<p.count { g[j] = p[c] * ((j == c ? 1 : 0) - p[j]) }
        case .binary(let c):
            g[0] = c == 1 ? 1 : -1
        case .finer(let main, let others, let alpha):
            // S = N / D with N = Σ_j p_j (x_m − α x_j), D = Σ_j p_j + 1e-9 and
            // ∂p_j/∂x_k = p_j (δ_jk − p_k); in float64.
            let p = Self.probabilities(logits).map(Double.init), x = logits.map(Double.init)
            let a = Double(alpha)
            var n: Double = 0, d: Double = 1e-9
            for j in others { n += p[j] * (x[main] - a * x[j]); d += p[j] }
            var dn = [Double](repeating: 0, count: g.count), dd = [Double](repeating: 0, count: g.count)
            for j in others {
                let diff = x[main] - a * x[j]
                for k in 0..<g.count {
                    let dp = p[j] * ((j == k ? 1 : 0) - p[k])
                    dn[k] += dp * diff
                    dd[k] += dp
                }
                dn[main] += p[j]
                dn[j] -= p[j] * a
            }
            for k in 0..<g.count { g[k] = Float((dn[k] * d - n * dd[k]) / (d * d)) }
        }
        return g
    }

    /// The Hessian of the target's value with respect to one row of logits, times `v`: zero for a
    /// logit (linear in the logits); for a softmax probability `s_c`,
    /// `s_c [(e_c − s)((e_c − s)·v) − s ⊙ v + s (s·v)]`, in float64; nil for FinerCAM's score.
    public func hessianVectorProduct(_ logits: ArraySlice<Float>, _ v: ArraySlice<Float>) -> [Float]? {
        switch self {
        case .logit, .binary:
            return [Float](repeating: 0, count: logits.count)
        case .softmax(let c):
            let s = Self.probabilities(logits).map(Double.init), w = v.map(Double.init)
            var ew = w[c], sw: Double = 0
            for k in 0..<s.count { ew -= s[k] * w[k]; sw += s[k] * w[k] }
            return (0..<s.count).map { k in
                let e = (k == c ? 1 : 0) - s[k]
                return Float(s[c] * (e * ew - s[k] * w[k] + s[k] * sw))
            }
        case .finer:
            return nil
        }
    }

    /// Softmax in float32 with the maximum subtracted first, as PyTorch computes it.
    static func probabilities(_ x: ArraySlice<Float>) -> [Float] {
        let m = x.max() ?? 0
        let e = x.map { Foundation.exp($0 - m) }
        var sum: Float = 0
        for v in e { sum += v }
        return e.map { $0 / sum }
    }

    /// Checks that the class exists among `classCount` classes.
    func validated(classCount: Int) throws -> CAMTarget {
        guard classIndex >= 0 && classIndex < classCount else {
            throw RuntimeError("target class \(classIndex) is out of range: the model has \(classCount) classes (0…\(classCount - 1))")
        }
        return self
    }
}


/// What the user asked a CAM to explain: a class index, a class label, or the top class.
public enum ClassTarget: Sendable, Equatable {
    /// A class index.
    case index(Int)
    /// A class label such as `"tabby"`.
    case label(String)
    /// The class with the largest logit (the first one on ties).
    case top

    /// The class index of a label, matched without regard to case, surrounding spaces or
    /// underscores; unknown or ambiguous labels throw an error that lists the closest labels.
    public static func resolve(_ label: String, classNames: [String]) throws -> Int {
        let wanted = normalized(label)
        let matches = classNames.indices.filter { normalized(classNames[$0]) == wanted }
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 {
            let list = matches.map { "\($0) (\"\(classNames[$0])\")" }.joined(separator: ", ")
            throw RuntimeError("label \"\(label)\" is ambiguous: it names classes \(list); use a class index")
        }
        // Labels by word and substring first (`cat` lists the cats), then by spelling.
        let labels = classNames.map(normalized)
        var picked = NameMatching.suggestions(for: wanted, in: labels, limit: 5)
        if picked.isEmpty { picked = NameMatching.nearest(to: wanted, in: labels, limit: 5) }
        var used = Set<Int>()
        let closest = picked.compactMap { label -> String? in
            guard let i = labels.indices.first(where: { labels[$0] == label && !used.contains($0) }) else { return nil }
            used.insert(i)
            return "\"\(classNames[i])\" (\(i))"
        }.joined(separator: ", ")
        throw RuntimeError("unknown label \"\(label)\"; closest labels: \(closest)")
    }

    /// The class index for this target given a row of logits. A single logit is a binary
    /// classifier: classes 0 and 1, the top one 1 where the logit is positive.
    public func classIndex(logits: ArraySlice<Float>, classNames: [String]) throws -> Int {
        if logits.count == 1 {
            switch self {
            case .index(let i):
                guard i == 0 || i == 1 else {
                    throw RuntimeError("target class \(i) is out of range: the model is a binary classifier (one logit) with classes 0 and 1")
                }
                return i
            case .label(let name):
                return try Self.resolve(name, classNames: classNames)
            case .top:
                return logits[logits.startIndex] > 0 ? 1 : 0
            }
        }
        switch self {
        case .index(let i):
            guard i >= 0 && i < logits.count else {
                throw RuntimeError("target class \(i) is out of range: the model has \(logits.count) classes (0…\(logits.count - 1))")
            }
            return i
        case .label(let name):
            return try Self.resolve(name, classNames: classNames)
        case .top:
            return Self.argmax(logits)
        }
    }

    /// The index of the largest value, the first one on ties (numpy's `argmax`).
    static func argmax(_ values: ArraySlice<Float>) -> Int {
        var best = values.startIndex
        for i in values.indices where values[i] > values[best] { best = i }
        return best - values.startIndex
    }

    static func normalized(_ s: String) -> String {
        s.lowercased().replacingUnderscores.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

}

extension String {
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
