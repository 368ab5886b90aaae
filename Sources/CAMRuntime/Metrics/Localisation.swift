/// Localisation metrics: does the map point at the object? (Zhang et al., "Top-down Neural
/// Attention by Excitation Backprop", ECCV 2016, the pointing game; Wang et al., Score-CAM,
/// CVPR-W 2020, §4.2, its energy-based variant.) Defined as Quantus 0.6's `PointingGame` and
/// `RelevanceMassAccuracy` define them, on one `[H, W]` map and a mask of the same size.
public enum Localisation {
    /// Whether a pixel where the map reaches its maximum lies inside the mask (Quantus'
    /// `PointingGame`: any of the tied maxima counts); nil when the mask is empty.
    public static func pointingGame(_ map: ArraySlice<Float>, inside mask: [Bool]) -> Bool? {
        precondition(map.count == mask.count, "map of \(map.count) pixels for a mask of \(mask.count)")
        guard mask.contains(true), let top = map.max() else { return nil }
        return zip(map, mask).contains { $0 == top && $1 }
    }

    /// The share of the map's mass inside the mask, `Σ_inside M / Σ M` (Quantus'
    /// `RelevanceMassAccuracy`, the energy-based pointing game); nil when the mask is empty or
    /// the map sums to 0.
    public static func energy(_ map: ArraySlice<Float>, inside mask: [Bool]) -> Float? {
        precondition(map.count == mask.count, "map of \(map.count) pixels for a mask of \(mask.count)")
        guard mask.contains(true) else { return nil }
        var inside: Double = 0, total: Double = 0
        for (value, isInside) in zip(map, mask) {
            total += Double(value)
            if isInside { inside += Double(value) }
        }
        return total == 0 ? nil : Float(inside / total)
    }

    /// The mask of a box `x0 ≤ x < x1, y0 ≤ y < y1` on a `width × height` map (clipped to it).
    public static func boxMask(x0: Int, y0: Int, x1: Int, y1: Int, width: Int, height: Int) -> [Bool] {
        var mask = [Bool](repeating: false, count: width * height)
        for y in Swift.max(0, y0)..<Swift.max(Swift.max(0, y0), Swift.min(height, y1)) {
            for x in Swift.max(0, x0)..<Swift.max(Swift.max(0, x0), Swift.min(width, x1)) {
                mask[y * width + x] = true
            }
        }
        return mask
    }
}
