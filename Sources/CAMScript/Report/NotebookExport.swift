import Foundation
import Interpreter

/// Renders a `RunReport` as a Jupyter notebook (nbformat 4.5, with cell ids) whose kernel
/// language is `camscript`.
struct NotebookExport {
    /// The notebook's JSON bytes (keys sorted, indented one space like Jupyter).
    func render(_ report: RunReport) throws -> Data {
        let notebook: [String: Any] = [
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": metadata(report),
            "cells": report.cells.map(cell),
        ]
        var data = try JSONSerialization.data(withJSONObject: notebook, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        data.append(0x0A)
        return data
    }

    private func metadata(_ report: RunReport) -> [String: Any] {
        [
            "kernelspec": KernelSpec.notebookKernelspec,
            "language_info": KernelSpec.languageInfo(version: report.version),
            "camscript": [
                "file": report.fileName,
                "date": report.dateText,
                "version": report.version,
                "platform": report.platform,
                "succeeded": !report.failed,
                "provenance": report.provenance.map { ["kind": $0.kind, "path": $0.path, "sha256": $0.sha256] },
            ] as [String: Any],
        ]
    }

    private func cell(_ cell: CellReport) -> [String: Any] {
        var metadata: [String: Any] = [:]
        if !cell.cell.title.isEmpty { metadata["title"] = cell.cell.title }
        let id = "cell-\(cell.cell.index)"
        if cell.status == .markdown {
            // The text the HTML page renders, and the title as literally as the page shows it.
            var source = MarkdownRenderer.reportSource(cell.cell.source)
            if !cell.cell.title.isEmpty {
                source = "## " + MarkdownRenderer.literal(cell.cell.title) + (source.isEmpty ? "" : "\n\n" + source)
            }
            return ["cell_type": "markdown", "id": id, "metadata": metadata, "source": NotebookExport.lines(source)]
        }
        if let duration = cell.duration { metadata["camscript"] = ["duration_seconds": duration, "status": statusName(cell.status)] }
        else { metadata["camscript"] = ["status": statusName(cell.status)] }
        var outputs: [[String: Any]] = []
        var pendingText: [String] = []
        func flushText() {
            guard !pendingText.isEmpty else { return }
            outputs.append(["output_type": "stream", "name": "stdout",
                            "text": NotebookExport.lines(pendingText.joined(separator: "\n") + "\n")])
            pendingText.removeAll()
        }
        for output in cell.outputs {
            switch output {
            case .text(let text):
                pendingText.append(text)
            case .value(let text, let image, let isLast, let table):
                flushText()
                var data: [String: Any] = ["text/plain": NotebookExport.lines(text)]
                if let table { data["text/html"] = NotebookExport.lines(HTML.table(table, className: "camscript-table")) }
                if let png = image?.pngData { data["image/png"] = png.base64EncodedString() }
                // The last statement's value is the cell's result; echoes before it are displays.
                if isLast {
                    outputs.append(["output_type": "execute_result", "execution_count": cell.executionCount ?? NSNull(),
                                    "data": data, "metadata": [String: Any]()])
                } else {
                    outputs.append(["output_type": "display_data", "data": data, "metadata": [String: Any]()])
                }
            case .image(let image, let description):
                flushText()
                var data: [String: Any] = ["text/plain": NotebookExport.lines(description)]
                if let png = image.pngData { data["image/png"] = png.base64EncodedString() }
                outputs.append(["output_type": "display_data", "data": data, "metadata": [String: Any]()])
            }
        }
        flushText()
        if let error = cell.error {
            outputs.append(["output_type": "error", "ename": error.name, "evalue": error.message,
                            "traceback": error.text.trimmingCharacters(in: .newlines).components(separatedBy: "\n")])
        }
        return [
            "cell_type": "code",
            "id": id,
            "metadata": metadata,
            "execution_count": cell.executionCount ?? NSNull(),
            "source": NotebookExport.lines(cell.cell.trimmedSource),
            "outputs": outputs,
        ]
    }

    private func statusName(_ status: CellReport.Status) -> String {
        switch status {
        case .markdown: return "markdown"
        case .notRun: return "not run"
        case .ranSilently: return "ran silently"
        case .succeeded: return "ok"
        case .failed: return "error"
        }
    }

    /// Jupyter's multi-line string form: lines keeping their `\n`, the last without one.
    static func lines(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var parts = text.components(separatedBy: "\n")
        let last = parts.removeLast()
        var result = parts.map { $0 + "\n" }
        if !last.isEmpty { result.append(last) }
        return result
    }
}
