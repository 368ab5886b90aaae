import Foundation

/// Every "did you mean": names, keywords, members, layers, labels, CAM methods, cell titles and
/// file names are matched by one rule, so that suggestions rank the same way everywhere.
///
/// A candidate matches a wanted name, best first, when (after lowercasing and reading `_` and
/// `-` as spaces):
/// 1. every word of the wanted name is a whole word of the candidate (`cat` finds every
///    "… cat" label, `tabby` finds "tabby cat");
/// 2. the candidate contains the wanted name (3 characters or more: `grad` finds `gradcam`);
/// 3. the candidate is within an edit distance of a third of the wanted name's length (at least
///    1), a swap of adjacent characters counting as one edit (`modle` → `model`).
///
/// Within a tier: the smaller edit distance, then the longer common prefix, then the closer
/// trailing number (`layer5` → `layer4`), then the order the candidates were given in.
public enum NameMatching {
    /// The candidates that match `wanted`, best first, at most `limit` of them; none is `wanted`
    /// itself.
    public static func suggestions<Candidates: Sequence>(for wanted: String, in candidates: Candidates,
                                                         limit: Int = 1) -> [String]
    where Candidates.Element == String {
        let key = normalized(wanted)
        let keyCharacters = Array(key)
        let keyWords = key.split(separator: " ")
        let bound = Swift.max(1, key.count / 3)
        var ranked: [(candidate: String, rank: Rank)] = []
        for (order, candidate) in candidates.enumerated() where candidate != wanted {
            let name = normalized(candidate)
            let tier: Int
            let distance: Int
            if !keyWords.isEmpty, !name.isEmpty, Set(keyWords).isSubset(of: Set(name.split(separator: " "))) {
                tier = 0
                distance = editDistance(keyCharacters, Array(name))
            } else if key.count >= 3, name.contains(key) {
                tier = 1
                distance = editDistance(keyCharacters, Array(name))
            } else if let d = editDistance(keyCharacters, Array(name), atMost: bound) {
                tier = 2
                distance = d
            } else {
                continue
            }
            let prefix = zip(key, name).prefix { $0 == $1 }.count
            let gap = trailingNumber(key).flatMap { a in trailingNumber(name).map { abs(a - $0) } } ?? Int.max
            ranked.append((candidate, Rank(tier: tier, distance: distance, prefix: -prefix, gap: gap, order: order)))
        }
        return ranked.sorted { $0.rank < $1.rank }.prefix(Swift.max(0, limit)).map(\.candidate)
    }

    /// The best candidate for `wanted`, if any matches.
    public static func best<Candidates: Sequence>(for wanted: String, in candidates: Candidates) -> String?
    where Candidates.Element == String {
        suggestions(for: wanted, in: candidates, limit: 1).first
    }

    /// Every candidate ranked by edit distance alone (then order), for lists that must name the
    /// nearest few even when nothing is close.
    public static func nearest<Candidates: Sequence>(to wanted: String, in candidates: Candidates, limit: Int) -> [String]
    where Candidates.Element == String {
        let key = Array(normalized(wanted))
        return candidates.enumerated()
            .map { (candidate: $0.element, distance: editDistance(key, Array(normalized($0.element))), order: $0.offset) }
            .sorted { ($0.distance, $0.order) < ($1.distance, $1.order) }
            .prefix(Swift.max(0, limit)).map(\.candidate)
    }

    private struct Rank: Comparable {
        var tier: Int, distance: Int, prefix: Int, gap: Int, order: Int
        static func < (a: Rank, b: Rank) -> Bool {
            (a.tier, a.distance, a.prefix, a.gap, a.order) < (b.tier, b.distance, b.prefix, b.gap, b.order)
        }
    }

    /// Lowercased, `_` and `-` read as spaces, runs of spaces as one, trimmed.
    static func normalized(_ s: String) -> String {
        String(s.lowercased().map { $0 == "_" || $0 == "-" ? " " : $0 })
            .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// The number a string ends with, if any ("layer5" → 5).
    static func trailingNumber(_ s: String) -> Int? {
        let digits = s.reversed().prefix { $0.isNumber }
        return digits.isEmpty ? nil : Int(String(digits.reversed()))
    }

    /// The edit distance between two strings, counting a swap of adjacent characters as one
    /// edit (optimal string alignment).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        editDistance(Array(a), Array(b))
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        editDistance(a, b, atMost: Swift.max(a.count, b.count)) ?? Swift.max(a.count, b.count)
    }

    /// The optimal-string-alignment distance between `a` and `b` if it is at most `bound`, else
    /// `nil`.
    ///
    /// Every cell (i, j) of the distance table is at least |i − j|, and the cells on an optimal
    /// path never decrease, so a path ending at or below `bound` stays inside the band
    /// |i − j| ≤ bound: only that band is computed (cells outside it count as `bound + 1`), in
    /// three rolling rows. A path visits row i or row i − 1 (a transposition skips one row at
    /// most), so two consecutive rows above the bound end the search. The checker asks this for
    /// every undefined name of a script against every builtin, so it must stay cheap.
    public static func editDistance(_ a: [Character], _ b: [Character], atMost bound: Int) -> Int? {
        let n = a.count, m = b.count
        guard bound >= 0, abs(n - m) <= bound else { return nil }
        if n == 0 { return m }
        if m == 0 { return n }
        let outside = bound + 1
        var older = [Int](repeating: outside, count: m + 1)  // row i − 2
        var previous = Array(0...m)                          // row i − 1 (row 0: j insertions)
        var row = [Int](repeating: outside, count: m + 1)    // row i
        var previousMinimum = 0
        for i in 1...n {
            let low = Swift.max(1, i - bound), high = Swift.min(m, i + bound)
            row[0] = i
            if low > 1 { row[low - 1] = outside }
            var rowMinimum = low == 1 ? i : outside
            if low <= high {
                for j in low...high {
                    let cost = a[i - 1] == b[j - 1] ? 0 : 1
                    var d = Swift.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
                    if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                        d = Swift.min(d, older[j - 2] + 1)
                    }
                    row[j] = Swift.min(d, outside)
                    rowMinimum = Swift.min(rowMinimum, row[j])
                }
            }
            if high < m { row[high + 1] = outside }
            if rowMinimum > bound && previousMinimum > bound { return nil }
            previousMinimum = rowMinimum
            swap(&older, &previous)
            swap(&previous, &row)
        }
        let distance = previous[m]
        return distance <= bound ? distance : nil
    }
}
