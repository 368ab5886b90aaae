import Foundation

/// How `hstack` and `vstack` reconcile pictures of different sizes.
public enum SizeMatching: String, Sendable, CaseIterable {
    /// Keep every picture as it is, centred in a white band as tall (hstack) or as wide
    /// (vstack) as the largest one.
    case pad
    /// Resize every picture (PIL bilinear, aspect ratio kept) to the height (hstack) or width
    /// (vstack) of the first one.
    case resize
}

/// Where `label` puts its caption.
public enum CaptionPosition: String, Sendable, CaseIterable {
    /// A caption band above the picture.
    case above
    /// A caption band below the picture.
    case below
}

extension RGBImage {
    /// Copies `image` into this one with its top-left corner at (`x`, `y`); parts outside are cut.
    public mutating func paste(_ image: RGBImage, x: Int, y: Int) {
        let x0 = max(x, 0), x1 = min(x + image.width, width)
        guard x0 < x1 else { return }
        for row in 0..<image.height {
            let ty = y + row
            if ty < 0 || ty >= height { continue }
            let src = (row * image.width + (x0 - x)) * 3
            let dst = (ty * width + x0) * 3
            let n = (x1 - x0) * 3
            pixels.replaceSubrange(dst..<(dst + n), with: image.pixels[src..<(src + n)])
        }
    }

    /// Fills the rectangle with `color` (parts outside the image are ignored).
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: RGBColor) {
        for yy in max(y, 0)..<max(min(y + h, height), max(y, 0)) {
            for xx in max(x, 0)..<max(min(x + w, width), max(x, 0)) {
                self[xx, yy] = color
            }
        }
    }

    /// Draws `text` anti-aliased in DejaVu Sans at `FontFace.defaultPixelSize × scale` pixels,
    /// the top-left of its first line's box at (`x`, `y`): each line's baseline is its ascent
    /// below the line's top, so descenders fit inside the box. `\n` starts a new line; ink
    /// outside the image is cut.
    ///
    /// - Throws: `ImageError` when the bundled font cannot be found or read.
    public mutating func draw(text: String, x: Int, y: Int, color: RGBColor = .black, scale: Int = 1) throws {
        let pixelSize = FontFace.defaultPixelSize * max(scale, 1)
        let font = try FontFace.standard()
        let metrics = font.lineMetrics(pixelSize: pixelSize)
        for (n, line) in paragraphs(of: text).enumerated() {
            font.draw(line, on: &self, x: x, baseline: y + n * metrics.height + metrics.ascent, pixelSize: pixelSize, color: color)
        }
    }

    /// The box `draw(text:...)` lays the text out in: the advance width of the longest line,
    /// and the line height times the number of lines.
    ///
    /// - Throws: `ImageError` when the bundled font cannot be found or read.
    public static func textSize(_ text: String, scale: Int = 1) throws -> (width: Int, height: Int) {
        let pixelSize = FontFace.defaultPixelSize * max(scale, 1)
        let font = try FontFace.standard()
        let lines = paragraphs(of: text)
        let width = lines.map { font.width(of: $0, pixelSize: pixelSize) }.max() ?? 0
        return (width, lines.count * font.lineMetrics(pixelSize: pixelSize).height)
    }
}

/// A picture and the heights of the caption bands `label` put above and below it, kept so that
/// `grid` and `hstack` can line the pictures themselves up whatever their captions' heights.
public struct CaptionedImage: Sendable, Equatable {
    /// The whole picture, caption bands included.
    public let image: RGBImage
    /// The rows at the top that are a caption band.
    public let captionAbove: Int
    /// The rows at the bottom that are a caption band.
    public let captionBelow: Int

