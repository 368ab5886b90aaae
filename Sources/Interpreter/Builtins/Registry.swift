import CAMRuntime
import Foundation

/// A way to `load` a value: from files with given extensions, or from names (built-in models).
public struct Loader: Sendable {
    /// What it loads, for messages ("NumPy array", "PNG or JPEG image").
    public var description: String
    /// Lower-case file extensions without the dot.
    public var extensions: [String]
    /// Whether a name that is not a file path (e.g. `"resnet50"`) is one this loader knows.
    public var acceptsName: @Sendable (String) -> Bool
    /// Loads from `path` (resolved against the script's folder and known to exist, or the bare
    /// name) with the `load` call's arguments (`weights` resolved and known to exist, `arch`).
    public var load: @Sendable (_ path: String, _ arguments: BoundArguments, _ context: CallContext) throws -> Value

    /// Creates a loader.
    public init(description: String, extensions: [String],
                acceptsName: @escaping @Sendable (String) -> Bool = { _ in false },
                load: @escaping @Sendable (String, BoundArguments, CallContext) throws -> Value) {
        self.description = description
        self.extensions = extensions
        self.acceptsName = acceptsName
        self.load = load
    }
}

/// What `save` was told beyond the value and the path.
public struct SaveOptions: Sendable, Equatable {
    /// The JPEG quality, 1…100, when the script gave `quality=`.
    public var quality: Int?
    /// PNG: libpng's fast mode (`fast=true`): no row filters and light compression, about four
    /// times faster to write, files about half as large again.
    public var fast: Bool

    /// Creates options.
    public init(quality: Int? = nil, fast: Bool = false) {
        self.quality = quality
        self.fast = fast
    }
}

/// A way to `save` values of some types to files with given extensions.
public struct Saver: Sendable {
    /// What it writes, for messages ("NumPy array").
    public var description: String
    /// Lower-case file extensions without the dot.
    public var extensions: [String]
    /// Whether it can write this value.
    public var accepts: @Sendable (Value) -> Bool
    /// Whether it honours `quality=` (lossy formats).
    public var acceptsQuality: Bool
    /// Writes `value` to the resolved `path`; it must write atomically (see `AtomicFile`).
    public var save: @Sendable (_ value: Value, _ path: String, _ options: SaveOptions, _ context: CallContext) throws -> Void

    /// Creates a saver that takes options (`quality=`).
    public init(description: String, extensions: [String], accepts: @escaping @Sendable (Value) -> Bool,
                acceptsQuality: Bool,
                save: @escaping @Sendable (Value, String, SaveOptions, CallContext) throws -> Void) {
        self.description = description
        self.extensions = extensions
        self.accepts = accepts
        self.acceptsQuality = acceptsQuality
        self.save = save
    }

    /// Creates a saver of a format without options.
    public init(description: String, extensions: [String], accepts: @escaping @Sendable (Value) -> Bool,
                save: @escaping @Sendable (Value, String, CallContext) throws -> Void) {
        self.init(description: description, extensions: extensions, accepts: accepts, acceptsQuality: false) {
            value, path, _, context in try save(value, path, context)
        }
    }
}

/// Every builtin, loader and saver a session knows. Runtime areas add theirs in their own files
/// (`registerImageBuiltins()` and so on) and `standard` lists them.
public struct BuiltinRegistry: Sendable {
    /// The builtins by name.
    public private(set) var builtins: [String: Builtin] = [:]
    /// The loaders `load` tries, in registration order.
    public private(set) var loaders: [Loader] = []
    /// The savers `save` tries, in registration order.
    public private(set) var savers: [Saver] = []

    /// Encodes a picture as PNG for terminals that need PNG bytes (iTerm2); the imaging area sets
    /// it when it registers its builtins. Without it, iTerm2 gets half-blocks.
    public var pngEncoder: (@Sendable (DisplayImage) -> [UInt8]?)?

    /// An empty registry.
    public init() {}

    /// Adds a builtin; registering a name twice is a programming error.
    public mutating func register(_ builtin: Builtin) {
        precondition(builtins[builtin.signature.name] == nil, "builtin \(builtin.signature.name) registered twice")
        builtins[builtin.signature.name] = builtin
    }

    /// Adds a loader for `load`.
    public mutating func register(_ loader: Loader) {
        loaders.append(loader)
    }

    /// Adds a saver for `save`.
    public mutating func register(_ saver: Saver) {
        savers.append(saver)
    }

    /// The builtin names, sorted.
    public var names: [String] { builtins.keys.sorted() }

    /// The language's own builtins (no model, imaging or CAM code).
    public static var core: BuiltinRegistry {
        var registry = BuiltinRegistry()
        registry.registerBasics()
        registry.registerFiles()
        return registry
    }
}

/// What a builtin can use while it runs: output, paths, environment, cancellation.
public struct CallContext: Sendable {
    let session: SessionState

    /// Sends output (text, a value, an image) to the session's output sink.
    public func emit(_ kind: OutputItem.Kind) {
        session.emit(kind)
    }

    /// Says `text` the first time this session, and nothing after: a note that teaches (which
    /// default was used) would otherwise repeat for every batch of a dataset loop.
    public func noteOnce(_ text: String) {
        guard session.notesSaid.insert(text).inserted else { return }
        session.emit(.text(text))
    }

    /// The cancellation flag; long loops call `try cancellation.check()`.
    public var cancellation: CancellationFlag { session.cancellation }

    /// Resolves a path written in a script: absolute paths and `~/` stay, relative paths are
    /// relative to the script's folder (the working directory in the REPL).
    public func resolvePath(_ path: String) -> String {
        session.resolvePath(path)
    }

    /// The environment variables of the session.
    public var environment: [String: String] { session.environment }

    /// The runtime options the session's environment asks for (`CAMSCRIPT_ONEDNN`,
    /// `CAMSCRIPT_WINOGRAD`), which every network a builtin makes is given.
    public var runtimeOptions: RuntimeOptions { RuntimeOptions(environment: session.environment) }

    /// The registry of the session (for `help`, `load`, `save`).
    public var registry: BuiltinRegistry { session.registry }

    /// The user's variables and their values, sorted by name.
    public var variables: [(name: String, value: Value)] { session.userVariables() }

    /// Calls a function value (builtin or user `def`) with positional arguments.
    public func call(_ function: Value, _ arguments: [Value]) throws -> Value {
        try session.callFromBuiltin(function, arguments.map { CallArgument(name: nil, value: $0) })
    }
}

/// An error about a file: it is missing (`missing == true`, exit code 66) or could not be read
/// or written (exit code 74). The runtime's `FileIOError`, so that its readers and `AtomicFile`
/// report through the same exit codes as the interpreter's own checks.
public typealias ScriptIOError = FileIOError
