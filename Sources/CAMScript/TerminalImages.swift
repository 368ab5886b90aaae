import Foundation
import Interpreter

/// How a terminal can draw pictures.
public enum TerminalGraphics: String, Sendable, CaseIterable {
    /// The kitty graphics protocol (kitty, WezTerm, Ghostty).
    case kitty
    /// iTerm2 inline images (PNG bytes).
    case iterm2
    /// DEC sixel graphics.
    case sixel
    /// Upper-half-block characters with 24-bit colors (two pixels per character cell).
    case truecolorBlocks = "blocks"
    /// Upper-half-block characters with the 256-color palette.
    case paletteBlocks = "blocks256"
    /// No drawing: a one-line description.
    case none

    /// Chooses from the environment: `CAMSCRIPT_IMAGES` (one of the raw values) wins; a
    /// non-terminal gets `.none`; then `KITTY_WINDOW_ID`/`TERM=xterm-kitty`/WezTerm/Ghostty →
    /// kitty, `TERM_PROGRAM=iTerm.app`/`LC_TERMINAL=iTerm2` → iTerm2, a `TERM` naming sixel
    /// (foot, mlterm, `*-sixel`) → sixel, `COLORTERM=truecolor|24bit` → truecolor blocks, `TERM=dumb` →
    /// none, else 256-color blocks.
    public static func detect(environment env: [String: String], isTerminal: Bool) -> TerminalGraphics {
        if let forced = env["CAMSCRIPT_IMAGES"].flatMap(TerminalGraphics.init(rawValue:)) { return forced }
        guard isTerminal else { return .none }
        let term = env["TERM"] ?? ""
        let program = env["TERM_PROGRAM"] ?? ""
        if env["KITTY_WINDOW_ID"] != nil || term == "xterm-kitty" || term == "xterm-ghostty"
            || program == "WezTerm" || program == "ghostty" {
            return .kitty
        }
        if program == "iTerm.app" || env["LC_TERMINAL"] == "iTerm2" { return .iterm2 }
        if term.contains("sixel") || term == "foot" || term.hasPrefix("foot-") || term.hasPrefix("mlterm") {
            return .sixel
        }
        if term == "dumb" || term.isEmpty { return .none }
        let colorterm = env["COLORTERM"] ?? ""
        if colorterm == "truecolor" || colorterm == "24bit" { return .truecolorBlocks }
        return .paletteBlocks
    }
}

/// Turns an RGB picture into the escape sequences that draw it in a terminal.
public struct TerminalImageRenderer: Sendable {
    /// The drawing method.
    public var graphics: TerminalGraphics
    /// The terminal's width in character cells (block renderings fit in it).
    public var columns: Int
    /// The terminal's height in character cells: every rendering fits in it, less two lines
    /// (the prompt and the line before), so a picture never scrolls its own top away.
    public var rows = 24
    /// The size of a character cell in pixels, when the terminal reports it (TIOCGWINSZ's
    /// pixel fields); pixel protocols use it to fit the height. 8×16 when unknown.
    public var cellPixels: (width: Int, height: Int) = (8, 16)

    /// The rows a picture may take.
    var availableRows: Int { Swift.max(2, rows - 2) }

    /// The picture scaled down (never up) to fit `columns` × `availableRows` cells of
    /// `cellPixels`, for the pixel protocols.
    func fittedForPixels(_ image: DisplayImage) -> DisplayImage {
        let maxWidth = Swift.max(8, columns * cellPixels.width), maxHeight = Swift.max(8, availableRows * cellPixels.height)
        let scale = Swift.min(1, Double(maxWidth) / Double(image.width), Double(maxHeight) / Double(image.height))
        guard scale < 1 else { return image }
        return TerminalImageRenderer.resized(image, width: Swift.max(1, Int(Double(image.width) * scale)),
                                             height: Swift.max(1, Int(Double(image.height) * scale)))
    }
    /// Encodes a picture as PNG (iTerm2 needs PNG); without one, iTerm2 falls back to blocks.
    public var pngEncoder: (@Sendable (DisplayImage) -> [UInt8]?)?

    /// Creates a renderer.
    public init(graphics: TerminalGraphics, columns: Int = 80,
                pngEncoder: (@Sendable (DisplayImage) -> [UInt8]?)? = nil) {
        self.graphics = graphics
        self.columns = Swift.max(columns, 8)
        self.pngEncoder = pngEncoder
    }

    /// The text to write for `image`, ending with a newline; `.none` gives `[description]`.
    public func render(_ image: DisplayImage, description: String) -> String {
        guard image.width > 0, image.height > 0 else { return "[\(description)]\n" }
        switch graphics {
        case .none: return "[\(description)]\n"
        case .kitty: return kitty(fittedForPixels(image))
        case .iterm2:
            let fitted = fittedForPixels(image)
            guard let png = pngEncoder?(fitted) else { return blocks(image, trueColor: true) }
            return "\u{1B}]1337;File=inline=1;size=\(png.count);preserveAspectRatio=1:"
                + Data(png).base64EncodedString() + "\u{07}\n"
        case .sixel: return sixel(fittedForPixels(image))
        case .truecolorBlocks: return blocks(image, trueColor: true)
        case .paletteBlocks: return blocks(image, trueColor: false)
        }
    }

