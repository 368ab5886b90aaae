import CAMRuntime
import Foundation

extension BuiltinRegistry {
    /// Registers the dataset builtins: `files`, `dataset`, `batch`, `results`, `pending`,
    /// `record` and `class_index`.
    mutating func registerDatasetBuiltins() {
        let category = "Datasets"
        register(Builtin(BuiltinSignature(
            name: "files",
            parameters: [Parameter("pattern", [.string], doc: "A shell pattern relative to the script's folder: `*`, `?`, `[…]` within a name, `**` for any folders.")],
            category: category,
            summary: "The files a pattern matches, sorted, as dataset items (this shard's, in a sharded run).",
            details: "Sorted byte by byte by their path below the pattern's fixed folder, the same on every machine. Names starting with a dot are left out unless the pattern part starts with a dot; `**` does not follow links to folders. In a sharded run (`--shard K/N`, a Slurm array task, a Kubernetes Indexed Job) only this shard's items are returned: an item's shard is a hash of its relative path, so adding files never moves others between shards. Each item has path, name (the relative path, the key of results files) and label (none).",
            example: "for item in files(\"photos/**/*.jpg\"):\n    print item.name")) { args, context in
            let pattern = try args.string("pattern")
            let found = try FileGlob.files(matching: pattern, base: context.session.baseDirectory)
            return .list(try shardItems(found.map { DatasetItem(file: $0, label: nil) }, "files", context))
        })

        register(Builtin(BuiltinSignature(
            name: "dataset",
            parameters: [
                Parameter("folder", [.string], doc: "The dataset's folder (relative to the script's folder); its PNG and JPEG files at any depth are the items."),
                Parameter("labels", [.string], default: Value.none, keywordOnly: true,
                          doc: "\"folder\": each image's label is its first folder's name (ImageNet's val/CLASS/x.jpg); a .csv file: columns path (relative to the folder) and label; omitted: no labels."),
            ],
            category: category,
            summary: "The images of a folder as (path, label) items, sorted, this shard's in a sharded run.",
            details: "Items have path, name (the path below the folder: the key of results files and shards) and label. With labels=\"folder\", the label of cats/001.jpg is \"cats\"; a label names the model's class through class_index(model, label) or directly as target=. With a CSV file, its rows name the images (a header row with path and label columns), in the file's order sorted by path; a row naming a missing file is an error.",
            example: "items = dataset \"val\" labels=\"folder\"\nprint len(items) items[0].label")) { args, context in
            let written = try args.string("folder")
            let folder = context.resolvePath(written)
            // A missing folder is a missing input (exit 66), with the nearby name a typo meant.
            guard FileManager.default.fileExists(atPath: folder) else {
                throw ScriptIOError("dataset: folder \(folder) does not exist" + nearbyFileHint(folder, written: written, context), missing: true)
            }
            var items: [DatasetItem]
            switch args["labels"] {
            case .none:
                items = try FileGlob.images(in: folder).map { DatasetItem(file: $0, label: nil) }
            case .string(let how) where how == "folder":
                items = try FileGlob.images(in: folder).map { file in
                    guard let slash = file.relativePath.firstIndex(of: "/") else {
                        throw RuntimeError("dataset: \(file.relativePath) is directly in \(folder), not in a class folder (labels=\"folder\" takes the label from the folder name)")
                    }
                    return DatasetItem(file: file, label: String(file.relativePath[..<slash]))
                }
            case .string(let table):
                items = try labelledItems(folder: folder, table: context.resolvePath(table))
            default:
                throw RuntimeError("dataset: labels= is \"folder\" or a .csv file")
            }
            return .list(try shardItems(items, "dataset", context))
        })

        register(Builtin(BuiltinSignature(
            name: "batch",
            parameters: [
                Parameter("items", [.list], doc: "Dataset items, paths, or any list."),
                Parameter("size", [.integer], doc: "How many per batch (the last batch may be smaller)."),
                Parameter("model", [.object("model")], default: Value.none,
                          doc: "Preprocess each batch for this model (its preset) in the background while the loop works on the previous one."),
            ],
            category: category,
            summary: "A list cut into batches; with a model, batches of preprocessed images made one ahead in the background.",
            details: "Without a model: a list of lists. With a model, the items (dataset items or image paths) become a stream of batches for `for b in batch(items, 16, model):` — b.x is the input [n, 3, H, W] (the path form of preprocess: only the crop is decoded), b.inputs the same as one [3, H, W] tensor per image that to_image and overlay can turn back into pixels, b.items the items, b.names, b.labels; len(b) and b[i] index the items. The next batch is decoded while the loop body runs on this one, and only that one batch is held ahead, so memory stays flat over any number of images. An image that cannot be read is left out of its batch with a warning. On a terminal a progress line shows images done, images per second and the time left.",
            example: "for b in batch(items, 16, model):\n    cams = gradcam model b.x")) { args, context in
            let size = try args.integer("size")
            guard size >= 1 else { throw RuntimeError("batch: size must be at least 1, got \(size)") }
            let items = try args.list("items")
            guard case .object(let model as ModelObject) = args["model"] else {
                return .list(stride(from: 0, to: items.count, by: size).map { .list(Array(items[$0..<min($0 + size, items.count)])) })
            }
            let dataset = try items.enumerated().map { index, value -> DatasetItem in
                switch value {
                case .object(let item as DatasetItem): return item
                case .string(let path):
                    let resolved = context.resolvePath(path)
                    return DatasetItem(file: DatasetFile(path: resolved, relativePath: path), label: nil)
                default:
                    throw RuntimeError("batch: item \(index) is \(value.typeName); with a model, items are dataset items or image paths")
                }
            }
            return .object(BatchStream(items: dataset, size: size, preset: model.network.preset, context: context))
        })

        register(Builtin(BuiltinSignature(
            name: "results",
            parameters: [
                Parameter("path", [.string], doc: "The results file: .jsonl (JSON Lines) or .csv."),
                Parameter("model", [.object("model")], default: Value.none, keywordOnly: true,
                          doc: "The model whose results these are: its weights are part of the run's key."),
            ],
            extraKeywords: Parameter("options", [.number, .string, .bool, .list], doc: "The method and its options (method=\"gradcam\" layer=\"layer4\"): part of the run's key."),
            category: category,
            summary: "A results file that grows by one line per image and that a rerun resumes.",
            details: "Opens or creates the file. Its run key hashes the model's weights and the other keyword arguments; a file written by another run (other weights, method or options) is refused rather than mixed, and so is another shard's file. A partial last line left by a killed run is cut off (and said). `pending(out, items)` then leaves out the images already done, and `record out item …` appends a row. Each row is written with one system call, so a crash or kill loses at most the rows in flight, never leaves a torn row behind after the next open. Members: path, done (rows in the file), shard, run.",
            example: "out = results \"cams.jsonl\" model=model method=\"gradcam\"")) { args, context in
            let path = context.resolvePath(try args.string("path"))
            let shard = try Shard.resolve(environment: context.environment).shard
            var key = "camscript results run\n"
            var about: [String] = []
            if case .object(let model as ModelObject) = args["model"] {
                key += "model=\(model.network.weightsDigest)\n"
                about.append("\(model.network.architecture) (\(model.source))")
            }
            for (name, value) in args.extraKeywords.sorted(by: { $0.name < $1.name }) {
                key += "\(name)=\(value.repr)\n"
            }
            about += args.extraKeywords.map { "\($0.name)=\($0.value.repr)" }
            let run = SHA256.hexDigest(of: Array(key.utf8))
            try context.refuseOverwritingInput(path)
            let file = try ResultsFile(path: path, shard: shard, run: run, about: about.joined(separator: ", "))
            if file.repairedBytes > 0 {
                context.emit(.text("results: \((path as NSString).lastPathComponent) ended in a partial line (\(file.repairedBytes) bytes, from a run that was stopped); it was cut off"))
            }
            return .object(ResultsObject(file: file))
        })

        register(Builtin(BuiltinSignature(
            name: "pending",
            parameters: [
                Parameter("results", [.object("results")], doc: "The results file."),
                Parameter("items", [.list], doc: "Dataset items."),
            ],
            category: category,
            summary: "The items a results file does not have yet: a rerun resumes where it stopped.",
            details: "An item is done when the file has a row for its name whose sha256 is the image file's (an image replaced since is done again). Says how many were skipped when there are any.",
            example: "for b in batch(pending(out, items), 16, model):")) { args, context in
            let results = try args.object("results", as: ResultsObject.self)
            let items = try datasetItems(try args.list("items"), "pending")
            var todo: [Value] = []
            var skipped = 0
            for item in items {
                if let done = results.file.completed[item.name], try item.sha256() == done {
                    skipped += 1
                } else {
                    todo.append(.object(item))
                }
            }
            if skipped > 0 {
                context.emit(.text("pending: \(skipped) of \(items.count) images are already in \((results.file.path as NSString).lastPathComponent); \(todo.count) to do"))
            }
            return .list(todo)
        })

        register(Builtin(BuiltinSignature(
            name: "record",
            parameters: [
                Parameter("results", [.object("results")], doc: "The results file."),
                Parameter("item", [.object("item")], doc: "The dataset item the row is about."),
            ],
            extraKeywords: Parameter("columns", [.any], doc: "The row's columns: numbers, strings, true/false, none, lists, small tensors."),
            category: category,
            summary: "Appends one image's row to a results file: its name, the SHA-256 of its bytes, and the columns given.",
            details: "The row is written at once, whole: `record out item label=c.label score=s` after the image's work is done means that a rerun skips it. A CSV file keeps the columns of its first row; JSON Lines rows may differ.",
            example: "record out item target=c.target label=c.label")) { args, context in
            let results = try args.object("results", as: ResultsObject.self)
            let item = try args.object("item", as: DatasetItem.self)
            let fields = try args.extraKeywords.map { (name: $0.name, value: try resultField($0.value, column: $0.name)) }
            try results.file.append(key: item.name, sha256: try item.sha256(), fields: fields)
            return .none
        })

        register(Builtin(BuiltinSignature(
            name: "summary",
            parameters: [
                Parameter("results", [.object("results"), .string], doc: "A results file (or its path): a run's, or a merged one."),
                Parameter("metric", [.string], default: Value.none, keywordOnly: true,
                          doc: "The numeric column summarised; without it, the file's only numeric column (several: they are listed)."),
                Parameter("by", [.string, .list], default: Value.none, keywordOnly: true, doc: "A column that groups the rows (\"label\": per class), or a list of them ([\"method\", \"label\"]: per method and class)."),
                Parameter("picture", [.string], default: Value.none, keywordOnly: true,
                          doc: "A column holding each image's saved picture (an overlay's path, relative to the script's folder): the lowest and highest are shown."),
                Parameter("count", [.integer], default: .number(6), keywordOnly: true, doc: "How many lowest and highest images to show."),
            ],
            category: category,
            summary: "A dataset run at a glance: a metric's mean and spread per group, its histogram, and the images that score lowest and highest.",
            details: "Reads the results file as it is (a run in progress too: a partial last line is ignored). Prints as a table — per group: images, mean, std (population, as numpy's), min, median, max, then all rows together — which lands in --html reports and notebooks as a table; `show` draws the histogram with the mean marked and, with picture=, the lowest and highest images labelled with their names and values. Rows without a finite value are counted as skipped. Members: table, groups, lowest, highest (names), mean, histogram (the chart alone).",
            example: "s = summary out metric=\"score\" by=\"label\" picture=\"overlay\"\nshow s")) { args, context in
            let path: String
            switch args["results"] {
            case .object(let results as ResultsObject): path = results.file.path
            default: path = try existingFile(try args.string("results"), context)
            }
            let count = try args.integer("count")
            guard count >= 0 else { throw RuntimeError("summary: count must be 0 or more, got \(count)") }
            let summary = try ResultsSummary(path: path, metric: args.isNone("metric") ? nil : try args.string("metric"),
                                             by: try summaryColumns(args["by"]),
                                             picture: args.isNone("picture") ? nil : try args.string("picture"))
            if args.isNone("metric") {
                context.noteOnce("summary: metric=\"\(summary.metric)\", the file's only numeric column")
            }
            return .object(SummaryObject(summary: summary, count: count, file: (path as NSString).lastPathComponent,
                                         resolve: { context.resolvePath($0) }))
        })

        register(Builtin(BuiltinSignature(
            name: "class_index",
            parameters: [
                Parameter("model", [.object("model")], doc: "The classifier."),
                Parameter("label", [.string], doc: "A class name (case, spaces and underscores do not matter)."),
            ],
            category: category,
            summary: "The class index of a label through the model's class names, e.g. a dataset folder's name.",
            details: "Unknown labels list the closest class names.",
            example: "t = class_index model item.label")) { args, _ in
            let model = try args.object("model", as: ModelObject.self)
            return .number(Double(try ClassTarget.resolve(try args.string("label"), classNames: model.network.classNames)))
        })
    }
}

