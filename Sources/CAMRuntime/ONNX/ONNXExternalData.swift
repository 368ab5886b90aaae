import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An open regular file read with `pread`: the model file itself, or an external data file.
///
/// Not memory-mapped, for the reason `FileCheckpointBytes` gives: a mapped file that another
/// process truncates faults on the next access, while `pread` returns short and becomes an error.
/// Opened by `UserFile`, so that a FIFO placed where a data file should be cannot hang the
/// reader before `fstat` shows that it is not a regular file.
final class ONNXExternalFile {
    /// What the file is, as the subject of an error message: `m.onnx:` for the model file,
    /// `m.onnx: the external data file "w.bin" of initializer "fc.weight"` for a data file.
    let label: String
    let size: Int
    private let descriptor: Int32

    private init(descriptor: Int32, size: Int, label: String) {
        self.descriptor = descriptor
        self.size = size
        self.label = label
    }

    deinit { close(descriptor) }

    /// Opens the regular file at `path` through `UserFile` (a FIFO or device is refused,
    /// saying what it is, before anything blocks on it).
    static func open(path: String, label: String) throws -> ONNXExternalFile {
        do {
            let (fd, size) = try UserFile.openForReading(path)
            return ONNXExternalFile(descriptor: fd, size: size, label: label)
        } catch let error as FileIOError {
            if let kind = error.fileKind { throw RuntimeError("\(label) is \(kind)") }
            throw RuntimeError("\(label) cannot be opened (\(error.reason))")
        }
    }

    /// Copies `buffer.count` bytes from `offset` into `buffer`; the caller has checked the range
    /// lies inside `size`, so a short read means the file shrank while it was read.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, base + done, buffer.count - done, off_t(offset + done))
            if n > 0 {
                done += n
            } else if n == 0 {
                throw RuntimeError("\(label) ends at byte \(offset + done), before the \(buffer.count) bytes from offset \(offset) that were there when it was opened (did it shrink while it was read?)")
            } else if errno != EINTR {
                let reason = String(cString: strerror(errno))
                throw RuntimeError("\(label) cannot be read at offset \(offset + done) (\(reason))")
            }
        }
    }

    /// The `count` bytes from `offset`.
    func read(offset: Int, count: Int) throws -> Data {
        var data = Data(count: count)
        try data.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return data
    }
}

/// Where one tensor's bytes are in an external data file, as its `external_data` entries say.
struct ONNXExternalLocation {
    /// `location` as written in the file (for messages).
    var location: String
    var offset: Int
    var length: Int
}

/// Resolves `location`s against the model's folder and keeps each data file open once.
final class ONNXExternalFolder {
    let fileName: String
    let folder: URL?
    private var realFolder: String?
    /// Open data files by resolved path.
    private var files: [String: ONNXExternalFile] = [:]
    /// Resolved paths by `location` as written.
    private var resolved: [String: String] = [:]

    init(fileName: String, folder: URL?) {
        self.fileName = fileName
        self.folder = folder
    }

    /// The open data file `location` names for `role` (e.g. `initializer "fc.weight"`).
    ///
    /// `location` must be relative, must not leave the folder by `..` (judged on its text,
    /// before anything is looked up), and must still be inside the folder once every symbolic
    /// link is resolved; then it must be an existing regular file.
    func file(_ location: String, role: String) throws -> (file: ONNXExternalFile, path: String) {
        if let path = resolved[location], let file = files[path] { return (file, path) }
        let shown = ONNXText.quoted(location)
        guard let folder else {
            throw RuntimeError("\(fileName): \(role) keeps its data in the external file \(shown), but the model was read from memory, so there is no folder to look for it in")
        }
        guard !location.isEmpty else {
            throw RuntimeError("\(fileName): \(role) keeps its data in an external file but gives no location")
        }
        guard !location.unicodeScalars.contains("\0") else {
            throw RuntimeError("\(fileName): the external data location \(shown) of \(role) contains a NUL character")
        }
        guard !location.hasPrefix("/") else {
            throw RuntimeError("\(fileName): the external data location \(shown) of \(role) is an absolute path; it must be a path relative to the model's folder")
        }
        var depth = 0
        for component in location.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                depth -= 1
                guard depth >= 0 else {
                    throw RuntimeError("\(fileName): the external data location \(shown) of \(role) leads outside the model's folder; data files must be in the model's folder or below it")
                }
            default: depth += 1
            }
        }
        let base = try realFolderPath(folder)
        let candidate = (base == "/" ? "" : base) + "/" + location
        guard let real = realPath(candidate) else {
            let problem = errno
            if problem == ENOENT || problem == ENOTDIR {
                throw RuntimeError("\(fileName): the external data file \(shown) of \(role) is missing (looked for \(candidate))")
            }
            throw RuntimeError("\(fileName): the external data file \(shown) of \(role) cannot be opened (\(String(cString: strerror(problem))))")
        }
        let inside = base == "/" ? real.hasPrefix("/") : real.hasPrefix(base + "/")
        guard inside else {
            throw RuntimeError("\(fileName): the external data location \(shown) of \(role) leads outside the model's folder through a symbolic link (to \(ONNXText.quoted(real))); data files must be in the model's folder or below it")
        }
        let file: ONNXExternalFile
        if let open = files[real] {
            file = open
        } else {
            file = try ONNXExternalFile.open(path: real, label: "\(fileName): the external data file \(shown)")
            files[real] = file
        }
        resolved[location] = real
        return (file, real)
    }

    private func realFolderPath(_ folder: URL) throws -> String {
        if let realFolder { return realFolder }
        guard let real = realPath(folder.path) else {
            throw RuntimeError("\(fileName): the model's folder \(ONNXText.quoted(folder.path)) cannot be resolved (\(String(cString: strerror(errno))))")
        }
        realFolder = real
        return real
    }

    /// `realpath(3)`: the absolute path with every symbolic link, `.` and `..` resolved, or nil
    /// (with `errno` set) when some component does not exist.
    private func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
