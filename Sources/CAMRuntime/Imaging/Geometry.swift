import Foundation

extension RGBImage {
    /// The rectangle with its top-left corner at (`x`, `y`) and the given size, as PIL's
    /// `crop((x, y, x + width, y + height))`: parts outside the image are black.
    ///
    /// - Precondition: `width` and `height` are positive.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        precondition(cropWidth > 0 && cropHeight > 0, "crop needs a positive size, got \(cropWidth)×\(cropHeight)")
        var out = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        let x0 = max(x, 0), x1 = min(x + cropWidth, width)
        if x0 < x1 {
            for row in 0..<cropHeight {
                let sy = y + row
                if sy < 0 || sy >= height { continue }
                let src = (sy * width + x0) * 3
                let dst = (row * cropWidth + (x0 - x)) * 3
                let n = (x1 - x0) * 3
                out.withUnsafeMutableBufferPointer { o in
                    pixels.withUnsafeBufferPointer { p in
                        guard let ob = o.baseAddress, let pb = p.baseAddress else { return }
                        (ob + dst).update(from: pb + src, count: n)
                    }
                }
            }
        }
        return RGBImage(width: cropWidth, height: cropHeight, pixels: out)
    }

    /// The centred `width × height` rectangle, with torchvision's `center_crop` rounding: the
    /// top-left corner is `round((W − w) / 2)`, `round((H − h) / 2)` with Python's round half to
    /// even; a crop larger than the image pads with black, `⌊(w − W) / 2⌋` on the left/top.
    ///
    /// - Precondition: `width` and `height` are positive.
    public func centerCropped(width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        func origin(_ size: Int, _ crop: Int) -> Int {
            if crop > size { return -((crop - size) / 2) }
            return Int((Double(size - crop) / 2).rounded(.toNearestOrEven))
        }
        return cropped(x: origin(width, cropWidth), y: origin(height, cropHeight), width: cropWidth, height: cropHeight)
    }

    /// The centred `size × size` square (see `centerCropped(width:height:)`).
    public func centerCropped(size: Int) -> RGBImage {
        centerCropped(width: size, height: size)
    }

    /// The image mirrored left to right.
    public func flippedHorizontally() -> RGBImage {
        var out = pixels
        for y in 0..<height {
            let row = y * width * 3
            for x in 0..<width {
                let s = row + (width - 1 - x) * 3, d = row + x * 3
                out[d] = pixels[s]
                out[d + 1] = pixels[s + 1]
                out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// The image mirrored top to bottom.
    public func flippedVertically() -> RGBImage {
        var out = pixels
        let stride = width * 3
        for y in 0..<height {
            let s = (height - 1 - y) * stride, d = y * stride
            out.replaceSubrange(d..<(d + stride), with: pixels[s..<(s + stride)])
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// The size torchvision's `Resize(n)` gives: the shorter side becomes `n`, the longer side
    /// `int(n · long / short)` (truncated).
    ///
    /// - Precondition: `shorterSide` is positive, and the longer side fits (see
    ///   `sizeResizingShorterSide(width:height:to:)`).
    public func sizeResizingShorterSide(to shorterSide: Int) -> (width: Int, height: Int) {
        precondition(shorterSide > 0, "the shorter side must be positive, got \(shorterSide)")
        guard let size = Self.sizeResizingShorterSide(width: width, height: height, to: shorterSide) else {
            preconditionFailure("resizing \(width)×\(height) to a shorter side of \(shorterSide) gives a side past 10^15")
        }
        return size
    }

    /// The size torchvision's `Resize(shorterSide)` gives a `width × height` picture (see
    /// `sizeResizingShorterSide(to:)`), or nil when a side is not positive or the longer side
    /// would pass 10^15 (no picture has such a side; the bound keeps the arithmetic exact).
    public static func sizeResizingShorterSide(width: Int, height: Int, to shorterSide: Int) -> (width: Int, height: Int)? {
        let short = min(width, height), long = max(width, height)
        guard short > 0, shorterSide > 0 else { return nil }
        let (product, overflow) = shorterSide.multipliedReportingOverflow(by: long)
        let newLong = Double(product) / Double(short)
        guard !overflow, newLong < 1e15 else { return nil }
        return width <= height ? (shorterSide, Int(newLong)) : (Int(newLong), shorterSide)
    }

    /// The image resized so that its shorter side is `shorterSide`, as torchvision's
    /// `Resize(shorterSide, interpolation, antialias=True)` on a PIL image.
    public func resized(shorterSide: Int, interpolation: Interpolation) -> RGBImage {
        let size = sizeResizingShorterSide(to: shorterSide)
        return resized(width: size.width, height: size.height, interpolation: interpolation)
    }
}