/// The `by=` columns of `summary`: none, one, or a list of names.
private func summaryColumns(_ value: Value) throws -> [String] {
    switch value {
    case .none: return []
    case .string(let column): return [column]
    case .list(let items):
        return try items.map { item in
            guard case .string(let column) = item else { throw RuntimeError("summary: by= lists column names (strings), found \(item.typeName)") }
            return column
        }
    default: throw RuntimeError("summary: by= is a column name or a list of them")
    }
}

/// This shard's items, announced when the run is sharded.
private func shardItems(_ items: [DatasetItem], _ callee: String, _ context: CallContext) throws -> [Value] {
    let (shard, source) = try Shard.resolve(environment: context.environment)
    context.session.listsShardItems = true
    guard shard.count > 1 else { return items.map { .object($0) } }
    let mine = items.filter { shard.contains($0.name) }
    let origin: String
    switch source {
    case .slurm: origin = " (Slurm array task)"
    case .kubernetes: origin = " (Kubernetes Job completion index)"
    case .flag, .whole: origin = ""
    }
    context.emit(.text("\(callee): shard \(shard)\(origin): \(mine.count) of \(items.count) items"))
    return mine.map { .object($0) }
}

private func datasetItems(_ values: [Value], _ callee: String) throws -> [DatasetItem] {
    try values.enumerated().map { index, value in
        guard case .object(let item as DatasetItem) = value else {
            throw RuntimeError("\(callee): item \(index) is \(value.typeName), not a dataset item (from files or dataset)")
        }
        return item
    }
}

