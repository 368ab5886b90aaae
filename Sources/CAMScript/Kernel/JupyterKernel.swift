import CAMRuntime
import CZMQ
import Foundation
import Interpreter

/// CAMScript as a Jupyter kernel (messaging protocol 5.4): one `Session` whose cells run on
/// the shell channel in order, interrupts from the control channel or SIGINT, output on iopub.
///
/// Threads: the shell loop runs cells (the session's evaluator thread under it); the control
/// channel and the heartbeat have a thread each, so that an interrupt or a shutdown reaches a
/// kernel that is busy. Each socket belongs to one thread; iopub, shared, sends under a lock.
final class JupyterKernel: @unchecked Sendable {
    private let connection: ConnectionInfo
    private let signer: MessageSigner
    private let context: ZMQContext
    private let shell: ZMQSocket
    private let control: ZMQSocket
    private let stdin: ZMQSocket
    private let heartbeat: ZMQSocket
    private let publisher: IOPubPublisher
    /// This kernel's session id in message headers.
    private let kernelSession = UUID().uuidString.lowercased()
    private let session: Session
    private let interrupts: InterruptHandler
    /// The count of the next stored execution (`In [n]`).
    private var executionCount = 0
    /// The cells run so far with their counts (for `history_request` and diagnostics).
    private var cells: [(count: Int, source: String)] = []
    private let cellSources = CellSources()
    /// The process that started the kernel (Jupyter's `JPY_PARENT_PID`): when it dies without a
    /// shutdown request (a killed server or client), the kernel leaves too instead of lingering.
    private let parentProcess: pid_t?

    init(connectionFile: String, environment: [String: String]) throws {
        connection = try ConnectionInfo.read(connectionFile)
        signer = MessageSigner(key: connection.key)
        context = try ZMQContext()
        shell = try context.socket(ZMQ_ROUTER, boundTo: connection.endpoint(connection.shellPort))
        control = try context.socket(ZMQ_ROUTER, boundTo: connection.endpoint(connection.controlPort))
        stdin = try context.socket(ZMQ_ROUTER, boundTo: connection.endpoint(connection.stdinPort))
        heartbeat = try context.socket(ZMQ_REP, boundTo: connection.endpoint(connection.hbPort))
        let iopub = try context.socket(ZMQ_PUB, boundTo: connection.endpoint(connection.iopubPort))
        publisher = IOPubPublisher(socket: iopub, signer: signer, session: kernelSession)
        session = Session(output: DiscardingSink(), arguments: [], environment: environment)
        session.recordsProvenance = false
        interrupts = InterruptHandler(cancellation: session.cancellation)
        interrupts.exitsWhenIdle = true
        parentProcess = environment["JPY_PARENT_PID"].flatMap { pid_t($0) }.flatMap { $0 > 1 ? $0 : nil }
    }

    /// Serves until a shutdown request (or the death of the process that started it) ends the
    /// process with exit code 0.
    func serve() -> Never {
        let beat = Thread { [heartbeat] in
            Self.receiveForever(on: heartbeat, channel: "heartbeat") { try? heartbeat.send($0) }
        }
        beat.name = "camscript.heartbeat"
        beat.start()
        let controller = Thread { [self] in
            Self.receiveForever(on: control, channel: "control") { handle($0, on: control, isControl: true) }
        }
        controller.name = "camscript.control"
        controller.start()
        if let parent = parentProcess {
            let watcher = Thread {
                while true {
                    sleep(1)
                    if kill(parent, 0) != 0 && errno == ESRCH {
                        KernelLog.write("the process that started the kernel (\(parent)) is gone; leaving")
                        exit(0)
                    }
                }
            }
            watcher.name = "camscript.parent"
            watcher.start()
        }
        publisher.status("starting", parent: [:])
        Self.receiveForever(on: shell, channel: "shell") { handle($0, on: shell, isControl: false) }
    }

    /// Hands each message arriving on `socket` to `body`, for the life of the process. A
    /// receive that fails (not an interrupted one) is logged and retried after a pause, so a
    /// broken socket shows in the log instead of spinning a core.
    private static func receiveForever(on socket: ZMQSocket, channel: String, _ body: ([Data]) -> Void) -> Never {
        while true {
            do {
                if let frames = try socket.receive() { body(frames) }
            } catch {
                KernelLog.write("\(channel) channel: \(error)")
                usleep(100_000)
            }
        }
    }

    // MARK: Dispatch

    /// The message in `frames`, or nil (logged) when it is malformed or wrongly signed.
    private func accept(_ frames: [Data]) -> KernelMessage? {
        do {
            return try KernelMessage(frames: frames, signer: signer)
        } catch {
            KernelLog.write("dropped a message with \(error)")
            return nil
        }
    }

