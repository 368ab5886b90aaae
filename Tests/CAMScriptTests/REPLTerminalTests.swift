import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Drives the real REPL through a pseudo-terminal, as a person at a keyboard would.
final class REPLTerminalTests: XCTestCase {
    /// A camscript process on the slave side of a pseudo-terminal.
    final class Terminal {
        let master: Int32
        let pid: pid_t
        private(set) var output = ""
        private var consumed = String.Index?.none

        init(executable: String, environment: [String: String], directory: String) throws {
            var master: Int32 = -1
            var size = winsize(ws_row: 40, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
            // Prepare C strings before fork: the child may only call exec.
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup(executable), nil]
            let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            let folder = strdup(directory)
            defer { free(folder) }
            let pid = forkpty(&master, nil, nil, &size)
            if pid == 0 {
                if let folder { _ = chdir(folder) }
                execve(executable, argv, envp)
                _exit(127)
            }
            argv.forEach { free($0) }
            envp.forEach { free($0) }
            guard pid > 0 else { throw NSError(domain: "forkpty", code: Int(errno)) }
            self.master = master
            self.pid = pid
        }

        func send(_ text: String) {
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        }

        /// Reads until `text` appears after what earlier waits consumed; fails after `timeout`.
        @discardableResult
        func waitFor(_ text: String, timeout: TimeInterval = 10, file: StaticString = #filePath, line: UInt = #line) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                let start = consumed ?? output.startIndex
                if let r = output.range(of: text, range: start..<output.endIndex) {
                    consumed = r.upperBound
                    return true
                }
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 {
                    XCTFail("timed out waiting for \(text.debugDescription); output so far: \(output.debugDescription)", file: file, line: line)
                    return false
                }
                var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
                if poll(&fds, 1, Int32(min(remaining, 0.5) * 1000)) > 0 {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let n = read(master, &buffer, buffer.count)
                    if n <= 0 {
                        XCTFail("terminal closed while waiting for \(text.debugDescription); output: \(output.debugDescription)", file: file, line: line)
                        return false
                    }
                    output += String(decoding: buffer[0..<n], as: UTF8.self)
                }
            }
        }

        /// Waits for the process to exit; returns its exit status (or -1 on timeout, killing it).
        func waitForExit(timeout: TimeInterval = 10) -> Int32 {
            let deadline = Date().addingTimeInterval(timeout)
            var status: Int32 = 0
            while Date() < deadline {
                var buffer = [UInt8](repeating: 0, count: 4096)
                var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
                if poll(&fds, 1, 100) > 0 {
                    let n = read(master, &buffer, buffer.count)
                    if n > 0 { output += String(decoding: buffer[0..<n], as: UTF8.self) }
                }
                if waitpid(pid, &status, WNOHANG) == pid {
                    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -(status & 0x7f)
                }
            }
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            return -1
        }

        deinit {
            close(master)
        }
    }

    func testInteractiveSession() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let history = folder.appendingPathComponent("history").path
        try "old_entry = 7\n".write(toFile: history, atomically: true, encoding: .utf8)
        let environment = [
            "TERM": "xterm-256color", "HOME": folder.path, "CAMSCRIPT_HISTORY": history,
            "PATH": "/usr/bin:/bin", "OPENBLAS_CORETYPE": "Haswell", "CAMSCRIPT_WEIGHTS_URL": "http://127.0.0.1:1/models/", "INPUTRC": "/dev/null",
        ]
        let t = try Terminal(executable: CLI.executable.path, environment: environment, directory: folder.path)

        t.waitFor("cam> ")
        t.send("x = 21\r")
        t.waitFor("cam> ")
        t.send("x * 2\r")
        t.waitFor("42")

        // A multi-line block: continuation prompt, closed by an empty line.
        t.waitFor("cam> ")
        t.send("for i in range(2):\r")
        t.waitFor("...> ")
        t.send("    print i + 100\r")
        t.waitFor("...> ")
        t.send("\r")
        t.waitFor("100")
        t.waitFor("101")

        // An error prints its diagnostic; variables survive.
        t.waitFor("cam> ")
        t.send("print 1 / 0\r")
        t.waitFor("error: division by zero")
        t.waitFor("cam> ")
        t.send("print x\r")
        t.waitFor("21")

        // Tab completion of a builtin, then of a keyword argument.
        t.waitFor("cam> ")
        t.send("rang\t")   // "ran" alone is ambiguous: random_model, randomcam, range
        t.waitFor("range")
        t.send("3\r")
        t.waitFor("[0, 1, 2]")
        t.waitFor("cam> ")
        t.send("print 1 2 sep\t")   // "se" alone is ambiguous: sep=, segeigencam
        t.waitFor("sep=")
        t.send("\"-\"\r")
        t.waitFor("1-2")

        // History recall with the up arrow: the previous line runs again.
        t.waitFor("cam> ")
        t.send("\u{1B}[A")
        t.waitFor("print 1 2 sep=\"-\"")
        t.send("\r")
        t.waitFor("1-2")
        // Entries from earlier sessions are there too.
        t.waitFor("cam> ")
        for _ in 0..<30 { t.send("\u{1B}[A") }
        t.waitFor("old_entry = 7")
        t.send("\u{15}") // Ctrl-U clears the recalled line

        // Ctrl-C while typing clears the line and gives a fresh prompt.
        t.send("garbage")
        t.waitFor("garbage")
        t.send("\u{03}")
        t.waitFor("^C")
        t.waitFor("cam> ")
        t.send("print x + 1\r")
        t.waitFor("22")

        // Ctrl-C during a computation stops it and returns to the prompt.
        t.waitFor("cam> ")
        t.send("while true:\r")
        t.waitFor("...> ")
        t.send("    pass\r")
        t.waitFor("...> ")
        t.send("\r")
        Thread.sleep(forTimeInterval: 0.5)
        t.send("\u{03}")
        t.waitFor("error: interrupted")
        t.waitFor("cam> ")
        t.send("print \"still\" x\r")
        t.waitFor("still 21")

        // A bracketed paste of several lines runs them in order.
        t.waitFor("cam> ")
        t.send("\u{1B}[200~y = 5\rprint y * 3\r\u{1B}[201~\r")
        t.waitFor("15")

        // A path inside a string completes without a trailing space.
        t.waitFor("cam> ")
        t.send("p = \"hist\t")
        t.waitFor("history\"")   // readline closes the string after a file name
        t.send("\r")
        t.waitFor("cam> ")
        t.send("print p\r")
        t.waitFor("\rhistory\r\n")

        // Ctrl-D leaves with status 0.
        t.waitFor("cam> ")
        t.send("\u{04}")
        XCTAssertEqual(t.waitForExit(), 0)

        let saved = try String(contentsOfFile: history, encoding: .utf8)
        XCTAssertTrue(saved.contains("x = 21"), saved)
        XCTAssertTrue(saved.contains("old_entry = 7"), saved)
    }
}