/// The items a CSV file names: a header row with `path` and `label` columns.
private func labelledItems(folder: String, table: String) throws -> [DatasetItem] {
    let data = try UserFile.read(table)
    guard let text = String(data: data, encoding: .utf8) else { throw RuntimeError("dataset: \(table) is not UTF-8 text") }
    let lines = text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
    guard let header = lines.first else { throw RuntimeError("dataset: \(table) is empty") }
    let columns = try ResultsFile.csvCells(ArraySlice(Array(header.utf8)), path: table, line: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    guard let pathColumn = columns.firstIndex(of: "path"), let labelColumn = columns.firstIndex(of: "label") else {
        throw RuntimeError("dataset: \(table) needs a header row with the columns path and label, found \(columns.joined(separator: ","))")
    }
    var items: [DatasetItem] = []
    var seen = Set<String>()
    for (offset, line) in lines.dropFirst().enumerated() {
        let cells = try ResultsFile.csvCells(ArraySlice(Array(line.utf8)), path: table, line: offset + 2)
        guard cells.count > max(pathColumn, labelColumn) else {
            throw RuntimeError("dataset: \(table):\(offset + 2) has \(cells.count) cells; the header has \(columns.count)")
        }
        let relative = cells[pathColumn]
        let path = relative.hasPrefix("/") ? relative : folder + "/" + relative
        guard FileManager.default.fileExists(atPath: path) else {
            throw ScriptIOError("dataset: \(table):\(offset + 2) names \(relative), which is not in \(folder)", missing: true)
        }
        guard seen.insert(relative).inserted else { throw RuntimeError("dataset: \(table):\(offset + 2) names \(relative) a second time") }
        items.append(DatasetItem(file: DatasetFile(path: path, relativePath: relative), label: cells[labelColumn]))
    }
    return items.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
}

/// A script value as a results column.
private func resultField(_ value: Value, column: String) throws -> ResultField {
    switch value {
    case .number(let v): return .number(v)
    case .string(let s): return .string(s)
    case .bool(let b): return .bool(b)
    case .none: return .null
    case .list(let items): return .list(try items.map { try resultField($0, column: column) })
    case .tensor(let t):
        guard t.count <= 4096 else {
            throw RuntimeError("record: column `\(column)` is a tensor of \(t.count) values; save large tensors to files (save … \"x.npy\") and record the file name")
        }
        return .list(t.storage.map { .number(Double($0)) })
    default:
        throw RuntimeError("record: column `\(column)` is \(value.typeName); columns are numbers, strings, true/false, none, lists or small tensors (for a cam: its target, label or a metric)")
    }
}

/// One image of a dataset: its file, its key (`name`) and its label.
public final class DatasetItem: ScriptObject, @unchecked Sendable {
    public let file: DatasetFile
    public let label: String?
    private let lock = NSLock()
    private var digest: String?

    init(file: DatasetFile, label: String?) {
        self.file = file
        self.label = label
    }

    public var name: String { file.relativePath }
    public var typeName: String { "item" }
    public var description: String {
        "item \(name)" + (label.map { " (label \(quote($0)))" } ?? "")
    }
    public var memberNames: [String] { ["path", "name", "label"] }

    public func member(_ name: String) throws -> Value? {
        switch name {
        case "path": return .string(file.path)
        case "name": return .string(self.name)
        case "label": return label.map { .string($0) } ?? Value.none
        default: return nil
        }
    }

    /// The SHA-256 of the file's bytes, computed once (when the batch read the file, or now).
    func sha256() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let digest { return digest }
        let computed = try SHA256.hexDigest(ofFileAt: file.path)
        digest = computed
        return computed
    }

    /// Sets the digest from bytes already read.
    func remember(bytes: Data) {
        let computed = SHA256.hexDigest(of: bytes)
        lock.lock()
        digest = computed
        lock.unlock()
    }
}

