import Foundation
import XCTest
@testable import CAMRuntime

/// Golden PNGs for overlay and composition; the text renderer, labels and colorbars.
final class ImageCompositionTests: XCTestCase {
    private func golden(_ name: String) throws -> RGBImage {
        try RGBImage(contentsOf: ImagingFixtures.folder.appendingPathComponent("golden/\(name)"))
    }

    func testOverlayGoldenPNGFromPytorchGradCam() throws {
        let pre = try ImagingFixtures.load("preprocess_chelsea.safetensors")
        let crop = ImagingFixtures.image(try XCTUnwrap(pre["crop|chelsea.png|resnetV2"]))
        let mask = try XCTUnwrap(try ImagingFixtures.load("golden/overlay_chelsea_mask.safetensors")["mask"])
        ImagingFixtures.assertIdentical(try overlay(crop, mask: mask), try golden("overlay_chelsea_jet.png"), "overlay golden")
    }

    func testStacksAndGridMatchTheirGoldenLayouts() throws {
        let a = try golden("part_a.png"), b = try golden("part_b.png")
        ImagingFixtures.assertIdentical(try hstack([a, b], gap: 3), try golden("hstack_pad_gap3.png"), "hstack pad")
        ImagingFixtures.assertIdentical(try vstack([a, b], gap: 2), try golden("vstack_pad_gap2.png"), "vstack pad")
        ImagingFixtures.assertIdentical(try grid([a, b, b], columns: 2, gap: 4), try golden("grid_2col_gap4.png"), "grid")
        ImagingFixtures.assertIdentical(try hstack([a, b], matching: .resize), try golden("hstack_resize.png"), "hstack resize")
        let resized = try vstack([a, b], matching: .resize)
        XCTAssertEqual(resized.width, 64)
        XCTAssertEqual(resized.height, 48 + 40)
    }

    func testCompositionRefusesBadArguments() {
        XCTAssertThrowsError(try hstack([RGBImage]())) { XCTAssertTrue("\($0)".contains("at least one picture"), "\($0)") }
        XCTAssertThrowsError(try vstack([RGBImage(width: 1, height: 1)], gap: -1))
        XCTAssertThrowsError(try grid([RGBImage(width: 1, height: 1)], columns: 0)) {
            XCTAssertTrue("\($0)".contains("at least 1 column, got 0"), "\($0)")
        }
        XCTAssertThrowsError(try colorbar(.jet, length: 1))
    }

    // MARK: Text (FreeType + the bundled DejaVu Sans)
    //
    // Rasterised pixels depend on the FreeType version, so these tests check properties of the
    // ink (where it is, what differs) rather than exact bytes. Sizes and line breaks come from
    // the font's own units and are checked exactly.

    /// The rectangle of pixels darker than light grey, or nil when there are none.
    private func inkBounds(_ image: RGBImage, threshold: UInt8 = 160) -> (minX: Int, minY: Int, maxX: Int, maxY: Int)? {
        var bounds: (minX: Int, minY: Int, maxX: Int, maxY: Int)?
        for y in 0..<image.height {
            for x in 0..<image.width where image[x, y].red < threshold {
                let b = bounds ?? (x, y, x, y)
                bounds = (min(b.minX, x), min(b.minY, y), max(b.maxX, x), max(b.maxY, y))
            }
        }
        return bounds
    }

    /// `text` drawn in black at scale 1 on a white canvas, its line box's top-left at (4, 4).
    private func rendered(_ text: String, width: Int = 120, height: Int = 30) throws -> RGBImage {
        var image = RGBImage(width: width, height: height, color: .white)
        try image.draw(text: text, x: 4, y: 4)
        return image
    }

    /// The baseline row of text drawn by `rendered`.
    private func baseline() throws -> Int {
        4 + (try FontFace.standard()).lineMetrics(pixelSize: FontFace.defaultPixelSize).ascent
    }

