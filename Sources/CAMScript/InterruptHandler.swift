import CAMRuntime
import Dispatch
import Foundation

/// Turns Ctrl-C (SIGINT) into a cancellation request and a byte on a pipe (so that a loop
/// waiting for input wakes up), instead of killing the process.
final class InterruptHandler: @unchecked Sendable {
    private let source: DispatchSourceSignal
    /// The read end of the pipe; one byte arrives per SIGINT.
    let wakeupDescriptor: Int32
    private let writeDescriptor: Int32

    init(cancellation: CancellationFlag) {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        wakeupDescriptor = fds[0]
        writeDescriptor = fds[1]
        if wakeupDescriptor >= 0 {
            _ = fcntl(wakeupDescriptor, F_SETFL, fcntl(wakeupDescriptor, F_GETFL) | O_NONBLOCK)
        }
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "camscript.sigint"))
        let write = writeDescriptor
        source.setEventHandler {
            cancellation.cancel()
            if write >= 0 {
                var byte: UInt8 = 1
                _ = Glibc.write(write, &byte, 1)
            }
        }
        source.resume()
    }

    /// Reads and discards pending wake-up bytes; returns whether there were any.
    @discardableResult
    func drain() -> Bool {
        guard wakeupDescriptor >= 0 else { return false }
        var any = false
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeupDescriptor, &buffer, buffer.count) > 0 { any = true }
        return any
    }

    /// Stops handling SIGINT (the default action comes back).
    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
