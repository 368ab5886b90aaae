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
        }, acceptsQuality: true) { value, path, options, context in
            let picture = try picture(of: value, for: "save")
            let ext = (path as NSString).pathExtension.lowercased()
            if ext == "png", options.quality != nil {
                throw RuntimeError("save: quality= is for JPEG files; PNG is lossless")
            }
            let data = ext == "png" ? try picture.pngData(fast: options.fast) : try picture.jpegData(quality: options.quality ?? 95)
            try AtomicFile.write(data, to: path, cancellation: context.cancellation)
        })

        let imageWeight = Parameter("image_weight", [.number], default: .number(0.5), keywordOnly: true,
                                    doc: "The weight of the picture, 0…1 (show_cam_on_image's image_weight): higher shows more photo, less heat.")
        let colormap = Parameter("colormap", [.string], default: .string("jet"), keywordOnly: true,
                                 doc: "jet, turbo, viridis, inferno, magma, gray or bwr (each also reversed with _r); jet when omitted, bwr for a signed CAM.")
        register(Builtin(BuiltinSignature(
            name: "overlay",
            parameters: [Parameter("cam", [.object("cam"), .tensor],
                                   doc: "A CAM of one image, or any map as a tensor [H, W] ([N, H, W] for N images) of values in [0, 1]."),
                         Parameter("picture", [.object("image"), .tensor, .list],
                                   doc: "The photo the input was preprocessed from, an image of the map's size, or the preprocessed tensor ([N, 3, H, W] or a list of N images for N maps)."),
                         imageWeight, colormap,
                         Parameter("mean", [.list], default: Value.none, keywordOnly: true, doc: "The normalisation mean of a tensor (default: its preprocessing's, or the CAM's model's)."),
                         Parameter("std", [.list], default: Value.none, keywordOnly: true, doc: "The normalisation std of a tensor (default: its preprocessing's, or the CAM's model's).")],
            category: images, summary: "The heat map over the picture (pytorch-grad-cam's show_cam_on_image, RGB).",
            details: "Computes `heat = LUT[uint8(255·cam)]/255; out = uint8(255·v/max(v))` with `v = (1−image_weight)·heat + image_weight·picture`. Given the photo that `preprocess` made the CAM's input from, the map goes back through the crop and the resize, so the heat lands on the pixels the model saw; the part of the photo outside the crop is dimmed (the model never saw it). A tensor is turned back into a picture with the mean and std of its preprocessing (or the CAM's model's, or `mean=`/`std=`): when every value is exactly a normalised 8-bit pixel (a tensor straight from `preprocess`), the 8-bit crop itself is recovered, so the result equals show_cam_on_image(float32(crop)/255, cam); otherwise `clip(x·std + mean, 0, 1)` is used. A map from elsewhere (a saved .npy, cam.map after arithmetic) is any tensor of values in [0, 1].",
            example: "vis = overlay cam img image_weight=0.6",
            renamed: ["alpha": "image_weight=`, the weight of the picture as in show_cam_on_image (alpha weights the overlay everywhere else, the opposite): overlay cam x image_weight=0.5"])) { args, _ in
            let weight = try args.number("image_weight")
            guard (0...1).contains(weight) else {
                throw RuntimeError("overlay: image_weight must be between 0 and 1, got \(formatNumber(weight))")
            }
            let camObject: CAMObject?
            let masks: [Tensor]
            switch args["cam"] {
            case .object(let o as CAMObject):
                camObject = o
                masks = [try o.singleMap("overlay")]
            case .tensor(let t):
                camObject = nil
                masks = try mapTensors(t)
            default:
                throw RuntimeError("overlay: argument `cam` must be a cam or a tensor, got \(args["cam"].typeName)")
            }
            let colors = args.isGiven("colormap") ? try Colormap.named(try args.string("colormap")) : camObject?.defaultColormap ?? .jet
            let pictures = try overlayPictures(args["picture"], count: masks.count)
            var drawn: [Value] = []
            for (mask, picture) in zip(masks, pictures) {
                let (h, w) = (mask.shape[0], mask.shape[1])
                switch picture {
                case .image(let image):
                    if image.width == w && image.height == h {
                        drawn.append(.object(ImageObject(try CAMRuntime.overlay(image, mask: mask, colormap: colors, imageWeight: weight))))
                        continue
                    }
                    if let origin = camObject?.origin {
                        guard origin.width == image.width, origin.height == image.height else {
                            throw RuntimeError("overlay: the CAM covers the \(w)×\(h) centre crop of a \(origin.width)×\(origin.height) picture, "
                                               + "but this image is \(image.width)×\(image.height); pass that picture, or the preprocessed tensor (overlay cam x)")
                        }
                        drawn.append(.object(ImageObject(try CAMRuntime.overlay(image, mask: mask, origin: origin, colormap: colors,
                                                                                imageWeight: weight))))
                        continue
                    }
                    throw RuntimeError("overlay: the map is \(w)×\(h) but the image is \(image.width)×\(image.height), and the map does not "
                                       + "come from a tensor that `preprocess` made from a picture, so where it lies on this image is unknown; "
                                       + "pass the preprocessed tensor (overlay cam x), or compute the CAM on `preprocess` of this picture")
                case .tensor(let t):
                    guard t.shape.count == 3, t.shape[0] == 3 else {
                        throw RuntimeError("overlay: expected the picture as a tensor [3, H, W], got shape \(Network.describeShape(t.shape))")
                    }
                    guard t.shape[1] == h, t.shape[2] == w else {
                        throw RuntimeError("overlay: the map is \(w)×\(h) but the tensor is \(t.shape[2])×\(t.shape[1])")
                    }
                    guard let mean = try floats(args, "mean", count: 3) ?? t.origin?.preset.mean ?? camObject?.mean,
                          let std = try floats(args, "std", count: 3) ?? t.origin?.preset.std ?? camObject?.std else {
                        throw RuntimeError("overlay: this tensor was not made by `preprocess`, so its normalisation is unknown; "
                                           + "give mean= and std=, or pass the picture itself")
                    }
                    if let crop = exactPixels(t, mean: mean, std: std) {
                        drawn.append(.object(ImageObject(try CAMRuntime.overlay(crop, mask: mask, colormap: colors, imageWeight: weight))))
                    } else {
                        let pixels = try denormalizedPixels(t, mean: mean, std: std)
                        drawn.append(.object(ImageObject(try CAMRuntime.overlay(pixels, mask: mask, colormap: colors, imageWeight: weight))))
                    }
                }
            }
            return drawn.count == 1 && masks.count == 1 && !isBatch(args["cam"]) ? drawn[0] : .list(drawn)
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
                details: "A CAM is drawn in the JET colormap. With fit=\"pad\" pictures of different sizes are centred in a white band"
                    + (horizontal ? "; captions made by label hang above or below their pictures, which line up." : "."),
                example: horizontal ? "save hstack(img224, vis1, vis2) \"compare.png\"" : "v = vstack(row1, row2 gap=4)")) { args, _ in
                let pictures = try args.flattenedVariadic.map { try tile(of: $0, for: name) }
                guard !pictures.isEmpty else { throw RuntimeError("\(name): needs at least one picture, got none") }
                let g = try args.integer("gap")
                guard let matching = SizeMatching(rawValue: try args.string("fit")) else {
                    throw RuntimeError("\(name): fit must be \"pad\" or \"resize\", got \(quote(try args.string("fit")))")
                }
                let result = horizontal ? try CAMRuntime.hstack(pictures, matching: matching, gap: g)
                    : try CAMRuntime.vstack(pictures.map(\.image), matching: matching, gap: g)
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
            details: "Every cell has room for the largest picture and the tallest captions; pictures are centred in their cells "
                + "on white, with the captions made by label hanging above or below them, so that the pictures of a row line up.",
            example: "grid [vis1, vis2, vis3, vis4] cols=2")) { args, _ in
            let pictures = try args.list("pictures").map { try tile(of: $0, for: "grid") }
            guard !pictures.isEmpty else { throw RuntimeError("grid: needs at least one picture, got an empty list") }
            let columns = args.isNone("cols") ? Int(Double(pictures.count).squareRoot().rounded(.up)) : try args.integer("cols")
            let g = try args.integer("gap")
            guard columns >= 1 else { throw RuntimeError("grid: cols must be at least 1, got \(columns)") }
            if g >= 0 {
                let size = CAMRuntime.gridSize(pictures, columns: columns, gap: g)
                try RGBImage.validateSize(width: size.width, height: size.height)
            }
            return .object(ImageObject(try CAMRuntime.grid(pictures, columns: columns, gap: g)))
        })

        register(Builtin(BuiltinSignature(
            name: "label",
            parameters: [Parameter("picture", [.object("image"), .object("cam")], doc: "An image (or a CAM, drawn in JET)."),
                         Parameter("text", [.string], doc: "The caption (`\\n` breaks lines)."),
                         Parameter("above", [.bool], default: .bool(false), keywordOnly: true, doc: "Put the caption above instead of below.")],
            category: images, summary: "The picture with a caption band (black text on white).",
            details: "The text is DejaVu Sans at 13 pixels, anti-aliased and centred; long lines wrap between words. "
                + "In grid and hstack, pictures line up whatever the heights of their captions.",
            example: "label vis \"tabby (281)\"")) { args, _ in
            let base = try tile(of: args["picture"], for: "label")
            let position: CaptionPosition = try args.bool("above") ? .above : .below
            return .object(ImageObject(try CAMRuntime.label(base, try args.string("text"), position: position)))
        })

        register(Builtin(BuiltinSignature(
            name: "colorbar",
            parameters: [Parameter("colormap", [.string, .object("cam")], default: .string("jet"),
                                   doc: "The colormap's name, or a CAM: its colormap (jet, bwr when signed) and its colour range."),
                         Parameter("length", [.integer], default: .number(224), keywordOnly: true, doc: "The bar's height in pixels."),
                         Parameter("range", [.list], default: Value.none, keywordOnly: true,
                                   doc: "[low, high]: the values at the bottom and the top (default 0…1, or the CAM's colour range).")],
            category: images, summary: "A legend for a colormap: 1.0 at the top, 0.0 at the bottom, or a raw map's values.",
            details: "colorbar(cam) labels the values of a raw or signed CAM (scale=\"raw\", signed=true, shared_scale) with round numbers, as a chart's axis; range=cam.range with a colormap's name gives the same labels in another colormap.",
            example: "save hstack(vis, colorbar()) \"with_legend.png\"")) { args, _ in
            let map: Colormap
            var range: ClosedRange<Double> = 0...1
            if case .object(let cam as CAMObject) = args["colormap"] {
                map = cam.defaultColormap
                range = Double(cam.result.colorRange.lowerBound)...Double(cam.result.colorRange.upperBound)
            } else {
                map = try Colormap.named(try args.string("colormap"))
            }
            if case .list(let items) = args["range"] {
                let bounds = items.compactMap { item -> Double? in
                    if case .number(let v) = item, v.isFinite { return v }
                    return nil
                }
                guard bounds.count == 2, bounds.count == items.count, bounds[1] > bounds[0] else {
                    throw RuntimeError("colorbar: range= is [low, high], two finite numbers with high above low, got \(args["range"].repr)")
                }
                range = bounds[0]...bounds[1]
            }
            let length = try args.integer("length")
            try RGBImage.validateSize(width: 16, height: max(length, 1))
            return .object(ImageObject(try CAMRuntime.colorbar(map, length: length, range: range)))
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
                         Parameter("model", [.object("model")], default: Value.none, doc: "Undo this model's normalisation (default: the tensor's own, when `preprocess` made it)."),
                         Parameter("mean", [.list], default: Value.none, keywordOnly: true, doc: "Normalisation mean to undo."),
                         Parameter("std", [.list], default: Value.none, keywordOnly: true, doc: "Normalisation std to undo.")],
            category: images, summary: "A picture from a tensor: x·std + mean, clipped to [0, 1], times 255.",
            details: "A tensor that `preprocess` made carries its normalisation, which is undone: to_image(x) shows what the model sees, in its true colours. Otherwise the model's (to_image(x, model)), or mean=/std=; with none of these the values are taken as already in [0, 1].",
            example: "to_image(x)")) { args, _ in
            let t = try args.tensor("tensor")
            var mean: [Float] = [0, 0, 0], std: [Float] = [1, 1, 1]
            if let preset = t.origin?.preset { (mean, std) = (preset.mean, preset.std) }
            if case .object(let m as ModelObject) = args["model"] { (mean, std) = (m.network.preset.mean, m.network.preset.std) }
            if let given = try floats(args, "mean", count: 3) { mean = given }
            if let given = try floats(args, "std", count: 3) { std = given }
            return .object(ImageObject(try RGBImage(denormalizing: t, mean: mean, std: std)))
        })
    }
}

