/// An error caused by what a user gave the runtime (a file, a name, an argument), with a
/// message written for that user.
///
/// The interpreter shows `message` as it is, under the source position that caused it.
public protocol UserFacingError: Error, CustomStringConvertible {
    /// One sentence that says what was expected and what was found.
    var message: String { get }
}

extension UserFacingError {
    public var description: String { message }
}

/// A plain user-facing error with its message.
public struct RuntimeError: UserFacingError, Equatable {
    public let message: String
    /// Creates an error with the given message.
    public init(_ message: String) { self.message = message }
}

/// The error thrown when a computation stops because the user interrupted it (Ctrl-C).
public struct CancellationError: UserFacingError, Equatable {
    public var message: String { "interrupted" }
    public init() {}
}
