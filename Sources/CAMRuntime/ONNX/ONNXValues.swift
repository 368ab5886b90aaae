/// The plain Swift values an ONNX file decodes into (see `ONNXFile`): what the importer lowers
/// into a graph. Nothing here knows what an operator does; these are the file's contents, checked
/// only for what the format itself requires (sizes, types, names that must be unique).

/// The element type of an ONNX tensor, by its number in the format (1 is FLOAT, 7 is INT64, ...).
///
/// A struct rather than an enum so that every number a file may hold has a value, including
/// those of types CAMScript does not read; `name` spells them for error messages.
public struct ONNXDataType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let undefined = ONNXDataType(rawValue: 0)
    public static let float = ONNXDataType(rawValue: 1)
    public static let uint8 = ONNXDataType(rawValue: 2)
    public static let int8 = ONNXDataType(rawValue: 3)
    public static let uint16 = ONNXDataType(rawValue: 4)
    public static let int16 = ONNXDataType(rawValue: 5)
    public static let int32 = ONNXDataType(rawValue: 6)
    public static let int64 = ONNXDataType(rawValue: 7)
    public static let string = ONNXDataType(rawValue: 8)
    public static let bool = ONNXDataType(rawValue: 9)
    public static let float16 = ONNXDataType(rawValue: 10)
    public static let double = ONNXDataType(rawValue: 11)
    public static let uint32 = ONNXDataType(rawValue: 12)
    public static let uint64 = ONNXDataType(rawValue: 13)
    public static let bfloat16 = ONNXDataType(rawValue: 16)

    /// The format's name of the type (`FLOAT`, `INT64`, `FLOAT8E4M3FN`, ...), or its number.
    public var name: String {
        let names = ["UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
                     "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
                     "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
                     "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2", "FLOAT6E2M3", "FLOAT6E3M2"]
        return rawValue >= 0 && Int(rawValue) < names.count ? names[Int(rawValue)] : "type \(rawValue)"
    }

    public var description: String { name }

    /// The bytes one element takes in raw data, for the types CAMScript reads; nil for the others
    /// (strings, complex numbers, 8-, 6-, 4- and 2-bit floats and integers).
    public var byteWidth: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16, .float16, .bfloat16: return 2
        case .float, .int32, .uint32: return 4
        case .int64, .double, .uint64: return 8
        default: return nil
        }
    }

    /// True for the types whose values are read as `[Float]` (FLOAT, FLOAT16, BFLOAT16, DOUBLE);
    /// the integer types and BOOL are read as `[Int64]`.
    public var isFloatingPoint: Bool {
        self == .float || self == .float16 || self == .bfloat16 || self == .double
    }

    /// True for the eight integer types (signed and unsigned, 8 to 64 bits); BOOL is not one.
    public var isInteger: Bool {
        [.uint8, .int8, .uint16, .int16, .int32, .int64, .uint32, .uint64].contains(self)
    }
}

/// One dimension of a graph value's shape.
public enum ONNXDimension: Hashable, Sendable {
    /// A known size.
    case fixed(Int)
    /// A size given by name (`"batch"`), the same wherever the name appears.
    case symbolic(String)
    /// No size given (or a negative one, which the format does not allow: it means nothing).
    case unknown
}

/// A named value of a graph with its declared type: a graph input, output or intermediate.
public struct ONNXValueInfo: Sendable, Equatable {
    public var name: String
    /// The element type, or nil when the value's type is not given or is not a tensor type
    /// (sequences, maps and optionals are not read).
    public var elementType: ONNXDataType?
    /// The shape, outermost first, or nil when not even the rank is known.
    public var dims: [ONNXDimension]?

    public init(name: String, elementType: ONNXDataType?, dims: [ONNXDimension]?) {
        self.name = name
        self.elementType = elementType
        self.dims = dims
    }
}

/// A constant tensor of an ONNX file (an initializer or an attribute value), its data decoded.
public struct ONNXTensor: Sendable, Equatable {
    /// The decoded elements, row-major.
    public enum Values: Sendable, Equatable {
        /// FLOAT, FLOAT16, BFLOAT16 and DOUBLE data, converted to Float.
        case floats([Float])
        /// Integer and BOOL data (BOOL as 0 or 1), widened to Int64.
        case ints([Int64])
    }

    /// The name (empty for most attribute values).
    public var name: String
    /// The dimensions, outermost first; `[]` for a scalar.
    public var dims: [Int]
    /// The element type stored in the file.
    public var dataType: ONNXDataType
    /// The elements; their count is the product of `dims`.
    public var values: Values

