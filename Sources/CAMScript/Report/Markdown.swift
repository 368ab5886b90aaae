import CCmarkGFM
import Foundation

/// Turns the text of a markdown cell into HTML; a protocol so that a report can be given another
/// renderer.
protocol MarkdownRendering {
    /// The HTML for `markdown`; raw HTML in it is shown as text, never passed through.
    func html(from markdown: String) -> String
}

/// Renders markdown cells with cmark-gfm, the CommonMark reference implementation with GitHub's
/// tables, strikethrough, autolinks and task lists, so that a cell looks in the HTML report as it
/// does in Jupyter or on GitHub (indented and fenced code, tables, images, nested lists).
///
/// Raw HTML is never passed through, as before cmark: `reportSource(_:)` turns every raw HTML tag
/// or block into literal text first (`<b>x</b>` reads as itself), and cmark then renders without
/// `CMARK_OPT_UNSAFE`, which would drop any raw HTML left and empties `javascript:`, `vbscript:`,
/// `file:` and non-image `data:` link and image targets. The notebook export writes the same
/// `reportSource(_:)` text into its markdown cells, so Jupyter and the HTML page show the same.
///
/// Images: `![alt](path)` becomes `<img src="path" alt="alt" />`, the path escaped and not
/// embedded, so a relative path resolves against the report's folder as it does against the
/// notebook's in Jupyter. Reading the file into a `data:` URI, like the pictures a run shows,
/// would let a cell copy any readable local file into a report meant to be passed around. An image
/// with a remote URL (a scheme other than `data:`, or `//host`) becomes a link to it instead, with
/// its alt text as the label, because an opened report never touches the network.
struct MarkdownRenderer: MarkdownRendering {
    /// Creates the renderer.
    init() {}

    func html(from markdown: String) -> String {
        let rendered = MarkdownRenderer.withDocument(MarkdownRenderer.reportSource(markdown)) { document, extensions in
            MarkdownRenderer.linkRemoteImages(in: document)
            return MarkdownRenderer.string(from: cmark_render_html(document, MarkdownRenderer.options, extensions))
        }
        // Only when cmark could not allocate a parser: the text, escaped.
        return rendered ?? "<pre>" + HTML.escape(markdown) + "</pre>\n"
    }

    /// The Markdown both reports carry for `markdown`, so that the notebook renders as the page
    /// does: `markdown` itself when cmark finds no raw HTML in it (the usual case, keeping the
    /// author's text), otherwise cmark's CommonMark for it with every raw HTML tag and block turned
    /// into literal text (`<b>` becomes `\<b\>`).
    static func reportSource(_ markdown: String) -> String {
        let converted = withDocument(markdown) { document, _ -> String? in
            let raw = nodes(in: document) {
                let type = cmark_node_get_type($0)
                return type == CMARK_NODE_HTML_INLINE || type == CMARK_NODE_HTML_BLOCK
            }
            guard !raw.isEmpty else { return nil }
            for node in raw { replaceWithLiteralText(node) }
            var text = string(from: cmark_render_commonmark(document, options, 0))
            while text.hasSuffix("\n") { text.removeLast() }
            return text
        }
        return converted.flatMap { $0 } ?? markdown
    }

    /// `text` with every ASCII punctuation character backslash-escaped, so that Markdown shows
    /// it literally (a cell title in a notebook heading reads as in the HTML page).
    static func literal(_ text: String) -> String {
        var out = ""
        for ch in text {
            if ch.isASCII, ch.isPunctuation || ch.isSymbol { out.append("\\") }
            out.append(ch)
        }
        return out
    }

    // MARK: - cmark

    /// cmark's default (safe) rendering: raw HTML omitted, dangerous URLs emptied; input that is not
    /// UTF-8 has its bad bytes replaced.
    private static let options = CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8

    /// The GitHub extensions every parser gets; registering them is not thread-safe in cmark-gfm,
    /// so it happens once, in this lazy initializer.
    private static let extensions: [OpaquePointer] = {
        cmark_gfm_core_extensions_ensure_registered()
        let names: [String] = ["table", "strikethrough", "autolink", "tasklist"]
        return names.compactMap { (name: String) in cmark_find_syntax_extension(name) }
    }()

