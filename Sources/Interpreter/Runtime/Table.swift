import Foundation

/// A value shown as a table: aligned text in a terminal, a real table in reports (HTML `<table>`,
/// a notebook's `text/html`). `predict`, `metrics` and `sweep` return values that have one.
public struct TextTable: Sendable, Equatable {
    /// How a column's cells line up.
    public enum Alignment: Sendable, Equatable {
        case left
        case right
    }

    /// The column headings.
    public var columns: [String]
    /// One alignment per column (numbers right, text left).
    public var alignments: [Alignment]
    /// The cells, one array of `columns.count` strings per row.
    public var rows: [[String]]

    /// Creates a table; missing alignments are `.left`.
    public init(columns: [String], alignments: [Alignment] = [], rows: [[String]]) {
        self.columns = columns
        self.alignments = (0..<columns.count).map { $0 < alignments.count ? alignments[$0] : .left }
        self.rows = rows
    }

    /// The table as aligned text: a header line, then one line per row, columns two spaces
    /// apart; a left-aligned last column is not padded (no trailing spaces).
    public var text: String {
        let widths = columns.indices.map { c in
            rows.reduce(columns[c].count) { Swift.max($0, c < $1.count ? $1[c].count : 0) }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (c, width) in widths.enumerated() {
                let cell = c < cells.count ? cells[c] : ""
                let pad = String(repeating: " ", count: Swift.max(0, width - cell.count))
                if alignments[c] == .right {
                    parts.append(pad + cell)
                } else {
                    parts.append(c == widths.count - 1 ? cell : cell + pad)
                }
            }
            return parts.joined(separator: "  ")
        }
        return ([line(columns)] + rows.map(line)).joined(separator: "\n")
    }
}

/// A table of values made by a builtin (`metrics`, `sweep`): rows of numbers and strings under
/// named columns. `t.columns`, `t.rows`, `t[i]` (a row as a list) and `t.COLUMN` (a column as a
/// list, spaces read as `_`).
public final class TableObject: ScriptObject, @unchecked Sendable {
    /// The column headings.
    public let columns: [String]
    /// The rows, each with one value per column.
    public let rows: [[Value]]
    /// What the table is, for its one-line description (e.g. `metrics of GradCAM`).
    public let title: String

    /// Creates a table.
    public init(title: String, columns: [String], rows: [[Value]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }

    /// `"table"`.
    public var typeName: String { "table" }

    /// `table metrics of GradCAM: 6 rows × 4 columns (metric, value, better, as)`.
    public var description: String {
        "table \(title): \(rows.count) row\(rows.count == 1 ? "" : "s") × \(columns.count) columns (\(columns.joined(separator: ", ")))"
    }

    /// The aligned rows under a header.
    public var echoDescription: String { rendered.text }

    /// The table reports draw.
    public var table: TextTable? { rendered }

    private var rendered: TextTable {
        let alignments = columns.indices.map { c -> TextTable.Alignment in
            rows.allSatisfy { row in
                guard c < row.count, case .number = row[c] else { return false }
                return true
            } ? .right : .left
        }
        return TextTable(columns: columns, alignments: alignments, rows: rows.map { $0.map(Self.cell) })
    }

    /// A cell's text: numbers with 4 significant digits (whole numbers as they are), strings bare.
    static func cell(_ value: Value) -> String {
        switch value {
        case .number(let v):
            if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) }
            return String(format: "%.4g", v)
        case .string(let s): return s
        default: return value.repr
        }
    }

    /// `columns`, `rows`, and each column by its name.
    public var memberNames: [String] { ["columns", "rows"] + columns.map(Self.memberName) }

    /// The member called `name`.
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "columns": return .list(columns.map { .string($0) })
        case "rows": return .list(rows.map { .list($0) })
        default:
            guard let c = columns.firstIndex(where: { Self.memberName($0) == name }) else { return nil }
            return .list(rows.map { c < $0.count ? $0[c] : Value.none })
        }
    }

    /// One element per row.
    public var elementCount: Int? { rows.count }

    /// The row at `index`, as a list.
    public func element(at index: Int) throws -> Value? {
        index >= 0 && index < rows.count ? .list(rows[index]) : nil
    }

    /// A column heading as a member name: `image 0` → `image_0`.
    static func memberName(_ column: String) -> String {
        String(column.map { $0 == " " || $0 == "-" ? "_" : $0 })
    }
}