    func testTheBundledFontLoadsAndItsMetricsComeFromTheFontFile() throws {
        let font = try FontFace.standard()
        XCTAssertTrue(font === (try FontFace.standard()), "one shared face")
        // DejaVu Sans: ascender 1901, line spacing 2384, 2048 units per em.
        XCTAssertEqual(font.lineMetrics(pixelSize: 13), FontFace.LineMetrics(ascent: 12, height: 15))
        XCTAssertEqual(font.lineMetrics(pixelSize: 26), FontFace.LineMetrics(ascent: 24, height: 30))
        XCTAssertEqual(font.width(of: "", pixelSize: 13), 0)
        XCTAssertGreaterThan(font.width(of: "tiger cat", pixelSize: 13), 40)
        XCTAssertLessThan(font.width(of: "tiger cat", pixelSize: 13), 70)
        XCTAssertGreaterThan(font.width(of: "WWW", pixelSize: 13), font.width(of: "iii", pixelSize: 13))
        XCTAssertTrue(try RGBImage.textSize("ab\nc", scale: 2) == (font.width(of: "ab", pixelSize: 26), 60))
    }

    func testDescendersInkBelowTheBaseline() throws {
        let base = try baseline()
        let tiger = try XCTUnwrap(inkBounds(try rendered("tiger cat")))
        XCTAssertGreaterThan(tiger.maxY, base + 1, "the g of tiger reaches below the baseline")
        let tier = try XCTUnwrap(inkBounds(try rendered("tier cat")))
        XCTAssertLessThanOrEqual(tier.maxY, base, "no descender, no ink below the baseline")
        XCTAssertEqual(tier.minY, tiger.minY, "same ascender (the t)")
    }

    func testLowercasePIsNotACapital() throws {
        let base = try baseline()
        let lower = try XCTUnwrap(inkBounds(try rendered("p"))), upper = try XCTUnwrap(inkBounds(try rendered("P")))
        XCTAssertGreaterThan(lower.maxY, base + 1, "p descends")
        XCTAssertLessThanOrEqual(upper.maxY, base, "P sits on the baseline")
        XCTAssertLessThan(upper.minY, lower.minY - 1, "P is taller than the x-height")
        XCTAssertNotEqual(try rendered("inPut"), try rendered("input"))
    }

    func testTextIsAntiAliasedInTheGivenColour() throws {
        let red = RGBColor(red: 200, green: 0, blue: 0)
        var image = RGBImage(width: 60, height: 24, color: .white)
        try image.draw(text: "Ow", x: 2, y: 2, color: red)
        var levels = Set<UInt8>()
        for y in 0..<image.height {
            for x in 0..<image.width {
                let p = image[x, y]
                XCTAssertEqual(p.green, p.blue, "blends between white and red only")
                XCTAssertGreaterThanOrEqual(p.red, 200)
                levels.insert(p.green)
            }
        }
        XCTAssertTrue(levels.contains(255) && levels.contains(0), "paper and full ink")
        XCTAssertGreaterThan(levels.count, 8, "grey levels at the edges")
    }

    func testNonASCIITextDraws() throws {
        let cafe = try rendered("cafe")
        XCTAssertNotEqual(try rendered("café"), cafe)
        let plain = try XCTUnwrap(inkBounds(try rendered("e"))), accented = try XCTUnwrap(inkBounds(try rendered("é")))
        XCTAssertEqual(plain.maxY, accented.maxY)
        XCTAssertLessThan(accented.minY, plain.minY - 2, "the accent rises above the x-height")
        // Decomposed (e + U+0301) draws an accent too, and Greek and Cyrillic have glyphs.
        XCTAssertNotEqual(try rendered("cafe\u{301}"), cafe)
        XCTAssertNotNil(inkBounds(try rendered("Ωμέγα Привет")))
        // A character the font lacks shows a replacement glyph instead of nothing.
        XCTAssertNotNil(inkBounds(try rendered("\u{1F600}")))
        XCTAssertEqual(try rendered("a\u{FE0F}b"), try rendered("ab"), "variation selectors are invisible")
    }