/// A results file as a script value.
public final class ResultsObject: ScriptObject, @unchecked Sendable {
    let file: ResultsFile

    init(file: ResultsFile) { self.file = file }

    public var typeName: String { "results" }
    public var description: String {
        "results \((file.path as NSString).lastPathComponent): \(file.completed.count) images" + (file.shard.count > 1 ? ", shard \(file.shard)" : "")
    }
    public var memberNames: [String] { ["path", "done", "shard", "run"] }

    public func member(_ name: String) throws -> Value? {
        switch name {
        case "path": return .string(file.path)
        case "done": return .number(Double(file.completed.count))
        case "shard": return .string(file.shard.description)
        case "run": return .string(file.run)
        default: return nil
        }
    }
}

/// One batch of a stream: its items and their preprocessed input.
public final class BatchObject: ScriptObject, @unchecked Sendable {
    let items: [DatasetItem]
    let x: Tensor
    /// Each image's size and the preset that made its input, for `inputs`.
    let origins: [ImageOrigin]
    private let lock = NSLock()
    private var inputs: Value?

    init(items: [DatasetItem], x: Tensor, origins: [ImageOrigin] = []) {
        self.items = items
        self.x = x
        self.origins = origins
    }

    public var typeName: String { "batch" }
    public var description: String {
        "batch of \(items.count) image\(items.count == 1 ? "" : "s"), x \(Network.describeShape(x.shape))"
    }
    public var memberNames: [String] { ["x", "inputs", "items", "names", "labels", "paths"] }
    public var elementCount: Int? { items.count }
    public func element(at index: Int) throws -> Value? { index < items.count ? .object(items[index]) : nil }

