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
}
