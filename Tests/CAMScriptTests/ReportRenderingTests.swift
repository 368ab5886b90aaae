import CAMRuntime
import Foundation
import Interpreter
import XCTest

@testable import CAMScript

/// The report's parts in isolation: Markdown, highlighting, notebook strings, SHA-256, and a
/// run through a session with a picture-valued builtin and a model-like loader that records
/// provenance.
final class ReportRenderingTests: XCTestCase {
    private let markdown = MarkdownRenderer()

    // MARK: - Markdown (cmark-gfm)

    func testMarkdownHeadingsParagraphsAndInlineMarkup() {
        XCTAssertEqual(markdown.html(from: "# Title\n## Sub *x*"), "<h1>Title</h1>\n<h2>Sub <em>x</em></h2>\n")
        XCTAssertEqual(markdown.html(from: "one\ntwo\n\nthree"), "<p>one\ntwo</p>\n<p>three</p>\n")
        XCTAssertEqual(markdown.html(from: "**bold** and _em_ and `a<b>` and aug_smooth_x"),
                       "<p><strong>bold</strong> and <em>em</em> and <code>a&lt;b&gt;</code> and aug_smooth_x</p>\n")
        XCTAssertEqual(markdown.html(from: "2 * 3 * 4"), "<p>2 * 3 * 4</p>\n", "spaced stars are not emphasis")
        XCTAssertEqual(markdown.html(from: "\\*literal\\*"), "<p>*literal*</p>\n")
        XCTAssertEqual(markdown.html(from: "`` a ` b ``"), "<p><code>a ` b</code></p>\n")
        XCTAssertEqual(markdown.html(from: "~~gone~~"), "<p><del>gone</del></p>\n", "GFM strikethrough")
    }

    func testMarkdownListsFencesQuotesAndRules() {
        XCTAssertEqual(markdown.html(from: "- one\n- two *x*\n  more\n\n1. a\n2. b"),
                       "<ul>\n<li>one</li>\n<li>two <em>x</em>\nmore</li>\n</ul>\n<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n")
        XCTAssertEqual(markdown.html(from: "3. c\n4. d"), "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>\n")
        XCTAssertEqual(markdown.html(from: "- a\n  - nested\n- b"),
                       "<ul>\n<li>a\n<ul>\n<li>nested</li>\n</ul>\n</li>\n<li>b</li>\n</ul>\n")
        XCTAssertEqual(markdown.html(from: "```cam\nx = 1 < 2 # *no*\n```\nafter"),
                       "<pre><code class=\"language-cam\">x = 1 &lt; 2 # *no*\n</code></pre>\n<p>after</p>\n")
        XCTAssertEqual(markdown.html(from: "> quoted *q*\n> more"), "<blockquote>\n<p>quoted <em>q</em>\nmore</p>\n</blockquote>\n")
        XCTAssertEqual(markdown.html(from: "a\n\n---\n\nb"), "<p>a</p>\n<hr />\n<p>b</p>\n")
        XCTAssertEqual(markdown.html(from: "- [ ] todo\n- [x] done"),
                       "<ul>\n<li><input type=\"checkbox\" disabled=\"\" /> todo</li>\n"
                       + "<li><input type=\"checkbox\" checked=\"\" disabled=\"\" /> done</li>\n</ul>\n", "GFM task list")
    }

    /// The own renderer read an indented block as prose: its lines ran together into a paragraph.
    func testMarkdownIndentedCodeBlockIsCode() {
        XCTAssertEqual(markdown.html(from: "Run it:\n\n    x = load \"cat.png\"\n      show x * 2\n\nDone."),
                       "<p>Run it:</p>\n<pre><code>x = load &quot;cat.png&quot;\n  show x * 2\n</code></pre>\n<p>Done.</p>\n")
    }

