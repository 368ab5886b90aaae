import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers `load`, `save` and `show`, and the `.npy` loader and saver for tensors.
    /// Other areas add loaders (images, checkpoints, model names) and savers (images, CAMs).
    mutating func registerFiles() {
        register(Builtin(BuiltinSignature(
            name: "load",
            parameters: [Parameter("path", [.string], doc: "A file path (relative to the script's folder) or a built-in name."),
                         Parameter("weights", [.string], default: Value.none, keywordOnly: true, doc: "A checkpoint file for a model name."),
                         Parameter("arch", [.string], default: Value.none, keywordOnly: true, doc: "The architecture of a checkpoint."),
                         Parameter("labels", [.string], default: Value.none, keywordOnly: true, doc: "For a model: its class names, a text file with one per line or a JSON list (or {\"0\": name, …}).")],
            category: "Files", summary: "Loads a file (chosen by its extension) or a built-in model by name.",
            details: "A `.npy` file becomes a tensor. A model gets as many classes as its checkpoint's head (a ResNet fine-tuned on 5 classes has 5), named by labels= or else `class 0`, `class 1`, … (ImageNet's names for 1000 classes); a head of one logit is a binary classifier with classes 0 and 1.",
            example: "t = load \"activations.npy\"\nmodel = load \"resnet50\" weights=\"flowers.pth\" labels=\"flowers.txt\"")) { args, context in
            let path = try args.string("path")
            let ext = (path as NSString).pathExtension.lowercased()
            let loaders = context.registry.loaders
            var args = args
            let fileLoader = loaders.first(where: { !ext.isEmpty && $0.extensions.contains(ext) })
            // weights= is resolved only for a built-in name: a file loader refuses weights= with
            // its own message (saying "weights file not found" for an image named the wrong cause).
            if fileLoader == nil, case .string(let weights) = args["weights"] {
                // Loaders receive `weights` resolved like every other path, and existing.
                let resolved = context.resolvePath(weights)
                guard FileManager.default.fileExists(atPath: resolved) else {
                    throw ScriptIOError("weights file not found: \(resolved)" + nearbyFileHint(resolved, written: weights, context), missing: true)
                }
                var values = args.values
                values["weights"] = .string(resolved)
                args = BoundArguments(callee: args.callee, values: values, given: args.given, variadic: args.variadic, extraKeywords: args.extraKeywords)
            }
            var labels: [String]?
            if case .string(let file) = args["labels"] {
                let resolved = context.resolvePath(file)
                guard FileManager.default.fileExists(atPath: resolved) else {
                    throw ScriptIOError("labels file not found: \(resolved)" + nearbyFileHint(resolved, written: file, context), missing: true)
                }
                labels = try ClassLabels.read(contentsOf: URL(fileURLWithPath: resolved))
                context.recordInput(resolved)
                try context.recordLoadedFile(at: resolved, kind: "labels")
            }
            let loaded: Value
            if let loader = fileLoader {
                let file = try existingFile(path, context)
                loaded = try loader.load(file, args, context)
                context.recordInput(file)
            } else if let loader = loaders.first(where: { $0.acceptsName(path) }) {
                loaded = try loader.load(path, args, context)
            } else {
                let known = loaders.flatMap(\.extensions).map { "." + $0 }.joined(separator: " ")
                if ext.isEmpty {
                    var isFolder: ObjCBool = false
                    if FileManager.default.fileExists(atPath: context.resolvePath(path), isDirectory: &isFolder), isFolder.boolValue {
                        throw RuntimeError("cannot load \(quote(path)): it is a folder, not a file (file types: \(known))")
                    }
                    throw RuntimeError("cannot load \(quote(path)): it has no file extension and is not a known name (file types: \(known))")
                }
                throw RuntimeError("cannot load \(quote(path)): unknown file type .\(ext) (known: \(known))")
            }
            if case .string(let weights) = args["weights"] { context.recordInput(weights) }
            guard let labels else { return loaded }
            guard case .object(let model as ModelObject) = loaded else {
                throw RuntimeError("labels= names a model's classes; \(quote(path)) is not a model")
            }
            try model.setClassNames(labels, from: (try args.string("labels") as NSString).lastPathComponent)
            return loaded
        })

        register(Builtin(BuiltinSignature(
            name: "save",
            parameters: [Parameter("value", [.any], doc: "What to save."),
                         Parameter("path", [.string], doc: "Where (relative to the script's folder); the extension picks the format."),
                         Parameter("quality", [.integer], default: Value.none, keywordOnly: true,
                                   doc: "JPEG quality, 1 to 100 (default 95); only for .jpg and .jpeg."),
                         Parameter("fast", [.bool], default: .bool(false), keywordOnly: true,
                                   doc: "PNG only: write about four times faster (no row filters, light compression) for files about half as large again — for the many overlays of a dataset run.")],
            category: "Files", summary: "Saves a value to a file in the format its extension names.",
            details: "A tensor saved as `.npy` is written as little-endian float32 that numpy.load reads. Pictures go to `.png` (lossless; fast=true writes about four times faster, larger files) or `.jpg`/`.jpeg` (quality= sets the JPEG quality). Files are written atomically: a temporary file in the same folder, then a rename; a symbolic link stays a link (its target is replaced), a FIFO or character device is written directly, a folder or a path ending in / is refused, and so is a file the run has read (the script, a loaded image, checkpoint or array).",
            example: "save t \"t.npy\"")) { args, context in
            let value = args["value"]
            let path = try args.string("path")
            var options = SaveOptions()
            if !args.isNone("quality") {
                let quality = try args.integer("quality")
                guard (1...100).contains(quality) else {
                    throw RuntimeError("save: quality must be between 1 and 100, got \(quality)")
                }
                options.quality = quality
            }
            let ext = (path as NSString).pathExtension.lowercased()
            options.fast = try args.bool("fast")
            if options.fast && ext != "png" {
                throw RuntimeError("save: fast= is for PNG files; \(quote(path)) is not one")
            }
            let savers = context.registry.savers
            guard let saver = savers.first(where: { $0.extensions.contains(ext) && $0.accepts(value) }) else {
                let forValue = savers.filter { $0.accepts(value) }.flatMap(\.extensions).map { "." + $0 }
                if forValue.isEmpty {
                    throw RuntimeError("cannot save \(value.typeName == "image" ? "an" : "a") \(value.typeName) to a file")
                }
                throw RuntimeError("cannot save \(value.typeName == "image" ? "an" : "a") \(value.typeName) as \(ext.isEmpty ? "a file without extension" : ".\(ext)") (expected \(forValue.joined(separator: " or ")))")
            }
            if options.quality != nil && !saver.acceptsQuality {
                throw RuntimeError("save: quality= is for JPEG files; \(quote(path)) is saved as \(saver.description)")
            }
            let destination = context.resolvePath(path)
            try context.refuseOverwritingInput(destination)
            try saver.save(value, destination, options, context)
            return .none
        })

        register(Builtin(BuiltinSignature(
            name: "show", parameters: [Parameter("value", [.any], doc: "An image-like value (or any value, shown as text).")],
            category: "Files", summary: "Draws a picture in the terminal (or records it in a report).",
            details: "In a terminal that supports it the picture is drawn with the kitty or iTerm2 image protocol, sixel, or colored half-blocks; elsewhere (and with --no-images) a one-line description is printed. A 2-D tensor is drawn as a gray picture scaled from its minimum to its maximum. Other values are printed.",
            example: "show overlay(cam, img)")) { args, context in
            let value = args["value"]
            if case .object(let o) = value, let picture = o.displayImage {
                context.emit(.image(picture, description: o.description))
            } else if case .tensor(let t) = value, let picture = grayPicture(t) {
                context.emit(.image(picture, description: tensorSummary(t)))
            } else {
                context.emit(.text(value.echo))
            }
            return .none
        })

        register(Builtin(BuiltinSignature(
            name: "run",
            parameters: [Parameter("path", [.string], doc: "A .cam script (relative to the script's folder; the working directory in the REPL)."),
                         Parameter("cell", [.string, .integer], default: Value.none, keywordOnly: true,
                                   doc: "Only this cell: its number as `camscript cells` lists it, or its title.")],
            category: "Files", summary: "Runs a .cam script's code cells here, so that its variables stay (IPython's %run).",
            details: "The script's cells run in this session, in order (or only `cell=`, without rerunning the ones before it: their variables are already here), with relative paths resolving against the script's folder. Values alone on a line are not echoed, as with `camscript run`; `print` and `show` work. An error points into the script, with a note at this call.",
            example: "run \"examples/quickstart.cam\"")) { args, context in
            let cell: String?
            switch args["cell"] {
            case .none: cell = nil
            case .string(let title): cell = title
            case let other: cell = other.printed
            }
            try context.session.runScript(path: try args.string("path"), cell: cell)
            return .none
        })

        register(Loader(description: "NumPy array", extensions: ["npy"]) { path, _, _ in
            return .tensor(try NPY.decode(try UserFile.read(path), name: path))
        })

        register(Saver(description: "NumPy array", extensions: ["npy"], accepts: { value in
            if case .tensor = value { return true }
            return false
        }) { value, path, context in
            guard case .tensor(let t) = value else { return }
            try AtomicFile.write(NPY.encode(t), to: path, cancellation: context.cancellation)
        })
    }
}