    public func member(_ name: String) throws -> Value? {
        switch name {
        case "x": return .tensor(x)
        case "inputs":
            // One input per image, each knowing its picture and preprocessing, as `preprocess`
            // makes it: to_image and overlay then undo the normalisation. Made once per batch
            // (`b.inputs[i]` in a loop asks for it every time).
            return lock.withLock {
                if let inputs { return inputs }
                let made = Value.list(origins.indices.map { i in
                    var input = x.slice(i)
                    input.origin = origins[i]
                    return .tensor(input)
                })
                inputs = made
                return made
            }
        case "items": return .list(items.map { .object($0) })
        case "names": return .list(items.map { .string($0.name) })
        case "labels": return .list(items.map { $0.label.map { .string($0) } ?? .none })
        case "paths": return .list(items.map { .string($0.file.path) })
        default: return nil
        }
    }
}

/// Batches of preprocessed images, the next one made in the background while the loop works
/// on the current one (a bounded prefetch: one batch ahead).
///
/// The background thread runs at the lowest priority (`BatchJob`): the model's threads keep the
/// cores, and the loading fills the time they leave — the interpreter's own work between
/// batches, single-threaded stretches of the model. When the loop needs a batch that is not
/// ready, this thread makes the rest of it at its own priority, so a busy machine slows the
/// loading down to a plain sequential one, never below.
public final class BatchStream: ScriptObject, @unchecked Sendable {
    let items: [DatasetItem]
    let size: Int
    let preset: InputPreset
    private weak var session: SessionState?
    private let lock = NSLock()
    /// The batch being made ahead.
    private var ahead: BatchJob?
    private var started: DispatchTime?

