import CZMQ
import Foundation

/// A ZeroMQ error: what was being done and libzmq's message.
struct ZMQError: Error, CustomStringConvertible {
    let description: String

    init(_ doing: String) {
        description = "\(doing): \(String(cString: zmq_strerror(zmq_errno())))"
    }
}

/// A libzmq context: the I/O thread the kernel's sockets share. Lives as long as the kernel.
final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init() throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError("zmq_ctx_new") }
        self.handle = handle
    }

    /// A socket of `type` (`ZMQ_ROUTER`, `ZMQ_PUB`, `ZMQ_REP`) bound to `endpoint`.
    func socket(_ type: Int32, boundTo endpoint: String) throws -> ZMQSocket {
        guard let socket = zmq_socket(handle, type) else { throw ZMQError("zmq_socket") }
        var linger: Int32 = 0
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        if type == ZMQ_ROUTER {
            // A reply to a client that went away is dropped, not an error that stops the kernel.
            var mandatory: Int32 = 0
            zmq_setsockopt(socket, ZMQ_ROUTER_MANDATORY, &mandatory, MemoryLayout<Int32>.size)
        }
        guard zmq_bind(socket, endpoint) == 0 else {
            let error = ZMQError("cannot listen on \(endpoint)")
            zmq_close(socket)
            throw error
        }
        return ZMQSocket(handle: socket)
    }
}

/// One ZeroMQ socket. Not thread-safe: each is used by one thread, or under its owner's lock.
final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    init(handle: UnsafeMutableRawPointer) {
        self.handle = handle
    }

    deinit {
        zmq_close(handle)
    }

    /// Sends the frames of one multipart message.
    func send(_ frames: [Data]) throws {
        for (index, frame) in frames.enumerated() {
            let flags = index == frames.count - 1 ? 0 : ZMQ_SNDMORE
            let sent = frame.withUnsafeBytes { bytes in
                zmq_send(handle, bytes.baseAddress, bytes.count, flags)
            }
            if sent < 0 { throw ZMQError("zmq_send") }
        }
    }

    /// Receives the frames of one multipart message (blocking), or nil when interrupted.
    func receive() throws -> [Data]? {
        var frames: [Data] = []
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            if zmq_msg_recv(&message, handle, 0) < 0 {
                if zmq_errno() == EINTR { return nil }
                throw ZMQError("zmq_msg_recv")
            }
            let size = zmq_msg_size(&message)
            if let data = zmq_msg_data(&message), size > 0 {
                frames.append(Data(bytes: data, count: size))
            } else {
                frames.append(Data())
            }
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }

    /// Which of `sockets` have a message waiting, after at most `timeout` milliseconds (-1: no limit).
    static func poll(_ sockets: [ZMQSocket], timeout: Int) -> [Bool] {
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let count = zmq_poll(&items, Int32(items.count), timeout)
        guard count > 0 else { return [Bool](repeating: false, count: sockets.count) }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
