import CFreeType
import Foundation

/// A font loaded by FreeType, which lays out and draws the captions of pictures (`label`,
/// `colorbar`) with real glyphs: descenders, lowercase letters and any character the font has.
///
/// The type owns one `FT_Library` and one `FT_Face` and frees both when it goes away. FreeType
/// allows no concurrent use of a face (its glyph slot and size are shared), so every call that
/// touches them holds `lock`; the font is otherwise immutable, which is what makes the shared
/// instance (`FontFace.standard()`) safe to use from any thread.
///
/// Layout is computed from the font's own units (advances, kerning, ascender, height), never
/// from FreeType's rounded or hinted metrics, so the size of a caption and where its lines
/// break depend only on the font file. Glyphs are rasterised unhinted (`FT_LOAD_NO_HINTING`)
/// in FreeType's anti-aliased mode at their exact sub-pixel position, and their coverage is
/// blended onto the picture with integer arithmetic: for a given FreeType build the same text
/// always gives the same bytes. Other FreeType versions can only change how the outline
/// rasteriser shades edge pixels; hinting, whose algorithms change between versions and which
/// moves whole stems, is off. Tests therefore check where ink falls, not exact bytes.
public final class FontFace: @unchecked Sendable {
    /// The caption size in pixels (the font's em) when `scale` is 1: it reads well under a
    /// 224 × 224 tile and leaves about 30 characters a line.
    public static let defaultPixelSize = 13

    /// The name of the bundled font file.
    static let fileName = "DejaVuSans.ttf"

    /// The folder SwiftPM copies the runtime's resources to, next to each executable that links
    /// it (`<package>_<target>.resources` on Linux, the platform CAMScript builds on).
    static let resourceFolder = "CAMScript_CAMRuntime.resources"

    private let library: FT_Library
    private let face: FT_Face
    private let lock = NSLock()
    /// Font units per em, from the face (2048 for DejaVu Sans).
    private let unitsPerEm: Int
    /// Whether the face has a `kern` table that FreeType reads.
    private let hasKerning: Bool
    /// The glyph drawn for a character the font lacks: U+FFFD if present, else `.notdef`.
    private let replacementGlyph: UInt32
    /// The face's ascender and line spacing in font units (kept apart from the face record,
    /// which FreeType changes while drawing).
    private let ascender: Int, lineSpacing: Int

