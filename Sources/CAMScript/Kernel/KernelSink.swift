import Foundation
import Interpreter

/// Publishes messages on the kernel's iopub socket, from whichever thread produces them (the
/// shell's, the control channel's, the evaluator's), one at a time.
final class IOPubPublisher: @unchecked Sendable {
    private let socket: ZMQSocket
    private let signer: MessageSigner
    private let session: String
    private let lock = NSLock()

    init(socket: ZMQSocket, signer: MessageSigner, session: String) {
        self.socket = socket
        self.signer = signer
        self.session = session
    }

    /// Publishes `content` as a `type` message in reply to `parent`.
    func publish(_ type: String, _ content: JSONObject, parent: JSONObject, metadata: JSONObject = [:]) {
        let message = KernelMessage(identities: [Data(type.utf8)], header: KernelMessage.header(type: type, session: session),
                                    parentHeader: parent, metadata: metadata, content: content)
        lock.lock()
        defer { lock.unlock() }
        do {
            try socket.send(message.frames(signer: signer))
        } catch {
            KernelLog.write("could not publish \(type): \(error)")
        }
    }

    /// `status` busy or idle.
    func status(_ state: String, parent: JSONObject) {
        publish("status", ["execution_state": state], parent: parent)
    }
}

/// The kernel's own log: stderr, which Jupyter shows in its server log (never the notebook).
enum KernelLog {
    static func write(_ line: String) {
        FileHandle.standardError.write(Data("camscript kernel: \(line)\n".utf8))
    }
}

/// A session's output as Jupyter messages for one request: text as `stream`, pictures as
/// `display_data` with `image/png`, echoed values as `execute_result` (the last one of the
/// cell; earlier echoes are displays, as in an exported notebook), progress as one display
/// updated in place.
final class KernelSink: OutputSink, @unchecked Sendable {
    private let publisher: IOPubPublisher
    private let parent: JSONObject
    private let executionCount: Int
    /// The latest echo, held until something follows it (then it is a display) or the cell ends
    /// (then it is the cell's result).
    private var pendingValue: JSONObject?
    private var progressID: String?

    init(publisher: IOPubPublisher, parent: JSONObject, executionCount: Int) {
        self.publisher = publisher
        self.parent = parent
        self.executionCount = executionCount
    }

    func emit(_ item: OutputItem) {
        switch item.kind {
        case .progress(let status, let finished):
            progress(status, finished: finished)
            return
        default:
            break
        }
        flushValue(asResult: false)
        switch item.kind {
        case .text(let text):
            publisher.publish("stream", ["name": "stdout", "text": text + "\n"], parent: parent)
        case .image(let image, let description):
            publisher.publish("display_data", ["data": Self.bundle(text: description, image: image), "metadata": JSONObject(),
                                               "transient": JSONObject()], parent: parent)
        case .value(let text, let value):
            var image: DisplayImage?
            if case .object(let object) = value { image = object.displayImage }
            pendingValue = Self.bundle(text: text, image: image)
        case .progress:
            break
        }
    }

    /// Sends the held echo: as the cell's result at its end, else as a display.
    func flushValue(asResult: Bool) {
        guard let data = pendingValue else { return }
        pendingValue = nil
        if asResult {
            publisher.publish("execute_result", ["execution_count": executionCount, "data": data, "metadata": JSONObject()],
                              parent: parent)
        } else {
            publisher.publish("display_data", ["data": data, "metadata": JSONObject(), "transient": JSONObject()], parent: parent)
        }
    }

    /// One display for a long computation's progress, updated in place and cleared at the end.
    private func progress(_ status: String, finished: Bool) {
        let text = finished ? "" : status
        if let id = progressID {
            publisher.publish("update_display_data", ["data": ["text/plain": text], "metadata": JSONObject(),
                                                      "transient": ["display_id": id]], parent: parent)
        } else if !finished {
            let id = UUID().uuidString.lowercased()
            progressID = id
            publisher.publish("display_data", ["data": ["text/plain": text], "metadata": JSONObject(),
                                               "transient": ["display_id": id]], parent: parent)
        }
        if finished { progressID = nil }
    }

    /// A MIME bundle: the text, and the picture as PNG when there is one.
    static func bundle(text: String, image: DisplayImage?) -> JSONObject {
        var data: JSONObject = ["text/plain": text]
        if let png = image?.pngData { data["image/png"] = png.base64EncodedString() }
        return data
    }
}