    /// Sends the `type` reply to `request` on `socket`.
    private func reply(to request: KernelMessage, _ type: String, _ content: JSONObject, on socket: ZMQSocket) {
        let message = KernelMessage(identities: request.identities,
                                    header: KernelMessage.header(type: type, session: kernelSession),
                                    parentHeader: request.header, content: content)
        do {
            try socket.send(message.frames(signer: signer))
        } catch {
            KernelLog.write("could not reply \(type): \(error)")
        }
    }

    private func handle(_ frames: [Data], on socket: ZMQSocket, isControl: Bool) {
        guard let request = accept(frames) else { return }
        dispatch(request, on: socket, isControl: isControl)
    }

    private func dispatch(_ request: KernelMessage, on socket: ZMQSocket, isControl: Bool) {
        let parent = request.header
        publisher.status("busy", parent: parent)
        defer { publisher.status("idle", parent: parent) }
        func reply(_ type: String, _ content: JSONObject) { self.reply(to: request, type, content, on: socket) }
        switch request.type {
        case "kernel_info_request":
            reply("kernel_info_reply", kernelInfo)
        case "shutdown_request":
            let restart = request.content["restart"] as? Bool ?? false
            reply("shutdown_reply", ["status": "ok", "restart": restart])
            publisher.publish("shutdown_reply", ["status": "ok", "restart": restart], parent: parent)
            publisher.status("idle", parent: parent)
            // Give the I/O thread a moment to send the replies before the process ends.
            usleep(100_000)
            exit(0)
        case "interrupt_request":
            session.cancellation.interrupt()
            reply("interrupt_reply", ["status": "ok"])
        case "execute_request" where !isControl:
            let (type, content) = execute(request)
            // The queue behind a failed cell is taken before its reply goes out: a request the
            // client sends after seeing the reply (the next cell after an interrupt) is not part
            // of it and runs.
            let failed = content["status"] as? String == "error" && request.content["stop_on_error"] as? Bool ?? true
            let queued = failed ? takeQueued() : []
            reply(type, content)
            abortExecutions(in: queued)
        case "complete_request" where !isControl:
            reply("complete_reply", complete(request.content))
        case "inspect_request" where !isControl:
            reply("inspect_reply", inspect(request.content))
        case "is_complete_request" where !isControl:
            reply("is_complete_reply", isComplete(request.content))
        case "history_request" where !isControl:
            reply("history_reply", ["status": "ok", "history": cells.suffix(request.content["n"] as? Int ?? 1000)
                .map { [0, $0.count, $0.source] as [Any] }])
        case "comm_info_request":
            reply("comm_info_reply", ["status": "ok", "comms": JSONObject()])
        case "comm_open", "comm_msg", "comm_close":
            // CAMScript has no comm targets (widgets); a frontend that opens one gets it closed.
            if request.type == "comm_open", let id = request.content["comm_id"] as? String {
                publisher.publish("comm_close", ["comm_id": id, "data": JSONObject()], parent: parent)
            }
        default:
            KernelLog.write("ignored a \(request.type.isEmpty ? "message without a type" : "\"\(request.type)\" message")"
                            + (isControl ? " on the control channel" : ""))
        }
    }

    /// The messages waiting on the shell channel now.
    private func takeQueued() -> [[Data]] {
        var queued: [[Data]] = []
        while ZMQSocket.poll([shell], timeout: 0)[0], let frames = try? shell.receive() { queued.append(frames) }
        return queued
    }

    /// After a failed cell with `stop_on_error`, the execute requests that were queued behind
    /// it are answered `aborted` instead of run (as IPython does); other requests are served.
    private func abortExecutions(in queued: [[Data]]) {
        for request in queued.compactMap(accept) {
            guard request.type == "execute_request" else {
                dispatch(request, on: shell, isControl: false)
                continue
            }
            publisher.status("busy", parent: request.header)
            reply(to: request, "execute_reply", ["status": "aborted", "execution_count": executionCount], on: shell)
            publisher.status("idle", parent: request.header)
        }
    }

    // MARK: Requests

    private var kernelInfo: JSONObject {
        [
            "status": "ok",
            "protocol_version": "5.4",
            "implementation": "camscript",
            "implementation_version": CAMScriptVersion.current,
            "language_info": KernelSpec.languageInfo(version: CAMScriptVersion.current),
            "banner": "CAMScript \(CAMScriptVersion.current): class activation maps for image classifiers. Type `help` for the builtins.",
            "help_links": [["text": "CAMScript language", "url": "https://github.com/camscript/camscript/blob/main/docs/language.md"]],
            "debugger": false,
        ]
    }

    /// Runs a cell; returns the reply's type and content.
    private func execute(_ request: KernelMessage) -> (String, JSONObject) {
        let code = request.content["code"] as? String ?? ""
        let silent = request.content["silent"] as? Bool ?? false
        let store = (request.content["store_history"] as? Bool ?? true) && !silent
        if store { executionCount += 1 }
        let count = Swift.max(executionCount, 1)
        let parent = request.header
        if !silent {
            publisher.publish("execute_input", ["code": code, "execution_count": count], parent: parent)
        }
        let name = "cell[\(count)]"
        cellSources.set(name, code)
        if store { cells.append((count, code)) }
        let sink = KernelSink(publisher: publisher, parent: parent, executionCount: count)
        session.output = silent ? DiscardingSink() : sink
        let outcome = interrupts.runBusy(resetting: session.cancellation) { session.run(source: code, fileName: name) }
        session.output = DiscardingSink()
        guard case .failure(let diagnostic) = outcome else {
            if !silent { sink.flushValue(asResult: true) }
            return ("execute_reply", ["status": "ok", "execution_count": count, "payload": [Any](),
                                      "user_expressions": JSONObject()])
        }
        if !silent { sink.flushValue(asResult: false) }
        let sources = cellSources
        let error = RenderedError(diagnostic, renderer: DiagnosticRenderer { file, line in sources.line(line, of: file) })
        let traceback = error.text.trimmingCharacters(in: .newlines).components(separatedBy: "\n")
        let content: JSONObject = ["ename": error.name, "evalue": error.message, "traceback": traceback]
        if !silent { publisher.publish("error", content, parent: parent) }
        return ("execute_reply", content.merging(["status": "error", "execution_count": count]) { $1 })
    }

    /// The code before the cursor (`cursor_pos` counts Unicode code points), the word ending
    /// there and the line before that word.
    private func context(_ content: JSONObject) -> (before: String, word: String, line: String, after: String) {
        let code = content["code"] as? String ?? ""
        let scalars = Array(code.unicodeScalars)
        let cursor = Swift.min(Swift.max(content["cursor_pos"] as? Int ?? scalars.count, 0), scalars.count)
        var before = String.UnicodeScalarView()
        before.append(contentsOf: scalars[..<cursor])
        var after = String.UnicodeScalarView()
        after.append(contentsOf: scalars[cursor...])
        let text = String(before)
        let word = String(text.reversed().prefix { !Session.completionWordBreaks.contains($0) }.reversed())
        let lineStart = text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex
        let line = String(text[lineStart...].dropLast(word.count))
        return (text, word, line, String(after))
    }

    private func complete(_ content: JSONObject) -> JSONObject {
        let (before, word, line, _) = context(content)
        let matches = session.completions(forWord: word, linePrefix: line)
        let cursor = before.unicodeScalars.count
        return ["status": "ok", "matches": matches, "cursor_start": cursor - word.unicodeScalars.count,
                "cursor_end": cursor, "metadata": JSONObject()]
    }

    /// `help NAME` for the name under the cursor (shift-tab in JupyterLab).
    private func inspect(_ content: JSONObject) -> JSONObject {
        let (_, start, _, after) = context(content)
        let name = start + String(after.prefix { !Session.completionWordBreaks.contains($0) && $0 != "." })
        let identifier = name.split(separator: ".").first.map(String.init) ?? ""
        guard !identifier.isEmpty, identifier.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
              session.value(named: identifier) != nil else {
            return ["status": "ok", "found": false, "data": JSONObject(), "metadata": JSONObject()]
        }
        let collector = CollectingSink()
        session.output = collector
        defer { session.output = DiscardingSink() }
        guard case .success = session.run(source: "help \(identifier)", fileName: "<inspect>") else {
            return ["status": "ok", "found": false, "data": JSONObject(), "metadata": JSONObject()]
        }
        return ["status": "ok", "found": true, "data": ["text/plain": collector.lines.joined(separator: "\n")],
                "metadata": JSONObject()]
    }

    /// The REPL's continuation rules: an open bracket or string needs more; a block opened
    /// with `:` needs more until it ends with an empty line.
    private func isComplete(_ content: JSONObject) -> JSONObject {
        let code = content["code"] as? String ?? ""
        switch Session.inputState(of: code) {
        case .complete:
            return ["status": "complete"]
        case .openBracketOrString:
            return ["status": "incomplete", "indent": ""]
        case .openBlock:
            let lines = code.components(separatedBy: "\n")
            if lines.count > 1, lines.last?.trimmingCharacters(in: .whitespaces).isEmpty ?? false {
                return ["status": "complete"]
            }
            return ["status": "incomplete", "indent": "    "]
        }
    }
}

/// The source of each cell run, by its diagnostic file name (`cell[3]`), for the lines under
/// an error.
final class CellSources: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [String: [String]] = [:]

    func set(_ name: String, _ code: String) {
        lock.lock()
        sources[name] = code.components(separatedBy: "\n")
        lock.unlock()
    }

    func line(_ number: Int, of name: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        guard let lines = sources[name], number >= 1, number <= lines.count else { return nil }
        return lines[number - 1]
    }
}
