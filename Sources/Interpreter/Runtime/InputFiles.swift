import CAMRuntime
import Foundation

/// The files a run has read (the script, scripts it ran, images, checkpoints, arrays, labels),
/// by device and inode, so that no output of the run — a `save`, an HTML report, a notebook —
/// replaces one of them, whatever name or symbolic link the output goes through.
public struct InputFiles: Sendable {
    private var paths: [FileIdentity: String] = [:]

    /// An empty record.
    public init() {}

    /// Records the file `path` names now (following symbolic links); nothing when it does not exist.
    public mutating func record(_ path: String) {
        guard let identity = FileIdentity(path: path), paths[identity] == nil else { return }
        paths[identity] = path
    }

    /// The input path that `output` would overwrite (the same file once symbolic links are
    /// followed), or `nil`.
    public func input(sameAs output: String) -> String? {
        FileIdentity(path: output).flatMap { paths[$0] }
    }

    /// Throws when writing `output` would replace an input of this run.
    ///
    /// - Throws: `ScriptIOError` (exit code 74) "`output` is an input of this run (same file
    ///   as `input`); choose another name".
    public func refuseOverwrite(of output: String) throws {
        guard let input = input(sameAs: output) else { return }
        let same = input == output ? "" : " (same file as \(input))"
        throw ScriptIOError("cannot write \(output): it is an input of this run\(same); choose another name")
    }
}

extension SessionState {
    /// Records that the run read the file at `path` (see `InputFiles`).
    func recordInput(_ path: String) {
        inputFiles.record(path)
    }
}

extension CallContext {
    /// Records that the builtin read the file at `path`, so that no output replaces it.
    public func recordInput(_ path: String) {
        session.recordInput(path)
    }

    /// Throws when `path` is the same file as an input of this run (see `InputFiles`).
    public func refuseOverwritingInput(_ path: String) throws {
        try session.inputFiles.refuseOverwrite(of: path)
    }
}

extension Session {
    /// The files the run has read so far (see `InputFiles`).
    public var inputFiles: InputFiles { state.inputFiles }

    /// Records that the run read the file at `path` (the CLI records the script it runs).
    public func recordInput(_ path: String) {
        state.recordInput(path)
    }
}
