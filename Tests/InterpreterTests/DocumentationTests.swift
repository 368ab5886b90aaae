import Interpreter
import XCTest

/// docs/language.md must document every builtin the language ships.
final class DocumentationTests: XCTestCase {
    func testEveryBuiltinHasASection() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/language.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let headings = Set(text.split(separator: "\n").filter { $0.hasPrefix("### ") }
            .flatMap { $0.dropFirst(4).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
        for name in BuiltinRegistry.standard.names {
            XCTAssertTrue(headings.contains(name), "docs/language.md has no `### \(name)` section")
        }
    }
}