/// An image argument with its caption bands (none for a CAM), for the builtins that line
/// captioned pictures up.
func tile(of value: Value, for callee: String) throws -> CaptionedImage {
    if case .object(let o as ImageObject) = value { return o.tile }
    return CaptionedImage(try picture(of: value, for: callee))
}

/// The picture of an image or CAM value (a CAM of one image in the JET colormap).
func picture(of value: Value, for callee: String) throws -> RGBImage {
    switch value {
    case .object(let o as ImageObject): return o.image
    case .object(let o as CAMObject): return try o.defaultColormap.colorized(try o.singleMap(callee))
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

/// The maps of a tensor given to `overlay`: [H, W] is one, [N, H, W] is N; values in [0, 1] as
/// show_cam_on_image's mask (NaN refused).
private func mapTensors(_ t: Tensor) throws -> [Tensor] {
    guard (t.rank == 2 || t.rank == 3), t.shape.allSatisfy({ $0 > 0 }) else {
        throw RuntimeError("overlay: a map must be a tensor [H, W] (or [N, H, W] for N images), got shape \(Network.describeShape(t.shape))")
    }
    if t.storage.contains(where: \.isNaN) { throw RuntimeError("overlay: the map holds NaN values") }
    let low = t.min, high = t.max
    guard low >= 0, high <= 1 else {
        throw RuntimeError("overlay: a map must hold values in [0, 1] (as show_cam_on_image's mask), found min \(low) max \(high); rescale it to [0, 1] first")
    }
    if t.rank == 2 { return [t] }
    return (0..<t.shape[0]).map { t.slice($0) }
}

/// Whether a map argument is a batch ([N, H, W] tensor), whose overlay is a list even for N = 1.
private func isBatch(_ value: Value) -> Bool {
    if case .tensor(let t) = value { return t.rank == 3 }
    return false
}

/// One picture for `overlay`: a decoded image or a preprocessed [3, H, W] tensor.
private enum OverlayPicture {
    case image(RGBImage)
    case tensor(Tensor)
}

/// The pictures for `count` maps: one image or [3, H, W] tensor (also [1, 3, H, W]) for one map;
/// a [N, 3, H, W] tensor or a list of N images or tensors for N.
private func overlayPictures(_ value: Value, count: Int) throws -> [OverlayPicture] {
    func one(_ v: Value) throws -> OverlayPicture {
        switch v {
        case .object(let o as ImageObject): return .image(o.image)
        case .tensor(let t):
            if t.rank == 4 && t.shape[0] == 1 {
                var squeezed = t.reshaped(Array(t.shape.dropFirst()))
                squeezed.origin = t.origin
                return .tensor(squeezed)
            }
            return .tensor(t)
        default: throw RuntimeError("overlay: argument `picture` must be an image or a tensor, got \(v.typeName)")
        }
    }
    var pictures: [OverlayPicture]
    switch value {
    case .list(let items): pictures = try items.map(one)
    case .tensor(let t) where t.rank == 4 && t.shape[0] > 1: pictures = (0..<t.shape[0]).map { .tensor(t.slice($0)) }
    default: pictures = [try one(value)]
    }
    guard pictures.count == count else {
        throw RuntimeError("overlay: \(count) map\(count == 1 ? "" : "s") but \(pictures.count) picture\(pictures.count == 1 ? "" : "s"); give one picture per map")
    }
    return pictures
}
