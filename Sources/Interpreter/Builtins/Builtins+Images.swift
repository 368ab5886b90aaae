import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers the image loader and saver, `overlay`, composition (`hstack`, `vstack`, `grid`,
    /// `label`, `colorbar`), geometry (`resize`, `crop`, `flip`), `to_image`, and the PNG
    /// encoder for iTerm2.
    mutating func registerImageBuiltins() {
        let images = "Images"
        pngEncoder = { picture in
            try? [UInt8](RGBImage(width: picture.width, height: picture.height, pixels: picture.rgb).pngData())
        }

        register(Loader(description: "PNG or JPEG image", extensions: ["png", "jpg", "jpeg"]) { path, args, _ in
            try rejectModelKeywords(args, what: "an image")
            return .object(ImageObject(try RGBImage(contentsOf: URL(fileURLWithPath: path))))
        })

        register(Saver(description: "PNG or JPEG image (a CAM in the JET colormap)", extensions: ["png", "jpg", "jpeg"],
                       accepts: { value in
            if case .object(let o) = value { return o is ImageObject || o is CAMObject }
            return false
        }, acceptsQuality: true) { value, path, options, _ in
            let picture = try picture(of: value, for: "save")
            let ext = (path as NSString).pathExtension.lowercased()
            if ext == "png", options.quality != nil {
                throw RuntimeError("save: quality= is for JPEG files; PNG is lossless")
            }
            let data = ext == "png" ? try picture.pngData() : try picture.jpegData(quality: options.quality ?? 95)
            try AtomicFile.write(data, to: path)
        })

        let alpha = Parameter("alpha", [.number], default: .number(0.5), keywordOnly: true,
                              doc: "The weight of the picture (image_weight of show_cam_on_image), 0…1.")
        let colormap = Parameter("colormap", [.string], default: .string("jet"), keywordOnly: true,
                                 doc: "jet, turbo, viridis, inferno, magma or gray (each also reversed with _r).")
        register(Builtin(BuiltinSignature(
            name: "overlay",
            parameters: [Parameter("cam", [.object("cam")], doc: "A CAM of one image."),
                         Parameter("picture", [.object("image"), .tensor], doc: "The picture: an image, or the preprocessed tensor the CAM was computed from."),
                         alpha, colormap,
                         Parameter("mean", [.list], default: Value.none, keywordOnly: true, doc: "The normalisation mean of a tensor (default: the CAM's model's)."),
                         Parameter("std", [.list], default: Value.none, keywordOnly: true, doc: "The normalisation std of a tensor (default: the CAM's model's).")],
            category: images, summary: "The heat map over the picture (pytorch-grad-cam's show_cam_on_image, RGB).",
            details: "Computes `heat = LUT[uint8(255·cam)]/255; out = uint8(255·v/max(v))` with `v = (1−alpha)·heat + alpha·picture`. A tensor is turned back into a picture with the mean and std of the CAM's model (or `mean=`/`std=`): when every value is exactly a normalised 8-bit pixel (a tensor straight from `preprocess`), the 8-bit crop itself is recovered, so the result equals show_cam_on_image(float32(crop)/255, cam); otherwise `clip(x·std + mean, 0, 1)` is used. The picture must have the CAM's size.",
            example: "vis = overlay cam x alpha=0.6")) { args, _ in
            let cam = try args.object("cam", as: CAMObject.self)
            let mask = try cam.singleMap("overlay")
            let weight = try args.number("alpha")
            guard (0...1).contains(weight) else {
                throw RuntimeError("overlay: alpha must be between 0 and 1, got \(formatNumber(weight))")
            }
            let map = try Colormap.named(try args.string("colormap"))
            let mean = try floats(args, "mean", count: 3) ?? cam.mean
            let std = try floats(args, "std", count: 3) ?? cam.std
            let (h, w) = (mask.shape[0], mask.shape[1])
            switch args["picture"] {
            case .object(let o as ImageObject):
                guard o.image.width == w, o.image.height == h else {
                    throw RuntimeError("overlay: the CAM is \(w)×\(h) but the image is \(o.image.width)×\(o.image.height); "
                                       + "pass the preprocessed tensor (overlay cam x) or resize the image to \(w)×\(h)")
                }
                return .object(ImageObject(try CAMRuntime.overlay(o.image, mask: mask, colormap: map, imageWeight: weight)))
            case .tensor(let t):
                var shape = t.shape
                if shape.count == 4 && shape[0] == 1 { shape.removeFirst() }
                guard shape.count == 3, shape[0] == 3 else {
                    throw RuntimeError("overlay: expected the picture as a tensor [3, H, W], got shape \(Network.describeShape(t.shape))")
                }
                guard shape[1] == h, shape[2] == w else {
                    throw RuntimeError("overlay: the CAM is \(w)×\(h) but the tensor is \(shape[2])×\(shape[1])")
                }
                if let crop = exactPixels(t, mean: mean, std: std) {
                    return .object(ImageObject(try CAMRuntime.overlay(crop, mask: mask, colormap: map, imageWeight: weight)))
                }
                let pixels = try denormalizedPixels(t, mean: mean, std: std)
                return .object(ImageObject(try CAMRuntime.overlay(pixels, mask: mask, colormap: map, imageWeight: weight)))
            default:
                throw RuntimeError("overlay: argument `picture` must be an image or a tensor, got \(args["picture"].typeName)")
            }
        })

        let gap = Parameter("gap", [.integer], default: .number(0), keywordOnly: true, doc: "White pixels between pictures.")
        let fit = Parameter("fit", [.string], default: .string("pad"), keywordOnly: true,
                            doc: "\"pad\" keeps sizes (centred on white), \"resize\" scales each to the first one's height (hstack) or width (vstack).")
        for (name, horizontal) in [("hstack", true), ("vstack", false)] {
            register(Builtin(BuiltinSignature(
                name: name, parameters: [gap, fit],
                variadic: Parameter("pictures", [.object("image"), .object("cam"), .list], doc: "Images or CAMs (drawn in JET), or lists of them."),
                category: images,
                summary: horizontal ? "Pictures side by side, left to right." : "Pictures one above the other, top to bottom.",
                details: "A CAM is drawn in the JET colormap. With fit=\"pad\" pictures of different sizes are centred in a white band.",
                example: horizontal ? "save hstack(img224, vis1, vis2) \"compare.png\"" : "v = vstack(row1, row2 gap=4)")) { args, _ in
                let pictures = try args.variadic.flatMap { value -> [Value] in
                    if case .list(let items) = value { return items }
                    return [value]
                }.map { try picture(of: $0, for: name) }
                guard !pictures.isEmpty else { throw RuntimeError("\(name): needs at least one picture, got none") }
                let g = try args.integer("gap")
                guard let matching = SizeMatching(rawValue: try args.string("fit")) else {
                    throw RuntimeError("\(name): fit must be \"pad\" or \"resize\", got \(quote(try args.string("fit")))")
                }
                let result = horizontal ? try CAMRuntime.hstack(pictures, matching: matching, gap: g)
                    : try CAMRuntime.vstack(pictures, matching: matching, gap: g)
                try RGBImage.validateSize(width: result.width, height: result.height)
                return .object(ImageObject(result))
            })
        }

        register(Builtin(BuiltinSignature(
            name: "grid",
            parameters: [Parameter("pictures", [.list], doc: "A list of images or CAMs."),
                         Parameter("cols", [.integer], default: Value.none, keywordOnly: true, doc: "Columns (default: ceil(sqrt(count)))."),
                         Parameter("gap", [.integer], default: .number(4), keywordOnly: true, doc: "White pixels between cells.")],
            category: images, summary: "Pictures in rows of `cols`, left to right, then top to bottom.",
            details: "Every cell is as large as the largest picture; pictures are centred in their cells on white.",
            example: "grid [vis1, vis2, vis3, vis4] cols=2")) { args, _ in
            let pictures = try args.list("pictures").map { try picture(of: $0, for: "grid") }
            guard !pictures.isEmpty else { throw RuntimeError("grid: needs at least one picture, got an empty list") }
            let columns = args.isNone("cols") ? Int(Double(pictures.count).squareRoot().rounded(.up)) : try args.integer("cols")
            let cellW = pictures.map(\.width).max() ?? 1, cellH = pictures.map(\.height).max() ?? 1
            let g = try args.integer("gap")
            guard columns >= 1 else { throw RuntimeError("grid: cols must be at least 1, got \(columns)") }
            if g >= 0 {
                let rows = (pictures.count + columns - 1) / columns
                try RGBImage.validateSize(width: min(columns, pictures.count) * (cellW + g), height: rows * (cellH + g))
            }
            return .object(ImageObject(try CAMRuntime.grid(pictures, columns: columns, gap: g)))
        })

        register(Builtin(BuiltinSignature(
            name: "label",
            parameters: [Parameter("picture", [.object("image"), .object("cam")], doc: "An image (or a CAM, drawn in JET)."),
                         Parameter("text", [.string], doc: "The caption (`\\n` breaks lines)."),
                         Parameter("above", [.bool], default: .bool(false), keywordOnly: true, doc: "Put the caption above instead of below.")],
            category: images, summary: "The picture with a caption band (black text on white).",
            details: "Uses a built-in 5×7 pixel font (printable ASCII; other characters show as ?), twice as large on pictures at least 160 pixels wide; long lines wrap.",
            example: "label vis \"tabby (281)\"")) { args, _ in
            let base = try picture(of: args["picture"], for: "label")
            let position: CaptionPosition = try args.bool("above") ? .above : .below
            return .object(ImageObject(CAMRuntime.label(base, try args.string("text"), position: position)))
        })

        register(Builtin(BuiltinSignature(
            name: "colorbar",
            parameters: [Parameter("colormap", [.string], default: .string("jet"), doc: "The colormap's name."),
                         Parameter("length", [.integer], default: .number(224), keywordOnly: true, doc: "The bar's height in pixels.")],
            category: images, summary: "A legend for a colormap: 1.0 at the top, 0.0 at the bottom.",
            example: "save hstack(vis, colorbar()) \"with_legend.png\"")) { args, _ in
            let map = try Colormap.named(try args.string("colormap"))
            let length = try args.integer("length")
            try RGBImage.validateSize(width: 16, height: max(length, 1))
            return .object(ImageObject(try CAMRuntime.colorbar(map, length: length)))
        })

        let interpolation = Parameter("interpolation", [.string], default: .string("bilinear"), keywordOnly: true,
                                      doc: "bilinear, bicubic or nearest (PIL's antialiased filters).")
        register(Builtin(BuiltinSignature(
            name: "resize",
            parameters: [Parameter("picture", [.object("image"), .object("cam")], doc: "An image (or a CAM, drawn in JET)."),
                         Parameter("width", [.integer], doc: "The new width in pixels."),
                         Parameter("height", [.integer], doc: "The new height in pixels."),
                         interpolation],
            category: images, summary: "The picture resized to width × height (aspect ratio not kept).",
            details: "Resampled as PIL's Image.resize does with the same filter.",
            example: "small = resize(img, 224, 224)")) { args, _ in
            let base = try picture(of: args["picture"], for: "resize")
            let (w, h) = (try args.integer("width"), try args.integer("height"))
            try validateSize(w, h, "resize")
            let filter = try interpolationNamed(try args.string("interpolation"), "resize")
            return .object(ImageObject(base.resized(width: w, height: h, interpolation: filter)))
        })

        register(Builtin(BuiltinSignature(
            name: "crop",
            parameters: [Parameter("picture", [.object("image")], doc: "An image."),
                         Parameter("x", [.integer], doc: "The left edge."), Parameter("y", [.integer], doc: "The top edge."),
                         Parameter("width", [.integer], doc: "The width."), Parameter("height", [.integer], doc: "The height.")],
            category: images, summary: "The rectangle of the picture at (x, y), width × height.",
            details: "The rectangle must lie inside the picture.",
            example: "face = crop img 150 40 200 200")) { args, _ in
            let base = try picture(of: args["picture"], for: "crop")
            let (x, y, w, h) = (try args.integer("x"), try args.integer("y"), try args.integer("width"), try args.integer("height"))
            guard w > 0, h > 0, x >= 0, y >= 0, x + w <= base.width, y + h <= base.height else {
                throw RuntimeError("crop: the rectangle at (\(x), \(y)) of \(w)×\(h) must lie inside the \(base.width)×\(base.height) picture")
            }
            return .object(ImageObject(base.cropped(x: x, y: y, width: w, height: h)))
        })

        register(Builtin(BuiltinSignature(
            name: "flip",
            parameters: [Parameter("picture", [.object("image")], doc: "An image."),
                         Parameter("vertical", [.bool], default: .bool(false), keywordOnly: true, doc: "Flip top to bottom instead of left to right.")],
            category: images, summary: "The picture mirrored left to right (or top to bottom).",
            example: "mirrored = flip img")) { args, _ in
            let base = try picture(of: args["picture"], for: "flip")
            return .object(ImageObject(try args.bool("vertical") ? base.flippedVertically() : base.flippedHorizontally()))
        })

        register(Builtin(BuiltinSignature(
            name: "to_image",
            parameters: [Parameter("tensor", [.tensor], doc: "[3, H, W] (or [1, 3, H, W]) floats."),
                         Parameter("mean", [.list], default: Value.none, keywordOnly: true, doc: "Normalisation mean to undo (default none: values already in [0, 1])."),
                         Parameter("std", [.list], default: Value.none, keywordOnly: true, doc: "Normalisation std to undo.")],
            category: images, summary: "A picture from a tensor: x·std + mean, clipped to [0, 1], times 255.",
            details: "Without mean/std the tensor's values are taken as already in [0, 1]. To see what a model sees, pass its preprocessing: to_image(x, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]).",
            example: "gray = to_image(zeros([3, 32, 32]) + 0.5)")) { args, _ in
            let mean = try floats(args, "mean", count: 3) ?? [0, 0, 0]
            let std = try floats(args, "std", count: 3) ?? [1, 1, 1]
            return .object(ImageObject(try RGBImage(denormalizing: try args.tensor("tensor"), mean: mean, std: std)))
        })
    }
}

