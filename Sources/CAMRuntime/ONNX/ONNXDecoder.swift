import Foundation
import ONNXProto

/// Lowers the decoded protobuf messages of a model into `ONNXFile`'s plain values, checking what
/// the format requires on the way. Every error is a `RuntimeError` starting with the file name.
///
/// External data is checked for the whole model before any of it is read: every location is
/// resolved, every range must lie inside its file, and no two ranges of one file may overlap, so
/// a small `.onnx` cannot make the reader allocate more than its data files hold.
final class ONNXDecoder {
    let fileName: String
    private let external: ONNXExternalFolder

    init(fileName: String, folder: URL?) {
        self.fileName = fileName
        self.external = ONNXExternalFolder(fileName: fileName, folder: folder)
    }

    private func error(_ problem: String) -> RuntimeError {
        RuntimeError("\(fileName): \(problem)")
    }

    // MARK: Model

    func model(_ wire: ONNXWireModel, head: [UInt8]) throws -> ONNXFile {
        guard wire.irVersion != 0 || wire.hasGraph else {
            throw error("is not an ONNX model: its first bytes \(ONNXFile.hex(head)) do not start an ONNX protobuf (it has neither an IR version nor a graph)")
        }
        guard wire.hasGraph else { throw error("has no graph: an ONNX model must hold one") }
        guard wire.irVersion > 0 else {
            throw error(wire.irVersion == 0 ? "has no IR version: an ONNX model must give one"
                                            : "has IR version \(wire.irVersion), which is not a version")
        }
        var opsets: [String: Int] = [:]
        for entry in wire.opsetImport {
            let domain = entry.domain == "ai.onnx" ? "" : entry.domain
            let shown = domain.isEmpty ? "the default ONNX opset" : "opset domain \(ONNXText.quoted(domain))"
            guard entry.version >= 1, entry.version <= Int64(Int32.max) else {
                throw error("imports \(shown) at version \(entry.version), which is not a version")
            }
            if let earlier = opsets[domain], earlier != Int(entry.version) {
                throw error("imports \(shown) twice, at versions \(earlier) and \(entry.version)")
            }
            opsets[domain] = Int(entry.version)
        }
        var metadata: [String: String] = [:]
        for entry in wire.metadataProps { metadata[entry.key] = entry.value }

        // Every external range first, before any tensor data is read or allocated.
        var ranges: [ExternalRange] = []
        try collectExternalData(wire.graph, scope: "", into: &ranges)
        try checkOverlaps(&ranges)

        return ONNXFile(fileName: fileName, irVersion: wire.irVersion, producerName: wire.producerName,
                        producerVersion: wire.producerVersion, domain: wire.domain, modelVersion: wire.modelVersion,
                        docString: String(decoding: wire.docString, as: UTF8.self), opsets: opsets, metadata: metadata,
                        localFunctionCount: wire.functions.count, graph: try graph(wire.graph, scope: ""))
    }

    // MARK: Graphs and nodes

    /// `scope` is empty for the main graph and says where a subgraph is otherwise
    /// (` in the subgraph of attribute "body" of node "Loop_3"`), for error messages.
    private func graph(_ wire: ONNXWireGraph, scope: String) throws -> ONNXGraph {
        guard wire.sparseInitializer.isEmpty else {
            throw error("has \(wire.sparseInitializer.count) sparse initializer(s)\(scope), which CAMScript does not read")
        }
        var initializers: [String: ONNXTensor] = [:]
        var names: [String] = []
        names.reserveCapacity(wire.initializer.count)
        for (index, tensor) in wire.initializer.enumerated() {
            guard !tensor.name.isEmpty else { throw error("initializer \(index)\(scope) has no name") }
            guard initializers[tensor.name] == nil else {
                throw error("has two initializers named \(ONNXText.quoted(tensor.name))\(scope); each must have its own name")
            }
            initializers[tensor.name] = try self.tensor(tensor, role: initializerRole(tensor, scope))
            names.append(tensor.name)
        }
        var nodes: [ONNXNode] = []
        nodes.reserveCapacity(wire.node.count)
        for (index, node) in wire.node.enumerated() {
            let label = nodeLabel(node, index) + scope
            guard !node.opType.isEmpty else { throw error("\(label) has no operator type") }
            var attributes: [String: ONNXAttribute] = [:]
            for attribute in node.attribute {
                guard !attribute.name.isEmpty else { throw error("\(label) has an attribute without a name") }
                guard attributes[attribute.name] == nil else {
                    throw error("\(label) has two attributes named \(ONNXText.quoted(attribute.name))")
                }
                attributes[attribute.name] = try self.attribute(attribute, role: "attribute \(ONNXText.quoted(attribute.name)) of \(label)")
            }
            var metadata: [String: String] = [:]
            for entry in node.metadataProps { metadata[entry.key] = entry.value }
            nodes.append(ONNXNode(name: node.name, opType: node.opType, domain: node.domain == "ai.onnx" ? "" : node.domain,
                                  inputs: node.input, outputs: node.output, attributes: attributes, metadata: metadata))
        }
        return ONNXGraph(name: wire.name, nodes: nodes, initializers: initializers, initializerNames: names,
                         inputs: wire.input.map(valueInfo), outputs: wire.output.map(valueInfo),
                         valueInfo: wire.valueInfo.map(valueInfo))
    }

