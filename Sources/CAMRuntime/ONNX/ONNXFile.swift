import Foundation
import SwiftProtobuf
import ONNXProto

/// An ONNX model file decoded into plain Swift values: the header fields, the opsets, and the
/// main graph with its nodes, attributes, initializers (data decoded) and value types.
///
/// This is the file layer only: it checks what the format requires and what keeps a hostile file
/// from crashing the reader or claiming unbounded memory, and gives no meaning to any operator.
/// Every refusal is a `RuntimeError` whose message starts with the file name:
///
/// - bytes that are not a protobuf ModelProto, or that end early ("truncated or corrupt");
/// - a model without a graph, an IR version, or with the default opset imported twice;
/// - messages nested deeper than `maxMessageDepth` (graphs inside graphs), so that hostile
///   nesting cannot exhaust the stack;
/// - a tensor with a negative dimension, more than `maxElementsPerTensor` elements, an element
///   type CAMScript does not read, or data whose length disagrees with its dims and type;
/// - two initializers of one graph with the same name; sparse initializers;
/// - external data (`data_location` EXTERNAL) whose `location` is absolute, leaves the model's
///   folder (by `..` or by a symbolic link), names a missing file or something that is not a
///   regular file, or whose `offset`/`length` reach past the end of that file or overlap another
///   tensor's bytes in it.
///
/// Memory is bounded by the bytes present: in-file data is the file's own, and external ranges
/// must lie in their files without overlapping, so the decoded tensors hold at most 8 × the bytes
/// of the model and its data files (one-byte integers widen to Int64; floats to at most 4 ×).
public struct ONNXFile: Sendable, Equatable {
    /// The name of the file, used in error messages.
    public var fileName: String
    /// The IR version (the format's revision; 8 for opset 17, 10 for opset 20/21).
    public var irVersion: Int64
    public var producerName: String
    public var producerVersion: String
    /// The model's own domain (often empty).
    public var domain: String
    public var modelVersion: Int64
    /// The model's documentation string.
    public var docString: String
    /// The opset version imported for each operator domain; the default ONNX domain is `""`
    /// (a file that calls it `"ai.onnx"` is read the same way).
    public var opsets: [String: Int]
    /// The model's metadata (key-value pairs); a repeated key keeps its last value.
    public var metadata: [String: String]
    /// How many model-local functions the file defines; they are not read (a node that calls one
    /// has the function's name as its op type and its domain).
    public var localFunctionCount: Int
    /// The main graph.
    public var graph: ONNXGraph

    /// The version of the default ONNX opset, or nil when the file does not import it.
    public var defaultOpset: Int? { opsets[""] }

    /// The default-domain opsets the CAMScript importer is written for.
    public static let supportedOpsets = 13...21

    /// The deepest nesting of protobuf messages accepted. A subgraph costs three levels (node,
    /// attribute, graph), so this allows about 20 levels of control flow inside each other.
    public static let maxMessageDepth = 64
    /// The most elements one tensor may have (2^31: 8 GiB as Float).
    public static let maxElementsPerTensor = 1 << 31
    /// The largest `.onnx` file read (2 GiB - 1, protobuf's own limit on a message); larger
    /// models keep their weights in external data files.
    public static let maxModelBytes = Int(Int32.max)

    /// Reads the model at `url`; external data is looked for in the model's folder (the folder
    /// of `url` as given, with symbolic links in it resolved).
    public init(contentsOf url: URL) throws {
        let name = url.lastPathComponent
        let file = try ONNXExternalFile.open(path: url.path, label: "\(name):")
        guard file.size <= ONNXFile.maxModelBytes else {
            throw RuntimeError("\(name): is \(file.size) bytes, over the 2 GB an ONNX protobuf can hold; models that large keep their weights in external data files beside the .onnx")
        }
        let data = try file.read(offset: 0, count: file.size)
        try self.init(data: data, fileName: name, folder: url.deletingLastPathComponent())
    }

    /// Decodes the bytes of a model. `fileName` is used in error messages; `folder` is where
    /// external data files are looked for (without it, a model with external data is refused).
    public init(data: Data, fileName: String, folder: URL? = nil) throws {
        guard !data.isEmpty else { throw RuntimeError("\(fileName): is empty, not an ONNX model") }
        guard data.count <= ONNXFile.maxModelBytes else {
            throw RuntimeError("\(fileName): is \(data.count) bytes, over the 2 GB an ONNX protobuf can hold")
        }
        let wire = try ONNXFile.decodeProtobuf(data, fileName: fileName)
        self = try ONNXDecoder(fileName: fileName, folder: folder).model(wire, head: Array(data.prefix(8)))
    }

