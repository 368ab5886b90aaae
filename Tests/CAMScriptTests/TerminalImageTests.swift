import Foundation
import Interpreter
import XCTest

@testable import CAMScript

/// Terminal graphics live in the executable (issue 16 housekeeping: the Interpreter target is
/// the language only).
final class TerminalImageTests: XCTestCase {
    let picture = DisplayImage(width: 2, height: 2, rgb: [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255])

    func testDetection() {
        XCTAssertEqual(TerminalGraphics.detect(environment: ["TERM": "xterm-kitty"], isTerminal: true), .kitty)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["KITTY_WINDOW_ID": "1", "TERM": "xterm"], isTerminal: true), .kitty)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["TERM_PROGRAM": "iTerm.app"], isTerminal: true), .iterm2)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["TERM": "foot"], isTerminal: true), .sixel)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["TERM": "xterm-256color", "COLORTERM": "truecolor"], isTerminal: true), .truecolorBlocks)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["TERM": "xterm-256color"], isTerminal: true), .paletteBlocks)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["TERM": "xterm-kitty"], isTerminal: false), .none)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["TERM": "dumb"], isTerminal: true), .none)
        XCTAssertEqual(TerminalGraphics.detect(environment: ["CAMSCRIPT_IMAGES": "sixel"], isTerminal: false), .sixel)
    }

    func testNoneGivesTheDescription() {
        XCTAssertEqual(TerminalImageRenderer(graphics: .none).render(picture, description: "image 2×2 RGB"), "[image 2×2 RGB]\n")
    }

    func testHalfBlocksCarryBothRowsColors() {
        let text = TerminalImageRenderer(graphics: .truecolorBlocks).render(picture, description: "")
        XCTAssertEqual(text, "\u{1B}[38;2;255;0;0m\u{1B}[48;2;0;0;255m▀\u{1B}[38;2;0;255;0m\u{1B}[48;2;255;255;255m▀\u{1B}[0m\n")
        let palette = TerminalImageRenderer(graphics: .paletteBlocks).render(picture, description: "")
        XCTAssertTrue(palette.hasPrefix("\u{1B}[38;5;196m\u{1B}[48;5;21m▀"), palette)
    }

    func testKittyPayloadIsTheRawRGB() {
        let text = TerminalImageRenderer(graphics: .kitty).render(picture, description: "")
        XCTAssertEqual(text, "\u{1B}_Ga=T,f=24,s=2,v=2,m=0;" + Data(picture.rgb).base64EncodedString() + "\u{1B}\\\n")
    }

    func testKittyChunksLargePayloads() {
        let big = DisplayImage(width: 64, height: 64, rgb: [UInt8](repeating: 7, count: 64 * 64 * 3))
        let text = TerminalImageRenderer(graphics: .kitty).render(big, description: "")
        XCTAssertEqual(text.components(separatedBy: "\u{1B}_G").count - 1, Int((Double(64 * 64 * 3) / 3 * 4 / 4096).rounded(.up)))
        XCTAssertTrue(text.contains("m=0;"))
    }

    func testSixelStructure() {
        let text = TerminalImageRenderer(graphics: .sixel).render(picture, description: "")
        XCTAssertTrue(text.hasPrefix("\u{1B}P0;1;0q\"1;1;2;2"))
        XCTAssertTrue(text.hasSuffix("-\u{1B}\\\n"))
        // Red (index 180) is the top-left pixel only: bit 0 in column 0, nothing in column 1.
        XCTAssertTrue(text.contains("#180@?$"), text)
    }

    /// A tall picture fits the window's height as well as its width (issue 16, item 6): blocks
    /// use two pixel rows per text row, pixel protocols scale to the rows × cell pixels.
    func testPicturesFitTheWindowsHeight() {
        let tall = DisplayImage(width: 100, height: 400, rgb: [UInt8](repeating: 9, count: 100 * 400 * 3))
        var blocks = TerminalImageRenderer(graphics: .truecolorBlocks, columns: 200)
        blocks.rows = 30
        let lines = blocks.render(tall, description: "").split(separator: "\n")
        XCTAssertEqual(lines.count, 28, "30 rows less the prompt's two")
        XCTAssertEqual(lines[0].components(separatedBy: "▀").count - 1, 14, "the width shrinks with the height: 100 × 56/400")
        // Wide and short: the width limits, as before.
        let wide = DisplayImage(width: 400, height: 40, rgb: [UInt8](repeating: 9, count: 400 * 40 * 3))
        XCTAssertEqual(blocks.render(wide, description: "").split(separator: "\n").first?.components(separatedBy: "▀").count, 200)
        var kitty = TerminalImageRenderer(graphics: .kitty, columns: 200)
        kitty.rows = 12
        kitty.cellPixels = (10, 20)
        XCTAssertTrue(kitty.render(tall, description: "").hasPrefix("\u{1B}_Ga=T,f=24,s=50,v=200,"), "fits 10 rows × 20 px")
        var sixel = TerminalImageRenderer(graphics: .sixel, columns: 200)
        sixel.rows = 12
        sixel.cellPixels = (10, 20)
        XCTAssertTrue(sixel.render(tall, description: "").hasPrefix("\u{1B}P0;1;0q\"1;1;50;200"))
    }

    func testITermUsesThePNGEncoderOrFallsBack() {
        let withEncoder = TerminalImageRenderer(graphics: .iterm2, pngEncoder: { _ in [1, 2, 3] })
        XCTAssertEqual(withEncoder.render(picture, description: ""), "\u{1B}]1337;File=inline=1;size=3;preserveAspectRatio=1:AQID\u{07}\n")
        XCTAssertTrue(TerminalImageRenderer(graphics: .iterm2).render(picture, description: "").hasSuffix("▀\u{1B}[0m\n"))
    }
}