    /// Loads the font file at `url`.
    ///
    /// - Throws: `ImageError` naming the file if it is missing or FreeType cannot read it as a
    ///   scalable font.
    public init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ImageError("the caption font \(url.path) does not exist")
        }
        var library: FT_Library?
        var status = FT_Init_FreeType(&library)
        guard status == 0, let library else {
            throw ImageError("FreeType could not start (error \(status)), so captions cannot be drawn")
        }
        var face: FT_Face?
        status = FT_New_Face(library, url.path, 0, &face)
        guard status == 0, let face else {
            FT_Done_FreeType(library)
            throw ImageError("FreeType cannot read the caption font \(url.path) (error \(status))")
        }
        let flags = face.pointee.face_flags
        guard flags & FT_Long(FT_FACE_FLAG_SCALABLE) != 0, face.pointee.units_per_EM > 0 else {
            FT_Done_Face(face)
            FT_Done_FreeType(library)
            throw ImageError("the caption font \(url.path) is not a scalable (outline) font")
        }
        self.library = library
        self.face = face
        self.unitsPerEm = Int(face.pointee.units_per_EM)
        self.hasKerning = flags & FT_Long(FT_FACE_FLAG_KERNING) != 0
        self.replacementGlyph = FT_Get_Char_Index(face, 0xFFFD)
        self.ascender = Int(face.pointee.ascender)
        self.lineSpacing = Int(face.pointee.height)
    }

    deinit {
        FT_Done_Face(face)
        FT_Done_FreeType(library)
    }

    /// The bundled DejaVu Sans, loaded once and shared: every caption uses it.
    ///
    /// - Throws: `ImageError` saying where the font was looked for when it is not there (the
    ///   same error on every call).
    public static func standard() throws -> FontFace {
        try standardFace.get()
    }

    /// The outcome of loading the bundled font, kept so that a missing font is reported on
    /// every caption rather than only the first.
    private static let standardFace: Result<FontFace, ImageError> = {
        do {
            return .success(try FontFace(contentsOf: try bundledFontURL()))
        } catch let error as ImageError {
            return .failure(error)
        } catch {
            return .failure(ImageError("the caption font could not be loaded: \(error)"))
        }
    }()

    /// Where the bundled font is: `DejaVuSans.ttf` in the runtime's resource folder next to the
    /// running executable (or next to the file a symbolic link to it points at).
    ///
    /// SwiftPM's generated `Bundle.module` looks in the same place but stops the program with
    /// `fatalError` when the folder is missing, and does not exist when the runtime is compiled
    /// without SwiftPM (fuzz/build.sh); this lookup throws instead, so a missing font is an error
    /// message, not a crash.
    ///
    /// - Throws: `ImageError` listing the folders searched.
    static func bundledFontURL(searching folders: [URL]? = nil) throws -> URL {
        let candidates = folders ?? executableFolders()
        for folder in candidates {
            let url = folder.appendingPathComponent(resourceFolder).appendingPathComponent("Fonts")
                .appendingPathComponent(fileName)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        let searched = candidates.map(\.path).joined(separator: ", ")
        throw ImageError("captions need the font \(resourceFolder)/Fonts/\(fileName), which should sit next to the "
            + "camscript executable (swift build puts it there); it is not in \(searched.isEmpty ? "any folder" : searched)")
    }

    /// The folder of the running executable, and that of the file it links to if different.
    private static func executableFolders() -> [URL] {
        var folders = [Bundle.main.bundleURL.standardizedFileURL]
        if let executable = Bundle.main.executableURL {
            let resolved = executable.resolvingSymlinksInPath().deletingLastPathComponent().standardizedFileURL
            if !folders.contains(resolved) { folders.append(resolved) }
        }
        return folders
    }

    // MARK: Layout

    /// The vertical metrics of one line of text at `pixelSize`, in whole pixels.
    public struct LineMetrics: Sendable, Equatable {
        /// From the top of a line to its baseline.
        public let ascent: Int
        /// From one baseline to the next (the line's height).
        public let height: Int
    }

    /// The line metrics at `pixelSize`: ascent and line height rounded from the font's own
    /// ascender and line spacing.
    public func lineMetrics(pixelSize: Int) -> LineMetrics {
        let size = max(pixelSize, 1)
        return LineMetrics(ascent: scaledRounded(ascender, size), height: max(scaledRounded(lineSpacing, size), 1))
    }

    /// The width in pixels of `line` set at `pixelSize` (the sum of its advances and kerning,
    /// rounded up); `\n` has no special meaning here.
    public func width(of line: some StringProtocol, pixelSize: Int) -> Int {
        pixels(fromUnits: lock.withLock { layout(line).end }, pixelSize: pixelSize)
    }

    /// `units` font units as whole pixels at `pixelSize`, rounded up as `width(of:pixelSize:)`
    /// rounds.
    func pixels(fromUnits units: Int, pixelSize: Int) -> Int {
        let scaled = units * max(pixelSize, 1)
        return scaled >= 0 ? (scaled + unitsPerEm - 1) / unitsPerEm : -(-scaled / unitsPerEm)
    }

    /// For each of `characters`, in font units, the kerning between it and the character
    /// before and its own advance, as `width(of:pixelSize:)` lays them out: the width of
    /// `characters[i..<j]` is the sum of their kerning and advances less the kerning before
    /// character `i` (nothing precedes a line's first character). Lets `wrap` measure any run
    /// in constant time after one pass over the text.
    func clusterAdvances(of characters: [Character]) -> [(kerning: Int, advance: Int)] {
        lock.withLock {
            var pen = Pen(font: self)
            return characters.map { character in
                var kerning = 0, advance = 0, first = true
                for scalar in character.unicodeScalars {
                    guard let step = pen.place(scalar) else { continue }
                    if first { kerning = step.kerning } else { advance += step.kerning }
                    advance += step.advance
                    first = false
                }
                return (kerning, advance)
            }
        }
    }

    /// Draws `line` onto `image` in `color`, its pen starting at column `x` on the baseline row
    /// `baseline`; ink outside the image is cut.
    func draw(_ line: some StringProtocol, on image: inout RGBImage, x: Int, baseline: Int, pixelSize: Int, color: RGBColor) {
        let size = max(pixelSize, 1)
        lock.withLock {
            guard FT_Set_Pixel_Sizes(face, 0, FT_UInt(size)) == 0 else { return }
            defer { FT_Set_Transform(face, nil, nil) }
            for (glyph, pen) in layout(line).glyphs {
                // The pen in 26.6 pixels: its whole part places the bitmap, its fraction shifts
                // the outline before it is rasterised.
                let position = x * 64 + (pen * size * 64 + unitsPerEm / 2) / unitsPerEm
                let whole = position >> 6
                var shift = FT_Vector(x: FT_Pos(position & 63), y: 0)
                FT_Set_Transform(face, nil, &shift)
                guard FT_Load_Glyph(face, glyph, Int32(FT_LOAD_NO_HINTING | FT_LOAD_NO_BITMAP)) == 0,
                      let slot = face.pointee.glyph,
                      FT_Render_Glyph(slot, FT_RENDER_MODE_NORMAL) == 0 else { continue }
                blend(slot.pointee.bitmap, onto: &image, left: whole + Int(slot.pointee.bitmap_left),
                      top: baseline - Int(slot.pointee.bitmap_top), color: color)
            }
        }
    }

    /// The glyphs of `line` and their pen positions in font units, plus where the pen ends.
    ///
    /// - Precondition: the caller holds `lock`.
    private func layout(_ line: some StringProtocol) -> (glyphs: [(UInt32, Int)], end: Int) {
        var glyphs: [(UInt32, Int)] = []
        var pen = Pen(font: self), position = 0
        for scalar in line.unicodeScalars {
            guard let step = pen.place(scalar) else { continue }
            position += step.kerning
            glyphs.append((step.glyph, position))
            position += step.advance
        }
        return (glyphs, position)
    }

    /// Walks a line character by character: which glyph each one draws, the kerning before it
    /// and its advance, in font units. Control characters and default-ignorable code points
    /// (variation selectors, joiners) draw nothing, a tab is a space, and a character the font
    /// lacks draws the replacement glyph.
    ///
    /// - Precondition: used only while holding the font's `lock`.
    private struct Pen {
        let font: FontFace
        /// The last glyph placed, 0 at the start of the line.
        var previous: UInt32 = 0

        /// The glyph, kerning and advance of `scalar`, or nil when it draws nothing.
        mutating func place(_ scalar: Unicode.Scalar) -> (glyph: UInt32, kerning: Int, advance: Int)? {
            let code = scalar == "\t" ? 0x20 : scalar.value
            if code < 0x20 || (0x7F..<0xA0).contains(code) || scalar.properties.isDefaultIgnorableCodePoint { return nil }
            let face = font.face
            var glyph = FT_Get_Char_Index(face, FT_ULong(code))
            if glyph == 0 { glyph = font.replacementGlyph }
            var kerning = 0
            if font.hasKerning, previous != 0 {
                var delta = FT_Vector()
                if FT_Get_Kerning(face, previous, glyph, FT_UInt(FT_KERNING_UNSCALED.rawValue), &delta) == 0 {
                    kerning = Int(delta.x)
                }
            }
            var advance: FT_Fixed = 0
            if FT_Get_Advance(face, glyph, Int32(FT_LOAD_NO_SCALE), &advance) != 0 { advance = 0 }
            previous = glyph
            return (glyph, kerning, Int(advance))
        }
    }

    /// `units` font units at `pixelSize`, rounded to the nearest pixel.
    private func scaledRounded(_ units: Int, _ pixelSize: Int) -> Int {
        let scaled = units * pixelSize
        return scaled >= 0 ? (scaled + unitsPerEm / 2) / unitsPerEm : -((-scaled + unitsPerEm / 2) / unitsPerEm)
    }
}