    /// The own renderer printed tables as pipes and dashes.
    func testMarkdownTableHasHeaderAndBodyCells() {
        let html = markdown.html(from: "| layer | score |\n|:--|--:|\n| `conv` <b> | 0.9 |\n| head | *0.1* |")
        XCTAssertEqual(html, """
            <table>
            <thead>
            <tr>
            <th align="left">layer</th>
            <th align="right">score</th>
            </tr>
            </thead>
            <tbody>
            <tr>
            <td align="left"><code>conv</code> &lt;b&gt;</td>
            <td align="right">0.9</td>
            </tr>
            <tr>
            <td align="left">head</td>
            <td align="right"><em>0.1</em></td>
            </tr>
            </tbody>
            </table>

            """)
    }

    /// Images are linked, not embedded, with the path escaped; remote ones become links so that
    /// the page stays offline.
    func testMarkdownImagesRenderAsImgWithEscapedSourceAndRemoteOnesAsLinks() {
        XCTAssertEqual(markdown.html(from: "![a \"cat\"](<img/cat one.png> \"Tabby\")"),
                       "<p><img src=\"img/cat%20one.png\" alt=\"a &quot;cat&quot;\" title=\"Tabby\" /></p>\n")
        XCTAssertEqual(markdown.html(from: "![x](<pic\"onerror=alert(1).png>)"),
                       "<p><img src=\"pic%22onerror=alert(1).png\" alt=\"x\" /></p>\n")
        XCTAssertEqual(markdown.html(from: "![dot](data:image/png;base64,iVBO)"),
                       "<p><img src=\"data:image/png;base64,iVBO\" alt=\"dot\" /></p>\n", "data: images are already in the page")
        XCTAssertEqual(markdown.html(from: "![chart](https://example.com/c.png \"t\")"),
                       "<p><a href=\"https://example.com/c.png\" title=\"t\">chart</a></p>\n")
        XCTAssertEqual(markdown.html(from: "![p](//example.com/p.png)"), "<p><a href=\"//example.com/p.png\">p</a></p>\n")
        XCTAssertEqual(markdown.html(from: "[![badge *b*](https://img.example/b.svg)](https://example.com)"),
                       "<p><a href=\"https://example.com\">badge <em>b</em></a></p>\n", "no link inside a link")
        XCTAssertEqual(markdown.html(from: "![bad](javascript:alert(1))"), "<p><a href=\"\">bad</a></p>\n")
    }

    /// Raw HTML reads as text, as the own renderer showed it; links lose dangerous targets.
    func testMarkdownShowsRawHTMLAsTextAndNeutralisesUnsafeLinks() {
        XCTAssertEqual(markdown.html(from: "<script>alert(1)</script> & \"q\""),
                       "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;</p>\n")
        XCTAssertEqual(markdown.html(from: "a <b>x</b> <img src=x onerror=alert(1)> <!-- c -->"),
                       "<p>a &lt;b&gt;x&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt; &lt;!-- c --&gt;</p>\n")
        XCTAssertEqual(markdown.html(from: "<div onclick=\"x()\">\n*not em*\n\n\n<style>\nbody{}\n</style>\n\nafter"),
                       "<p>&lt;div onclick=&quot;x()&quot;&gt;\n*not em*</p>\n<p>&lt;style&gt;\nbody{}\n&lt;/style&gt;</p>\n<p>after</p>\n")
        XCTAssertEqual(markdown.html(from: "[docs](https://x.org/a?b=1&c=2)"), "<p><a href=\"https://x.org/a?b=1&amp;c=2\">docs</a></p>\n")
        XCTAssertEqual(markdown.html(from: "[see](docs/language.md)"), "<p><a href=\"docs/language.md\">see</a></p>\n")
        XCTAssertEqual(markdown.html(from: "[bad](javascript:alert(1)) [v](VBScript:x) [f](file:///etc/passwd)"),
                       "<p><a href=\"\">bad</a> <a href=\"\">v</a> <a href=\"\">f</a></p>\n", "script links lose their target")
        XCTAssertEqual(markdown.html(from: "[a \"q\"](<\"onmouseover=x>)"), "<p><a href=\"%22onmouseover=x\">a &quot;q&quot;</a></p>\n")
        XCTAssertEqual(markdown.html(from: "<https://example.com/x> www.example.org"),
                       "<p><a href=\"https://example.com/x\">https://example.com/x</a> "
                       + "<a href=\"http://www.example.org\">www.example.org</a></p>\n", "autolinks are links, not raw HTML")
        for hostile in ["<script>alert(1)</script>", "x <iframe src=a></iframe>", "<b onmouseover=x>b</b>",
                        "| <i>t</i> |\n|---|\n| <svg onload=x> |", "> <details open ontoggle=x>"] {
            let html = markdown.html(from: hostile)
            XCTAssertNil(html.range(of: "<(script|iframe|b |i>|svg|details)", options: .regularExpression), html)
        }
    }