/// The picture of an image or CAM value (a CAM of one image in the JET colormap).
func picture(of value: Value, for callee: String) throws -> RGBImage {
    switch value {
    case .object(let o as ImageObject): return o.image
    case .object(let o as CAMObject): return try Colormap.jet.colorized(try o.singleMap(callee))
    default: throw RuntimeError("\(callee): expected an image or a CAM, got \(value.typeName)")
    }
}

/// A list argument of exactly `count` numbers as floats, or `nil` when not given.
func floats(_ args: BoundArguments, _ name: String, count: Int) throws -> [Float]? {
    guard case .list(let items) = args[name] else { return nil }
    let numbers = items.compactMap { item -> Float? in
        if case .number(let v) = item { return Float(v) }
        return nil
    }
    guard numbers.count == items.count, numbers.count == count else {
        throw RuntimeError("\(args.callee): \(name) must be a list of \(count) numbers (one per channel), got \(Value.list(items).repr)")
    }
    return numbers
}

/// Checks a user-given picture size.
func validateSize(_ width: Int, _ height: Int, _ callee: String) throws {
    guard width > 0, height > 0 else {
        throw RuntimeError("\(callee): width and height must be at least 1 pixel, got \(width)×\(height)")
    }
    try RGBImage.validateSize(width: width, height: height)
}

