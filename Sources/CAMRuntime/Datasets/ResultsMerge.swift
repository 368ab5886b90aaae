import Foundation

/// Joins the JSON Lines results files of a sharded run into one (`camscript merge`), after
/// checking that together they are exactly one run: the same run key and shard count in every
/// file, each shard once, no shard missing, every image in the shard its path hashes to and in
/// one file only, and no file ending in a partial line (a shard that did not finish).
public enum ResultsMerge {
    /// What a merge did.
    public struct Summary: Sendable, Equatable {
        public var shards: Int
        public var rows: Int
        public var run: String
        public var about: String
    }

    /// One input file, read.
    private struct Input {
        var path: String
        var run: String
        var about: String
        var shard: Shard
        /// Relative path → the row's line, the last one when an image was redone.
        var rows: [String: ArraySlice<UInt8>]
    }

    /// Merges `inputs` into `output` (written atomically), rows sorted by path.
    public static func merge(_ inputs: [String], into output: String) throws -> Summary {
        guard !inputs.isEmpty else { throw RuntimeError("merge: give the results files of the shards") }
        guard (output as NSString).pathExtension.lowercased() == "jsonl" else {
            throw RuntimeError("merge: the merged file \(output) should end in .jsonl")
        }
        let outputPath = URL(fileURLWithPath: output).standardizedFileURL.path
        var files: [Input] = []
        for path in inputs {
            guard URL(fileURLWithPath: path).standardizedFileURL.path != outputPath else {
                throw RuntimeError("merge: \(path) is both an input and the output; choose another output name")
            }
            files.append(try read(path))
        }
        let first = files[0]
        for file in files.dropFirst() where file.run != first.run {
            throw RuntimeError("merge: inconsistent shards: \(first.path) holds the run \"\(first.about)\" (\(first.run.prefix(12))), \(file.path) the run \"\(file.about)\" (\(file.run.prefix(12)))")
        }
        for file in files.dropFirst() where file.shard.count != first.shard.count {
            throw RuntimeError("merge: inconsistent shards: \(first.path) is shard \(first.shard), \(file.path) is shard \(file.shard)")
        }
        var byIndex: [Int: String] = [:]
        for file in files {
            if let other = byIndex[file.shard.index] {
                throw RuntimeError("merge: overlapping shards: \(other) and \(file.path) both hold shard \(file.shard)")
            }
            byIndex[file.shard.index] = file.path
        }
        let count = first.shard.count
        let missing = (0..<count).filter { byIndex[$0] == nil }
        if !missing.isEmpty {
            let names = missing.prefix(10).map { "\($0)/\(count)" }.joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
            throw RuntimeError("merge: missing \(missing.count == 1 ? "shard" : "\(missing.count) shards") of \(count): \(names); run \(missing.count == 1 ? "it" : "them") (camscript run … --shard K/\(count)) and merge again")
        }
        var owner: [String: String] = [:]
        var rows: [(key: String, line: ArraySlice<UInt8>)] = []
        for file in files {
            for (key, line) in file.rows {
                guard file.shard.contains(key) else {
                    throw RuntimeError("merge: inconsistent shards: \(file.path) holds \(key), which belongs to shard \(Int(Shard.hash(key) % UInt64(count)))/\(count), not \(file.shard)")
                }
                if let other = owner[key] {
                    throw RuntimeError("merge: overlapping shards: \(key) is in both \(other) and \(file.path)")
                }
                owner[key] = file.path
                rows.append((key, line))
            }
        }
        rows.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var data = Data((ResultsHeader(run: first.run, shard: Shard.whole.description, about: first.about, merged: count).line + "\n").utf8)
        for row in rows {
            data.append(contentsOf: row.line)
            data.append(UInt8(ascii: "\n"))
        }
        try AtomicFile.write(data, to: output)
        return Summary(shards: count, rows: rows.count, run: first.run, about: first.about)
    }

    private static func read(_ path: String) throws -> Input {
        let bytes: [UInt8]
        do {
            bytes = Array(try UserFile.read(path))
        } catch let error as FileIOError {
            throw FileIOError("merge: \(error.message)", missing: error.missing, reason: error.reason, fileKind: error.fileKind)
        }
        guard !bytes.isEmpty else { throw RuntimeError("merge: \(path) is empty; it is not a results file") }
        guard bytes.last == UInt8(ascii: "\n") else {
            throw RuntimeError("merge: \(path) ends in a partial line: its shard did not finish; run it again (it resumes) and merge then")
        }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        guard let header = ResultsHeader(try ResultsFile.jsonObject(lines[lines.startIndex], path: path, line: 1)),
              let shard = try? Shard(parsing: header.shard) else {
            throw RuntimeError("merge: \(path) is not a CAMScript results file (its first line does not describe a run)")
        }
        var rows: [String: ArraySlice<UInt8>] = [:]
        for (offset, line) in lines.dropFirst().enumerated() {
            let row = try ResultsFile.jsonObject(line, path: path, line: offset + 2)
            guard let key = row["path"] as? String else {
                throw RuntimeError("merge: \(path):\(offset + 2) has no path; it is not a results row")
            }
            rows[key] = line
        }
        return Input(path: path, run: header.run, about: header.about, shard: shard, rows: rows)
    }
}