    /// The source the notebook carries is the author's text when there is no raw HTML, and a
    /// CommonMark text that renders to the same page when there is.
    func testMarkdownReportSourceKeepsTextWithoutRawHTMLAndEscapesItOtherwise() {
        let plain = "# T\n\n* star list\n\n    indented\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[r]: https://x.org"
        XCTAssertEqual(MarkdownRenderer.reportSource(plain), plain)
        let raw = "a <b>x</b> and `<i>` y\n\n<div>\nhi\n</div>\n\n| c |\n|---|\n| <u>u</u> |"
        let source = MarkdownRenderer.reportSource(raw)
        XCTAssertEqual(source, "a \\<b\\>x\\</b\\> and `<i>` y\n\n\\<div\\>\nhi\n\\</div\\>\n\n"
                       + "| c |\n| --- |\n| \\<u\\>u\\</u\\> |")
        XCTAssertEqual(markdown.html(from: source), markdown.html(from: raw), "the notebook's text renders as the page")
        XCTAssertEqual(MarkdownRenderer.reportSource(source), source, "no raw HTML is left")
        XCTAssertEqual(MarkdownRenderer.literal("a <b> *c* #1"), "a \\<b\\> \\*c\\* \\#1")
    }

    /// Input that strains a Markdown parser: it must render, without crashing, in bounded time.
    func testMarkdownSurvivesHostileInput() {
        let deepList = (0..<2_000).map { String(repeating: "  ", count: $0) + "- item" }.joined(separator: "\n")
        let deepQuote = String(repeating: ">", count: 50_000) + " deep"
        let brackets = String(repeating: "[", count: 1 << 20)
        let mixed = String(repeating: "*a_[!`<", count: 100_000)
        let nul = "before\u{0}after\n\n| a\u{0} |\n|---|\n| \u{0} |"
        let invalid = String(decoding: [0x61, 0xFF, 0xFE, 0xC3, 0x28, 0x0A, 0xED, 0xA0, 0x80, 0x62] as [UInt8], as: UTF8.self)
        let wideRow = "a|b\n-|-\n" + String(repeating: "x|", count: 5_000)
        let cases: [(String, String)] = [("deep list", deepList), ("deep quote", deepQuote), ("1 MB of [", brackets),
                                         ("mixed delimiters", mixed), ("NUL", nul), ("invalid UTF-8", invalid),
                                         ("wide table row", wideRow)]
        for (name, text) in cases {
            let start = Date()
            let html = markdown.html(from: text)
            XCTAssertLessThan(Date().timeIntervalSince(start), 10, name)
            XCTAssertFalse(html.isEmpty, name)
            XCTAssertFalse(html.contains("\u{0}"), "\(name): cmark replaces NUL")
            _ = MarkdownRenderer.reportSource(text)
        }
        XCTAssertEqual(markdown.html(from: nul).components(separatedBy: "\u{FFFD}").count, 4, "three NULs, each U+FFFD")
        XCTAssertEqual(markdown.html(from: deepList).components(separatedBy: "<ul>").count, 2_001)
        XCTAssertEqual(markdown.html(from: invalid), "<p>a\u{FFFD}\u{FFFD}\u{FFFD}(\n\u{FFFD}\u{FFFD}\u{FFFD}b</p>\n")
    }