    init(items: [DatasetItem], size: Int, preset: InputPreset, context: CallContext) {
        self.items = items
        self.size = size
        self.preset = preset
        session = context.session
    }

    public var typeName: String { "batches" }
    public var description: String {
        "batches of \(size): \(items.count) images in \(elementCount ?? 0) batches, preprocessed one ahead"
    }
    public var elementCount: Int? { (items.count + size - 1) / size }
    /// Ctrl-C lets the batch under way finish (its rows recorded) before the loop stops.
    public var stopsBetweenElements: Bool { true }
    public var memberNames: [String] { ["items"] }
    public func member(_ name: String) throws -> Value? {
        name == "items" ? .list(items.map { .object($0) }) : nil
    }

    public func element(at index: Int) throws -> Value? {
        guard index < (elementCount ?? 0) else { return nil }
        if index == 0 { started = .now() }
        report(done: index * size)
        // A loop that started over asks for another batch than the one made ahead, which is
        // then dropped (its thread stops after the image in hand). A batch not made ahead (the
        // first) gets a background thread too, which takes the core the idle model leaves.
        let made = lock.withLock { () -> BatchJob? in
            let wanted = ahead?.index == index ? ahead : nil
            if wanted == nil { ahead?.cancel() }
            ahead = nil
            return wanted
        }
        let result = (made ?? startJob(index)).finish()
        if index + 1 < (elementCount ?? 0) { prefetch(index + 1) }
        if index + 1 == elementCount { session?.emit(.progress("", finished: true)) }
        for warning in result.warnings { session?.emit(.text(warning)) }
        return .object(result.batch)
    }

    private func prefetch(_ index: Int) {
        let job = startJob(index)
        lock.withLock { ahead = job }
    }

    /// The job of batch `index`, its background thread started.
    private func startJob(_ index: Int) -> BatchJob {
        let job = BatchJob(index: index, items: Array(items[(index * size)..<min((index + 1) * size, items.count)]), preset: preset)
        job.startInBackground()
        return job
    }

    /// The progress line: images done of all, images per second, time left.
    private func report(done: Int) {
        guard let started, done > 0 else {
            session?.emit(.progress("\(done)/\(items.count) images", finished: false))
            return
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let rate = Double(done) / max(seconds, 1e-9)
        let left = Int((Double(items.count - done) / max(rate, 1e-9)).rounded())
        let eta = left >= 3600 ? String(format: "%d:%02d:%02d", left / 3600, left / 60 % 60, left % 60)
            : String(format: "%d:%02d", left / 60, left % 60)
        session?.emit(.progress("\(done)/\(items.count) images · \(String(format: "%.1f", rate)) images/s · \(eta) left", finished: false))
    }
}

/// The images of one batch, read, hashed and preprocessed by whichever thread claims each
/// first: a background thread at the lowest priority, and the loop's thread when it needs the
/// batch (`finish`).
final class BatchJob: @unchecked Sendable {
    let index: Int
    private let items: [DatasetItem]
    private let preset: InputPreset
    private let condition = NSCondition()
    private var next = 0
    private var outstanding: Int
    private var cancelled = false
    private var made: [(tensor: Tensor, origin: ImageOrigin)?]
    private var warnings: [String?]

