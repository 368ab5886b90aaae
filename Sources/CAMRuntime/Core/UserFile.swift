import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An error about a file a user named: it is missing (`missing == true`), is not a regular
/// file, or cannot be read or written. The CLI gives exit code 66 for a missing file, 74 else.
public struct FileIOError: UserFacingError, Equatable {
    /// The whole message, naming the path.
    public let message: String
    /// Whether the file does not exist.
    public let missing: Bool
    /// Why, without the path (`"it is a FIFO (named pipe), not a regular file"`), for callers
    /// that phrase the message themselves.
    public let reason: String
    /// What the path is when it is not a regular file (`"a FIFO (named pipe)"`, `"a folder"`).
    public let fileKind: String?

    /// Creates an error; `reason` defaults to the message.
    public init(_ message: String, missing: Bool = false, reason: String? = nil, fileKind: String? = nil) {
        self.message = message
        self.missing = missing
        self.reason = reason ?? message
        self.fileKind = fileKind
    }
}

/// The identity of a file (device and inode), so that two paths naming one file are recognised
/// whatever symbolic links or `..` they go through.
public struct FileIdentity: Hashable, Sendable {
    /// `st_dev`.
    public let device: UInt64
    /// `st_ino`.
    public let inode: UInt64

    /// The identity of the file `path` names, following symbolic links; `nil` when there is none.
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(info)
    }

    /// The identity in `info`.
    public init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// Opens and reads files that users name (scripts, images, checkpoints, arrays) so that a
/// FIFO, a device or a folder is refused with a message saying what it is, instead of
/// blocking forever in `open` or reading `/dev/zero` until memory runs out.
///
/// The path is checked with `stat` before it is opened (opening some devices has side
/// effects), then opened with `O_NONBLOCK` (a FIFO swapped in between cannot block the open)
/// and checked again with `fstat`; only a regular file is read. Only EACCES and EPERM are
/// reported as "permission denied".
public enum UserFile {
    /// What the mode's file type is, as the object of "is": `"a FIFO (named pipe)"`,
    /// `"a character device"`, `"a folder"`…; `nil` for a regular file.
    public static func kind(of mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a folder"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    /// The reason for a failed `open` or `stat`, phrased for users, and whether it means
    /// the file is missing.
    public static func reason(forErrno code: Int32) -> (reason: String, missing: Bool) {
        switch code {
        case ENOENT: return ("no such file", true)
        case EACCES, EPERM: return ("permission denied", false)
        case ENOTDIR: return ("a part of the path is not a folder", true)
        case ELOOP: return ("too many levels of symbolic links", false)
        case ENAMETOOLONG: return ("the path is too long", false)
        default: return (String(cString: strerror(code)), false)
        }
    }

    /// Opens the regular file at `path` for reading and returns its descriptor (blocking
    /// reads, close-on-exec) and size; the caller closes it.
    ///
    /// - Throws: `FileIOError` "cannot read PATH: it is a FIFO (named pipe), not a regular
    ///   file", "…: no such file" (missing), "…: permission denied"…
    public static func openForReading(_ path: String) throws -> (descriptor: Int32, size: Int) {
        func failure(_ reason: String, missing: Bool = false, kind: String? = nil) -> FileIOError {
            FileIOError("cannot read \(path): \(reason)", missing: missing, reason: reason, fileKind: kind)
        }
        func notRegular(_ kind: String) -> FileIOError {
            failure("it is \(kind), not a regular file", kind: kind)
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let (reason, missing) = reason(forErrno: errno)
            throw failure(reason, missing: missing)
        }
        if let kind = kind(of: info.st_mode) { throw notRegular(kind) }
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            let (reason, missing) = reason(forErrno: errno)
            throw failure(reason, missing: missing)
        }
        guard fstat(descriptor, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw failure(reason)
        }
        if let kind = kind(of: info.st_mode) {
            close(descriptor)
            throw notRegular(kind)
        }
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        return (descriptor, Int(info.st_size))
    }

    /// The bytes of the regular file at `path`, read (not mapped: a file truncated while
    /// mapped would crash the process) up to `limit` bytes.
    ///
    /// - Throws: `FileIOError` as `openForReading`, or when the file is larger than `limit`
    ///   or a read fails.
    public static func read(_ path: String, limit: Int = Int.max) throws -> Data {
        let (descriptor, size) = try openForReading(path)
        defer { close(descriptor) }
        guard size <= limit else {
            let reason = "it is \(size) bytes, more than the \(limit) this reads"
            throw FileIOError("cannot read \(path): \(reason)", reason: reason)
        }
        var data = Data(count: size)
        var done = 0
        var failure: Int32 = 0
        data.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while done < buffer.count {
                let n = Glibc.read(descriptor, base + done, buffer.count - done)
                if n > 0 {
                    done += n
                } else if n == 0 {
                    break
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
        }
        guard failure == 0 else {
            let reason = String(cString: strerror(failure))
            throw FileIOError("cannot read \(path): \(reason)", reason: reason)
        }
        // The file shrank while it was read: what is there is what it holds now.
        if done < size { data.removeSubrange(done...) }
        return data
    }
}
