import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Random access to the bytes of a checkpoint, from memory or from an open file.
///
/// Readers ask only for the ranges they need (a zip directory, a pickle, one tensor's span), so a
/// checkpoint on disk is never held in memory twice, and every read that the source cannot
/// satisfy becomes a `CheckpointError` instead of a fault.
protocol CheckpointBytes {
    /// The name used in error messages.
    var fileName: String { get }
    /// The number of bytes.
    var count: Int { get }
    /// Copies `buffer.count` bytes starting at `offset` into `buffer`, or throws when the source
    /// ends first.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws
}

extension CheckpointBytes {
    /// The bytes of `range`, which the caller has checked lies inside `0..<count`.
    func bytes(_ range: Range<Int>) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            try read(at: range.lowerBound, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = range.count
        }
    }

    /// The error for a read past the end.
    func truncated(at offset: Int, _ length: Int) -> CheckpointError {
        CheckpointError(file: fileName, "is truncated: \(length) bytes at offset \(offset) were expected but the file ends at \(count) (or shrank while it was read)")
    }
}

/// Checkpoint bytes already in memory.
struct MemoryCheckpointBytes: CheckpointBytes {
    let data: Data
    let fileName: String
    var count: Int { data.count }

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset >= 0, buffer.count <= count - offset else { throw truncated(at: offset, buffer.count) }
        guard buffer.count > 0 else { return }
        let start = data.startIndex + offset
        data.copyBytes(to: buffer, from: start ..< start + buffer.count)
    }
}

/// Checkpoint bytes read from an open file with `pread`, on demand.
///
/// The file is deliberately not memory-mapped: a mapped file that another process truncates
/// raises SIGBUS on the next access, which Swift cannot catch. `pread` instead returns fewer
/// bytes, which becomes a "truncated" error. Reading straight into each tensor's own storage
/// costs one copy, as copying out of a mapping would.
final class FileCheckpointBytes: CheckpointBytes {
    let fileName: String
    let count: Int
    private let descriptor: Int32

    /// Opens `url` for reading through `UserFile`, so that a FIFO or a device is refused
    /// (saying what it is) before anything blocks on it.
    init(url: URL) throws {
        fileName = url.lastPathComponent
        do {
            (descriptor, count) = try UserFile.openForReading(url.path)
        } catch let error as FileIOError {
            if let kind = error.fileKind {
                throw CheckpointError(file: url.lastPathComponent, "is \(kind), not a checkpoint file")
            }
            throw CheckpointError(file: url.lastPathComponent, "cannot be read (\(error.reason))")
        }
    }

    deinit { close(descriptor) }

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset >= 0, buffer.count <= count - offset else { throw truncated(at: offset, buffer.count) }
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, base + done, buffer.count - done, off_t(offset + done))
            if n > 0 {
                done += n
            } else if n == 0 {
                throw truncated(at: offset, buffer.count)
            } else if errno != EINTR {
                let reason = String(cString: strerror(errno))
                throw CheckpointError(file: fileName, "cannot be read at offset \(offset + done) (\(reason))")
            }
        }
    }
}