    public init(name: String, dims: [Int], dataType: ONNXDataType, values: Values) {
        self.name = name
        self.dims = dims
        self.dataType = dataType
        self.values = values
    }

    /// The number of elements.
    public var count: Int {
        switch values {
        case .floats(let v): return v.count
        case .ints(let v): return v.count
        }
    }

    /// The elements when the type is a floating-point one; nil for integer data.
    public var floats: [Float]? {
        if case .floats(let v) = values { return v }
        return nil
    }

    /// The elements when the type is an integer type or BOOL; nil for floating-point data.
    public var ints: [Int64]? {
        if case .ints(let v) = values { return v }
        return nil
    }

    /// A runtime `Tensor` of the same shape holding the floating-point data; integer data is
    /// refused (shapes, indices and axes are not weights).
    public func tensor() throws -> Tensor {
        guard let floats else {
            throw RuntimeError("ONNX tensor \(ONNXText.quoted(name)) holds \(dataType.name) values, not floating-point weights")
        }
        return Tensor(shape: dims, storage: floats)
    }
}

/// The value of a node attribute.
public indirect enum ONNXAttribute: Sendable, Equatable {
    case float(Float)
    case int(Int64)
    /// Bytes in the format, read as UTF-8 (invalid sequences become U+FFFD).
    case string(String)
    case tensor(ONNXTensor)
    /// A subgraph: the body of If, Loop or Scan. Decoded and stored, not interpreted.
    case graph(ONNXGraph)
    case floats([Float])
    case ints([Int64])
    case strings([String])
    case tensors([ONNXTensor])
    /// A kind of attribute CAMScript does not read (a list of graphs, a sparse tensor, a type),
    /// by the format's name for it; the importer refuses it if the operator needs it.
    case unsupported(kind: String)
}

/// One operator application of a graph.
public struct ONNXNode: Sendable, Equatable {
    /// The node's name (may be empty; not necessarily unique).
    public var name: String
    /// The operator (`Conv`, `Gemm`, ...).
    public var opType: String
    /// The operator's domain; `""` for the default ONNX domain (`"ai.onnx"` is read as `""`).
    public var domain: String
    /// The input value names, in order; `""` marks an optional input that is left out.
    public var inputs: [String]
    /// The output value names, in order; `""` marks an optional output that is not wanted.
    public var outputs: [String]
    /// The attributes by name.
    public var attributes: [String: ONNXAttribute]
    /// Key-value notes the exporter stored on the node (PyTorch's dynamo exporter writes the module
    /// scope under `"namespace"` and `"pkg.torch.onnx.name_scopes"`, among others).
    public var metadata: [String: String]

    public init(name: String, opType: String, domain: String, inputs: [String], outputs: [String],
                attributes: [String: ONNXAttribute], metadata: [String: String]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
        self.metadata = metadata
    }
}

/// A graph: the model's main graph or a control-flow body.
public struct ONNXGraph: Sendable, Equatable {
    public var name: String
    /// The nodes in file order (which the format requires to be topological).
    public var nodes: [ONNXNode]
    /// The constant tensors by name.
    public var initializers: [String: ONNXTensor]
    /// The initializers' names in file order.
    public var initializerNames: [String]
    /// The graph inputs (in files of IR version 3 and older they include the initializers).
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]
    /// Types the exporter recorded for intermediate values.
    public var valueInfo: [ONNXValueInfo]

    public init(name: String, nodes: [ONNXNode], initializers: [String: ONNXTensor], initializerNames: [String],
                inputs: [ONNXValueInfo], outputs: [ONNXValueInfo], valueInfo: [ONNXValueInfo]) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.initializerNames = initializerNames
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
    }
}

/// Quoting of names that come from a file, for error messages.
enum ONNXText {
    /// `"name"` with control characters escaped, cut after 80 characters.
    static func quoted(_ text: String) -> String {
        let cut = text.count > 80 ? String(text.prefix(80)) + "…" : text
        var out = "\""
        for scalar in cut.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `[1, 3, 224, 224]`, with at most 8 dimensions written out.
    static func dims(_ dims: [Int64]) -> String {
        let shown = dims.prefix(8).map(String.init).joined(separator: ", ")
        return "[" + shown + (dims.count > 8 ? ", … (\(dims.count) dimensions)" : "") + "]"
    }
}