    /// The notebook carries the Markdown the page renders: the cell's own text when it has no raw
    /// HTML, the same escaped text otherwise, and the title as literally as the page shows it.
    func testNotebookMarkdownCellsCarryTheTextTheHTMLPageRenders() throws {
        let source = """
            # %% [markdown]
            # Scores:
            #
            # | layer | score |
            # |---|---|
            # | conv | 0.9 |
            #
            #     show cam(m, img)
            #
            # ![cat](cat.png)
            # %% [markdown] Notes <i>*1*</i>
            # Raw <b>bold</b> stays text.
            # %%
            x = 1
            """
        let script = ScriptFile(source: source, fileName: "t.cam")
        let report = RunReport(fileName: "t.cam", date: Date(timeIntervalSince1970: 0), cells: script.cells.map {
            CellReport(cell: $0, status: $0.kind == .markdown ? .markdown : .notRun)
        })
        let html = HTMLReport().render(report)
        let notebook = try XCTUnwrap(try JSONSerialization.jsonObject(with: NotebookExport().render(report)) as? [String: Any])
        let cells = try XCTUnwrap(notebook["cells"] as? [[String: Any]])
        let first = try XCTUnwrap(cells[0]["source"] as? [String]).joined()
        let second = try XCTUnwrap(cells[1]["source"] as? [String]).joined()

        XCTAssertEqual(first, script.cells[0].source, "no raw HTML: the author's text, unchanged")
        XCTAssertTrue(first.contains("| conv | 0.9 |"))
        let firstHTML = markdown.html(from: first)
        XCTAssertTrue(firstHTML.contains("<th>layer</th>") && firstHTML.contains("<pre><code>show cam(m, img)\n</code></pre>")
                      && firstHTML.contains("<img src=\"cat.png\" alt=\"cat\" />"), firstHTML)
        XCTAssertTrue(html.contains("<section class=\"cell markdown\" id=\"cell-1\">\n" + firstHTML + "</section>"),
                      "the page renders exactly the notebook's text")

        XCTAssertEqual(second, "## Notes \\<i\\>\\*1\\*\\<\\/i\\>\n\nRaw \\<b\\>bold\\</b\\> stays text.")
        let body = String(second.drop { $0 != "\n" }.dropFirst(2))
        XCTAssertTrue(html.contains("<h2 class=\"cell-title\">Notes &lt;i&gt;*1*&lt;/i&gt;</h2>\n" + markdown.html(from: body)), html)
        XCTAssertEqual(markdown.html(from: second),
                       "<h2>Notes &lt;i&gt;*1*&lt;/i&gt;</h2>\n<p>Raw &lt;b&gt;bold&lt;/b&gt; stays text.</p>\n",
                       "Markdown shows the notebook's title and text as the page does")
    }

    // MARK: - Highlighting

    func testTablesAreDrawnAsHTMLTablesWithNumbersOnTheRight() throws {
        let table = TextTable(columns: ["metric", "value"], alignments: [.left, .right], rows: [["road <most>", "-3.1"]])
        XCTAssertEqual(HTML.table(table),
                       "<table class=\"result\"><thead><tr><th>metric</th><th class=\"num\">value</th></tr></thead>"
                       + "<tbody><tr><td>road &lt;most&gt;</td><td class=\"num\">-3.1</td></tr></tbody></table>\n")
        XCTAssertEqual(table.text, "metric       value\nroad <most>   -3.1")
        let value = Value.object(TableObject(title: "t", columns: ["a", "b"], rows: [[.number(1), .string("x")]]))
        let outputs = ReportRecorder.outputs(of: [OutputItem(kind: .value(value.echo, value), cell: 1, range: nil)], lastStatement: nil)
        guard case .value(_, nil, isLast: false, let recorded?) = outputs.first else { return XCTFail("no table in \(outputs)") }
        XCTAssertEqual(recorded.rows, [["1", "x"]])
        XCTAssertEqual(recorded.alignments, [.right, .left])
    }