    /// Parses `markdown` and passes the document and the parser's extension list to `body`; both
    /// are freed afterwards. `nil` when cmark cannot make a parser.
    private static func withDocument<Result>(
        _ markdown: String, _ body: (OpaquePointer, UnsafeMutablePointer<cmark_llist>?) -> Result
    ) -> Result? {
        guard let parser = cmark_parser_new(options) else { return nil }
        defer { cmark_parser_free(parser) }
        for syntax in extensions { cmark_parser_attach_syntax_extension(parser, syntax) }
        var text = markdown
        text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                // By length, not as a C string: a NUL in the text must not end it.
                if let base = chars.baseAddress, !chars.isEmpty { cmark_parser_feed(parser, base, chars.count) }
            }
        }
        guard let document = cmark_parser_finish(parser) else { return nil }
        defer { cmark_node_free(document) }
        return body(document, cmark_parser_get_syntax_extensions(parser))
    }

    /// The string cmark rendered, which is then freed.
    private static func string(from rendered: UnsafeMutablePointer<CChar>?) -> String {
        guard let rendered else { return "" }
        defer { free(rendered) }
        return String(cString: rendered)
    }

    /// The nodes under `document` (in document order) that `include` accepts, collected before
    /// the caller changes the tree.
    private static func nodes(in document: OpaquePointer, where include: (OpaquePointer) -> Bool) -> [OpaquePointer] {
        guard let iterator = cmark_iter_new(document) else { return [] }
        defer { cmark_iter_free(iterator) }
        var found: [OpaquePointer] = []
        var event = cmark_iter_next(iterator)
        while event != CMARK_EVENT_DONE {
            if event == CMARK_EVENT_ENTER, let node = cmark_iter_get_node(iterator), include(node) {
                found.append(node)
            }
            event = cmark_iter_next(iterator)
        }
        return found
    }

    /// Puts the text of a raw HTML node in its place: an inline tag as text, a block as
    /// paragraphs (split at blank lines, as the block's lines would be without the tag).
    private static func replaceWithLiteralText(_ node: OpaquePointer) {
        let literal = cmark_node_get_literal(node).map { String(cString: $0) } ?? ""
        let lines = literal.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if cmark_node_get_type(node) == CMARK_NODE_HTML_INLINE {
            for piece in inlineNodes(lines.filter { !$0.isEmpty }) { insert(piece, before: node) }
        } else {
            var group: [String] = []
            for line in lines + [""] {
                if !line.isEmpty {
                    group.append(line)
                    continue
                }
                if !group.isEmpty, let paragraph = cmark_node_new(CMARK_NODE_PARAGRAPH) {
                    for piece in inlineNodes(group) { append(piece, to: paragraph) }
                    insert(paragraph, before: node)
                }
                group.removeAll()
            }
        }
        cmark_node_unlink(node)
        cmark_node_free(node)
    }

    /// Puts the unattached `new` before `node`; frees it when cmark refuses (a parent that cannot
    /// hold it), so that nothing leaks. Whether it was inserted.
    @discardableResult
    private static func insert(_ new: OpaquePointer, before node: OpaquePointer) -> Bool {
        guard cmark_node_insert_before(node, new) != 0 else {
            cmark_node_free(new)
            return false
        }
        return true
    }

    /// Appends the unattached `child` to `parent`; frees it when cmark refuses, so nothing leaks.
    private static func append(_ child: OpaquePointer, to parent: OpaquePointer) {
        if cmark_node_append_child(parent, child) == 0 { cmark_node_free(child) }
    }

    /// Text nodes for `lines`, joined by soft breaks.
    private static func inlineNodes(_ lines: [String]) -> [OpaquePointer] {
        var pieces: [OpaquePointer] = []
        for (index, line) in lines.enumerated() {
            if index > 0, let lineBreak = cmark_node_new(CMARK_NODE_SOFTBREAK) { pieces.append(lineBreak) }
            if let text = cmark_node_new(CMARK_NODE_TEXT) {
                cmark_node_set_literal(text, line)
                pieces.append(text)
            }
        }
        return pieces
    }

    /// Turns images with a remote URL into links to it labelled with their alt text (inside a
    /// link, into the alt text alone), so that opening the page fetches nothing.
    private static func linkRemoteImages(in document: OpaquePointer) {
        let remote = nodes(in: document) { node in
            guard cmark_node_get_type(node) == CMARK_NODE_IMAGE else { return false }
            return isRemote(cmark_node_get_url(node).map { String(cString: $0) } ?? "")
        }
        for image in remote {
            var replacement: OpaquePointer?
            if !isInsideLink(image), let link = cmark_node_new(CMARK_NODE_LINK) {
                cmark_node_set_url(link, cmark_node_get_url(image))
                cmark_node_set_title(link, cmark_node_get_title(image))
                if insert(link, before: image) { replacement = link }
            }
            while let child = cmark_node_first_child(image) {
                cmark_node_unlink(child)
                if let replacement {
                    append(child, to: replacement)
                } else {
                    insert(child, before: image)
                }
            }
            cmark_node_unlink(image)
            cmark_node_free(image)
        }
    }

    /// Whether `url` names something on another host: a scheme other than `data:`, or `//host`.
    private static func isRemote(_ url: String) -> Bool {
        if url.hasPrefix("//") { return true }
        guard let colon = url.firstIndex(of: ":") else { return false }
        let scheme = url[..<colon]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) })
        else { return false }
        return scheme.lowercased() != "data"
    }

    private static func isInsideLink(_ node: OpaquePointer) -> Bool {
        var parent = cmark_node_parent(node)
        while let current = parent {
            if cmark_node_get_type(current) == CMARK_NODE_LINK { return true }
            parent = cmark_node_parent(current)
        }
        return false
    }
}
