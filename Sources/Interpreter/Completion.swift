import Foundation

extension Session {
    /// The characters that end the word being completed (the REPL's readline and the Jupyter
    /// kernel split lines at them): a path inside a string and `model.arch` stay one word.
    public static let completionWordBreaks: Set<Character> = Set(" \t\n\"'=(),[]+*<>:%")

    /// Completions for the word being typed, given the text of the line before it.
    ///
    /// Inside an open string the word is a file path (relative to `baseDirectory`; folders end
    /// with `/`); a word with a `.` completes members of the value before the dot; otherwise
    /// keywords, builtins and variables complete, plus `key=` for the keyword arguments of the
    /// command or call the cursor is in.
    public func completions(forWord word: String, linePrefix: String) -> [String] {
        if Session.insideString(linePrefix) { return pathCompletions(word) }
        if let dot = word.lastIndex(of: ".") {
            let receiver = String(word[..<dot])
            let partial = String(word[word.index(after: dot)...])
            guard let value = resolveChain(receiver) else { return [] }
            return Operators.memberNames(value).filter { $0.hasPrefix(partial) }.sorted().map { receiver + "." + $0 }
        }
        var candidates = Set(Keyword.allCases.map(\.rawValue))
        candidates.formUnion(state.globals.allNames)
        candidates.formUnion(HelpText.topics.keys)
        var result = candidates.filter { $0.hasPrefix(word) }.sorted()
        if let callee = Session.enclosingCallee(linePrefix), let value = state.globals.lookup(callee) {
            let keywords: [String]
            switch value {
            case .builtin(let b): keywords = b.signature.keywordNames
            case .function(let f): keywords = f.declaration.parameters.map(\.name)
            default: keywords = []
            }
            let already = Set(linePrefix.split(whereSeparator: { " (,".contains($0) }).compactMap { part -> String? in
                guard let eq = part.firstIndex(of: "=") else { return nil }
                return String(part[..<eq])
            })
            result = keywords.filter { $0.hasPrefix(word) && !already.contains($0) }.map { $0 + "=" } + result
        }
        return result
    }

    /// Whether the text ends inside a string literal (so the word being completed is a path).
    public static func insideString(_ text: String) -> Bool {
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped { escaped = false; continue }
            if c == "\\" && quote != nil { escaped = true; continue }
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                return false
            }
        }
        return quote != nil
    }

    /// The name of the builtin or function whose arguments the cursor is in: the innermost open
    /// `name(`, or the first word of a command line.
    static func enclosingCallee(_ prefix: String) -> String? {
        let chars = Array(prefix)
        var depth = 0
        var i = chars.count - 1
        while i >= 0 {
            let c = chars[i]
            if c == ")" || c == "]" { depth += 1 } else if c == "[" { depth -= 1 } else if c == "(" {
                if depth == 0 {
                    var j = i
                    while j > 0, chars[j - 1].isLetter || chars[j - 1].isNumber || chars[j - 1] == "_" { j -= 1 }
                    return j < i ? String(chars[j..<i]) : nil
                }
                depth -= 1
            }
            i -= 1
        }
        var words = prefix.drop { $0 == " " }
        if let eq = words.range(of: "= ") ?? words.range(of: "=") , !words[..<eq.lowerBound].contains(" ") {
            words = words[eq.upperBound...].drop { $0 == " " }
        }
        guard let space = words.firstIndex(of: " ") else { return nil }
        let first = String(words[..<space])
        guard first.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !first.isEmpty else { return nil }
        return first
    }

    private func resolveChain(_ chain: String) -> Value? {
        let parts = chain.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, var value = state.globals.lookup(first) else { return nil }
        for part in parts.dropFirst() {
            guard let next = try? Operators.member(value, part) else { return nil }
            value = next
        }
        return value
    }

    private func pathCompletions(_ word: String) -> [String] {
        let expanded = word.hasPrefix("~") ? state.resolvePath(word) : word
        let directoryPart: String
        let namePrefix: String
        if let slash = expanded.lastIndex(of: "/") {
            directoryPart = String(expanded[...slash])
            namePrefix = String(expanded[expanded.index(after: slash)...])
        } else {
            directoryPart = ""
            namePrefix = expanded
        }
        let folder = directoryPart.hasPrefix("/") ? directoryPart : state.resolvePath(directoryPart.isEmpty ? "." : directoryPart)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        let shownDirectory = word.hasPrefix("~") ? String(word[...(word.lastIndex(of: "/") ?? word.startIndex)]) : directoryPart
        return entries.filter { $0.hasPrefix(namePrefix) && (namePrefix.hasPrefix(".") || !$0.hasPrefix(".")) }.sorted().map { name in
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(name), isDirectory: &isDirectory)
            let base = (word.hasPrefix("~") && !word.contains("/")) ? "~/" : shownDirectory
            return base + name + (isDirectory.boolValue ? "/" : "")
        }
    }
}
