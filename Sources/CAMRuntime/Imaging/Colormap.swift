import Foundation

/// A 256-entry colour lookup table that turns values in [0, 1] into colours, looked up by name.
///
/// `jet` is OpenCV's `COLORMAP_JET` table byte for byte; `turbo`, `viridis`, `inferno` and
/// `magma` are the published tables (equal to OpenCV's `COLORMAP_*` tables); `gray` maps entry
/// `i` to `(i, i, i)`. Every map has a reversed variant named with `_r` (`jet_r`), whose entry
/// `i` is entry `255 − i` of the original, as in matplotlib.
public struct Colormap: Sendable, Equatable, CustomStringConvertible {
    /// The name the map is looked up by, e.g. `jet` or `viridis_r`.
    public let name: String
    /// 768 bytes: R, G, B of entry 0, then entry 1, ...
    public let table: [UInt8]

    private init(name: String, table: [UInt8]) {
        precondition(table.count == 768, "a colormap needs 256 RGB entries")
        self.name = name
        self.table = table
    }

    /// `colormap jet`.
    public var description: String { "colormap \(name)" }

    /// OpenCV's JET (pytorch-grad-cam's default).
    public static let jet = Colormap(name: "jet", table: JETTable.rgb)
    /// Google's turbo.
    public static let turbo = Colormap(name: "turbo", table: ColormapTables.turbo)
    /// matplotlib's viridis.
    public static let viridis = Colormap(name: "viridis", table: ColormapTables.viridis)
    /// matplotlib's inferno.
    public static let inferno = Colormap(name: "inferno", table: ColormapTables.inferno)
    /// matplotlib's magma.
    public static let magma = Colormap(name: "magma", table: ColormapTables.magma)
    /// Black to white.
    public static let gray = Colormap(name: "gray", table: (0..<768).map { UInt8($0 / 3) })
    /// matplotlib's bwr: blue, white at the middle, red — for signed maps, whose zero is white.
    public static let bwr = Colormap(name: "bwr", table: evenlySpaced([(0, 0, 1), (1, 1, 1), (1, 0, 0)]))

    /// The maps without their reversed variants, in the order `names` lists them.
    public static let all: [Colormap] = [.jet, .turbo, .viridis, .inferno, .magma, .gray, .bwr]

    /// The table of matplotlib's `LinearSegmentedColormap.from_list(colors)` with 256 entries,
    /// as `cmap(x, bytes=True)` gives it: colours evenly spaced on 0…1, linear between them, in
    /// float64 with matplotlib's order of operations, and truncated to bytes (so that every
    /// entry equals matplotlib's).
    static func evenlySpaced(_ colors: [(Double, Double, Double)]) -> [UInt8] {
        let stops = colors.indices.map { Double($0) / Double(colors.count - 1) * 255 }
        let step = 1.0 / 255
        var table: [UInt8] = []
        table.reserveCapacity(768)
        for i in 0..<256 {
            let channel: [Double]
            if i == 0 || i == 255 {
                let c = colors[i == 0 ? 0 : colors.count - 1]
                channel = [c.0, c.1, c.2]
            } else {
                let x = 255 * (Double(i) * step)
                let k = stops.firstIndex { $0 >= x } ?? stops.count - 1
                let d = (x - stops[k - 1]) / (stops[k] - stops[k - 1])
                let (a, b) = (colors[k - 1], colors[k])
                channel = [d * (b.0 - a.0) + a.0, d * (b.1 - a.1) + a.1, d * (b.2 - a.2) + a.2]
            }
            table += channel.map { UInt8(Swift.min(Swift.max($0, 0), 1) * 255) }
        }
        return table
    }

    /// Every name `named(_:)` accepts: each map and its `_r` variant.
    public static var names: [String] { all.flatMap { [$0.name, $0.name + "_r"] } }

    /// The map called `name` (case-insensitive; `grey` is accepted for `gray`).
    ///
    /// - Throws: `ImageError` listing the known names when there is no such map.
    public static func named(_ name: String) throws -> Colormap {
        var key = name.lowercased()
        if key == "grey" || key == "grey_r" { key = key.replacingOccurrences(of: "grey", with: "gray") }
        let reversed = key.hasSuffix("_r")
        let base = reversed ? String(key.dropLast(2)) : key
        guard let map = all.first(where: { $0.name == base }) else {
            throw ImageError("unknown colormap '\(name)'; expected one of \(names.joined(separator: ", "))")
        }
        return reversed ? map.reversed() : map
    }

    /// The map run backwards, named with `_r` added (or removed).
    public func reversed() -> Colormap {
        var flipped = [UInt8](repeating: 0, count: 768)
        for i in 0..<256 {
            flipped[3 * i] = table[3 * (255 - i)]
            flipped[3 * i + 1] = table[3 * (255 - i) + 1]
            flipped[3 * i + 2] = table[3 * (255 - i) + 2]
        }
        let newName = name.hasSuffix("_r") ? String(name.dropLast(2)) : name + "_r"
        return Colormap(name: newName, table: flipped)
    }

    /// Entry `index` of the table.
    public func color(at index: UInt8) -> RGBColor {
        let i = 3 * Int(index)
        return RGBColor(red: table[i], green: table[i + 1], blue: table[i + 2])
    }

    /// The entry for `value` as `show_cam_on_image` picks it: `uint8(255 · value)` with the
    /// float32 product truncated (values outside [0, 1] clamp to the ends, NaN to 0).
    public func color(for value: Float) -> RGBColor {
        color(at: Colormap.index(for: value))
    }

    /// `np.uint8(255 * value)` for a float32 value, clamped to 0...255 (NaN gives 0).
    @inline(__always)
    static func index(for value: Float) -> UInt8 {
        let scaled = 255 * value
        if !(scaled >= 0) { return 0 }
        if scaled >= 255 { return 255 }
        return UInt8(scaled)
    }

    /// A `[H, W]` (or `[1, H, W]`, `[1, 1, H, W]`) map of values in [0, 1] drawn in this
    /// colormap: `cv2.applyColorMap(np.uint8(255 * mask))` in RGB order.
    ///
    /// - Throws: `ImageError` if the tensor is not a single 2-D map.
    public func colorized(_ mask: Tensor) throws -> RGBImage {
        let (height, width) = try maskSize(mask)
        var out = [UInt8](repeating: 0, count: width * height * 3)
        mask.withUnsafeBufferPointer { m in
            for i in 0..<m.count {
                let t = 3 * Int(Colormap.index(for: m[i]))
                out[3 * i] = table[t]
                out[3 * i + 1] = table[t + 1]
                out[3 * i + 2] = table[t + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}

/// The height and width of a single 2-D map given as `[H, W]`, `[1, H, W]` or `[1, 1, H, W]`.
func maskSize(_ mask: Tensor) throws -> (height: Int, width: Int) {
    var shape = mask.shape
    while shape.count > 2 && shape[0] == 1 { shape.removeFirst() }
    guard shape.count == 2, shape[0] > 0, shape[1] > 0 else {
        throw ImageError("expected a 2-D map of shape [H, W] (or [1, H, W]), found shape \(mask.shape)")
    }
    return (shape[0], shape[1])
}
