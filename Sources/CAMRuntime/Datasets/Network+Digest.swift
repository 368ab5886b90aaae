import Foundation

extension Network {
    /// A SHA-256 of what the network computes: its architecture, classes, the names and
    /// parameters of its operators and its constants (an imported graph keeps its weights
    /// there), in graph order.
    ///
    /// Results files key their runs on it, so that a rerun with other weights — a fine-tuned
    /// checkpoint, another ONNX export — redoes its images instead of skipping them. Hashing
    /// ResNet-50's 100 MB takes about a tenth of a second, once per results file.
    public var weightsDigest: String {
        var sha = SHA256()
        func add(_ text: String) { sha.update(Array(text.utf8) + [0]) }
        func add(_ tensor: Tensor) {
            add(tensor.shape.map(String.init).joined(separator: "x"))
            tensor.storage.withUnsafeBytes { sha.update($0) }
        }
        add(architecture)
        add(classNames.joined(separator: "\n"))
        for node in graph.nodes {
            add(node.name)
            for (name, tensor) in node.op.parameters.sorted(by: { $0.key < $1.key }) {
                add(name)
                add(tensor)
            }
        }
        for (index, tensor) in graph.constants.sorted(by: { $0.key < $1.key }) {
            add("constant \(index)")
            add(tensor)
        }
        return SHA256.hex(sha.finalize())
    }
}
