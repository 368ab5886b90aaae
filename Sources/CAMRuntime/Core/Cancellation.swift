import Synchronization

/// A flag that long computations poll so that Ctrl-C can stop them between steps.
///
/// The CLI owns one per session, sets it from a signal source and resets it before each
/// statement; computations call `check()` between batches or layers.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    /// How many `deferringInterrupts` bodies run now.
    private let deferrals = Atomic<Int>(0)
    /// An interrupt held back until the deferring loop reaches its next element.
    private let held = Atomic<Bool>(false)

    /// Creates a flag that is not set.
    public init() {}

    /// Whether cancellation was requested.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Requests cancellation.
    public func cancel() { flag.store(true, ordering: .relaxed) }

    /// Requests cancellation as Ctrl-C does: inside `deferringInterrupts` the first request is
    /// held for the loop to stop at its next element (`stopIsRequested`), and the second one
    /// cancels at once.
    ///
    /// - Returns: whether the request was held rather than applied.
    @discardableResult
    public func interrupt() -> Bool {
        if deferrals.load(ordering: .relaxed) > 0, !held.exchange(true, ordering: .relaxed) { return true }
        cancel()
        return false
    }

    /// Whether an interrupt is held for a deferring loop (see `interrupt()`).
    public var stopIsRequested: Bool { held.load(ordering: .relaxed) }

    /// Runs `body` — a loop whose elements are units of work worth finishing, as a dataset's
    /// batches whose rows are recorded — with the first interrupt held back; a held interrupt
    /// left when the body ends cancels what follows.
    public func deferringInterrupts<T>(_ body: () throws -> T) rethrows -> T {
        deferrals.wrappingAdd(1, ordering: .relaxed)
        defer {
            let (_, left) = deferrals.wrappingSubtract(1, ordering: .relaxed)
            if left == 0, held.load(ordering: .relaxed) { cancel() }
        }
        return try body()
    }

    /// Clears a previous request.
    public func reset() {
        flag.store(false, ordering: .relaxed)
        held.store(false, ordering: .relaxed)
    }

    /// Throws `CancellationError` when cancellation was requested.
    public func check() throws {
        if isCancelled { throw CancellationError() }
    }
}