    private func nodeLabel(_ node: ONNXWireNode, _ index: Int) -> String {
        node.name.isEmpty ? "node \(index) (\(ONNXText.quoted(node.opType)))" : "node \(ONNXText.quoted(node.name))"
    }

    private func initializerRole(_ tensor: ONNXWireTensor, _ scope: String) -> String {
        "initializer \(ONNXText.quoted(tensor.name))\(scope)"
    }

    private func valueInfo(_ wire: ONNXWireValueInfo) -> ONNXValueInfo {
        guard wire.hasType, case .tensorType(let tensorType)? = wire.type.value else {
            return ONNXValueInfo(name: wire.name, elementType: nil, dims: nil)
        }
        let elementType = tensorType.elemType == 0 ? nil : ONNXDataType(rawValue: tensorType.elemType)
        guard tensorType.hasShape else { return ONNXValueInfo(name: wire.name, elementType: elementType, dims: nil) }
        let dims = tensorType.shape.dim.map { dim -> ONNXDimension in
            switch dim.value {
            case .dimValue(let n)?: return n >= 0 ? .fixed(Int(n)) : .unknown
            case .dimParam(let name)?: return name.isEmpty ? .unknown : .symbolic(name)
            case nil: return .unknown
            }
        }
        return ONNXValueInfo(name: wire.name, elementType: elementType, dims: dims)
    }

    // MARK: Attributes

    /// The kind of value an attribute holds: its `type`, or for files that leave it unset (old
    /// exporters), the one value field that is present.
    private func kind(_ wire: ONNXWireAttribute, role: String) throws -> ONNXWireAttributeKind {
        if wire.type != .unset { return wire.type }
        guard wire.refAttrName.isEmpty else {
            throw error("\(role) refers to the attribute \(ONNXText.quoted(wire.refAttrName)) of a function; only a function body may do that")
        }
        let present: [(Bool, ONNXWireAttributeKind)] = [
            (wire.hasF, .float), (wire.hasI, .int), (wire.hasS, .string), (wire.hasT, .tensor), (wire.hasG, .graph),
            (!wire.floats.isEmpty, .floats), (!wire.ints.isEmpty, .ints), (!wire.strings.isEmpty, .strings),
            (!wire.tensors.isEmpty, .tensors),
        ]
        let found = present.filter(\.0)
        guard found.count == 1 else {
            throw error("\(role) has no type" + (found.isEmpty ? " and no value" : " and values of \(found.count) kinds"))
        }
        return found[0].1
    }

