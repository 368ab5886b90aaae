import Synchronization

/// A flag that long computations poll so that Ctrl-C can stop them between steps.
///
/// The CLI owns one per session, sets it from a signal source and resets it before each
/// statement; computations call `check()` between batches or layers.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Creates a flag that is not set.
    public init() {}

    /// Whether cancellation was requested.
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }

    /// Requests cancellation.
    public func cancel() { flag.store(true, ordering: .relaxed) }

    /// Clears a previous request.
    public func reset() { flag.store(false, ordering: .relaxed) }

    /// Throws `CancellationError` when cancellation was requested.
    public func check() throws {
        if isCancelled { throw CancellationError() }
    }
}
