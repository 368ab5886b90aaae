import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 (a free port) for download tests: no test reaches the
/// internet. Each path answers as its route says; every request is logged with its `Range`.
final class LocalHTTPServer: @unchecked Sendable {
    enum Route {
        /// 200 with the bytes, or 206 from a `Range: bytes=N-` request's offset (416 past the end).
        case file(Data)
        /// 200 announcing all the bytes, then only the first `after` of them and a closed connection.
        case cut(Data, after: Int)
        /// 302 to another path of this server.
        case redirect(String)
        /// A status with an empty body.
        case status(Int)
    }

    private let socket: Int32
    let port: UInt16
    private let lock = NSLock()
    private var routes: [String: Route]
    private var log: [(path: String, range: String?)] = []
    private var thread: Thread?

    /// The base URL, ending with `/`.
    var baseURL: String { "http://127.0.0.1:\(port)/" }

    /// The requests so far: path and `Range` header.
    var requests: [(path: String, range: String?)] { lock.withLock { log } }

    init(routes: [String: Route]) throws {
        self.routes = routes
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        socket = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [weak self] in self?.serve() }
        self.thread = thread
        thread.start()
    }

    /// Replaces a path's route.
    func set(_ path: String, _ route: Route) {
        lock.withLock { routes[path] = route }
    }

    /// Stops accepting connections.
    func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }

    deinit { stop() }

    private func serve() {
        while true {
            let client = accept(socket, nil, nil)
            if client < 0 { return }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var request = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.contains("\r\n\r\n".data(using: .utf8) ?? Data()) && request.count < 65_536 {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { return }
            request.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: request, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return }
        let path = String(parts[1].dropFirst())
        let range = lines.first { $0.lowercased().hasPrefix("range:") }.map {
            $0.dropFirst("range:".count).trimmingCharacters(in: .whitespaces)
        }
        let route: Route? = lock.withLock {
            log.append((path, range))
            return routes[path]
        }
        switch route {
        case .file(let data)?:
            var start = 0
            if let range, range.hasPrefix("bytes="), let offset = Int(range.dropFirst(6).split(separator: "-").first ?? "") {
                start = min(offset, data.count)
            }
            if start > 0 && start >= data.count {
                send(client, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */\(data.count)\r\n"
                     + "Content-Length: 0\r\nConnection: close\r\n\r\n", body: Data()[...])
            } else if start > 0 {
                send(client, "HTTP/1.1 206 Partial Content\r\nContent-Length: \(data.count - start)\r\n"
                     + "Content-Range: bytes \(start)-\(data.count - 1)/\(data.count)\r\nConnection: close\r\n\r\n",
                     body: data[start...])
            } else {
                send(client, "HTTP/1.1 200 OK\r\nContent-Length: \(data.count)\r\nConnection: close\r\n\r\n", body: data[...])
            }
        case .cut(let data, let after)?:
            send(client, "HTTP/1.1 200 OK\r\nContent-Length: \(data.count)\r\nConnection: close\r\n\r\n",
                 body: data.prefix(after))
        case .redirect(let target)?:
            send(client, "HTTP/1.1 302 Found\r\nLocation: \(baseURL)\(target)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", body: Data()[...])
        case .status(let code)?:
            send(client, "HTTP/1.1 \(code) Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", body: Data()[...])
        case nil:
            send(client, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", body: Data()[...])
        }
    }

    private func send(_ client: Int32, _ head: String, body: Data.SubSequence) {
        var bytes = Data(head.utf8)
        bytes.append(contentsOf: body)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(client, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