    /// A picture whose top `captionAbove` and bottom `captionBelow` rows are captions.
    ///
    /// - Precondition: both bands are 0 or more and leave at least one row of picture.
    public init(_ image: RGBImage, captionAbove: Int = 0, captionBelow: Int = 0) {
        precondition(captionAbove >= 0 && captionBelow >= 0 && captionAbove + captionBelow < image.height,
                     "caption bands of \(captionAbove) and \(captionBelow) rows do not fit in \(image)")
        self.image = image
        self.captionAbove = captionAbove
        self.captionBelow = captionBelow
    }

    /// The height of the picture without its caption bands.
    public var pictureHeight: Int { image.height - captionAbove - captionBelow }
}

/// How tall the parts of a band of tiles (an hstack, every row of a grid) are: the tallest
/// caption above, the tallest picture and the tallest caption below. The band is their sum, and
/// each tile is placed so that its picture is centred in the middle part, its captions hanging
/// above and below: pictures of equal height line up exactly.
private struct BandHeights {
    let above: Int, picture: Int, below: Int

    init(_ tiles: [CaptionedImage]) {
        above = tiles.map(\.captionAbove).max() ?? 0
        picture = tiles.map(\.pictureHeight).max() ?? 1
        below = tiles.map(\.captionBelow).max() ?? 0
    }

    /// The row's height.
    var total: Int { above + picture + below }

    /// Where `tile`'s top goes, from the top of the row.
    func top(of tile: CaptionedImage) -> Int {
        above - tile.captionAbove + (picture - tile.pictureHeight) / 2
    }
}

/// Pictures side by side, left to right, `gap` white pixels apart.
///
/// With `.pad` each picture keeps its size and is centred vertically in a white band as tall
/// as the tallest; with `.resize` each is resized (PIL bilinear, aspect ratio kept, width
/// rounded) to the first picture's height.
///
/// - Throws: `ImageError` when `images` is empty or `gap` is negative.
public func hstack(_ images: [RGBImage], matching: SizeMatching = .pad, gap: Int = 0) throws -> RGBImage {
    try hstack(images.map { CaptionedImage($0) }, matching: matching, gap: gap)
}

/// Pictures side by side as `hstack` of plain pictures places them, except that with `.pad`
/// captions do not count: the pictures are centred on a common middle line and caption bands
/// hang above and below them, so that captioned tiles line up whatever their captions' heights.
/// With `.resize` each whole tile, caption included, is resized.
///
/// - Throws: `ImageError` when `tiles` is empty or `gap` is negative.
public func hstack(_ tiles: [CaptionedImage], matching: SizeMatching = .pad, gap: Int = 0) throws -> RGBImage {
    guard let first = tiles.first?.image else { throw ImageError("hstack needs at least one picture, got none") }
    guard gap >= 0 else { throw ImageError("the gap must be 0 or more pixels, got \(gap)") }
    let parts = matching == .pad ? tiles : tiles.map { tile in
        let image = tile.image
        return CaptionedImage(image.resized(width: max(1, Int((Double(image.width) * Double(first.height) / Double(image.height)).rounded())),
                                            height: first.height, interpolation: .bilinear))
    }
    let bands = BandHeights(parts)
    let width = parts.map(\.image.width).reduce(0, +) + gap * (parts.count - 1)
    var canvas = RGBImage(width: width, height: bands.total, color: .white)
    var x = 0
    for part in parts {
        canvas.paste(part.image, x: x, y: bands.top(of: part))
        x += part.image.width + gap
    }
    return canvas
}

/// Pictures one above the other, top to bottom, `gap` white pixels apart.
///
/// With `.pad` each picture keeps its size and is centred horizontally in a white band as wide
/// as the widest; with `.resize` each is resized (PIL bilinear, aspect ratio kept, height
/// rounded) to the first picture's width.
///
/// - Throws: `ImageError` when `images` is empty or `gap` is negative.
public func vstack(_ images: [RGBImage], matching: SizeMatching = .pad, gap: Int = 0) throws -> RGBImage {
    guard let first = images.first else { throw ImageError("vstack needs at least one picture, got none") }
    guard gap >= 0 else { throw ImageError("the gap must be 0 or more pixels, got \(gap)") }
    let parts = matching == .pad ? images : images.map { image in
        image.resized(width: first.width,
                      height: max(1, Int((Double(image.height) * Double(first.width) / Double(image.width)).rounded())),
                      interpolation: .bilinear)
    }
    let width = parts.map(\.width).max() ?? first.width
    let height = parts.map(\.height).reduce(0, +) + gap * (parts.count - 1)
    var canvas = RGBImage(width: width, height: height, color: .white)
    var y = 0
    for part in parts {
        canvas.paste(part, x: (width - part.width) / 2, y: y)
        y += part.height + gap
    }
    return canvas
}

