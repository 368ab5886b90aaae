/// Named tensors in the order a checkpoint stored them, as PyTorch's `state_dict()`.
public struct StateDict: Sendable {
    /// The keys in file order.
    public private(set) var keys: [String] = []
    /// The tensors by key.
    public private(set) var tensors: [String: Tensor] = [:]

    /// Creates an empty state dict.
    public init() {}

    /// The tensor stored under `key`, if any.
    public subscript(key: String) -> Tensor? { tensors[key] }

    /// Adds or replaces a tensor; a new key goes to the end of the order.
    public mutating func set(_ key: String, _ tensor: Tensor) {
        if tensors.updateValue(tensor, forKey: key) == nil { keys.append(key) }
    }

    /// Removes a tensor, if present.
    public mutating func remove(_ key: String) {
        if tensors.removeValue(forKey: key) != nil { keys.removeAll { $0 == key } }
    }

    /// The number of tensors.
    public var count: Int { keys.count }
}

/// Why a checkpoint file could not be read.
public struct CheckpointError: UserFacingError, Equatable {
    /// The file name, then what was expected and what was found.
    public let message: String
    /// Creates an error about `file` (its name goes first in the message).
    public init(file: String, _ problem: String) {
        self.message = "\(file): \(problem)"
    }
}

/// The keys and shapes of a checkpoint's tensors, known before any tensor is allocated, so that
/// a model can be chosen and the shapes checked against it first (issue 17: a checkpoint of the
/// wrong model is refused before its gigabytes are read).
public struct StateDictShapes: Sendable {
    /// The keys in file order.
    public private(set) var keys: [String] = []
    /// The shapes by key.
    public private(set) var shapes: [String: [Int]] = [:]

    /// Creates an empty listing.
    public init() {}

    /// The shapes of a state dict's tensors.
    public init(_ stateDict: StateDict) {
        for key in stateDict.keys {
            if let tensor = stateDict[key] { set(key, tensor.shape) }
        }
    }

    /// The shape stored under `key`, if any.
    public subscript(key: String) -> [Int]? { shapes[key] }

    /// Adds or replaces a shape; a new key goes to the end of the order.
    public mutating func set(_ key: String, _ shape: [Int]) {
        if shapes.updateValue(shape, forKey: key) == nil { keys.append(key) }
    }

    /// The listing without a DataParallel `module.` prefix and without `num_batches_tracked`,
    /// as `Network.load` reads keys.
    public var normalized: StateDictShapes {
        if !keys.contains(where: { $0.hasPrefix("module.") || $0.hasSuffix("num_batches_tracked") }) { return self }
        var result = StateDictShapes()
        for key in keys {
            guard let shape = shapes[key] else { continue }
            let name = key.hasPrefix("module.") ? String(key.dropFirst("module.".count)) : key
            if name.hasSuffix("num_batches_tracked") { continue }
            result.set(name, shape)
        }
        return result
    }
}
