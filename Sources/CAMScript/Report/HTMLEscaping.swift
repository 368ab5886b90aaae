import Interpreter

/// HTML escaping for text and attribute values.
enum HTML {
    /// `text` with `&`, `<`, `>`, `"` and `'` replaced by entities, safe in text and in quoted
    /// attributes.
    static func escape<S: StringProtocol>(_ text: S) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// A value's table as an HTML `<table>`: a header row, numbers aligned right.
    static func table(_ table: TextTable, className: String = "result") -> String {
        func cell(_ tag: String, _ text: String, _ column: Int) -> String {
            let right = column < table.alignments.count && table.alignments[column] == .right
            return "<\(tag)\(right ? " class=\"num\"" : "")>\(escape(text))</\(tag)>"
        }
        var html = "<table class=\"\(escape(className))\"><thead><tr>"
        html += table.columns.enumerated().map { cell("th", $1, $0) }.joined()
        html += "</tr></thead><tbody>"
        for row in table.rows {
            html += "<tr>" + row.enumerated().map { cell("td", $1, $0) }.joined() + "</tr>"
        }
        return html + "</tbody></table>\n"
    }
}