/// Pictures in rows of `columns`, left to right then top to bottom, on white. Every cell is
/// as large as the largest picture; each picture is centred in its cell; cells are `gap`
/// pixels apart (no margin around the grid). The last row may be incomplete.
///
/// - Throws: `ImageError` when `images` is empty, `columns` is below 1 or `gap` is negative.
public func grid(_ images: [RGBImage], columns: Int, gap: Int = 4) throws -> RGBImage {
    try grid(images.map { CaptionedImage($0) }, columns: columns, gap: gap)
}

/// Tiles in rows of `columns` as `grid` of plain pictures places them, except that captions
/// do not count when centring: every cell has room for the tallest caption above, the tallest
/// picture and the tallest caption below, and each tile's picture is centred in the picture
/// part, so that pictures line up across a row (equal pictures share their top) whatever the
/// heights of their captions.
///
/// - Throws: `ImageError` when `tiles` is empty, `columns` is below 1 or `gap` is negative.
public func grid(_ tiles: [CaptionedImage], columns: Int, gap: Int = 4) throws -> RGBImage {
    guard !tiles.isEmpty else { throw ImageError("grid needs at least one picture, got none") }
    guard columns >= 1 else { throw ImageError("grid needs at least 1 column, got \(columns)") }
    guard gap >= 0 else { throw ImageError("the gap must be 0 or more pixels, got \(gap)") }
    let size = gridSize(tiles, columns: columns, gap: gap)
    let cellWidth = tiles.map(\.image.width).max() ?? 1
    let bands = BandHeights(tiles)
    var canvas = RGBImage(width: size.width, height: size.height, color: .white)
    for (i, tile) in tiles.enumerated() {
        let cx = (i % columns) * (cellWidth + gap), cy = (i / columns) * (bands.total + gap)
        canvas.paste(tile.image, x: cx + (cellWidth - tile.image.width) / 2, y: cy + bands.top(of: tile))
    }
    return canvas
}

/// The size of the picture `grid(tiles, columns:, gap:)` makes, to check it before drawing.
///
/// - Precondition: `tiles` is not empty, `columns` is at least 1 and `gap` is 0 or more.
public func gridSize(_ tiles: [CaptionedImage], columns: Int, gap: Int) -> (width: Int, height: Int) {
    let cellWidth = tiles.map(\.image.width).max() ?? 1
    let cellHeight = BandHeights(tiles).total
    let used = min(columns, tiles.count)
    let rows = (tiles.count + columns - 1) / columns
    return (used * cellWidth + (used - 1) * gap, rows * cellHeight + (rows - 1) * gap)
}

/// The picture with a caption band (black text on white) above or below it.
///
/// The caption is DejaVu Sans at `FontFace.defaultPixelSize × scale` pixels, anti-aliased,
/// each line centred; lines break at spaces to fit the picture's width (inside a word only
/// when the word alone is wider than the picture), and `\n` forces a break. Any character
/// the font has is drawn; others show as �.
///
/// - Throws: `ImageError` when the bundled font cannot be found or read, or when the
///   captioned picture would be larger than `limits` allow.
public func label(_ image: RGBImage, _ text: String, position: CaptionPosition = .below, scale: Int = 1,
                  limits: ImageLimits = .default) throws -> RGBImage {
    try label(CaptionedImage(image), text, position: position, scale: scale, limits: limits).image
}

