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

    // MARK: - Markdown

    func testMarkdownHeadingsParagraphsAndInlineMarkup() {
        XCTAssertEqual(markdown.html(from: "# Title\n## Sub *x*"), "<h1>Title</h1>\n<h2>Sub <em>x</em></h2>\n")
        XCTAssertEqual(markdown.html(from: "one\ntwo\n\nthree"), "<p>one\ntwo</p>\n<p>three</p>\n")
        XCTAssertEqual(markdown.inline("**bold** and _em_ and `a<b>` and aug_smooth_x"),
                       "<strong>bold</strong> and <em>em</em> and <code>a&lt;b&gt;</code> and aug_smooth_x")
        XCTAssertEqual(markdown.inline("2 * 3 * 4"), "2 * 3 * 4", "spaced stars are not emphasis")
        XCTAssertEqual(markdown.inline("\\*literal\\*"), "*literal*")
        XCTAssertEqual(markdown.inline("`` a ` b ``"), "<code>a ` b</code>")
    }

    func testMarkdownEscapesRawHTMLAndUnsafeLinks() {
        XCTAssertEqual(markdown.html(from: "<script>alert(1)</script> & \"q\""),
                       "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;</p>\n")
        XCTAssertEqual(markdown.inline("[docs](https://x.org/a?b=1&c=2)"), "<a href=\"https://x.org/a?b=1&amp;c=2\">docs</a>")
        XCTAssertEqual(markdown.inline("[see](docs/language.md)"), "<a href=\"docs/language.md\">see</a>")
        XCTAssertEqual(markdown.inline("[bad](javascript:alert(1))"), "bad", "script links lose their target")
        XCTAssertEqual(markdown.inline("[a \"q\"](\"onmouseover=x)"), "<a href=\"&quot;onmouseover=x\">a &quot;q&quot;</a>")
    }

    func testMarkdownListsFencesQuotesAndRules() {
        XCTAssertEqual(markdown.html(from: "- one\n- two *x*\n  more\n\n1. a\n2. b"),
                       "<ul>\n<li>one</li>\n<li>two <em>x</em>\nmore</li>\n</ul>\n<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n")
        XCTAssertEqual(markdown.html(from: "3. c\n4. d"), "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>\n")
        XCTAssertEqual(markdown.html(from: "- a\n  - nested\n- b"),
                       "<ul>\n<li>a\n<ul>\n<li>nested</li>\n</ul></li>\n<li>b</li>\n</ul>\n")
        XCTAssertEqual(markdown.html(from: "```cam\nx = 1 < 2 # *no*\n```\nafter"),
                       "<pre><code class=\"language-cam\">x = 1 &lt; 2 # *no*</code></pre>\n<p>after</p>\n")
        XCTAssertEqual(markdown.html(from: "> quoted *q*\n> more"), "<blockquote>\n<p>quoted <em>q</em>\nmore</p>\n</blockquote>\n")
        XCTAssertEqual(markdown.html(from: "a\n\n---\n\nb"), "<p>a</p>\n<hr>\n<p>b</p>\n")
    }

    // MARK: - Highlighting

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
            XCTAssertEqual((error as? RuntimeError)?.message, "cannot read \(file.path).missing to compute its checksum")
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
        // Cell 1: the shown picture and the print; the middle bare `swatch()` is not the last statement.
        let first = report.cells[0].outputs
        XCTAssertEqual(first.count, 2)
        guard case .image(let shown, "swatch 3×2") = first[0], case .text("done") = first[1] else {
            return XCTFail("unexpected outputs \(first)")
        }
        XCTAssertEqual(shown.width, 3)
        // Cell 2: only the last expression's value, with its picture.
        let second = report.cells[1].outputs
        XCTAssertEqual(second.count, 1)
        guard case .value("swatch 3×2", let picture?) = second[0] else { return XCTFail("unexpected outputs \(second)") }
        XCTAssertEqual(picture.rgb.prefix(3), [255, 0, 0])
        XCTAssertEqual(report.cells.map(\.executionCount), [1, 2])

        let html = HTMLReport().render(report)
        XCTAssertTrue(html.contains(SHA256.hexDigest(of: Array("weights".utf8))))
        XCTAssertEqual(html.components(separatedBy: "src=\"data:image/png;base64,").count - 1, 2)
        let pngBase64 = try XCTUnwrap(html.components(separatedBy: "data:image/png;base64,").last?.components(separatedBy: "\"").first)
        let decoded = try RGBImage(data: try XCTUnwrap(Data(base64Encoded: pngBase64)), fileName: "x.png")
        XCTAssertEqual(decoded.pixels, picture.rgb, "the page embeds the exact picture")

        let notebook = try XCTUnwrap(try JSONSerialization.jsonObject(with: NotebookExport().render(report)) as? [String: Any])
        let cells = try XCTUnwrap(notebook["cells"] as? [[String: Any]])
        let result = try XCTUnwrap((cells[1]["outputs"] as? [[String: Any]])?.first)
        XCTAssertEqual(result["output_type"] as? String, "execute_result")
        let data = try XCTUnwrap(result["data"] as? [String: Any])
        XCTAssertNotNil(data["image/png"] as? String)
        XCTAssertEqual(data["text/plain"] as? [String], ["swatch 3×2"])
        let provenance = try XCTUnwrap(((notebook["metadata"] as? [String: Any])?["camscript"] as? [String: Any])?["provenance"] as? [[String: String]])
        XCTAssertEqual(provenance.first?["sha256"], SHA256.hexDigest(of: Array("weights".utf8)))
    }
}
