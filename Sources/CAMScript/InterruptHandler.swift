import CAMRuntime
import Dispatch
import Foundation
import Synchronization

/// Turns Ctrl-C (SIGINT), SIGTERM and SIGHUP (a killed job, a closed terminal) into a
/// cancellation request and a byte on a pipe (so that a loop waiting for input wakes up),
/// instead of killing the process: the computation stops at its next safe point, so a save
/// under way finishes or removes its temporary file, and the exit code then says which signal
/// it was (130, 143, 129).
///
/// While nothing runs (`isBusy` false), SIGTERM and SIGHUP end the process at once with
/// 128 + the signal's number: there is nothing to stop safely (unless `exitsWhenIdle` is off). A second SIGTERM or SIGHUP
/// while a computation ignores the first also ends it at once.
final class InterruptHandler: @unchecked Sendable {
    /// The signals handled; SIGINT only cancels, the others also end the run.
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private let sources: [DispatchSourceSignal]
    /// The read end of the pipe; one byte arrives per signal.
    let wakeupDescriptor: Int32
    private let writeDescriptor: Int32
    private let state = SignalState()

    init(cancellation: CancellationFlag) {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        wakeupDescriptor = fds[0]
        writeDescriptor = fds[1]
        if wakeupDescriptor >= 0 {
            _ = fcntl(wakeupDescriptor, F_SETFL, fcntl(wakeupDescriptor, F_GETFL) | O_NONBLOCK)
        }
        let queue = DispatchQueue(label: "camscript.signals")
        var made: [DispatchSourceSignal] = []
        for number in Self.signals {
            signal(number, SIG_IGN)
            made.append(DispatchSource.makeSignalSource(signal: number, queue: queue))
        }
        sources = made
        let write = writeDescriptor
        for (number, source) in zip(Self.signals, sources) {
            let state = self.state
            source.setEventHandler {
                if number != SIGINT {
                    let earlier = state.terminating.exchange(number, ordering: .relaxed)
                    if (!state.busy.load(ordering: .relaxed) && state.exitsWhenIdle.load(ordering: .relaxed)) || earlier != 0 {
                        // Nothing to stop safely (or the first request was ignored): end now,
                        // without running exit handlers on a process whose threads still work.
                        fflush(stdout)
                        _exit(128 + number)
                    }
                }
                if number == SIGINT {
                    if cancellation.interrupt() {
                        let note = "\ncamscript: stopping when this batch is done (Ctrl-C again stops now)\n"
                        _ = note.withCString { Glibc.write(2, $0, strlen($0)) }
                    }
                } else {
                    cancellation.cancel()
                }
                if write >= 0 {
                    var byte: UInt8 = 1
                    _ = Glibc.write(write, &byte, 1)
                }
            }
            source.resume()
        }
    }

    /// Whether a computation runs now (so that SIGTERM and SIGHUP wait for its next safe point).
    var isBusy: Bool {
        get { state.busy.load(ordering: .relaxed) }
        set { state.busy.store(newValue, ordering: .relaxed) }
    }

    /// Whether SIGTERM and SIGHUP end the process at once while nothing runs (true). The
    /// interactive prompt sets it to false: it watches the wake-up pipe and leaves by itself,
    /// after giving the terminal back its settings.
    var exitsWhenIdle: Bool {
        get { state.exitsWhenIdle.load(ordering: .relaxed) }
        set { state.exitsWhenIdle.store(newValue, ordering: .relaxed) }
    }

    /// Runs `body` as a computation that Ctrl-C stops: wake-ups and a cancellation left from
    /// before are dropped first, and those it caused after, so the next input starts clean.
    func runBusy<T>(resetting cancellation: CancellationFlag, _ body: () -> T) -> T {
        drain()
        cancellation.reset()
        isBusy = true
        let result = body()
        isBusy = false
        drain()
        cancellation.reset()
        return result
    }

    /// SIGTERM or SIGHUP when one arrived, else nil.
    var terminatingSignal: Int32? {
        let number = state.terminating.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }

    /// The exit code for a run that ended with `code`: 128 + the signal's number when SIGTERM
    /// or SIGHUP stopped it (a run stopped by one reports being interrupted, 130).
    func exitCode(_ code: Int32) -> Int32 {
        guard let number = terminatingSignal else { return code }
        return 128 + number
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

    /// Stops handling the signals (their default actions come back).
    func stop() {
        for source in sources { source.cancel() }
        for number in Self.signals { signal(number, SIG_DFL) }
    }
}

/// What the signal handlers share with the thread that runs the session.
private final class SignalState: Sendable {
    /// SIGTERM or SIGHUP once one arrived, else 0.
    let terminating = Atomic<Int32>(0)
    /// Whether a computation runs now.
    let busy = Atomic<Bool>(false)
    /// Whether a terminating signal ends the process at once while nothing runs.
    let exitsWhenIdle = Atomic<Bool>(true)
}