    /// The nice value of the background thread: Linux's lowest priority, so that it runs on
    /// what the model's threads leave (measured in docs/performance.md, dataset runs).
    static let backgroundNice: Int32 = 19

    init(index: Int, items: [DatasetItem], preset: InputPreset) {
        self.index = index
        self.items = items
        self.preset = preset
        outstanding = items.count
        made = Array(repeating: nil, count: items.count)
        warnings = Array(repeating: nil, count: items.count)
    }

    /// Starts making the images on a thread of its own at the lowest priority (a nice value
    /// is a thread's own on Linux; a thread of the shared pool must not keep it).
    func startInBackground() {
        let thread = Thread { [self] in
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, Self.backgroundNice)
            work()
        }
        thread.name = "camscript batch \(index)"
        thread.start()
    }

    /// Stops handing out images (the one in hand is finished and dropped).
    func cancel() {
        condition.withLock { cancelled = true }
    }

    /// The batch, made by this thread where the background one has not got to yet.
    func finish() -> (batch: BatchObject, warnings: [String]) {
        work()
        condition.lock()
        while outstanding > 0 { condition.wait() }
        condition.unlock()
        var kept: [DatasetItem] = [], tensors: [Tensor] = [], origins: [ImageOrigin] = []
        for (i, item) in items.enumerated() {
            if let (tensor, origin) = made[i] {
                kept.append(item)
                tensors.append(tensor)
                origins.append(origin)
            }
        }
        let x = tensors.isEmpty ? Tensor(shape: [0, 3, preset.cropSize, preset.cropSize]) : Tensor.stack(tensors)
        return (BatchObject(items: kept, x: x, origins: origins), warnings.compactMap { $0 })
    }

    /// Makes images until none is left to claim.
    private func work() {
        while true {
            let claimed: Int? = condition.withLock {
                guard !cancelled, next < items.count else { return nil }
                next += 1
                return next - 1
            }
            guard let i = claimed else { return }
            let outcome = make(items[i])
            condition.withLock {
                switch outcome {
                case .success(let value): made[i] = value
                case .failure(let message): warnings[i] = message
                }
                outstanding -= 1
                if outstanding == 0 { condition.broadcast() }
            }
        }
    }

    private enum Outcome {
        case success((tensor: Tensor, origin: ImageOrigin))
        case failure(String)
    }

    /// Reads, hashes and preprocesses one image, on this thread only (`concurrent: false`:
    /// the other cores are the model's).
    private func make(_ item: DatasetItem) -> Outcome {
        do {
            let data = try UserFile.read(item.file.path)
            item.remember(bytes: data)
            let file = try EncodedImage(data: data, fileName: item.name)
            try checkCrop(preset, width: file.width, height: file.height)
            let tensor = try file.preprocessedCrop(preset: preset, draft: false, concurrent: false)
                .normalizedTensor(mean: preset.mean, std: preset.std)
            return .success((tensor, ImageOrigin(width: file.width, height: file.height, preset: preset)))
        } catch let error as UserFacingError {
            return .failure("batch: left out \(item.name): \(error.message)")
        } catch {
            return .failure("batch: left out \(item.name): \(error)")
        }
    }
}

/// A results file summarised: a table per group, a histogram, the lowest and highest images.
public final class SummaryObject: ScriptObject, @unchecked Sendable {
    let summary: ResultsSummary
    let count: Int
    let file: String
    let resolve: @Sendable (String) -> String
    private let lock = NSLock()
    private var drawn: RGBImage?