/// The resampling filter called `name`.
func interpolationNamed(_ name: String, _ callee: String) throws -> Interpolation {
    guard let filter = Interpolation(rawValue: name.lowercased()) else {
        throw RuntimeError("\(callee): interpolation must be \"bilinear\", \"bicubic\" or \"nearest\", got \(quote(name))")
    }
    return filter
}

/// Refuses `weights=`/`arch=` on a file that is not a model.
func rejectModelKeywords(_ args: BoundArguments, what: String) throws {
    for key in ["weights", "arch"] where args.isGiven(key) {
        throw RuntimeError("\(key)= only applies to models, but \(quote(try args.string("path"))) is \(what)")
    }
}

/// The 8-bit picture whose normalisation `(p/255 − mean)/std` (in float32, as `preprocess`
/// computes it) gives exactly `tensor`, or `nil` when some value is not such a pixel.
func exactPixels(_ tensor: Tensor, mean: [Float], std: [Float]) -> RGBImage? {
    let shape = tensor.shape.count == 4 ? Array(tensor.shape.dropFirst()) : tensor.shape
    let (h, w) = (shape[1], shape[2]), plane = h * w
    var pixels = [UInt8](repeating: 0, count: plane * 3)
    for c in 0..<3 {
        let m = mean[c], s = std[c]
        for i in 0..<plane {
            let x = tensor.storage[c * plane + i]
            let guess = (x * s + m) * 255
            guard guess.isFinite else { return nil }
            let centre = Int(guess.rounded())
            var found: UInt8?
            for p in (centre - 1)...(centre + 1) where p >= 0 && p <= 255 {
                if (Float(p) / 255 - m) / s == x { found = UInt8(p); break }
            }
            guard let p = found else { return nil }
            pixels[3 * i + c] = p
        }
    }
    return RGBImage(width: w, height: h, pixels: pixels)
}

extension Network {
    /// `[1, 3, 224, 224]`.
    static func describeShape(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}