    private func attribute(_ wire: ONNXWireAttribute, role: String) throws -> ONNXAttribute {
        switch try kind(wire, role: role) {
        case .float: return .float(wire.f)
        case .int: return .int(wire.i)
        case .string: return .string(String(decoding: wire.s, as: UTF8.self))
        case .tensor:
            guard wire.hasT else { throw error("\(role) is a tensor attribute without a tensor") }
            return .tensor(try tensor(wire.t, role: "the tensor of \(role)"))
        case .graph:
            guard wire.hasG else { throw error("\(role) is a graph attribute without a graph") }
            return .graph(try graph(wire.g, scope: " in the subgraph of \(role)"))
        case .floats: return .floats(wire.floats)
        case .ints: return .ints(wire.ints)
        case .strings: return .strings(wire.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensors:
            return .tensors(try wire.tensors.enumerated().map { try tensor($1, role: "tensor \($0) of \(role)") })
        case .graphs: return .unsupported(kind: "GRAPHS")
        case .sparseTensor: return .unsupported(kind: "SPARSE_TENSOR")
        case .sparseTensors: return .unsupported(kind: "SPARSE_TENSORS")
        case .typeProto: return .unsupported(kind: "TYPE_PROTO")
        case .typeProtos: return .unsupported(kind: "TYPE_PROTOS")
        case .unset: return .unsupported(kind: "UNDEFINED")  // kind(_:role:) never returns it
        case .UNRECOGNIZED(let n): return .unsupported(kind: "type \(n)")
        }
    }

    // MARK: Tensors

    /// What a tensor's dims and type say about its data.
    private struct Layout {
        var dataType: ONNXDataType
        var dims: [Int]
        var count: Int
        var width: Int
        var byteCount: Int { count * width }  // at most 2^31 × 8: no overflow
    }

    private func layout(_ wire: ONNXWireTensor, role: String) throws -> Layout {
        let type = ONNXDataType(rawValue: wire.dataType)
        guard type != .undefined else { throw error("\(role) has no data type") }
        guard let width = type.byteWidth else {
            throw error("\(role) has data type \(type.name), which CAMScript does not read (it reads FLOAT, FLOAT16, BFLOAT16, DOUBLE, the integer types and BOOL)")
        }
        if let negative = wire.dims.first(where: { $0 < 0 }) {
            throw error("\(role) has the negative dimension \(negative) in its dims \(ONNXText.dims(wire.dims))")
        }
        var count = 1
        if !wire.dims.contains(0) {
            for dim in wire.dims {
                let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
                guard !overflow, product <= ONNXFile.maxElementsPerTensor else {
                    throw error("\(role) has dims \(ONNXText.dims(wire.dims)): more than \(ONNXFile.maxElementsPerTensor) elements, the most one tensor may have")
                }
                count = product
            }
        } else {
            count = 0
        }
        return Layout(dataType: type, dims: wire.dims.map { Int($0) }, count: count, width: width)
    }

    private func typedValueCount(_ wire: ONNXWireTensor) -> Int {
        wire.floatData.count + wire.int32Data.count + wire.stringData.count + wire.int64Data.count
            + wire.doubleData.count + wire.uint64Data.count
    }

    private func tensor(_ wire: ONNXWireTensor, role: String) throws -> ONNXTensor {
        let layout = try self.layout(wire, role: role)
        let values: ONNXTensor.Values
        switch wire.dataLocation {
        case .external:
            guard wire.rawData.isEmpty, typedValueCount(wire) == 0 else {
                throw error("\(role) has both external data and data in the model file")
            }
            let location = try externalLocation(wire, layout: layout, role: role)
            let (file, _) = try external.file(location.location, role: role)
            try checkInside(file, location, role: role)
            values = try readExternal(file, at: location.offset, layout: layout, role: role)
        case .UNRECOGNIZED(let n):
            throw error("\(role) has data location \(n); the format knows only 0 (in the file) and 1 (external)")
        case .inFile where !wire.rawData.isEmpty:
            guard typedValueCount(wire) == 0 else {
                throw error("\(role) has both raw data and typed values")
            }
            guard wire.rawData.count == layout.byteCount else {
                throw error("\(role) holds \(wire.rawData.count) bytes of raw data, but its dims \(ONNXText.dims(wire.dims)) and type \(layout.dataType.name) need \(layout.byteCount)")
            }
            values = try wire.rawData.withUnsafeBytes { try decode(raw: $0, layout: layout, role: role) }
        case .inFile:
            values = try decodeTyped(wire, layout: layout, role: role)
        }
        return ONNXTensor(name: wire.name, dims: layout.dims, dataType: layout.dataType, values: values)
    }

    /// Little-endian elements of `layout.dataType`, converted.
    private func decode(raw: UnsafeRawBufferPointer, layout: Layout, role: String) throws -> ONNXTensor.Values {
        let count = layout.count
        func floats(_ element: (Int) -> Float) -> ONNXTensor.Values {
            .floats([Float](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count { out[i] = element(i) }
                initialized = count
            })
        }
        func ints(_ element: (Int) -> Int64) -> ONNXTensor.Values {
            .ints([Int64](unsafeUninitializedCapacity: count) { out, initialized in
                for i in 0..<count { out[i] = element(i) }
                initialized = count
            })
        }
        switch layout.dataType {
        case .float:
            #if _endian(little)
            return .floats([Float](unsafeUninitializedCapacity: count) { out, initialized in
                if count > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0 ..< 4 * count])) }
                initialized = count
            })
            #else
            return floats { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) }
            #endif
        case .float16:
            return floats { Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian)) }
        case .bfloat16:
            return floats { Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian) << 16) }
        case .double:
            return floats { Float(Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self).littleEndian)) }
        case .int8: return ints { Int64(raw.load(fromByteOffset: $0, as: Int8.self)) }
        case .uint8: return ints { Int64(raw.load(fromByteOffset: $0, as: UInt8.self)) }
        case .bool: return ints { raw.load(fromByteOffset: $0, as: UInt8.self) == 0 ? 0 : 1 }
        case .int16: return ints { Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
        case .uint16: return ints { Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .int32: return ints { Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        case .uint32: return ints { Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        case .int64: return ints { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .uint64:
            let values = (0..<count).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) }
            return .ints(try signed(values, role: role))
        default:
            throw error("\(role) has data type \(layout.dataType.name), which CAMScript does not read")
        }
    }

    /// UINT64 values as Int64, refusing those that do not fit.
    private func signed(_ values: [UInt64], role: String) throws -> [Int64] {
        if let big = values.first(where: { $0 > UInt64(Int64.max) }) {
            throw error("\(role) holds the UINT64 value \(big), larger than CAMScript's integers (Int64) can hold")
        }
        return values.map { Int64($0) }
    }

    /// The elements from the typed field the format uses for `layout.dataType`.
    private func decodeTyped(_ wire: ONNXWireTensor, layout: Layout, role: String) throws -> ONNXTensor.Values {
        let type = layout.dataType
        let (field, stored): (String, Int) = switch type {
        case .float: ("float_data", wire.floatData.count)
        case .double: ("double_data", wire.doubleData.count)
        case .int64: ("int64_data", wire.int64Data.count)
        case .uint32, .uint64: ("uint64_data", wire.uint64Data.count)
        default: ("int32_data", wire.int32Data.count)  // the 8- and 16-bit types, INT32, BOOL, FLOAT16, BFLOAT16
        }
        let total = typedValueCount(wire)
        if total == 0 && layout.count > 0 {
            throw error("\(role) has dims \(ONNXText.dims(wire.dims)) (\(layout.count) elements of \(type.name)) but no data")
        }
        guard stored == total else {
            throw error("\(role) of type \(type.name) has values in a field of another type (\(type.name) values go in \(field))")
        }
        guard stored == layout.count else {
            throw error("\(role) has \(stored) values in \(field), but its dims \(ONNXText.dims(wire.dims)) need \(layout.count)")
        }
        switch type {
        case .float: return .floats(wire.floatData)
        case .double: return .floats(wire.doubleData.map { Float($0) })
        case .float16: return .floats(wire.int32Data.map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0))) })
        case .bfloat16: return .floats(wire.int32Data.map { Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16) })
        case .int64: return .ints(wire.int64Data)
        case .uint32: return .ints(wire.uint64Data.map { Int64(UInt32(truncatingIfNeeded: $0)) })
        case .uint64: return .ints(try signed(wire.uint64Data, role: role))
        case .bool: return .ints(wire.int32Data.map { $0 == 0 ? 0 : 1 })
        default: return .ints(wire.int32Data.map { Int64($0) })
        }
    }

    // MARK: External data

    /// One external tensor's byte range in its resolved file.
    private struct ExternalRange {
        var path: String
        var location: String
        var begin: Int
        var end: Int
        var role: String
    }

    /// Validates the external data of every tensor in `wire` and its subgraphs (the ones that
    /// `graph(_:scope:)` will read) and appends their non-empty ranges.
    private func collectExternalData(_ wire: ONNXWireGraph, scope: String, into ranges: inout [ExternalRange]) throws {
        for tensor in wire.initializer {
            try noteExternal(tensor, role: initializerRole(tensor, scope), into: &ranges)
        }
        for (index, node) in wire.node.enumerated() {
            let label = nodeLabel(node, index) + scope
            for attribute in node.attribute {
                let role = "attribute \(ONNXText.quoted(attribute.name)) of \(label)"
                switch try kind(attribute, role: role) {
                case .tensor where attribute.hasT:
                    try noteExternal(attribute.t, role: "the tensor of \(role)", into: &ranges)
                case .tensors:
                    for (i, tensor) in attribute.tensors.enumerated() {
                        try noteExternal(tensor, role: "tensor \(i) of \(role)", into: &ranges)
                    }
                case .graph where attribute.hasG:
                    try collectExternalData(attribute.g, scope: " in the subgraph of \(role)", into: &ranges)
                default:
                    continue
                }
            }
        }
    }

    private func noteExternal(_ wire: ONNXWireTensor, role: String, into ranges: inout [ExternalRange]) throws {
        guard wire.dataLocation == .external else { return }
        let layout = try self.layout(wire, role: role)
        let location = try externalLocation(wire, layout: layout, role: role)
        let (file, path) = try external.file(location.location, role: role)
        try checkInside(file, location, role: role)
        if location.length > 0 {
            ranges.append(ExternalRange(path: path, location: location.location, begin: location.offset,
                                        end: location.offset + location.length, role: role))
        }
    }

    private func checkInside(_ file: ONNXExternalFile, _ location: ONNXExternalLocation, role: String) throws {
        guard location.offset <= file.size, location.length <= file.size - location.offset else {
            throw error("the external data of \(role) lies past the end of \(ONNXText.quoted(location.location)): bytes \(location.offset) to \(location.offset.addingReportingOverflow(location.length).partialValue) were asked for, but the file has \(file.size)")
        }
    }

    /// Refuses two tensors whose external bytes overlap (a small model could otherwise point
    /// thousands of tensors at the same bytes and claim thousands of times the file).
    private func checkOverlaps(_ ranges: inout [ExternalRange]) throws {
        ranges.sort { ($0.path, $0.begin, $0.end) < ($1.path, $1.begin, $1.end) }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where previous.path == next.path && next.begin < previous.end {
            throw error("the external data of \(next.role) (bytes \(next.begin) to \(next.end) of \(ONNXText.quoted(next.location))) overlaps that of \(previous.role) (bytes \(previous.begin) to \(previous.end)); each tensor must have its own bytes")
        }
    }

    /// The `location`, `offset` and `length` entries of an external tensor; the length, if given,
    /// must be what its dims and type need.
    private func externalLocation(_ wire: ONNXWireTensor, layout: Layout, role: String) throws -> ONNXExternalLocation {
        var location: String?, offset: Int?, length: Int?
        func number(_ entry: ONNXWireKeyValue) throws -> Int {
            let digits = entry.value.utf8
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ (0x30...0x39).contains($0) }),
                  let n = Int(entry.value) else {
                throw error("\(role) has the external data \(entry.key) \(ONNXText.quoted(entry.value)), which is not a byte count")
            }
            return n
        }
        for entry in wire.externalData {
            let seen: Bool
            switch entry.key {
            case "location": seen = location != nil; location = entry.value
            case "offset": seen = offset != nil; offset = try number(entry)
            case "length": seen = length != nil; length = try number(entry)
            default: continue  // "checksum" and anything newer are not used
            }
            if seen { throw error("\(role) gives its external data \(entry.key) twice") }
        }
        guard let location else { throw error("\(role) is marked as external data but gives no location") }
        if let length, length != layout.byteCount {
            throw error("\(role) has external data of length \(length), but its dims \(ONNXText.dims(wire.dims)) and type \(layout.dataType.name) need \(layout.byteCount) bytes")
        }
        return ONNXExternalLocation(location: location, offset: offset ?? 0, length: layout.byteCount)
    }

    private func readExternal(_ file: ONNXExternalFile, at offset: Int, layout: Layout, role: String) throws -> ONNXTensor.Values {
        #if _endian(little)
        if layout.dataType == .float {
            // Straight into the floats: a model over 2 GB is mostly such tensors.
            var failure: Error?
            let floats = [Float](unsafeUninitializedCapacity: layout.count) { out, initialized in
                do {
                    try file.read(at: offset, into: UnsafeMutableRawBufferPointer(out))
                } catch {
                    out.initialize(repeating: 0)
                    failure = error
                }
                initialized = layout.count
            }
            if let failure { throw failure }
            return .floats(floats)
        }
        #endif
        let bytes = try file.read(offset: offset, count: layout.byteCount)
        return try bytes.withUnsafeBytes { try decode(raw: $0, layout: layout, role: role) }
    }
}
