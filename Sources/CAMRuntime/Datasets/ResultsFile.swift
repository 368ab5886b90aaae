import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One cell of a results row.
public enum ResultField: Sendable, Equatable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case null
    case list([ResultField])

    /// The field as JSON text (numbers in their shortest exact form; NaN and infinities, which
    /// JSON cannot hold, as null).
    public var json: String {
        switch self {
        case .number(let v):
            guard v.isFinite else { return "null" }
            if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
            return "\(v)"
        case .string(let s): return ResultField.quoted(s)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .list(let items): return "[" + items.map(\.json).joined(separator: ",") + "]"
        }
    }

    /// The field as one CSV cell (lists as their JSON text, quoted when needed; line breaks in
    /// text become spaces, so that every row is one line and a partial row can be found).
    public var csv: String {
        var text: String
        switch self {
        case .string(let s): text = s
        case .null: text = ""
        default: text = json
        }
        if text.contains(where: \.isNewline) {
            text = String(text.map { $0.isNewline ? " " : $0 })
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}

/// The first line of a JSON Lines results file: the run's key, the shard that wrote it, a
/// description for people, and for a merged file how many shards it joins. Written and read
/// here only, so that runs, merges and summaries agree on it.
struct ResultsHeader {
    var run: String
    var shard: String
    var about: String
    var merged: Int?

    init(run: String, shard: String, about: String, merged: Int? = nil) {
        self.run = run
        self.shard = shard
        self.about = about
        self.merged = merged
    }

    /// The header a first line's JSON object holds, or nil when it is not one.
    init?(_ object: [String: Any]) {
        guard object["camscript_results"] != nil, let run = object["run"] as? String,
              let shard = object["shard"] as? String else { return nil }
        self.init(run: run, shard: shard, about: object["about"] as? String ?? "", merged: object["merged"] as? Int)
    }

    /// The line, without its newline.
    var line: String {
        "{\"camscript_results\":\(ResultsFile.formatVersion),\"run\":\(ResultField.quoted(run)),"
            + "\"shard\":\(ResultField.quoted(shard)),\"about\":\(ResultField.quoted(about))"
            + (merged.map { ",\"merged\":\($0)" } ?? "") + "}"
    }
}

/// A results file that grows by one complete line per image, and that a rerun resumes.
///
/// JSON Lines (`.jsonl`): the first line describes the run — `{"camscript_results": 1, "run":
/// …, "shard": "K/N", "about": …}` — and each further line is one image: `path` (the item's
/// relative path), `sha256` (of the image file's bytes), then the script's columns. CSV
/// (`.csv`): a header row `path,sha256,run,…` and one row per image.
///
/// Each line is written by one `write(2)` on a descriptor opened with `O_APPEND`, so a killed
/// process leaves complete lines, and at worst a partial last line if the kill lands inside
/// that call; opening the file again cuts such a line off (`repairedBytes`) before anything is
/// appended. A write that fails half-way (a full disk) is cut back the same way at once.
///
/// The run key (`run`) hashes the model's weights, the method and its options: opening a file
/// written by another run is refused rather than mixing its rows, and `completed` lists the
/// images (relative path → content hash) this run already has.
public final class ResultsFile: @unchecked Sendable {
    public enum Format: Sendable { case jsonLines, csv }

    public let path: String
    public let format: Format
    public let shard: Shard
    public let run: String
    /// The images the file already holds: relative path → SHA-256 of the image's bytes.
    public private(set) var completed: [String: String] = [:]
    /// How many rows the file held when it was opened.
    public private(set) var previousRows = 0
    /// The bytes of a partial last line that opening cut off (0 when the file was whole).
    public private(set) var repairedBytes = 0
    /// CSV: the columns after `path,sha256,run`, fixed by the header (or the first row).
    private var csvColumns: [String]?
    private var descriptor: Int32
    private let lock = NSLock()

    /// The version written in the first line of a JSON Lines file.
    public static let formatVersion = 1

    /// Opens (creating it if needed) the results file at `path`, for the run `run`.
    /// - Parameter about: a one-line description of the run for the file's first line (model,
    ///   method, options), for people reading it.
    public init(path: String, shard: Shard, run: String, about: String) throws {
        let ext = (path as NSString).pathExtension.lowercased()
        switch ext {
        case "jsonl", "ndjson": format = .jsonLines
        case "csv": format = .csv
        default:
            throw RuntimeError("results: \(path) should end in .jsonl (JSON Lines) or .csv")
        }
        self.path = path
        self.shard = shard
        self.run = run
        let folder = (path as NSString).deletingLastPathComponent
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw RuntimeError("results: cannot write \(path): folder \(folder) does not exist")
        }
        descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw RuntimeError("results: cannot open \(path): \(String(cString: strerror(errno)))")
        }
        // One writing process per file: shards started at once with the same file name would
        // otherwise both see it empty and both write a first line. A POSIX record lock belongs
        // to the process (it goes away with it, even after kill -9), so the same session can
        // open the file again — a notebook cell run twice — while another process cannot
        // (closing the older of two such objects drops the lock for both: POSIX locks are the
        // process's; the worst case is then the race this guards against, not a wrong row).
        var lock = flock(l_type: Int16(F_WRLCK), l_whence: Int16(SEEK_SET), l_start: 0, l_len: 0, l_pid: 0)
        guard fcntl(descriptor, F_SETLK, &lock) == 0 else {
            let busy = errno == EAGAIN || errno == EACCES
            close(descriptor)
            throw RuntimeError(busy ? "results: \(path) is being written by another run; give each shard or run its own file"
                                    : "results: cannot lock \(path): \(String(cString: strerror(errno)))")
        }
        do {
            try readExisting(about: about)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// Reads what the file holds, cuts a partial last line, checks the run, and writes the
    /// first line of a new file.
    private func readExisting(about: String) throws {
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw RuntimeError("results: \(path) is not a regular file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(done)) }
            guard n > 0 else { throw RuntimeError("results: cannot read \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        if let last = bytes.last, last != UInt8(ascii: "\n") {
            let keep = (bytes.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
            repairedBytes = bytes.count - keep
            bytes.removeSubrange(keep...)
            guard ftruncate(descriptor, off_t(keep)) == 0 else {
                throw RuntimeError("results: cannot repair \(path): \(String(cString: strerror(errno)))")
            }
        }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        if lines.isEmpty {
            try writeLine(firstLine(about: about))
            return
        }
        switch format {
        case .jsonLines: try readJSONLines(Array(lines))
        case .csv: try readCSV(Array(lines))
        }
    }

    private func firstLine(about: String) -> String {
        switch format {
        case .jsonLines:
            return ResultsHeader(run: run, shard: shard.description, about: about).line
        case .csv:
            return "path,sha256,run"
        }
    }

    private func readJSONLines(_ lines: [ArraySlice<UInt8>]) throws {
        guard let header = ResultsHeader(try ResultsFile.jsonObject(lines[0], path: path, line: 1)) else {
            throw RuntimeError("results: \(path) is not a CAMScript results file (its first line does not describe a run); choose another name")
        }
        guard header.run == run else {
            throw RuntimeError("results: \(path) holds the results of another run (\(header.about.isEmpty ? "other model, method or options" : header.about)); choose another file for this one")
        }
        guard header.shard == shard.description else {
            throw RuntimeError("results: \(path) holds shard \(header.shard), and this process is shard \(shard); give each shard its own file")
        }
        for (offset, line) in lines.dropFirst().enumerated() {
            let row = try ResultsFile.jsonObject(line, path: path, line: offset + 2)
            guard let key = row["path"] as? String, let hash = row["sha256"] as? String else {
                throw RuntimeError("results: \(path):\(offset + 2) has no path and sha256; it is not a results row")
            }
            completed[key] = hash
            previousRows += 1
        }
    }

    private func readCSV(_ lines: [ArraySlice<UInt8>]) throws {
        let header = try ResultsFile.csvCells(lines[0], path: path, line: 1)
        guard header.count >= 3, Array(header[0..<3]) == ["path", "sha256", "run"] else {
            throw RuntimeError("results: \(path) is not a CAMScript results file (its header does not start with path,sha256,run); choose another name")
        }
        csvColumns = header.count > 3 ? Array(header[3...]) : nil
        for (offset, line) in lines.dropFirst().enumerated() {
            let cells = try ResultsFile.csvCells(line, path: path, line: offset + 2)
            guard cells.count == header.count else {
                throw RuntimeError("results: \(path):\(offset + 2) has \(cells.count) cells, the header \(header.count)")
            }
            guard cells[2] == run else {
                throw RuntimeError("results: \(path) holds the results of another run (other model, method or options); choose another file for this one")
            }
            completed[cells[0]] = cells[1]
            previousRows += 1
        }
        // A header written without columns (a run that stopped before its first row) gets them
        // from the first row appended.
        if csvColumns == nil && previousRows > 0 { csvColumns = [] }
    }

    /// Appends one image's row: its relative path, the SHA-256 of its bytes, then `fields`.
    public func append(key: String, sha256: String, fields: [(name: String, value: ResultField)]) throws {
        lock.lock()
        defer { lock.unlock() }
        switch format {
        case .jsonLines:
            var line = "{\"path\":\(ResultField.quoted(key)),\"sha256\":\"\(sha256)\""
            for (name, value) in fields { line += ",\(ResultField.quoted(name)):\(value.json)" }
            try writeLine(line + "}")
        case .csv:
            let names = fields.map(\.name)
            if let columns = csvColumns {
                guard columns == names else {
                    throw RuntimeError("results: \(path) has the columns \(columns.joined(separator: ", ")); this row has \(names.joined(separator: ", ")) (a CSV file keeps one set of columns)")
                }
            } else {
                // The header row gets its columns with the first row: rewrite it in place.
                try rewriteCSVHeader(columns: names)
                csvColumns = names
            }
            let cells = [ResultField.string(key), .string(sha256), .string(run)] + fields.map(\.value)
            try writeLine(cells.map(\.csv).joined(separator: ","))
        }
        completed[key] = sha256
    }

    private func rewriteCSVHeader(columns: [String]) throws {
        guard ftruncate(descriptor, 0) == 0 else {
            throw RuntimeError("results: cannot write \(path): \(String(cString: strerror(errno)))")
        }
        try writeLine((["path", "sha256", "run"] + columns).map { ResultField.string($0).csv }.joined(separator: ","))
    }

    /// Writes `text` and a newline with one `write(2)`; on failure cuts the file back to where
    /// it was, so that no partial line stays.
    private func writeLine(_ text: String) throws {
        let bytes = Array((text + "\n").utf8)
        let before = lseek(descriptor, 0, SEEK_END)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(errno))
                if before >= 0 { _ = ftruncate(descriptor, before) }
                throw RuntimeError("results: cannot write \(path): \(reason)")
            }
            done += n
        }
    }

    static func jsonObject(_ line: ArraySlice<UInt8>, path: String, line number: Int) throws -> [String: Any] {
        guard let value = try? JSONSerialization.jsonObject(with: Data(line)), let object = value as? [String: Any] else {
            throw RuntimeError("results: \(path):\(number) is not a JSON object; the file is damaged (a partial last line is repaired, but not this)")
        }
        return object
    }

    /// The cells of one CSV line (RFC 4180 quoting; a line never holds a newline here,
    /// since cells with newlines are quoted and the writer never writes them).
    public static func csvCells(_ line: ArraySlice<UInt8>, path: String, line number: Int) throws -> [String] {
        guard let text = String(bytes: line, encoding: .utf8) else {
            throw RuntimeError("results: \(path):\(number) is not UTF-8 text")
        }
        var cells: [String] = []
        var cell = ""
        var quoted = false
        var iterator = Array(text.unicodeScalars).makeIterator()
        var pending: Unicode.Scalar? = iterator.next()
        while let c = pending {
            pending = iterator.next()
            if quoted {
                if c == "\"" {
                    if pending == "\"" { cell.unicodeScalars.append("\""); pending = iterator.next() } else { quoted = false }
                } else {
                    cell.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                cells.append(cell)
                cell = ""
            } else if c != "\r" {
                cell.unicodeScalars.append(c)
            }
        }
        guard !quoted else { throw RuntimeError("results: \(path):\(number) has an unclosed quote") }
        cells.append(cell)
        return cells
    }
}