/// Blends an 8-bit coverage bitmap onto `image` with its top-left pixel at (`left`, `top`):
/// each pixel moves from its colour towards `color` by the coverage (0 keeps it, 255 replaces
/// it), rounded to the nearest integer.
private func blend(_ bitmap: FT_Bitmap, onto image: inout RGBImage, left: Int, top: Int, color: RGBColor) {
    let rows = Int(bitmap.rows), columns = Int(bitmap.width), pitch = Int(bitmap.pitch)
    guard rows > 0, columns > 0, let buffer = bitmap.buffer,
          bitmap.pixel_mode == UInt8(FT_PIXEL_MODE_GRAY.rawValue) else { return }
    let ink = [Int(color.red), Int(color.green), Int(color.blue)]
    for row in 0..<rows {
        let y = top + row
        guard y >= 0, y < image.height else { continue }
        // A negative pitch means the bitmap is stored bottom row first.
        let source = buffer + (pitch >= 0 ? row * pitch : (rows - 1 - row) * -pitch)
        for column in 0..<columns {
            let x = left + column
            let coverage = Int(source[column])
            guard coverage > 0, x >= 0, x < image.width else { continue }
            let i = 3 * (y * image.width + x)
            for c in 0..<3 {
                let paper = Int(image.pixels[i + c])
                image.pixels[i + c] = UInt8((paper * (255 - coverage) + ink[c] * coverage + 127) / 255)
            }
        }
    }
}
