import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes files so that a reader never sees half a file and a failed or interrupted save leaves
/// the previous file as it was and no temporary file behind; the one writer every `save`,
/// report and checkpoint goes through.
///
/// What the destination path names decides how it is written:
/// - nothing, or a regular file: the bytes go to an unnamed `O_TMPFILE` in the same folder
///   (or, where the file system does not support that, a `.NAME.UUID.tmp` file), are flushed
///   to disk, and only then get the destination's name (`linkat`, then `rename` over an
///   existing file, whose permission bits are kept);
/// - a symbolic link (also one whose target does not exist yet): its target is replaced as
///   above and the link is kept;
/// - a FIFO or a character device (`/dev/null`, a terminal): written directly, never
///   replaced; a FIFO that no process reads is refused at once instead of waiting;
/// - a folder, a socket, a block device or a path ending in `/`: refused.
public enum AtomicFile {
    /// Writes up to `count` bytes from `bytes` to the descriptor; returns how many were written,
    /// or -1 with `errno` set (the signature of POSIX `write`).
    public typealias Writer = (_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int

    /// Writes `data` to `path`, replacing any existing file only once the data is complete.
    ///
    /// - Parameter cancellation: polled while a FIFO's reader is too slow to take more bytes.
    /// - Throws: `FileIOError` saying what the path is when it cannot be written, or
    ///   `CancellationError` when `cancellation` is set while waiting for a FIFO's reader.
    public static func write(_ data: Data, to path: String, cancellation: CancellationFlag? = nil) throws {
        try write(data, to: path, cancellation: cancellation,
                  writer: { descriptor, bytes, count in Glibc.write(descriptor, bytes, count) })
    }

    /// Writes `data` to `path` through `writer` (tests inject a failing one to simulate a full
    /// disk); on any failure `path` is left as it was and no temporary file remains.
    /// `unnamedFirst: false` skips `O_TMPFILE` (tests of the named-temporary fallback).
    public static func write(_ data: Data, to path: String, cancellation: CancellationFlag? = nil,
                             unnamedFirst: Bool = true, writer: Writer) throws {
        switch try destination(of: path) {
        case .stream(let target, let kind):
            try writeDirectly(data, to: target, kind: kind, shownAs: path, cancellation: cancellation, writer: writer)
        case .file(let target, let mode):
            try replace(target, with: data, mode: mode, shownAs: path, unnamedFirst: unnamedFirst, writer: writer)
        }
    }

    /// Checks, without writing anything, that `write` could write to `path`: what it names (after
    /// links) is a regular file, a FIFO or character device, or nothing in an existing folder.
    /// A report checks its destination with this before a long run rather than after it.
    /// - Throws: `FileIOError` as `write` would for the path itself.
    public static func checkDestination(_ path: String) throws {
        _ = try destination(of: path)
    }

    /// What a path leads to once symbolic links are followed.
    enum Destination: Equatable {
        /// A regular file (with its permission bits) or nothing yet (`mode == nil`), at `path`.
        case file(path: String, mode: mode_t?)
        /// A FIFO or character device at `path`, written in place; `kind` names it.
        case stream(path: String, kind: String)
    }

    /// What `path` leads to, following symbolic links (the last component's target, relative
    /// links resolved against the link's folder).
    ///
    /// - Throws: `FileIOError` for a trailing slash, a missing folder, or a folder, socket or
    ///   block device at the end of the links.
    static func destination(of path: String) throws -> Destination {
        guard !path.hasSuffix("/") else {
            throw FileIOError("cannot write \(path): a path ending in / names a folder; give a file name")
        }
        var current = path
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0 else {
                let code = errno
                guard code == ENOENT else {
                    throw FileIOError("cannot write \(path): \(UserFile.reason(forErrno: code).reason)")
                }
                let folder = URL(fileURLWithPath: current).deletingLastPathComponent()
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory),
                      isDirectory.boolValue else {
                    throw FileIOError("cannot write \(path): folder \(folder.path) does not exist")
                }
                return .file(path: current, mode: nil)
            }
            let type = info.st_mode & S_IFMT
            switch type {
            case S_IFLNK:
                current = try linkTarget(of: current, shownAs: path)
            case S_IFREG:
                return .file(path: current, mode: info.st_mode & 0o7777)
            case S_IFIFO, S_IFCHR:
                return .stream(path: current, kind: UserFile.kind(of: info.st_mode) ?? "a special file")
            default:
                let kind = UserFile.kind(of: info.st_mode) ?? "not a regular file"
                let through = current == path ? "it is" : "it leads (through symbolic links) to \(current), which is"
                let advice = type == S_IFDIR ? "; give a file name" : "; only regular files, FIFOs and character devices are written"
                throw FileIOError("cannot write \(path): \(through) \(kind)\(advice)")
            }
        }
        throw FileIOError("cannot write \(path): too many levels of symbolic links")
    }

    /// The path the symbolic link at `link` points to, made absolute against the link's folder.
    private static func linkTarget(of link: String, shownAs path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(link, &buffer, buffer.count - 1)
        guard n > 0 else {
            throw FileIOError("cannot write \(path): the symbolic link \(link) cannot be read (\(String(cString: strerror(errno))))")
        }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if target.hasPrefix("/") { return target }
        return URL(fileURLWithPath: link).deletingLastPathComponent().appendingPathComponent(target).path
    }

    // MARK: - FIFOs and character devices

    /// Writes `data` straight into the FIFO or device at `target`, with SIGPIPE blocked (a
    /// reader that goes away becomes an EPIPE error, not the end of the process).
    private static func writeDirectly(_ data: Data, to target: String, kind: String, shownAs path: String,
                                      cancellation: CancellationFlag?, writer: Writer) throws {
        let descriptor = open(target, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            if code == ENXIO {
                throw FileIOError("cannot write \(path): it is \(kind) that no process is reading; start the reader first")
            }
            throw FileIOError("cannot write \(path) (\(kind)): \(UserFile.reason(forErrno: code).reason)")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, [S_IFIFO, S_IFCHR].contains(info.st_mode & S_IFMT) else {
            throw FileIOError("cannot write \(path): it changed while it was opened; it is no longer \(kind)")
        }
        var blocked = sigset_t(), previous = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer {
            // Consume a SIGPIPE this write raised, so that unblocking does not deliver it.
            var pending = sigset_t()
            sigpending(&pending)
            if sigismember(&pending, SIGPIPE) == 1 {
                var zero = timespec(tv_sec: 0, tv_nsec: 0)
                _ = sigtimedwait(&blocked, nil, &zero)
            }
            pthread_sigmask(SIG_SETMASK, &previous, nil)
        }
        var written = 0
        let failure: Int32 = data.withUnsafeBytes { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return 0 }
            while written < buffer.count {
                let n = writer(descriptor, base + written, buffer.count - written)
                if n > 0 {
                    written += n
                    continue
                }
                if n == 0 { return EIO }
                let code = errno
                if code == EINTR { continue }
                guard code == EAGAIN || code == EWOULDBLOCK else { return code }
                if cancellation?.isCancelled == true { return ECANCELED }
                var wait = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&wait, 1, 100)
            }
            return 0
        }
        if failure == ECANCELED { throw CancellationError() }
        guard failure == 0 else {
            let reason = failure == EPIPE ? "the reader closed it" : String(cString: strerror(failure))
            throw FileIOError("cannot write \(path) (\(kind)): writing failed after \(written) of \(data.count) bytes: \(reason)")
        }
    }

    // MARK: - Regular files

    /// `O_TMPFILE` (Linux 3.11): an unnamed file in a folder, given a name only by `linkat`.
    private static let unnamedFileFlag: Int32 = 0o20000000 | O_DIRECTORY

    /// Writes `data` to a new file that takes the name `target` only when complete; keeps
    /// `mode` (the permission bits of the file it replaces).
    private static func replace(_ target: String, with data: Data, mode: mode_t?, shownAs path: String,
                                unnamedFirst: Bool, writer: Writer) throws {
        let folder = URL(fileURLWithPath: target).deletingLastPathComponent().path
        let unnamed = unnamedFirst ? open(folder, unnamedFileFlag | O_WRONLY | O_CLOEXEC, mode ?? 0o644) : -1
        if unnamed >= 0 {
            try fill(unnamed, with: data, mode: mode, shownAs: path, writer: writer) { }
            defer { close(unnamed) }
            if giveName(unnamed, target, replacing: mode != nil, folder: folder) { return }
            // No /proc or no linkat here: write it again under a temporary name.
        }
        let temporary = URL(fileURLWithPath: folder)
            .appendingPathComponent(".\(URL(fileURLWithPath: target).lastPathComponent).\(UUID().uuidString).tmp").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode ?? 0o644)
        guard descriptor >= 0 else {
            throw FileIOError("cannot write \(path): cannot create a file in \(folder): \(String(cString: strerror(errno)))")
        }
        try fill(descriptor, with: data, mode: mode, shownAs: path, writer: writer) { unlink(temporary) }
        guard close(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileIOError("cannot write \(path): closing failed: \(reason); the previous file, if any, is unchanged")
        }
        if rename(temporary, target) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileIOError("cannot write \(path): \(reason)")
        }
    }

    /// Writes all of `data` to `descriptor` through `writer`, sets `mode` and flushes to disk;
    /// on failure closes the descriptor, calls `cleanUp` and throws.
    private static func fill(_ descriptor: Int32, with data: Data, mode: mode_t?, shownAs path: String,
                             writer: Writer, cleanUp: () -> Void) throws {
        func fail(_ what: String) -> FileIOError {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            cleanUp()
            return FileIOError("cannot write \(path): \(what): \(reason); the previous file, if any, is unchanged")
        }
        var written = 0
        let failure: FileIOError? = data.withUnsafeBytes { buffer -> FileIOError? in
            guard let base = buffer.baseAddress else { return nil }
            while written < buffer.count {
                let n = writer(descriptor, base + written, buffer.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    if n == 0 { errno = EIO }
                    return fail("writing failed after \(written) of \(buffer.count) bytes")
                }
                written += n
            }
            return nil
        }
        if let failure { throw failure }
        if let mode { guard fchmod(descriptor, mode) == 0 else { throw fail("setting its permissions failed") } }
        guard fsync(descriptor) == 0 else { throw fail("flushing to disk failed") }
    }

    /// Gives the unnamed file `descriptor` the name `target`: directly when nothing is there,
    /// else under a temporary name renamed over it. Returns false when linking is not possible
    /// (the caller falls back to a named temporary file).
    private static func giveName(_ descriptor: Int32, _ target: String, replacing: Bool, folder: String) -> Bool {
        let source = "/proc/self/fd/\(descriptor)"
        if !replacing, linkat(AT_FDCWD, source, AT_FDCWD, target, AT_SYMLINK_FOLLOW) == 0 { return true }
        let temporary = URL(fileURLWithPath: folder)
            .appendingPathComponent(".\(URL(fileURLWithPath: target).lastPathComponent).\(UUID().uuidString).tmp").path
        guard linkat(AT_FDCWD, source, AT_FDCWD, temporary, AT_SYMLINK_FOLLOW) == 0 else { return false }
        guard rename(temporary, target) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }
}
