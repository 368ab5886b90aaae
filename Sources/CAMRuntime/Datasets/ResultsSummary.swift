import Foundation

/// What a results file says about one numeric column: per group (a class, say) how many
/// images, the mean and spread, and which images score lowest and highest.
public struct ResultsSummary: Sendable {
    /// One group's statistics (population standard deviation, as numpy's `std`).
    public struct Group: Sendable, Equatable {
        public var name: String
        public var count: Int
        public var mean: Double
        public var std: Double
        public var min: Double
        public var median: Double
        public var max: Double
    }

    /// One image's row: its name, group, value and picture (the `picture` column, if any).
    public struct Row: Sendable, Equatable {
        public var name: String
        public var group: String
        public var value: Double
        public var picture: String?
    }

    public var metric: String
    /// The columns that group the rows (none: one group).
    public var groupedBy: [String]
    /// The groups sorted by name, then "all" when there is more than one.
    public var groups: [Group]
    /// Every row with a finite value, from the lowest value to the highest (ties by name).
    public var rows: [Row]
    /// Rows whose value is missing or not a finite number.
    public var skipped: Int

    /// Reads `metric` (and the `by` columns, `picture`) from every row of a results file; a
    /// row's group is its `by` values joined by " / " (per method and class: `["method", "label"]`).
    /// Without `metric`, the file's only numeric column is summarised; none or several are
    /// refused, naming them.
    public init(path: String, metric: String?, by: [String], picture: String?) throws {
        let (records, known) = try Self.records(path: path)
        let metric = try metric ?? Self.onlyNumericColumn(records, path: path)
        self.metric = metric
        groupedBy = by
        // The latest row of each image (a later row of an image redone after it changed
        // replaces the earlier one), in the order images first appear; nil: no finite value.
        var latest: [String: Row?] = [:]
        var order: [String] = []
        for fields in records {
            let name = fields["path"] as? String ?? "?"
            let group = by.isEmpty ? "all" : by.map { ResultsSummary.text(fields[$0]) }.joined(separator: " / ")
            if latest[name] == nil { order.append(name) }
            let value = ResultsSummary.number(fields[metric]).flatMap { $0.isFinite ? $0 : nil }
            latest[name] = value.map { Row(name: name, group: group, value: $0, picture: picture.flatMap { fields[$0] as? String }) }
        }
        var rows = order.compactMap { latest[$0] ?? nil }
        let skipped = order.count - rows.count
        for column in [metric] + by + [picture].compactMap({ $0 }) where !known.contains(column) && !(rows.isEmpty && skipped == 0) {
            let columns = known.subtracting(["sha256", "run"]).sorted()
            let hint = NameMatching.best(for: column, in: columns).map { "; did you mean \"\($0)\"?" } ?? ""
            throw RuntimeError("summary: \(path) has no column \"\(column)\"\(hint) (columns: \(columns.joined(separator: ", ")))")
        }
        rows.sort { $0.value != $1.value ? $0.value < $1.value : $0.name < $1.name }
        self.rows = rows
        self.skipped = skipped
        var byGroup: [String: [Double]] = [:]
        for row in rows { byGroup[row.group, default: []].append(row.value) }
        var groups = byGroup.keys.sorted().map { ResultsSummary.group($0, byGroup[$0] ?? []) }
        if groups.count > 1 { groups.append(ResultsSummary.group("all", rows.map(\.value))) }
        self.groups = groups
    }

    /// The one column of `records` that holds a number in some row (the bookkeeping columns
    /// left out): what `metric` means when it is not given.
    private static func onlyNumericColumn(_ records: [[String: Any]], path: String) throws -> String {
        var numeric = Set<String>()
        for fields in records {
            for (key, value) in fields where !numeric.contains(key) && number(value) != nil { numeric.insert(key) }
        }
        let columns = numeric.subtracting(["path", "sha256", "run"]).sorted()
        guard columns.count == 1, let only = columns.first else {
            throw RuntimeError(columns.isEmpty
                ? "summary: \((path as NSString).lastPathComponent) has no numeric column to summarise yet (record one, e.g. record out item score=…)"
                : "summary: which column? give metric= one of \(columns.map { "\"\($0)\"" }.joined(separator: ", ")) (the file's numeric columns)")
        }
        return only
    }

    /// The rows of a results file as fields by column (not its first line, nor a partial last
    /// line: a run still going, or killed), and every column named.
    private static func records(path: String) throws -> (rows: [[String: Any]], columns: Set<String>) {
        let data = try UserFile.read(path)
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map { Array($0) }
        if data.last != UInt8(ascii: "\n"), !lines.isEmpty { lines.removeLast() }
        var known = Set<String>()
        var rows: [[String: Any]] = []
        let isCSV = (path as NSString).pathExtension.lowercased() == "csv"
        var header: [String] = []
        for (offset, line) in lines.enumerated() {
            if isCSV {
                let cells = try ResultsFile.csvCells(ArraySlice(line), path: path, line: offset + 1)
                if offset == 0 {
                    header = cells
                    known.formUnion(cells)
                    continue
                }
                rows.append(Dictionary(zip(header, cells).map { ($0, $1 as Any) }, uniquingKeysWith: { a, _ in a }))
            } else {
                let fields = try ResultsFile.jsonObject(ArraySlice(line), path: path, line: offset + 1)
                if offset == 0 {
                    guard ResultsHeader(fields) != nil else {
                        throw RuntimeError("summary: \(path) is not a CAMScript results file (its first line does not describe a run)")
                    }
                    continue
                }
                known.formUnion(fields.keys)
                rows.append(fields)
            }
        }
        return (rows, known)
    }

    static func group(_ name: String, _ values: [Double]) -> Group {
        let sorted = values.sorted()
        let n = Double(values.count)
        let mean = values.reduce(0, +) / Swift.max(n, 1)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Swift.max(n, 1)
        let median = sorted.isEmpty ? .nan
            : sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        return Group(name: name, count: values.count, mean: mean, std: variance.squareRoot(),
                     min: sorted.first ?? .nan, median: median, max: sorted.last ?? .nan)
    }

    static func number(_ value: Any?) -> Double? {
        switch value {
        case let s as String: return Double(s)
        case let n as NSNumber where !(value is Bool): return n.doubleValue
        case let d as Double: return d
        case let i as Int: return Double(i)
        default: return nil
        }
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        case nil, is NSNull: return "none"
        default: return "\(value ?? "none")"
        }
    }
}
