import CCrypto
import Foundation

/// A JSON object as the Jupyter protocol's dictionaries are.
typealias JSONObject = [String: Any]

/// What a connection file (`jupyter_client`'s `kernel-….json`) tells the kernel: where to listen
/// and the key that signs every message.
struct ConnectionInfo: Decodable {
    var transport: String
    var ip: String
    var shellPort: Int
    var iopubPort: Int
    var stdinPort: Int
    var controlPort: Int
    var hbPort: Int
    var key: String
    var signatureScheme: String

    enum CodingKeys: String, CodingKey {
        case transport, ip, key
        case shellPort = "shell_port", iopubPort = "iopub_port", stdinPort = "stdin_port"
        case controlPort = "control_port", hbPort = "hb_port", signatureScheme = "signature_scheme"
    }

    /// Reads and checks a connection file.
    static func read(_ path: String) throws -> ConnectionInfo {
        guard FileManager.default.fileExists(atPath: path) else {
            throw KernelError("cannot read the connection file \(path): no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KernelError("cannot read the connection file \(path): \(error.localizedDescription)")
        }
        return try parse(data, path: path)
    }

    /// Checks the contents of a connection file; `path` names it in messages.
    static func parse(_ data: Data, path: String) throws -> ConnectionInfo {
        let info: ConnectionInfo
        do {
            info = try JSONDecoder().decode(ConnectionInfo.self, from: data)
        } catch {
            throw KernelError("\(path) is not a Jupyter connection file (transport, ip, the five ports, key, signature_scheme)")
        }
        guard info.transport == "tcp" else {
            throw KernelError("\(path): transport \"\(info.transport)\" is not supported; CAMScript's kernel listens on tcp")
        }
        let ports = [info.shellPort, info.iopubPort, info.stdinPort, info.controlPort, info.hbPort]
        if let bad = ports.first(where: { !(1...65535).contains($0) }) {
            throw KernelError("\(path): port \(bad) is not a TCP port (1–65535)")
        }
        guard !info.ip.isEmpty else { throw KernelError("\(path): ip is empty") }
        guard info.key.isEmpty || info.signatureScheme == "hmac-sha256" else {
            throw KernelError("\(path): signature scheme \"\(info.signatureScheme)\" is not supported; use hmac-sha256")
        }
        return info
    }

    /// The endpoint of one port.
    func endpoint(_ port: Int) -> String { "\(transport)://\(ip):\(port)" }
}

/// An error that stops the kernel before it serves (a bad connection file, a busy port).
struct KernelError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Signs and checks messages with HMAC-SHA256 over the header, parent header, metadata and
/// content frames (the protocol's rule); an empty key means unsigned messages.
struct MessageSigner: Sendable {
    let key: [UInt8]

    init(key: String) { self.key = Array(key.utf8) }

    /// The lowercase hex signature of `frames`.
    func signature(_ frames: [Data]) -> String {
        guard !key.isEmpty else { return "" }
        var data = Data()
        for frame in frames { data.append(frame) }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = key.withUnsafeBufferPointer { k in
            data.withUnsafeBytes { d in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count),
                     d.baseAddress?.assumingMemoryBound(to: UInt8.self), d.count, &digest, &length) != nil
            }
        }
        guard ok else { return "" }
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `signature` is the signature of `frames`, compared in constant time.
    func verifies(_ signature: Data, _ frames: [Data]) -> Bool {
        guard !key.isEmpty else { return true }
        let expected = Data(self.signature(frames).utf8)
        guard expected.count == signature.count, !expected.isEmpty else { return false }
        return expected.withUnsafeBytes { a in
            signature.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }
}

/// One message of the Jupyter protocol (5.4): routing identities, header, parent header,
/// metadata, content and binary buffers.
struct KernelMessage {
    /// The delimiter between the routing identities and the signed frames.
    static let delimiter = Data("<IDS|MSG>".utf8)

    var identities: [Data]
    var header: JSONObject
    var parentHeader: JSONObject
    var metadata: JSONObject
    var content: JSONObject
    var buffers: [Data] = []

    /// The message type, e.g. `execute_request`.
    var type: String { header["msg_type"] as? String ?? "" }

    /// Why a multipart message was not accepted.
    enum Rejection: Error, CustomStringConvertible {
        case noDelimiter
        case tooFewFrames
        case badSignature
        case badJSON(String)

        var description: String {
            switch self {
            case .noDelimiter: return "no <IDS|MSG> delimiter"
            case .tooFewFrames: return "fewer than the five frames after the delimiter"
            case .badSignature: return "a signature that does not verify"
            case .badJSON(let frame): return "its \(frame) is not a JSON object"
            }
        }
    }

    /// Parses and verifies the frames of a received message.
    init(frames: [Data], signer: MessageSigner) throws {
        guard let split = frames.firstIndex(of: Self.delimiter) else { throw Rejection.noDelimiter }
        let rest = Array(frames[(split + 1)...])
        guard rest.count >= 5 else { throw Rejection.tooFewFrames }
        guard signer.verifies(rest[0], Array(rest[1...4])) else { throw Rejection.badSignature }
        func object(_ data: Data, _ name: String) throws -> JSONObject {
            guard let value = try? JSONSerialization.jsonObject(with: data), let object = value as? JSONObject else {
                throw Rejection.badJSON(name)
            }
            return object
        }
        identities = Array(frames[..<split])
        header = try object(rest[1], "header")
        parentHeader = try object(rest[2], "parent header")
        metadata = try object(rest[3], "metadata")
        content = try object(rest[4], "content")
        buffers = Array(rest.dropFirst(5))
        guard header["msg_type"] is String else { throw Rejection.badJSON("header (no msg_type)") }
    }

    init(identities: [Data], header: JSONObject, parentHeader: JSONObject, metadata: JSONObject = [:], content: JSONObject) {
        self.identities = identities
        self.header = header
        self.parentHeader = parentHeader
        self.metadata = metadata
        self.content = content
    }

    /// The frames to send, signed.
    func frames(signer: MessageSigner) -> [Data] {
        func json(_ object: JSONObject) -> Data {
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        }
        let signed = [json(header), json(parentHeader), json(metadata), json(content)]
        return identities + [Self.delimiter, Data(signer.signature(signed).utf8)] + signed + buffers
    }

    /// A new header of `type` for this kernel's `session`.
    static func header(type: String, session: String) -> JSONObject {
        ["msg_id": UUID().uuidString.lowercased(), "session": session, "username": "camscript",
         "date": timestamp(), "msg_type": type, "version": "5.4"]
    }

    /// ISO 8601 with microseconds and the UTC zone, as the protocol dates messages.
    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
