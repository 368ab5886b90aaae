import Foundation

/// Class names for a model's head, read from a file the user gives with `labels=`.
///
/// Fine-tuned models come with their classes in whatever form their training script wrote:
/// a text file with one name per line (torchvision's `ImageFolder.classes`, Keras' class
/// lists), a JSON list of names, or a JSON object from index to name — including the
/// `imagenet_class_index.json` form `{"0": ["n01440764", "tench"], …}`, whose last string is
/// the name.
public enum ClassLabels {
    /// The largest labels file read (ImageNet-21k's names take about 1 MB).
    public static let maximumFileSize = 16 << 20

    /// The names in a labels file, index = class index.
    ///
    /// - Throws: `RuntimeError` naming the file and the line or entry that is wrong: an empty
    ///   name, a JSON value that is not a name, indices that are not exactly 0…N-1, a file that
    ///   is not UTF-8 or too large.
    public static func read(contentsOf url: URL) throws -> [String] {
        let name = url.lastPathComponent
        let data: Data
        do {
            data = try UserFile.read(url.path, limit: maximumFileSize + 1)
        } catch let error as FileIOError {
            var info = stat()
            if error.fileKind == nil, stat(url.path, &info) == 0, Int(info.st_size) > maximumFileSize {
                throw RuntimeError("labels file \(name) is \(info.st_size) bytes; labels files are read up to \(maximumFileSize) bytes")
            }
            throw RuntimeError("labels file \(name) cannot be read: \(error.reason)")
        }
        guard data.count <= maximumFileSize else {
            throw RuntimeError("labels file \(name) is \(data.count) bytes; labels files are read up to \(maximumFileSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RuntimeError("labels file \(name) is not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if url.pathExtension.lowercased() == "json" || trimmed.hasPrefix("[") || trimmed.hasPrefix("{") {
            return try parseJSON(data, file: name)
        }
        return try parseLines(text, file: name)
    }

    /// One name per line; a final newline and trailing blank lines are allowed, other blank
    /// lines are not (a shifted list would put every later name on the wrong class).
    static func parseLines(_ text: String, file: String) throws -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        guard !lines.isEmpty else { throw RuntimeError("labels file \(file) has no names (one name per line expected)") }
        return try lines.enumerated().map { number, line in
            let label = line.trimmingCharacters(in: .whitespaces)
            guard !label.isEmpty else {
                throw RuntimeError("labels file \(file): line \(number + 1) is empty; every line names one class, in class order")
            }
            return label
        }
    }

    /// A JSON list of names, or an object from "0"…"N-1" to a name or to a list ending in one.
    static func parseJSON(_ data: Data, file: String) throws -> [String] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw RuntimeError("labels file \(file) is not valid JSON: \((error as NSError).localizedDescription)")
        }
        func label(_ entry: Any, _ position: String) throws -> String {
            let candidate: Any? = (entry as? [Any])?.last ?? entry
            guard let text = candidate as? String, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw RuntimeError("labels file \(file): \(position) is not a class name (a non-empty string, or a list ending in one)")
            }
            return text.trimmingCharacters(in: .whitespaces)
        }
        if let list = value as? [Any] {
            guard !list.isEmpty else { throw RuntimeError("labels file \(file) is an empty list") }
            return try list.enumerated().map { try label($0.element, "entry \($0.offset)") }
        }
        if let object = value as? [String: Any] {
            var byIndex: [Int: String] = [:]
            for (key, entry) in object {
                guard let index = Int(key), index >= 0, index < object.count else {
                    throw RuntimeError("labels file \(file): key \"\(key)\" is not a class index 0…\(object.count - 1)")
                }
                byIndex[index] = try label(entry, "key \"\(key)\"")
            }
            guard byIndex.count == object.count else {
                throw RuntimeError("labels file \(file): two keys name the same class index; keys are \"0\"…\"\(object.count - 1)\", once each")
            }
            return (0..<object.count).compactMap { byIndex[$0] }
        }
        throw RuntimeError("labels file \(file) holds neither a list of names nor an object from class index to name")
    }
}