    private func kitty(_ image: DisplayImage) -> String {
        let payload = Data(image.rgb).base64EncodedString()
        var out = ""
        var start = payload.startIndex
        var first = true
        while start < payload.endIndex {
            let end = payload.index(start, offsetBy: 4096, limitedBy: payload.endIndex) ?? payload.endIndex
            let more = end < payload.endIndex ? 1 : 0
            let control = first ? "a=T,f=24,s=\(image.width),v=\(image.height),m=\(more)" : "m=\(more)"
            out += "\u{1B}_G\(control);\(payload[start..<end])\u{1B}\\"
            first = false
            start = end
        }
        return out + "\n"
    }

    /// The picture resampled (box average) to `width`×`height`.
    static func resized(_ image: DisplayImage, width: Int, height: Int) -> DisplayImage {
        guard width != image.width || height != image.height else { return image }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let y0 = y * image.height / height
            let y1 = Swift.max(y0 + 1, (y + 1) * image.height / height)
            for x in 0..<width {
                let x0 = x * image.width / width
                let x1 = Swift.max(x0 + 1, (x + 1) * image.width / width)
                var sum = (0, 0, 0)
                for yy in y0..<y1 {
                    for xx in x0..<x1 {
                        let i = (yy * image.width + xx) * 3
                        sum.0 += Int(image.rgb[i]); sum.1 += Int(image.rgb[i + 1]); sum.2 += Int(image.rgb[i + 2])
                    }
                }
                let n = (y1 - y0) * (x1 - x0)
                let o = (y * width + x) * 3
                rgb[o] = UInt8(sum.0 / n); rgb[o + 1] = UInt8(sum.1 / n); rgb[o + 2] = UInt8(sum.2 / n)
            }
        }
        return DisplayImage(width: width, height: height, rgb: rgb)
    }

    private func blocks(_ image: DisplayImage, trueColor: Bool) -> String {
        // Two pixel rows per character row: fit the width, then the height.
        var width = Swift.min(image.width, columns - 1)
        let tallest = 2 * availableRows
        if Double(image.height) * Double(width) / Double(image.width) > Double(tallest) {
            width = Swift.max(1, Int(Double(image.width) * Double(tallest) / Double(image.height)))
        }
        var height = Swift.min(tallest, Swift.max(2, Int((Double(image.height) * Double(width) / Double(image.width)).rounded())))
        height += height % 2
        let small = TerminalImageRenderer.resized(image, width: width, height: height)
        func color(_ x: Int, _ y: Int, background: Bool) -> String {
            let i = (y * width + x) * 3
            let (r, g, b) = (Int(small.rgb[i]), Int(small.rgb[i + 1]), Int(small.rgb[i + 2]))
            let layer = background ? 48 : 38
            if trueColor { return "\u{1B}[\(layer);2;\(r);\(g);\(b)m" }
            let index = 16 + 36 * ((r * 5 + 127) / 255) + 6 * ((g * 5 + 127) / 255) + (b * 5 + 127) / 255
            return "\u{1B}[\(layer);5;\(index)m"
        }
        var out = ""
        for row in stride(from: 0, to: height, by: 2) {
            for x in 0..<width {
                out += color(x, row, background: false) + color(x, row + 1, background: true) + "▀"
            }
            out += "\u{1B}[0m\n"
        }
        return out
    }

    private func sixel(_ image: DisplayImage) -> String {
        let maxWidth = 1000
        let source = image.width > maxWidth
            ? TerminalImageRenderer.resized(image, width: maxWidth, height: Swift.max(1, image.height * maxWidth / image.width))
            : image
        let (w, h) = (source.width, source.height)
        var out = "\u{1B}P0;1;0q\"1;1;\(w);\(h)"
        for i in 0..<216 {
            let (r, g, b) = (i / 36, (i / 6) % 6, i % 6)
            out += "#\(i);2;\(r * 20);\(g * 20);\(b * 20)"
        }
        var indices = [Int](repeating: 0, count: w * h)
        for p in 0..<(w * h) {
            let r = (Int(source.rgb[3 * p]) * 5 + 127) / 255
            let g = (Int(source.rgb[3 * p + 1]) * 5 + 127) / 255
            let b = (Int(source.rgb[3 * p + 2]) * 5 + 127) / 255
            indices[p] = 36 * r + 6 * g + b
        }
        for band in stride(from: 0, to: h, by: 6) {
            var used = Set<Int>()
            for y in band..<Swift.min(band + 6, h) { for x in 0..<w { used.insert(indices[y * w + x]) } }
            for c in used.sorted() {
                out += "#\(c)"
                var run: (Character, Int)?
                func flush(_ out: inout String, _ run: (Character, Int)?) {
                    guard let (ch, n) = run else { return }
                    out += n > 3 ? "!\(n)\(ch)" : String(repeating: ch, count: n)
                }
                for x in 0..<w {
                    var bits = 0
                    for k in 0..<6 where band + k < h && indices[(band + k) * w + x] == c { bits |= 1 << k }
                    let ch = Character(Unicode.Scalar(UInt8(63 + bits)))
                    if let (rc, n) = run, rc == ch { run = (rc, n + 1) } else { flush(&out, run); run = (ch, 1) }
                }
                flush(&out, run)
                out += "$"
            }
            out += "-"
        }
        return out + "\u{1B}\\\n"
    }
}
