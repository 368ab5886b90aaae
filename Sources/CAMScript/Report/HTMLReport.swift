import Foundation
import Interpreter

/// Renders a `RunReport` as one self-contained HTML page: inline CSS, the run's pictures as
/// `data:` URIs, no scripts and no network access (markdown images keep their relative paths; see
/// `MarkdownRenderer`).
struct HTMLReport {
    /// Renders markdown cells.
    var markdown: any MarkdownRendering = MarkdownRenderer()
    /// Colours code cells.
    var highlighter = SyntaxHighlighter(builtinNames: Set(BuiltinRegistry.standard.names))

    /// The page.
    func render(_ report: RunReport) -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="camscript \(HTML.escape(report.version))">
            <title>\(HTML.escape(displayName(report.fileName))) — CAMScript report</title>
            <style>\(HTMLReport.styleSheet)</style>
            </head>
            <body>
            <main>

            """
        out += header(report)
        for cell in report.cells {
            out += self.cell(cell)
        }
        out += "</main>\n</body>\n</html>\n"
        return out
    }

    private func displayName(_ path: String) -> String {
        URL(fileURLWithPath: path).lastPathComponent
    }

    private func header(_ report: RunReport) -> String {
        var out = "<header class=\"report-header\">\n"
        out += "<h1>\(HTML.escape(displayName(report.fileName)))</h1>\n"
        let random = report.provenance.filter(\.isRandomWeights).map(\.path)
        if !random.isEmpty {
            // Loud, at the top: pictures from random weights look like results and are not.
            out += "<p class=\"random-weights\" role=\"alert\">⚠ Random weights: \(HTML.escape(random.joined(separator: ", "))) "
                + "(made by <code>random_model</code>). Its predictions and maps mean nothing; load trained weights for real results.</p>\n"
        }
        out += "<dl>\n"
        out += "<dt>File</dt><dd><code>\(HTML.escape(report.fileName))</code></dd>\n"
        out += "<dt>Run</dt><dd>\(HTML.escape(report.dateText))</dd>\n"
        out += "<dt>Version</dt><dd>camscript \(HTML.escape(report.version))</dd>\n"
        out += "<dt>Platform</dt><dd>\(HTML.escape(report.platform))</dd>\n"
        if report.provenance.isEmpty {
            out += "<dt>Models</dt><dd>none loaded</dd>\n"
        } else {
            for record in report.provenance where record.isRandomWeights {
                out += "<dt>Model</dt><dd><code>\(HTML.escape(record.path))</code> with <strong>random weights</strong> (random_model)</dd>\n"
            }
            for record in report.provenance where !record.isRandomWeights {
                out += "<dt>\(HTML.escape(record.kind.prefix(1).uppercased() + record.kind.dropFirst()))</dt>"
                    + "<dd><code>\(HTML.escape(record.path))</code><br>sha256 <code class=\"sha\">\(HTML.escape(record.sha256))</code></dd>\n"
            }
        }
        let ran = report.cells.filter { $0.status == .succeeded || $0.status == .failed }
        let total = ran.compactMap(\.duration).reduce(0, +)
        out += "<dt>Result</dt><dd class=\"\(report.failed ? "status-failed" : "status-ok")\">"
        out += report.failed ? "failed" : "succeeded"
        out += " — \(ran.count) code cell\(ran.count == 1 ? "" : "s") ran in \(HTML.escape(ReportFormatting.duration(total)))</dd>\n"
        out += "</dl>\n</header>\n"
        return out
    }

    private func cell(_ cell: CellReport) -> String {
        let number = cell.cell.index
        let title = cell.cell.title
        if cell.status == .markdown {
            var out = "<section class=\"cell markdown\" id=\"cell-\(number)\">\n"
            if !title.isEmpty { out += "<h2 class=\"cell-title\">\(HTML.escape(title))</h2>\n" }
            out += markdown.html(from: cell.cell.source)
            out += "</section>\n"
            return out
        }
        var out = "<section class=\"cell code \(statusClass(cell.status))\" id=\"cell-\(number)\">\n"
        out += "<div class=\"cell-head\"><span class=\"prompt\">[\(cell.executionCount.map(String.init) ?? " ")]</span> "
        out += "<h2 class=\"cell-title\">\(title.isEmpty ? "Cell \(number)" : HTML.escape(title))</h2>"
        out += "<span class=\"cell-meta\">\(HTML.escape(meta(cell)))</span></div>\n"
        out += "<pre class=\"source\"><code>"
        let lines = highlighter.highlightedLines(cell.cell.trimmedSource, firstLine: cell.cell.firstLine)
        let width = String(cell.cell.firstLine + max(lines.count - 1, 0)).count
        out += lines.enumerated().map { offset, html in
            let lineNumber = String(cell.cell.firstLine + offset)
            let padded = String(repeating: " ", count: max(0, width - lineNumber.count)) + lineNumber
            return "<span class=\"ln\">\(padded)</span>" + html
        }.joined(separator: "\n")
        out += "</code></pre>\n"
        if !cell.outputs.isEmpty || cell.error != nil {
            out += "<div class=\"outputs\">\n"
            var pendingText: [String] = []
            for output in cell.outputs {
                if case .text(let text) = output {
                    pendingText.append(text)
                    continue
                }
                if !pendingText.isEmpty {
                    out += self.output(.text(pendingText.joined(separator: "\n")))
                    pendingText.removeAll()
                }
                out += self.output(output)
            }
            if !pendingText.isEmpty { out += self.output(.text(pendingText.joined(separator: "\n"))) }
            if let error = cell.error {
                out += "<pre class=\"error\">" + HTML.escape(error.text.trimmingCharacters(in: .newlines)) + "</pre>\n"
            }
            out += "</div>\n"
        }
        out += "</section>\n"
        return out
    }

    private func statusClass(_ status: CellReport.Status) -> String {
        switch status {
        case .markdown: return "markdown"
        case .notRun: return "not-run"
        case .ranSilently: return "silent"
        case .succeeded: return "ok"
        case .failed: return "failed"
        }
    }

    private func meta(_ cell: CellReport) -> String {
        switch cell.status {
        case .notRun: return "not run"
        case .ranSilently: return "ran with output hidden" + (cell.duration.map { " · " + ReportFormatting.duration($0) } ?? "")
        case .failed: return "error" + (cell.duration.map { " after " + ReportFormatting.duration($0) } ?? "")
        case .succeeded, .markdown: return cell.duration.map(ReportFormatting.duration) ?? ""
        }
    }

    private func output(_ output: CellOutput) -> String {
        switch output {
        case .text(let text):
            return "<pre class=\"stdout\">" + HTML.escape(text) + "</pre>\n"
        case .value(let text, let image, _, let table):
            if let table, image == nil { return HTML.table(table) }
            // A value with a picture and a table (a summary, a sweep, a sanity check): both, the
            // headline as the caption, as a notebook shows it.
            if let table, let image, let tag = imageTag(image, alternative: text) {
                let headline = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
                return "<figure class=\"result\">\(tag)<figcaption>\(HTML.escape(headline))</figcaption></figure>\n" + HTML.table(table)
            }
            if let image, let tag = imageTag(image, alternative: text) {
                return "<figure class=\"result\">\(tag)<figcaption>\(HTML.escape(text))</figcaption></figure>\n"
            }
            return "<pre class=\"result\">" + HTML.escape(text) + "</pre>\n"
        case .image(let image, let description):
            if let tag = imageTag(image, alternative: description) {
                return "<figure class=\"shown\">\(tag)</figure>\n"
            }
            return "<pre class=\"stdout\">" + HTML.escape(description) + "</pre>\n"
        }
    }

    private func imageTag(_ image: DisplayImage, alternative: String) -> String? {
        guard let png = image.pngData else { return nil }
        // Tiny pictures (a 7×7 CAM, a 4×3 tensor) are enlarged by a whole factor, pixels kept sharp.
        let scale = max(1, 128 / max(image.width, image.height, 1))
        let pixelated = scale > 1 ? " class=\"pixelated\"" : ""
        return "<img\(pixelated) src=\"data:image/png;base64,\(png.base64EncodedString())\" width=\"\(image.width * scale)\" "
            + "height=\"\(image.height * scale)\" alt=\"\(HTML.escape(alternative))\">"
    }

    /// The page's CSS (no external fonts or resources).
    static let styleSheet = """
        :root { color-scheme: light; }
        body { margin: 0; background: #f6f7f9; color: #1d232b; font: 15px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
        main { max-width: 980px; margin: 0 auto; padding: 24px 20px 64px; }
        .report-header { background: #fff; border: 1px solid #d9dee5; border-radius: 8px; padding: 16px 20px; margin-bottom: 20px; }
        .report-header h1 { margin: 0 0 8px; font-size: 24px; }
        .report-header dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
        .report-header dt { font-weight: 600; color: #56606d; }
        .report-header dd { margin: 0; overflow-wrap: anywhere; }
        .status-ok { color: #1a7f37; font-weight: 600; }
        .status-failed { color: #c62828; font-weight: 600; }
        .random-weights { background: #fff3cd; border: 2px solid #c62828; color: #7a1c1c; font-weight: 600; padding: 0.6em 0.9em; }
        .cell { background: #fff; border: 1px solid #d9dee5; border-radius: 8px; margin: 14px 0; padding: 12px 16px; }
        .cell.markdown { background: transparent; border-color: transparent; padding: 4px 16px; }
        .cell.failed { border-color: #e0a0a0; }
        .cell.not-run, .cell.silent { opacity: 0.65; }
        .cell-head { display: flex; align-items: baseline; gap: 10px; margin-bottom: 6px; }
        .cell-head h2 { font-size: 16px; margin: 0; flex: 1; }
        .prompt { color: #8a94a3; font-family: "DejaVu Sans Mono", monospace; }
        .cell-meta { color: #6b7685; font-size: 13px; white-space: nowrap; }
        pre { margin: 6px 0; padding: 10px 12px; border-radius: 6px; overflow-x: auto; font: 13px/1.45 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
        pre.source { background: #f3f5f8; border: 1px solid #e4e8ee; }
        pre.stdout, pre.result { background: #fff; border-left: 3px solid #c9d1db; border-radius: 0; }
        pre.result { color: #37474f; }
        table.result { border-collapse: collapse; margin: 8px 0; background: #fff; font-variant-numeric: tabular-nums; }
        table.result th, table.result td { padding: 3px 12px; border-bottom: 1px solid #d9dee5; text-align: left; }
        table.result th { font-weight: 600; color: #56606d; }
        table.result .num { text-align: right; }
        pre.error { background: #fdecec; color: #8e1c1c; border-left: 3px solid #c62828; border-radius: 0; }
        .ln { display: inline-block; color: #a3acb8; margin-right: 14px; user-select: none; text-align: right; }
        .kw { color: #a626a4; font-weight: 600; } .bi { color: #4078f2; } .nu { color: #b76b01; }
        .st { color: #50a14f; } .co { color: #8a94a3; font-style: italic; } .sy { color: #56606d; }
        figure { margin: 8px 0; } figure img { max-width: 100%; height: auto; image-rendering: auto; border: 1px solid #e4e8ee; }
        figure img.pixelated { image-rendering: pixelated; }
        figcaption { color: #56606d; font: 13px "DejaVu Sans Mono", monospace; white-space: pre-wrap; }
        .markdown code, .report-header code { background: #eef1f5; padding: 1px 4px; border-radius: 4px; font-size: 90%; }
        .markdown pre code { background: none; padding: 0; }
        .markdown pre { background: #f3f5f8; }
        .markdown blockquote { margin: 8px 0; padding: 2px 14px; border-left: 3px solid #c9d1db; color: #4a5461; }
        .markdown table { border-collapse: collapse; margin: 8px 0; }
        .markdown th, .markdown td { border: 1px solid #d9dee5; padding: 4px 10px; }
        .markdown th { background: #eef1f5; }
        .markdown img { max-width: 100%; height: auto; }
        code.sha { font-size: 12px; }
        """
}

/// Shared formatting of durations and text for reports.
enum ReportFormatting {
    /// A duration for people: `850 µs`, `12.3 ms`, `1.24 s`, `2 min 5.0 s`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 0.001 { return String(format: "%.0f µs", seconds * 1e6) }
        if seconds < 1 { return String(format: "%.1f ms", seconds * 1e3) }
        if seconds < 60 { return String(format: "%.2f s", seconds) }
        let minutes = Int(seconds / 60)
        return String(format: "%d min %.1f s", minutes, seconds - Double(minutes) * 60)
    }
}