    init(summary: ResultsSummary, count: Int, file: String, resolve: @escaping @Sendable (String) -> String) {
        self.summary = summary
        self.count = count
        self.file = file
        self.resolve = resolve
    }

    public var typeName: String { "summary" }
    public var description: String {
        let all = summary.groups.last
        return "summary of \(summary.metric) in \(file): \(summary.rows.count) images"
            + (all.map { ", mean \(TableObject.cell(.number($0.mean))) ± \(TableObject.cell(.number($0.std)))" } ?? "")
            + (summary.skipped > 0 ? ", \(summary.skipped) without a value" : "")
    }
    public var memberNames: [String] { ["table", "groups", "lowest", "highest", "mean", "histogram"] }

    public var table: TextTable? {
        TextTable(columns: [summary.groupedBy.isEmpty ? "group" : summary.groupedBy.joined(separator: " / "), "images", "mean", "std", "min", "median", "max"],
                  alignments: [.left, .right, .right, .right, .right, .right, .right],
                  rows: summary.groups.map { g in
                      [g.name, String(g.count)] + [g.mean, g.std, g.min, g.median, g.max].map { TableObject.cell(.number($0)) }
                  })
    }

    public var echoDescription: String {
        [description, table?.text ?? ""].joined(separator: "\n")
    }

    public func member(_ name: String) throws -> Value? {
        switch name {
        case "table":
            guard let table else { return Value.none }
            return .object(TableObject(title: "summary of \(summary.metric)", columns: table.columns,
                                       rows: summary.groups.map { g in
                                           [.string(g.name), .number(Double(g.count)), .number(g.mean), .number(g.std),
                                            .number(g.min), .number(g.median), .number(g.max)]
                                       }))
        case "groups": return .list(summary.groups.map { .string($0.name) })
        case "lowest": return .list(summary.rows.prefix(count).map { .string($0.name) })
        case "highest": return .list(summary.rows.suffix(count).reversed().map { .string($0.name) })
        case "mean": return summary.groups.last.map { .number($0.mean) } ?? Value.none
        case "histogram": return .object(ImageObject(try histogram()))
        default: return nil
        }
    }

    func histogram() throws -> RGBImage {
        try Histogram(title: "\(summary.metric) over \(summary.rows.count) images", xLabel: summary.metric,
                      values: summary.rows.map(\.value)).render()
    }

    /// The histogram, then the lowest and the highest images with their names and values.
    func picture() throws -> RGBImage {
        if let drawn = lock.withLock({ drawn }) { return drawn }
        var parts = [try histogram()]
        if count > 0, summary.rows.contains(where: { $0.picture != nil }) {
            let lowest = Array(summary.rows.prefix(count))
            let highest = Array(summary.rows.suffix(count).reversed())
            for (title, rows) in [("lowest \(summary.metric)", lowest), ("highest \(summary.metric)", highest)] {
                var tiles: [CaptionedImage] = []
                for row in rows {
                    guard let picture = row.picture else { continue }
                    var image: RGBImage
                    do {
                        image = try RGBImage(contentsOf: URL(fileURLWithPath: resolve(picture)))
                    } catch {
                        image = RGBImage(width: 96, height: 96, color: RGBColor(red: 230, green: 230, blue: 230))
                    }
                    let scale = 128.0 / Double(max(image.width, image.height))
                    if scale < 1 {
                        image = image.resized(width: max(1, Int((Double(image.width) * scale).rounded())),
                                              height: max(1, Int((Double(image.height) * scale).rounded())), interpolation: .bilinear)
                    }
                    let tile = try label(CaptionedImage(image), "\(row.name)\n\(TableObject.cell(.number(row.value)))")
                    tiles.append(tile)
                }
                guard !tiles.isEmpty else { continue }
                parts.append(try label(try grid(tiles, columns: max(1, count), gap: 6), title, position: .above))
            }
        }
        let image = try vstack(parts, gap: 10)
        lock.withLock { drawn = image }
        return image
    }

    public var displayImage: DisplayImage? {
        guard let image = try? picture() else { return nil }
        return DisplayImage(width: image.width, height: image.height, rgb: image.pixels)
    }
}