    func testTextRendersTheSameBytesEveryTime() throws {
        let text = "tiger cat (292)\nÀ bientôt"
        let first = try rendered(text, width: 140, height: 40)
        XCTAssertEqual(first, try rendered(text, width: 140, height: 40))
        // A second face loaded from the same file draws the same bytes as the shared one.
        let font = try FontFace(contentsOf: try FontFace.bundledFontURL())
        var again = RGBImage(width: 140, height: 40, color: .white)
        let metrics = font.lineMetrics(pixelSize: FontFace.defaultPixelSize)
        for (n, line) in text.split(separator: "\n").enumerated() {
            font.draw(line, on: &again, x: 4, baseline: 4 + n * metrics.height + metrics.ascent,
                      pixelSize: FontFace.defaultPixelSize, color: .black)
        }
        XCTAssertEqual(again, first)
        // And from several threads at once (FreeType calls are serialised).
        let results = UnsafeMutableBufferPointer<RGBImage?>.allocate(capacity: 8)
        defer { results.deallocate() }
        results.initialize(repeating: nil)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            var image = RGBImage(width: 140, height: 40, color: .white)
            try? image.draw(text: text, x: 4, y: 4)
            results[i] = image
        }
        XCTAssertTrue(results.allSatisfy { $0 == first })
    }

    func testAMissingOrBrokenFontIsAnErrorNotACrash() throws {
        let folder = try ImagingFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try FontFace.bundledFontURL(searching: [folder])) {
            XCTAssertTrue("\($0)".contains("CAMScript_CAMRuntime.resources/Fonts/DejaVuSans.ttf"), "\($0)")
            XCTAssertTrue("\($0)".contains(folder.path), "\($0)")
        }
        XCTAssertThrowsError(try FontFace(contentsOf: folder.appendingPathComponent("none.ttf"))) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
        let junk = folder.appendingPathComponent("junk.ttf")
        try Data("not a font".utf8).write(to: junk)
        XCTAssertThrowsError(try FontFace(contentsOf: junk)) {
            XCTAssertTrue("\($0)".contains("FreeType cannot read"), "\($0)")
        }
        // The font next to the test binary is found, with its licence beside it.
        let found = try FontFace.bundledFontURL()
        XCTAssertTrue(FileManager.default.fileExists(atPath: found.deletingLastPathComponent()
            .appendingPathComponent("LICENSE-DejaVu.txt").path))
    }

    // MARK: Wrapping and captions

    func testWrapBreaksBetweenWordsAndInsideOneOnlyAsALastResort() throws {
        /// Wraps counting characters.
        func byCount(_ text: String, _ width: Int) -> [String] {
            wrap(text, width: width, clusters: { $0.map { _ in (0, 1) } }, pixels: { $0 })
        }
        XCTAssertEqual(byCount("a rather long caption", 8), ["a rather", "long", "caption"])
        XCTAssertEqual(byCount("abcdefghij", 4), ["abcd", "efgh", "ij"])
        XCTAssertEqual(byCount("ab abcdefghij cd", 4), ["ab", "abcd", "efgh", "ij", "cd"])
        XCTAssertEqual(byCount("one\n\ntwo  three\r\nfour", 40), ["one", "", "two three", "four"])
        XCTAssertEqual(byCount("", 5), [""])
        XCTAssertEqual(byCount("  ", 5), [""])
        XCTAssertEqual(byCount("e\u{301}e\u{301}e\u{301}", 2), ["e\u{301}e\u{301}", "e\u{301}"], "never inside a character")
        let font = try FontFace.standard()
        let measure = { (line: String) in font.width(of: line, pixelSize: 13) }
        let text = "a tiger cat named tigerlily, striped tiger"
        for width in measure("tigerlily,")...measure(text) {
            let lines = wrap(text, width: width, clusters: font.clusterAdvances(of:),
                             pixels: { font.pixels(fromUnits: $0, pixelSize: 13) })
            XCTAssertEqual(lines.joined(separator: " "), text, "width \(width)")
            for line in lines {
                XCTAssertLessThanOrEqual(measure(line), width, "\(line) fits \(width)")
                for word in line.split(separator: " ") {
                    XCTAssertTrue(["a", "tiger", "cat", "named", "tigerlily,", "striped"].contains(String(word)),
                                  "width \(width) split a word: \(lines)")
                }
            }
            // The greedy fill: no line could have taken the next line's first word.
            for (line, next) in zip(lines, lines.dropFirst()) {
                let first = next.split(separator: " ").first.map(String.init) ?? ""
                XCTAssertGreaterThan(measure(line + " " + first), width, "width \(width): \(lines)")
            }
        }
        // Summed widths are the widths of the lines as drawn, kerning included ("AV", "Te").
        let kerned = Array("AVA Tea, WAVE")
        let advances = font.clusterAdvances(of: kerned)
        XCTAssertTrue(advances.contains { $0.kerning != 0 }, "DejaVu Sans kerns AV")
        for (start, end) in [(0, 3), (1, 3), (4, 13), (5, 9), (0, 13)] {
            let units = advances[start..<end].reduce(0) { $0 + $1.kerning + $1.advance } - advances[start].kerning
            XCTAssertEqual(font.pixels(fromUnits: units, pixelSize: 13), measure(String(kerned[start..<end])), "\(start)..<\(end)")
        }
    }

    func testWrappingAHugeCaptionOnANarrowPictureTakesLinearTime() throws {
        // One 20 000-letter word on a 1-pixel-wide picture: one letter per line.
        let word = String(repeating: "m", count: 20_000)
        let start = Date()
        let captioned = try label(RGBImage(width: 1, height: 1), word)
        XCTAssertEqual(captioned.height, 1 + 20_000 * 15 + 2 * 3)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "quadratic wrapping would take minutes")
        // The caption counts towards the pixel limit, checked before the canvas is allocated.
        XCTAssertThrowsError(try label(RGBImage(width: 10, height: 10), "a b c d", limits: ImageLimits(maxPixels: 200))) {
            XCTAssertTrue("\($0)".contains("larger than the limit of 200 pixels"), "\($0)")
        }
    }

    func testLabelAddsACaptionBandAndWrapsLongText() throws {
        let picture = RGBImage(width: 60, height: 40, color: RGBColor(red: 10, green: 20, blue: 30))
        let band = 15 + 2 * 3 // one 15-pixel line, 3 pixels of padding above and below
        let below = try label(picture, "cat")
        XCTAssertEqual(below.width, 60)
        XCTAssertEqual(below.height, 40 + band)
        XCTAssertEqual(below.cropped(x: 0, y: 0, width: 60, height: 40), picture)
        XCTAssertNotNil(inkBounds(below.cropped(x: 0, y: 40, width: 60, height: band)), "caption has ink")
        let above = try label(picture, "cat", position: .above)
        XCTAssertEqual(above.cropped(x: 0, y: band, width: 60, height: 40), picture)
        // Captions of every height get the same band per line; "tiger" is not cut.
        XCTAssertEqual(try label(picture, "tiger").height, below.height)
        let long = try label(picture, "a rather long caption that must wrap")
        XCTAssertEqual((long.height - 40 - 6) % 15, 0)
        XCTAssertGreaterThan(long.height, below.height + 2 * 15)
        // Lines are centred.
        let ink = try XCTUnwrap(inkBounds(below.cropped(x: 0, y: 40, width: 60, height: band)))
        XCTAssertLessThanOrEqual(abs((ink.minX + ink.maxX) - 59), 3)
        // The captioned form records the bands; a second caption adds to them.
        let tile = try label(label(CaptionedImage(picture), "cat"), "dog", position: .above)
        XCTAssertEqual(tile.captionAbove, band)
        XCTAssertEqual(tile.captionBelow, band)
        XCTAssertEqual(tile.pictureHeight, 40)
    }

    /// The first row of `image` in column `x` that has the colour `color`.
    private func firstRow(of color: RGBColor, in image: RGBImage, x: Int) -> Int? {
        (0..<image.height).first { image[x, $0] == color }
    }

    func testGridAndHstackLineUpPicturesWhateverTheirCaptionHeights() throws {
        let red = RGBColor(red: 200, green: 0, blue: 0), blue = RGBColor(red: 0, green: 0, blue: 200)
        let a = RGBImage(width: 80, height: 50, color: red), b = RGBImage(width: 80, height: 50, color: blue)
        let one = try label(CaptionedImage(a), "tiger")
        let three = try label(CaptionedImage(b), "tiger cat\nin the\ngrass")
        XCTAssertEqual(three.captionBelow, 3 * 15 + 6)
        for position in [CaptionPosition.below, .above] {
            let tiles = [try label(CaptionedImage(a), "tiger", position: position),
                         try label(CaptionedImage(b), "tiger cat\nin the\ngrass", position: position)]
            let picture = try grid(tiles, columns: 2, gap: 4)
            let top = try XCTUnwrap(firstRow(of: red, in: picture, x: 40))
            XCTAssertEqual(firstRow(of: blue, in: picture, x: 84 + 40), top, "\(position): image tops equal")
            XCTAssertEqual(top, position == .below ? 0 : 3 * 15 + 6)
            XCTAssertEqual(picture.height, 50 + 3 * 15 + 6)
            let side = try hstack(tiles, gap: 4)
            XCTAssertEqual(firstRow(of: blue, in: side, x: 84 + 40), firstRow(of: red, in: side, x: 40), "\(position): hstack")
        }
        // A second row lines up on its own row's top; cells stay as large as the largest.
        let four = try grid([one, three, three, one], columns: 2, gap: 4)
        let rowHeight = 50 + 3 * 15 + 6
        XCTAssertEqual(firstRow(of: red, in: four, x: 40), 0)
        XCTAssertEqual(firstRow(of: blue, in: four, x: 84 + 40), 0)
        XCTAssertEqual(firstRow(of: blue, in: four, x: 40), rowHeight + 4)
        XCTAssertEqual(firstRow(of: red, in: four, x: 84 + 40), rowHeight + 4)
        XCTAssertTrue(gridSize([one, three, three, one], columns: 2, gap: 4) == (four.width, four.height))
        // Without captions nothing changes: pictures are centred as before.
        XCTAssertEqual(try grid([a, b], columns: 2), try grid([CaptionedImage(a), CaptionedImage(b)], columns: 2))
    }

    func testColorbarRunsFromTheTopEntryToTheBottomEntry() throws {
        let bar = try colorbar(.viridis, length: 256, thickness: 10, labeled: false)
        XCTAssertEqual(bar.width, 10)
        XCTAssertEqual(bar.height, 256)
        XCTAssertEqual(bar[0, 0], Colormap.viridis.color(at: 255))
        XCTAssertEqual(bar[9, 255], Colormap.viridis.color(at: 0))
        XCTAssertEqual(bar[5, 100], Colormap.viridis.color(at: 155))
        let labeled = try colorbar(.jet)
        XCTAssertGreaterThan(labeled.width, 16)
        XCTAssertEqual(labeled.height, 224 + 2 * 8, "half a 15-pixel line above and below")
        XCTAssertEqual(labeled[8, 8], Colormap.jet.color(at: 255))
        let legend = labeled.cropped(x: 17, y: 0, width: labeled.width - 17, height: labeled.height)
        let ink = try XCTUnwrap(inkBounds(legend))
        XCTAssertLessThanOrEqual(ink.minY, 8 - 3, "1.0 is centred on the top row")
        XCTAssertGreaterThanOrEqual(ink.maxY, 8 + 223 + 3, "0.0 on the bottom row")
        XCTAssertLessThan(ink.maxX, legend.width - 1, "the labels fit")
        XCTAssertNotNil(inkBounds(legend.cropped(x: 0, y: 8 + 111 - 3, width: legend.width, height: 7)), "0.5 in the middle")
    }
}