    init(fileName: String, irVersion: Int64, producerName: String, producerVersion: String, domain: String,
         modelVersion: Int64, docString: String, opsets: [String: Int], metadata: [String: String],
         localFunctionCount: Int, graph: ONNXGraph) {
        self.fileName = fileName
        self.irVersion = irVersion
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.opsets = opsets
        self.metadata = metadata
        self.localFunctionCount = localFunctionCount
        self.graph = graph
    }

    /// Refuses a model whose default opset is missing or outside `supported`, with a message
    /// naming both (for the importer, which knows only those opsets' operators).
    public func checkDefaultOpset(supported: ClosedRange<Int> = ONNXFile.supportedOpsets) throws {
        guard let version = defaultOpset else {
            throw RuntimeError("\(fileName): does not import the default ONNX opset; CAMScript reads opsets \(supported.lowerBound)–\(supported.upperBound)")
        }
        guard supported.contains(version) else {
            throw RuntimeError("\(fileName): uses ONNX opset \(version); CAMScript reads opsets \(supported.lowerBound)–\(supported.upperBound) (re-export the model with one of them, e.g. torch.onnx.export(..., opset_version=17))")
        }
    }

    /// Decodes the protobuf, turning SwiftProtobuf's errors into one sentence for the user.
    static func decodeProtobuf(_ data: Data, fileName: String) throws -> ONNXWireModel {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = maxMessageDepth
        options.discardUnknownFields = true  // nothing undeclared is read; do not keep copies
        do {
            return try ONNXWireModel(serializedBytes: data, options: options)
        } catch let error as BinaryDecodingError {
            let notONNX = !looksLikeONNX(data)
            let what = notONNX
                ? "is not an ONNX model: its first bytes \(hex(data.prefix(8))) do not start an ONNX protobuf"
                : "is truncated or corrupt: not a valid ONNX protobuf"
            switch error {
            case .messageDepthLimit:
                throw RuntimeError("\(fileName): nests messages more than \(maxMessageDepth) deep (graphs inside graphs); refused so that hostile nesting cannot exhaust the stack")
            case .truncated:
                throw RuntimeError("\(fileName): \(what) (the data ends inside a field)")
            case .invalidUTF8:
                throw RuntimeError("\(fileName): \(what) (a name is not valid UTF-8)")
            default:
                throw RuntimeError("\(fileName): \(what) (malformed field)")
            }
        } catch {
            throw RuntimeError("\(fileName): is truncated or corrupt: not a valid ONNX protobuf (\(error))")
        }
    }

    static func hex(_ bytes: some Collection<UInt8>) -> String {
        "[" + bytes.map { String(format: "%02x", $0) }.joined(separator: " ") + "]"
    }

    // MARK: Content sniffing

    /// Whether `bytes` (a whole file or its first bytes) look like an ONNX model, judged from at
    /// most the first 64 bytes without decoding anything.
    ///
    /// A ModelProto starts with its IR version (field 1, tag byte 0x08): protobuf writers emit
    /// fields in number order and ONNX requires the IR version. So the first field must be a
    /// varint field 1 with a value from 1 to 100, and each following field that starts in the
    /// first 64 bytes must be a ModelProto field with its wire type (2-6 and 8 strings or
    /// messages, 5 a varint, 7 the graph, 14 metadata, 20/25/26 training, functions and
    /// configuration) and a length under 2 GB. Lengths are not compared with the file's size, so
    /// a truncated model still looks like one (and is then refused as truncated). safetensors
    /// (an 8-byte length, then `{`), zip, pickle, PNG, JPEG and NumPy files all fail at the first
    /// or second field.
    public static func looksLikeONNX(_ bytes: Data) -> Bool {
        looksLikeONNX(prefix: Array(bytes.prefix(64)))
    }

    /// The same judgement from the first bytes of a file (64 are enough).
    public static func looksLikeONNX(prefix: [UInt8]) -> Bool {
        let head = prefix.prefix(64)
        var position = 0
        /// A varint at `position`, or nil when it is malformed or runs past `head`.
        func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard position < head.count else { return nil }
                let byte = head[position]
                position += 1
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return value }
            }
            return nil
        }
        guard head.first == 0x08 else { return false }
        position = 1
        guard let ir = varint(), (1...100).contains(ir) else { return false }
        while position < head.count {
            guard let tag = varint() else { return true }  // cut off inside the tag: judged so far
            switch (tag >> 3, tag & 7) {
            case (5, 0):
                guard varint() != nil || position >= head.count else { return false }
            case (2...4, 2), (6...8, 2), (14, 2), (20, 2), (25, 2), (26, 2):
                guard let length = varint() else { return position >= head.count }
                guard length <= UInt64(maxModelBytes) else { return false }
                position += Int(length)
            default:
                return false
            }
        }
        return true
    }
}
