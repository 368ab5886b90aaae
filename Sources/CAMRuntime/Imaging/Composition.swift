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

    /// Draws `text` with the built-in 5×7 font, each font pixel a `scale × scale` square, the
    /// top-left of the first character at (`x`, `y`); `\n` starts a new line. Ink outside the
    /// image is cut.
    public mutating func draw(text: String, x: Int, y: Int, color: RGBColor = .black, scale: Int = 1) {
        let s = max(scale, 1)
        var cx = x, cy = y
        for character in text {
            if character == "\n" {
                cx = x
                cy += BitmapFont.lineHeight * s
                continue
            }
            let rows = BitmapFont.rows(for: character)
            for (r, bits) in rows.enumerated() {
                for c in 0..<BitmapFont.glyphWidth where bits & (1 << (BitmapFont.glyphWidth - 1 - c)) != 0 {
                    fill(x: cx + c * s, y: cy + r * s, width: s, height: s, color: color)
                }
            }
            cx += BitmapFont.advance * s
        }
    }

    /// The size `draw(text:...)` covers: width of the longest line, height of all lines.
    public static func textSize(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
        let s = max(scale, 1)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let longest = lines.map(\.count).max() ?? 0
        let width = longest == 0 ? 0 : (longest * BitmapFont.advance - 1) * s
        let height = (lines.count * BitmapFont.lineHeight - (BitmapFont.lineHeight - BitmapFont.glyphHeight)) * s
        return (width, height)
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
    guard let first = images.first else { throw ImageError("hstack needs at least one picture, got none") }
    guard gap >= 0 else { throw ImageError("the gap must be 0 or more pixels, got \(gap)") }
    let parts = matching == .pad ? images : images.map { image in
        image.resized(width: max(1, Int((Double(image.width) * Double(first.height) / Double(image.height)).rounded())),
                      height: first.height, interpolation: .bilinear)
    }
    let height = parts.map(\.height).max() ?? first.height
    let width = parts.map(\.width).reduce(0, +) + gap * (parts.count - 1)
    var canvas = RGBImage(width: width, height: height, color: .white)
    var x = 0
    for part in parts {
        canvas.paste(part, x: x, y: (height - part.height) / 2)
        x += part.width + gap
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
    guard !images.isEmpty else { throw ImageError("grid needs at least one picture, got none") }
    guard columns >= 1 else { throw ImageError("grid needs at least 1 column, got \(columns)") }
    guard gap >= 0 else { throw ImageError("the gap must be 0 or more pixels, got \(gap)") }
    let cellWidth = images.map(\.width).max() ?? 1, cellHeight = images.map(\.height).max() ?? 1
    let used = min(columns, images.count)
    let rows = (images.count + columns - 1) / columns
    var canvas = RGBImage(width: used * cellWidth + (used - 1) * gap, height: rows * cellHeight + (rows - 1) * gap, color: .white)
    for (i, image) in images.enumerated() {
        let cx = (i % columns) * (cellWidth + gap), cy = (i / columns) * (cellHeight + gap)
        canvas.paste(image, x: cx + (cellWidth - image.width) / 2, y: cy + (cellHeight - image.height) / 2)
    }
    return canvas
}

/// The picture with a caption band (black text on white) above or below it.
///
/// The text uses the built-in 5×7 font at `scale` (by default 2 for pictures at least 160
/// pixels wide, else 1); lines are broken at spaces, or inside words that are too long, to fit
/// the picture's width; `\n` forces a break. Characters outside printable ASCII show as `?`.
public func label(_ image: RGBImage, _ text: String, position: CaptionPosition = .below, scale: Int? = nil) -> RGBImage {
    let s = max(scale ?? (image.width >= 160 ? 2 : 1), 1)
    let padding = 2 * s
    let perLine = max(1, (image.width - 2 * padding + s) / (BitmapFont.advance * s))
    let lines = wrap(text, width: perLine)
    let block = RGBImage.textSize(lines.joined(separator: "\n"), scale: s)
    let bandHeight = block.height + 2 * padding
    var canvas = RGBImage(width: image.width, height: image.height + bandHeight, color: .white)
    let imageY = position == .above ? bandHeight : 0
    let textY = (position == .above ? 0 : image.height) + padding
    canvas.paste(image, x: 0, y: imageY)
    for (n, line) in lines.enumerated() {
        let lineWidth = RGBImage.textSize(line, scale: s).width
        canvas.draw(text: line, x: max(padding, (image.width - lineWidth) / 2), y: textY + n * BitmapFont.lineHeight * s, scale: s)
    }
    return canvas
}

/// Breaks `text` into lines of at most `width` characters, at spaces where possible.
func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
        var line = ""
        for word in paragraph.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            var word = word
            while word.count > width {
                if !line.isEmpty { lines.append(line); line = "" }
                lines.append(String(word.prefix(width)))
                word = String(word.dropFirst(width))
            }
            if word.isEmpty { continue }
            if line.isEmpty {
                line = word
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = word
            }
        }
        lines.append(line)
    }
    return lines
}

/// A legend for `colormap`: a vertical bar `thickness × length` pixels, value 1 at the top
/// and 0 at the bottom (row `y` shows entry `round(255 · (length − 1 − y) / (length − 1))`),
/// with the labels 1.0, 0.5 and 0.0 to its right when `labeled`, on white.
///
/// - Throws: `ImageError` when `length` is below 2 or `thickness` below 1.
public func colorbar(_ colormap: Colormap, length: Int = 224, thickness: Int = 16, labeled: Bool = true) throws -> RGBImage {
    guard length >= 2 else { throw ImageError("a colorbar needs a length of at least 2 pixels, got \(length)") }
    guard thickness >= 1 else { throw ImageError("a colorbar needs a thickness of at least 1 pixel, got \(thickness)") }
    let labelWidth = labeled ? 4 + RGBImage.textSize("0.5").width + 2 : 0
    let margin = labeled ? BitmapFont.glyphHeight / 2 + 1 : 0
    var canvas = RGBImage(width: thickness + labelWidth, height: length + 2 * margin, color: .white)
    for y in 0..<length {
        let entry = UInt8((Double(255 * (length - 1 - y)) / Double(length - 1)).rounded())
        canvas.fill(x: 0, y: margin + y, width: thickness, height: 1, color: colormap.color(at: entry))
    }
    if labeled {
        for (text, y) in [("1.0", 0), ("0.5", (length - 1) / 2), ("0.0", length - 1)] {
            canvas.draw(text: text, x: thickness + 4, y: margin + y - BitmapFont.glyphHeight / 2)
        }
    }
    return canvas
}
