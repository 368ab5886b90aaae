import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One file a glob or a dataset folder found: where it is and the name that identifies it
/// wherever the dataset is mounted.
public struct DatasetFile: Sendable, Equatable {
    /// The absolute path.
    public var path: String
    /// The path below the glob's fixed folder (or the dataset's root), with `/` separators: the
    /// key that shards, results and merges use, the same on every machine that mounts the data
    /// elsewhere.
    public var relativePath: String

    public init(path: String, relativePath: String) {
        self.path = path
        self.relativePath = relativePath
    }
}

/// Shell-style file patterns (`val/**/*.jpg`): `*`, `?` and `[…]` within a name, `**` for any
/// number of folders. The result is sorted by relative path, byte by byte, so every machine and
/// every run sees the same order.
///
/// Names that start with a dot are matched only by a pattern part that starts with a dot, as in
/// a shell, so `.DS_Store` and `.ipynb_checkpoints` stay out of datasets. Symbolic links to
/// folders are not followed by `**` (a link cycle cannot make the walk endless); links to files
/// are matched like files.
public enum FileGlob {
    /// The most files one pattern may match, so that a mistaken `/**` fails with a message
    /// instead of filling memory.
    public static let maximumMatches = 10_000_000

    /// The files `pattern` matches; relative patterns are taken from `base`.
    public static func files(matching pattern: String, base: String) throws -> [DatasetFile] {
        guard !pattern.isEmpty else { throw RuntimeError("files: the pattern is empty") }
        let absolute = pattern.hasPrefix("/") ? pattern : (base.hasSuffix("/") ? base : base + "/") + pattern
        var parts = absolute.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        // A trailing `**` means every file below, as `**/*`.
        if parts.last == "**" { parts.append("*") }
        // The fixed folder: the leading parts without pattern characters.
        var root = "/"
        while let first = parts.first, parts.count > 1, !isPattern(first) {
            root += (root == "/" ? "" : "/") + first
            parts.removeFirst()
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), isFolder.boolValue else {
            throw RuntimeError("files: folder \(root) does not exist")
        }
        var found: [DatasetFile] = []
        try walk(folder: root, relative: "", parts: parts[...], into: &found)
        found.sort { $0.relativePath.utf8.lexicographicallyPrecedes($1.relativePath.utf8) }
        // `a/**/b` can reach one file along several paths only through repeated `**`; keep one.
        var unique: [DatasetFile] = []
        unique.reserveCapacity(found.count)
        for file in found where unique.last?.relativePath != file.relativePath { unique.append(file) }
        return unique
    }

    /// The image files below `folder`, at any depth (`.png`, `.jpg`, `.jpeg`, any case).
    public static func images(in folder: String) throws -> [DatasetFile] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
            throw RuntimeError("dataset: folder \(folder) does not exist")
        }
        guard isFolder.boolValue else { throw RuntimeError("dataset: \(folder) is a file, not a folder") }
        return try files(matching: "**/*", base: folder).filter {
            let ext = ($0.relativePath as NSString).pathExtension.lowercased()
            return ext == "png" || ext == "jpg" || ext == "jpeg"
        }
    }

    static func isPattern(_ part: String) -> Bool {
        part.contains("*") || part.contains("?") || part.contains("[")
    }

    /// Whether `name` matches one pattern part (fnmatch(3) with FNM_PERIOD: a leading dot must
    /// be matched by a dot).
    static func matches(_ name: String, _ part: String) -> Bool {
        fnmatch(part, name, FNM_PERIOD) == 0
    }

    private static func walk(folder: String, relative: String, parts: ArraySlice<String>,
                             into found: inout [DatasetFile]) throws {
        guard let part = parts.first else { return }
        let rest = parts.dropFirst()
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            // An unreadable folder inside the tree is skipped as a shell skips it; the top
            // folder was checked by the caller.
            return
        }
        if part == "**" {
            // Zero folders: the rest of the pattern here.
            try walk(folder: folder, relative: relative, parts: rest, into: &found)
            for name in entries where !name.hasPrefix(".") {
                let path = folder + "/" + name
                guard isRealFolder(path) else { continue }
                try walk(folder: path, relative: relative + name + "/", parts: parts, into: &found)
            }
            return
        }
        for name in entries where matches(name, part) {
            let path = (folder == "/" ? "" : folder) + "/" + name
            if rest.isEmpty {
                var isFolder: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
                found.append(DatasetFile(path: path, relativePath: relative + name))
                guard found.count <= maximumMatches else {
                    throw RuntimeError("files: the pattern matches more than \(maximumMatches) files; narrow it")
                }
            } else if isRealFolder(path) || (rest.first != "**" && isFolderOrLink(path)) {
                try walk(folder: path, relative: relative + name + "/", parts: rest, into: &found)
            }
        }
    }

    /// A folder that is not a symbolic link.
    private static func isRealFolder(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    /// A folder, or a link to one (followed when named by a fixed pattern part).
    private static func isFolderOrLink(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
    }
}
