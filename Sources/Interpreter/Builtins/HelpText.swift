import CAMRuntime

/// The text `help` prints, built from the builtin declarations.
enum HelpText {
    /// Explanations of keywords and special forms.
    static let topics: [String: String] = [
        "time": """
            time STATEMENT
              Runs the rest of the line (a command or an expression), prints how long it took \
            (wall clock) and gives back its value, like IPython's %time.
              Example: c = time gradcam model x
            """,
        "if": """
            if CONDITION: … elif CONDITION: … else: …
              Runs the first block whose condition is true. false, none, 0, "" and [] are false.
              Example: if p > 0.5:
                           print "confident"
            """,
        "for": """
            for NAME in LIST: …
              Runs the block once per element of a list (characters of a string, rows of a tensor). \
            `break` leaves the loop, `continue` goes to the next element. Ctrl-C stops it.
              Example: for m in ["gradcam", "hirescam"]:
                           print m
            """,
        "while": """
            while CONDITION: …
              Runs the block while the condition is true.
              Example: while n > 0:
                           n = n - 1
            """,
        "def": """
            def NAME(A, B=DEFAULT): …
              Defines a function; `return VALUE` ends it with a value (none without one). \
            Defaults are evaluated at each call. Calls nest at most 200 deep.
              Example: def double(x):
                           return 2 * x
            """,
        "args": """
            args
              The list of strings given after `--` in `camscript run FILE.cam -- A B`.
              Example: print args[0]
            """,
    ]

    static func render(_ subject: Value, context: CallContext) throws -> String {
        switch subject {
        case .none:
            return overview(context.registry)
        case .string(let name):
            if let builtin = context.registry.builtins[name] {
                var text = describe(builtin.signature)
                if name == "load" {
                    text += "\n  File types: " + context.registry.loaders.map { l in
                        l.extensions.map { "." + $0 }.joined(separator: " ") + " (\(l.description))"
                    }.joined(separator: "; ")
                } else if name == "save" {
                    text += "\n  File types: " + context.registry.savers.map { s in
                        s.extensions.map { "." + $0 }.joined(separator: " ") + " (\(s.description))"
                    }.joined(separator: "; ")
                }
                return text
            }
            if let topic = topics[name] { return topic }
            if let variable = context.variables.first(where: { $0.name == name }) {
                return describe(variable.value, name: name)
            }
            if let keyword = Keyword(rawValue: name) {
                return "`\(keyword.rawValue)` is a keyword of the language; see docs/language.md"
            }
            let known = context.registry.names + Array(topics.keys) + context.variables.map(\.name)
            throw RuntimeError("help: no builtin, keyword or variable named `\(name)`" + didYouMean(name, known))
        case .builtin(let builtin):
            return describe(builtin.signature)
        default:
            return describe(subject, name: nil)
        }
    }

    static func overview(_ registry: BuiltinRegistry) -> String {
        var byCategory: [String: [BuiltinSignature]] = [:]
        for builtin in registry.builtins.values { byCategory[builtin.signature.category, default: []].append(builtin.signature) }
        let width = (registry.names.map(\.count).max() ?? 0) + 2
        var lines: [String] = []
        for category in byCategory.keys.sorted() {
            lines.append("\(category):")
            for s in (byCategory[category] ?? []).sorted(by: { $0.name < $1.name }) {
                lines.append("  " + s.name.padding(toLength: width, withPad: " ", startingAt: 0) + s.summary)
            }
        }
        lines.append("Language: if, for, while, def, time, args. Type `help NAME` for details.")
        return lines.joined(separator: "\n")
    }

    static func describe(_ s: BuiltinSignature) -> String {
        var lines = [s.usage, "  " + s.summary]
        if !s.details.isEmpty { lines.append("  " + s.details) }
        var parameters = s.parameters
        if let v = s.variadic { parameters.append(v) }
        if !parameters.isEmpty {
            lines.append("  Arguments:")
            let width = (parameters.map(\.name.count).max() ?? 0) + 2
            for p in parameters {
                var text = "    " + p.name.padding(toLength: width, withPad: " ", startingAt: 0) + p.typePhrase
                if let d = p.defaultValue { text += ", default \(d.repr)" }
                if p.keywordOnly { text += ", keyword only" }
                if s.variadic?.name == p.name { text += ", any number" }
                text += ". " + p.doc
                lines.append(text)
            }
        }
        if let formula = s.formula { lines.append("  Formula: " + formula) }
        if let paper = s.paper { lines.append("  Paper: " + paper) }
        let example = s.example.split(separator: "\n", omittingEmptySubsequences: false)
        lines.append("  Example: " + (example.first.map(String.init) ?? ""))
        for line in example.dropFirst() { lines.append("           " + line) }
        return lines.joined(separator: "\n")
    }

    static func describe(_ value: Value, name: String?) -> String {
        var lines = [(name.map { "\($0): " } ?? "") + value.typeName + " — " + value.repr]
        if case .function(let f) = value { lines = ["def " + f.signatureText] }
        let members = Operators.memberNames(value)
        if !members.isEmpty { lines.append("  members: " + members.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }
}