/// `tile` with one more caption band above or below it, as `label` draws it; the new band is
/// counted with the tile's other captions, so that `grid` and `hstack` still line up the
/// picture itself.
///
/// - Throws: `ImageError` when the bundled font cannot be found or read, or when the
///   captioned picture would be larger than `limits` allow.
public func label(_ tile: CaptionedImage, _ text: String, position: CaptionPosition = .below, scale: Int = 1,
                  limits: ImageLimits = .default) throws -> CaptionedImage {
    let image = tile.image
    let pixelSize = FontFace.defaultPixelSize * max(scale, 1)
    let font = try FontFace.standard()
    let metrics = font.lineMetrics(pixelSize: pixelSize)
    // About a quarter of the em around the text: 3 pixels at 13.
    let padding = max(1, pixelSize / 4)
    let lines = wrap(text, width: max(1, image.width - 2 * padding), clusters: font.clusterAdvances(of:),
                     pixels: { font.pixels(fromUnits: $0, pixelSize: pixelSize) })
    let bandHeight = lines.count * metrics.height + 2 * padding
    try RGBImage.validateSize(width: image.width, height: image.height + bandHeight, limits: limits)
    var canvas = RGBImage(width: image.width, height: image.height + bandHeight, color: .white)
    let imageY = position == .above ? bandHeight : 0
    let textY = (position == .above ? 0 : image.height) + padding
    canvas.paste(image, x: 0, y: imageY)
    for (n, line) in lines.enumerated() {
        let x = max(0, (image.width - font.width(of: line, pixelSize: pixelSize)) / 2)
        font.draw(line, on: &canvas, x: x, baseline: textY + n * metrics.height + metrics.ascent, pixelSize: pixelSize, color: .black)
    }
    return position == .above
        ? CaptionedImage(canvas, captionAbove: tile.captionAbove + bandHeight, captionBelow: tile.captionBelow)
        : CaptionedImage(canvas, captionAbove: tile.captionAbove, captionBelow: tile.captionBelow + bandHeight)
}

/// Breaks `text` into lines no wider than `width` pixels: at spaces, which a break removes
/// (runs of spaces count as one), and inside a word, between characters, only when the word
/// alone is wider than a line; `\n` forces a break.
///
/// `clusters` gives, for the characters of a paragraph (its words one space apart), each
/// one's kerning with the one before and its advance (`FontFace.clusterAdvances(of:)`), and
/// `pixels` turns a sum of them into pixels: widths are sums of these, so wrapping takes time
/// linear in the length of the text, however narrow the picture.
func wrap(_ text: String, width: Int, clusters: ([Character]) -> [(kerning: Int, advance: Int)], pixels: (Int) -> Int) -> [String] {
    var lines: [String] = []
    for paragraph in paragraphs(of: text) {
        let words = paragraph.split(separator: " ", omittingEmptySubsequences: true)
        var characters: [Character] = []
        for (n, word) in words.enumerated() {
            if n > 0 { characters.append(" ") }
            characters.append(contentsOf: word)
        }
        let metrics = clusters(characters)
        precondition(metrics.count == characters.count, "wrap needs one width per character")
        // sums[i]: kerning and advances of characters 0..<i.
        var sums = [0]
        sums.reserveCapacity(characters.count + 1)
        for m in metrics { sums.append(sums[sums.count - 1] + m.kerning + m.advance) }
        func widthOf(_ start: Int, _ end: Int) -> Int {
            end > start ? pixels(sums[end] - sums[start] - metrics[start].kerning) : 0
        }
        var line: Range<Int>?
        var start = 0
        for word in words {
            let end = start + word.count
            defer { start = end + 1 }
            if let current = line {
                if widthOf(current.lowerBound, end) <= width {
                    line = current.lowerBound..<end
                    continue
                }
                lines.append(String(characters[current]))
            }
            // The word alone: cut it where it overflows, as a last resort.
            var from = start
            while widthOf(from, end) > width, end - from > 1 {
                var to = from + 1
                while to < end, widthOf(from, to + 1) <= width { to += 1 }
                lines.append(String(characters[from..<to]))
                from = to
            }
            line = from..<end
        }
        lines.append(line.map { String(characters[$0]) } ?? "")
    }
    return lines
}