/// A 2-D tensor (or a [1, H, W] one) as a gray picture from its minimum (black) to maximum (white).
func grayPicture(_ t: Tensor) -> DisplayImage? {
    let dims = t.shape.filter { $0 != 1 }
    guard dims.count == 2, t.count > 0 else { return nil }
    let lo = t.min, hi = t.max
    let scale = hi > lo ? 255 / (hi - lo) : 0
    var rgb = [UInt8](repeating: 0, count: t.count * 3)
    for i in 0..<t.count {
        let scaled = ((t.storage[i] - lo) * scale).rounded()
        let v = scaled.isFinite ? UInt8(Swift.max(0, Swift.min(255, scaled))) : 0
        rgb[3 * i] = v
        rgb[3 * i + 1] = v
        rgb[3 * i + 2] = v
    }
    return DisplayImage(width: dims[1], height: dims[0], rgb: rgb)
}

/// The path of the file `path` names in a script (see `CallContext.resolvePath`), after checking
/// that it exists and is not a folder.
///
/// - Throws: `ScriptIOError` ("file not found", with a close name in the folder if there is
///   one, or "is a folder").
func existingFile(_ path: String, _ context: CallContext) throws -> String {
    let resolved = context.resolvePath(path)
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory) else {
        throw ScriptIOError("file not found: \(resolved)" + nearbyFileHint(resolved, written: path, context), missing: true)
    }
    guard !isDirectory.boolValue else { throw ScriptIOError("\(resolved) is a folder, not a file") }
    return resolved
}

/// `"; did you mean \"NAME\"?"` when the folder of a missing file holds a file with a close name
/// (a typo in a photo's name is the usual cause); else, when `written` is a relative path that
/// names an existing file from the folder `camscript run` was started in, that it resolves
/// against the script's folder (a path given after `--` on the command line is the usual
/// cause); else nothing.
func nearbyFileHint(_ missing: String, written: String, _ context: CallContext) -> String {
    let folder = (missing as NSString).deletingLastPathComponent
    let name = (missing as NSString).lastPathComponent
    if let entries = try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder),
       let match = closestMatch(to: name, in: entries) {
        return "; did you mean \(quote(match))?"
    }
    guard let start = context.session.workingDirectory, start != context.session.baseDirectory else { return "" }
    let fromStart = context.session.resolvePath(written, against: start)
    guard fromStart != missing, FileManager.default.fileExists(atPath: fromStart) else { return "" }
    return "; relative paths resolve against the script's folder \(context.session.baseDirectory), "
        + "not the working directory, where \(fromStart) exists: give that absolute path"
}