    func testHighlighterUsesTheLexersTokensAndKeepsTheTextExact() {
        let highlighter = SyntaxHighlighter(builtinNames: ["print", "load"])
        let lines = highlighter.highlightedLines("img = load \"a#b.png\"  # the <cat>\nfor i in [1, 2]:\n    print i", firstLine: 7)
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines[0], "img <span class=\"sy\">=</span> <span class=\"bi\">load</span> "
                       + "<span class=\"st\">&quot;a#b.png&quot;</span>  <span class=\"co\"># the &lt;cat&gt;</span>")
        XCTAssertEqual(lines[1], "<span class=\"kw\">for</span> i <span class=\"kw\">in</span> <span class=\"sy\">[</span>"
                       + "<span class=\"nu\">1</span><span class=\"sy\">,</span> <span class=\"nu\">2</span>"
                       + "<span class=\"sy\">]</span><span class=\"sy\">:</span>")
        XCTAssertEqual(lines[2], "    <span class=\"bi\">print</span> i")
        // Stripping the tags gives back the source.
        let plain = lines.map { $0.replacingOccurrences(of: "<[^>]+>", with: "", options: .regularExpression) }
        XCTAssertEqual(plain[0], "img = load &quot;a#b.png&quot;  # the &lt;cat&gt;")
    }

    func testHighlighterLeavesTextAfterALexicalErrorPlain() {
        let highlighter = SyntaxHighlighter(builtinNames: [])
        let lines = highlighter.highlightedLines("x = 1\ny = \"open # not a comment", firstLine: 1)
        XCTAssertEqual(lines[0], "x <span class=\"sy\">=</span> <span class=\"nu\">1</span>")
        XCTAssertTrue(lines[1].contains("&quot;open # not a comment"), lines[1])
        XCTAssertFalse(lines[1].contains("class=\"co\""), lines[1])
    }

    // MARK: - Notebook strings and SHA-256

    func testNotebookLinesKeepNewlinesExceptOnTheLastLine() {
        XCTAssertEqual(NotebookExport.lines("a\nb"), ["a\n", "b"])
        XCTAssertEqual(NotebookExport.lines("a\n"), ["a\n"])
        XCTAssertEqual(NotebookExport.lines(""), [])
    }

    func testSHA256KnownVectorsAndStreaming() throws {
        XCTAssertEqual(SHA256.hexDigest(of: [UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hexDigest(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hexDigest(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(SHA256.hexDigest(of: million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        var hasher = SHA256()
        for chunk in stride(from: 0, to: million.count, by: 65_537) { hasher.update(million[chunk..<min(chunk + 65_537, million.count)]) }
        XCTAssertEqual(hasher.finalize(), { var h = SHA256(); h.update(million); return h.finalize() }())
        // Value semantics: a copy goes on alone, and finalize() leaves the hasher usable.
        func digest(_ text: String) -> [UInt8] {
            var h = SHA256()
            h.update(Array(text.utf8))
            return h.finalize()
        }
        var first = SHA256()
        first.update(Array("ab".utf8))
        var second = first
        second.update(Array("c".utf8))
        XCTAssertEqual(second.finalize(), digest("abc"))
        XCTAssertEqual(first.finalize(), digest("ab"), "the copy's update did not reach the original")
        first.update(Array("c".utf8))
        XCTAssertEqual(first.finalize(), digest("abc"), "finalize() left the hasher usable")
        // A non-contiguous collection is hashed as its bytes.
        var lazy = SHA256()
        lazy.update(Array("abc".utf8).lazy.map { $0 })
        XCTAssertEqual(lazy.finalize(), digest("abc"))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(million).write(to: file)
        XCTAssertEqual(try SHA256.hexDigest(ofFileAt: file.path), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        XCTAssertThrowsError(try SHA256.hexDigest(ofFileAt: file.path + ".missing")) { error in
            XCTAssertEqual((error as? RuntimeError)?.message, "cannot read \(file.path).missing to compute its checksum: no such file")
        }
    }

    // MARK: - A run through a session

    /// A value with a picture, like the runtime's images and overlays.
    private struct Swatch: ScriptObject {
        var typeName: String { "swatch" }
        var description: String { "swatch 3×2" }
        func member(_ name: String) throws -> Value? { nil }
        var displayImage: DisplayImage? {
            DisplayImage(width: 3, height: 2, rgb: [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90])
        }
    }

    private func registry() -> BuiltinRegistry {
        var registry = BuiltinRegistry.core
        registry.register(Builtin(BuiltinSignature(name: "swatch", category: "Test", summary: "A picture.", example: "swatch")) { _, _ in
            .object(Swatch())
        })
        registry.register(Loader(description: "test model", extensions: ["model"]) { path, _, context in
            try context.recordLoadedFile(at: path, kind: "model")
            try context.recordLoadedFile(at: path, kind: "model")   // recorded once
            return .string("model")
        })
        return registry
    }

    func testSessionRunRecordsPicturesLastValuesAndProvenance() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("weights".utf8).write(to: folder.appendingPathComponent("tiny.model"))
        let source = "# %% Load\nm = load \"tiny.model\"\nshow swatch()\nswatch()\nprint \"done\"\n# %% Values\n1 + 1\nswatch()\n"
        let script = ScriptFile(source: source, fileName: "t.cam")
        let renderer = DiagnosticRenderer { _, line in script.line(line) }
        let builder = ReportBuilder(script: script, destinations: ReportDestinations(), renderer: renderer,
                                    date: Date(timeIntervalSince1970: 1_800_000_000))
        let session = Session(registry: registry(), output: DiscardingSink(), baseDirectory: folder.path)
        for (cell, program) in try script.parse() {
            session.currentCell = cell.index
            session.output = builder.begin(cell, quiet: false, forwardingTo: DiscardingSink())
            let outcome = session.execute(program)
            XCTAssertNil(outcome.diagnostic)
            builder.end(cell, program: program, outcome: outcome)
        }
        let report = builder.snapshot(provenance: session.provenance)
        XCTAssertEqual(report.dateText, "2027-01-15T08:00:00Z")
        XCTAssertEqual(report.provenance, [ProvenanceRecord(kind: "model", path: folder.appendingPathComponent("tiny.model").path,
                                                            sha256: SHA256.hexDigest(of: Array("weights".utf8)))])
        // Cell 1: the shown picture, the middle bare `swatch()`'s echo (as the REPL shows it) and the print.
        let first = report.cells[0].outputs
        XCTAssertEqual(first.count, 3)
        guard case .image(let shown, "swatch 3×2") = first[0], case .value("swatch 3×2", _, isLast: false, _) = first[1],
              case .text("done") = first[2] else {
            return XCTFail("unexpected outputs \(first)")
        }
        XCTAssertEqual(shown.width, 3)
        // Cell 2: every echo in order; the last one is the cell's result, with its picture.
        let second = report.cells[1].outputs
        XCTAssertEqual(second.count, 2)
        guard case .value("2", nil, isLast: false, nil) = second[0],
              case .value("swatch 3×2", let picture?, isLast: true, nil) = second[1] else { return XCTFail("unexpected outputs \(second)") }
        XCTAssertEqual(picture.rgb.prefix(3), [255, 0, 0])
        XCTAssertEqual(report.cells.map(\.executionCount), [1, 2])

        let html = HTMLReport().render(report)
        XCTAssertTrue(html.contains(SHA256.hexDigest(of: Array("weights".utf8))))
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1, 3)
        let pngBase64 = try XCTUnwrap(html.components(separatedBy: "data:image/png;base64,").last?.components(separatedBy: "\"").first)
        let decoded = try RGBImage(data: try XCTUnwrap(Data(base64Encoded: pngBase64)), fileName: "x.png")
        XCTAssertEqual(decoded.pixels, picture.rgb, "the page embeds the exact picture")

        let notebook = try XCTUnwrap(try JSONSerialization.jsonObject(with: NotebookExport().render(report)) as? [String: Any])
        let cells = try XCTUnwrap(notebook["cells"] as? [[String: Any]])
        let outputs = try XCTUnwrap(cells[1]["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.map { $0["output_type"] as? String }, ["display_data", "execute_result"])
        let result = try XCTUnwrap(outputs.last)
        let data = try XCTUnwrap(result["data"] as? [String: Any])
        XCTAssertNotNil(data["image/png"] as? String)
        XCTAssertEqual(data["text/plain"] as? [String], ["swatch 3×2"])
        let provenance = try XCTUnwrap(((notebook["metadata"] as? [String: Any])?["camscript"] as? [String: Any])?["provenance"] as? [[String: String]])
        XCTAssertEqual(provenance.first?["sha256"], SHA256.hexDigest(of: Array("weights".utf8)))
    }
}