/// The labels of a colorbar and their rows, top first: 1.0, 0.5 and 0.0 for 0…1; otherwise
/// round values inside the range, about one per 40 pixels and at least three (an axis whose
/// step overshoots a narrow range would label only its middle).
func colorbarTicks(_ range: ClosedRange<Double>, length: Int) -> [(text: String, row: Int)] {
    if range == 0...1 { return [("1.0", 0), ("0.5", (length - 1) / 2), ("0.0", length - 1)] }
    var most = max(3, min(6, length / 40 + 1))
    var axis = LineChart.Axis(range: range, most: most)
    while axis.ticks.count < 3 && most < 12 {
        most += 1
        axis = LineChart.Axis(range: range, most: most)
    }
    let span = range.upperBound - range.lowerBound
    return axis.ticks.reversed().map { value in
        (axis.format(value), Int(((range.upperBound - value) / span * Double(length - 1)).rounded()))
    }
}

/// The lines of `text`, split at `\n` and at `\r\n` (a single character in Swift).
func paragraphs(of text: String) -> [Substring] {
    text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
}

/// A legend for `colormap`: a vertical bar `thickness × length` pixels, the upper end of
/// `range` at the top and the lower at the bottom (row `y` shows entry
/// `round(255 · (length − 1 − y) / (length − 1))`), with labels to its right, each line centred
/// on its row, when `labeled`, on white (the bar then has a margin of half a line above and
/// below). The labels of 0…1 are 1.0, 0.5 and 0.0; of another range (a raw or signed map's),
/// round values inside it, as a chart's axis.
///
/// - Throws: `ImageError` when `length` is below 2 or `thickness` below 1, when the range is
///   empty or not finite, or when `labeled` and the bundled font cannot be found or read.
public func colorbar(_ colormap: Colormap, length: Int = 224, thickness: Int = 16, labeled: Bool = true,
                     range: ClosedRange<Double> = 0...1) throws -> RGBImage {
    guard length >= 2 else { throw ImageError("a colorbar needs a length of at least 2 pixels, got \(length)") }
    guard thickness >= 1 else { throw ImageError("a colorbar needs a thickness of at least 1 pixel, got \(thickness)") }
    guard range.lowerBound.isFinite, range.upperBound.isFinite, range.upperBound > range.lowerBound else {
        throw ImageError("a colorbar needs a range whose upper end is above its lower end, got \(range.lowerBound)…\(range.upperBound)")
    }
    let ticks = colorbarTicks(range, length: length)
    let pixelSize = FontFace.defaultPixelSize
    let font = labeled ? try FontFace.standard() : nil
    let lineHeight = font?.lineMetrics(pixelSize: pixelSize).height ?? 0
    let labelWidth = font.map { font in 4 + (ticks.map { font.width(of: $0.0, pixelSize: pixelSize) }.max() ?? 0) + 2 } ?? 0
    let margin = (lineHeight + 1) / 2
    var canvas = RGBImage(width: thickness + labelWidth, height: length + 2 * margin, color: .white)
    for y in 0..<length {
        let entry = UInt8((Double(255 * (length - 1 - y)) / Double(length - 1)).rounded())
        canvas.fill(x: 0, y: margin + y, width: thickness, height: 1, color: colormap.color(at: entry))
    }
    if let font {
        let metrics = font.lineMetrics(pixelSize: pixelSize)
        for (text, y) in ticks {
            font.draw(text, on: &canvas, x: thickness + 4, baseline: margin + y - metrics.height / 2 + metrics.ascent,
                      pixelSize: pixelSize, color: .black)
        }
    }
    return canvas
}
