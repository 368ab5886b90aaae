import Foundation

/// Finds and loads model files: checkpoints given by path, the default weights of a built-in
/// architecture from the models folder, and random-weight networks for teaching and tests.
///
/// The models folder is `$CAMSCRIPT_MODELS` when set, else
/// `${XDG_DATA_HOME:-~/.local/share}/camscript/models` (where `scripts/setup.sh` installs the
/// default EfficientNet-Lite0 checkpoint).
public enum ModelStore {
    /// The file name of each architecture's default checkpoint in the models folder; the
    /// architectures missing here have no default weights available.
    public static let defaultCheckpoints = ["efficientnet_lite0": "efficientnet-lite0-57934424.pth"]

    /// The canonical architecture name for a user's spelling (`"ResNet-50"` → `"resnet50"`),
    /// or `nil` when it names no built-in architecture.
    public static func architecture(named name: String) -> String? {
        let key = name.lowercased().replacingOccurrences(of: "-", with: "_")
        if Network.architectures.contains(key) { return key }
        let compact = key.replacingOccurrences(of: "_", with: "")
        return Network.architectures.first { $0.replacingOccurrences(of: "_", with: "") == compact }
    }

    /// The models folder for an environment (see the type's documentation).
    public static func modelsFolder(environment: [String: String]) -> String {
        if let explicit = environment["CAMSCRIPT_MODELS"], !explicit.isEmpty { return explicit }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let data = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/share"
        return data + "/camscript/models"
    }

    /// The path of `architecture`'s default checkpoint.
    ///
    /// - Throws: `RuntimeError` when the architecture has no default weights here;
    ///   `MissingModelError` when its checkpoint is not installed (telling to run `make setup`).
    public static func defaultCheckpointPath(for architecture: String, environment: [String: String]) throws -> String {
        guard let file = defaultCheckpoints[architecture] else {
            throw RuntimeError("no default weights for \(architecture) are available here; give a checkpoint with "
                               + "weights=\"\(architecture).pth\" (e.g. torchvision's), or use random_model \"\(architecture)\" "
                               + "for a network with random weights")
        }
        let path = modelsFolder(environment: environment) + "/" + file
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingModelError(path: path, message: "the default \(architecture) weights are not installed: \(path) does not exist; "
                               + "run `make setup` (or scripts/setup.sh), or set CAMSCRIPT_MODELS to the folder that holds \(file)")
        }
        return path
    }

    /// Loads a model file, recognised by its content whatever its extension: an ONNX model
    /// (imported with its own graph), or a checkpoint (safetensors or PyTorch) loaded into a
    /// network of `architecture`, or of the architecture its keys show, with as many classes as
    /// the checkpoint's head (a fine-tuned `fc` of 5 classes gives 5).
    ///
    /// - Throws: the checkpoint reader's errors, `RuntimeError` for an undetectable
    ///   architecture or a checkpoint that does not fit.
    public static func load(contentsOf path: String, architecture: String? = nil) throws -> Network {
        let url = URL(fileURLWithPath: path)
        let file = try FileCheckpointBytes(url: url)
        if ONNXFile.looksLikeONNX(prefix: try file.bytes(0 ..< min(file.count, 64))) {
            if let architecture {
                throw RuntimeError("\(file.fileName) is an ONNX model, which carries its own graph; "
                                   + "arch=\"\(architecture)\" is for PyTorch checkpoints")
            }
            return try ONNXImporter.network(contentsOf: url)
        }
        if let architecture, self.architecture(named: architecture) == nil {
            throw RuntimeError("unknown architecture \"\(architecture)\"; expected one of "
                               + Network.architectures.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        // The architecture is chosen and every shape checked against it from the file's
        // listing, before any tensor is allocated: a checkpoint of another model is refused
        // without its weights ever taking memory.
        var planned: Network?
        let stateDict = try Checkpoint.read(contentsOf: url, checkingShapes: { listing in
            let name = try architecture.flatMap { self.architecture(named: $0) } ?? Network.detectArchitecture(listing)
            let classes = try Network.headOutputs(listing, architecture: name)
            let network = try Network.make(architecture: name, classes: classes, randomWeights: false)
            try network.checkFits(listing)
            planned = network
        })
        guard let network = planned else {
            throw RuntimeError("\(file.fileName): the checkpoint's tensors could not be listed before reading")
        }
        try network.load(stateDict)
        return network
    }

    /// Loads a built-in architecture with its default weights from the models folder.
    public static func loadDefault(architecture: String, environment: [String: String]) throws -> Network {
        try load(contentsOf: defaultCheckpointPath(for: architecture, environment: environment), architecture: architecture)
    }

    /// A network of `architecture` with deterministic random weights (He-uniform convolutions
    /// and linear layers, identity batch norms): the same weights every time.
    public static func randomNetwork(architecture: String, classes: Int = 1000) throws -> Network {
        guard let name = self.architecture(named: architecture) else {
            throw RuntimeError("unknown architecture \"\(architecture)\"; expected one of "
                               + Network.architectures.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        return try Network.make(architecture: name, classes: classes, randomWeights: true)
    }

    /// Every parameter and buffer of a network as a state dict with PyTorch's key names (for
    /// writing a checkpoint with `SafeTensors.write`).
    public static func stateDict(of network: Network) -> StateDict {
        var dict = StateDict()
        for node in network.graph.nodes {
            for (name, tensor) in node.op.parameters.sorted(by: { $0.key < $1.key }) {
                dict.set(node.name + "." + name, tensor)
            }
        }
        return dict
    }

    /// The number of learned parameters (batch-norm running statistics not counted), as
    /// PyTorch's `sum(p.numel() for p in model.parameters())`.
    public static func parameterCount(of network: Network) -> Int {
        network.parameterShapes.reduce(0) { total, entry in
            if entry.key.hasSuffix("running_mean") || entry.key.hasSuffix("running_var") { return total }
            return total + entry.shape.reduce(1, *)
        }
    }
}

/// The error thrown when a default checkpoint is not installed: a missing input file.
public struct MissingModelError: UserFacingError, Equatable {
    /// Where the checkpoint was looked for.
    public let path: String
    /// What happened and how to fix it.
    public let message: String

    /// Creates the error.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}
