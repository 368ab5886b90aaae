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
