import CAMRuntime
import XCTest

/// Results files and merges (issue 20): rows are whole lines, a cut line is repaired on the
/// next open, another run's or shard's file is refused, and a merge checks that its inputs are
/// one complete run.
final class ResultsFileTests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("camscript-results-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func lines(_ name: String) throws -> [String] {
        try String(contentsOfFile: path(name), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func testRowsAreAppendedAndAReopenedFileKnowsThem() throws {
        let file = try ResultsFile(path: path("r.jsonl"), shard: .whole, run: "run1", about: "resnet18, method=\"gradcam\"")
        try file.append(key: "cat/0.png", sha256: "aa", fields: [("label", .string("cat \"tabby\"")), ("score", .number(0.25)),
                                                                 ("target", .number(281)), ("ok", .bool(true)),
                                                                 ("box", .list([.number(1), .null])), ("nan", .number(.nan))])
        try file.append(key: "dog/0.png", sha256: "bb", fields: [])
        XCTAssertEqual(try lines("r.jsonl"), [
            #"{"camscript_results":1,"run":"run1","shard":"0/1","about":"resnet18, method=\"gradcam\""}"#,
            #"{"path":"cat/0.png","sha256":"aa","label":"cat \"tabby\"","score":0.25,"target":281,"ok":true,"box":[1,null],"nan":null}"#,
            #"{"path":"dog/0.png","sha256":"bb"}"#,
            ""])
        let again = try ResultsFile(path: path("r.jsonl"), shard: .whole, run: "run1", about: "")
        XCTAssertEqual(again.completed, ["cat/0.png": "aa", "dog/0.png": "bb"])
        XCTAssertEqual(again.previousRows, 2)
        XCTAssertEqual(again.repairedBytes, 0)
    }

    /// Two processes writing one file (shards given the same name, started at once) would both
    /// write a first line: while another process holds the file, it is refused; this process
    /// may open it again (a notebook cell run twice).
    func testAFileAnotherProcessWritesIsRefused() throws {
        let first = try ResultsFile(path: path("r.jsonl"), shard: .whole, run: "run1", about: "")
        XCTAssertNoThrow(try ResultsFile(path: path("r.jsonl"), shard: .whole, run: "run1", about: ""))
        _ = first
        // Python's lockf takes the same POSIX record lock from another process.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)", path("held.jsonl")]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { holder.terminate() }
        // It prints once it holds the lock.
        XCTAssertTrue(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        XCTAssertThrowsError(try ResultsFile(path: path("held.jsonl"), shard: .whole, run: "run1", about: "")) {
            XCTAssertEqual("\($0)", "results: \(self.path("held.jsonl")) is being written by another run; give each shard or run its own file")
        }
        holder.terminate()
        holder.waitUntilExit()
        XCTAssertNoThrow(try ResultsFile(path: path("held.jsonl"), shard: .whole, run: "run1", about: ""))
    }

    func testAPartialLastLineIsCutOffOnOpen() throws {
        let file = try ResultsFile(path: path("r.jsonl"), shard: .whole, run: "run1", about: "")
        try file.append(key: "a.png", sha256: "aa", fields: [("x", .number(1))])
        try file.append(key: "b.png", sha256: "bb", fields: [("x", .number(2))])
        let whole = try Data(contentsOf: URL(fileURLWithPath: path("r.jsonl")))
        // Cut at every byte of the last row: the file always reopens with the rows before it.
        let lastRow = whole.count - #"{"path":"b.png","sha256":"bb","x":2}"#.utf8.count - 1
        for cut in lastRow..<whole.count {
            try whole.prefix(cut).write(to: URL(fileURLWithPath: path("cut.jsonl")))
            let reopened = try ResultsFile(path: path("cut.jsonl"), shard: .whole, run: "run1", about: "")
            XCTAssertEqual(reopened.completed, ["a.png": "aa"], "cut at \(cut)")
            XCTAssertEqual(reopened.repairedBytes, cut - lastRow)
            try reopened.append(key: "b.png", sha256: "bb", fields: [("x", .number(2))])
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("cut.jsonl"))), whole, "cut at \(cut)")
        }
    }

    func testAnotherRunOrShardOrADamagedFileIsRefused() throws {
        _ = try ResultsFile(path: path("r.jsonl"), shard: try Shard(index: 1, count: 4), run: "run1", about: "resnet18, method=\"gradcam\"")
        XCTAssertThrowsError(try ResultsFile(path: path("r.jsonl"), shard: try Shard(index: 1, count: 4), run: "run2", about: "")) {
            XCTAssertEqual("\($0)", "results: \(self.path("r.jsonl")) holds the results of another run (resnet18, method=\"gradcam\"); choose another file for this one")
        }
        XCTAssertThrowsError(try ResultsFile(path: path("r.jsonl"), shard: try Shard(index: 2, count: 4), run: "run1", about: "")) {
            XCTAssertEqual("\($0)", "results: \(self.path("r.jsonl")) holds shard 1/4, and this process is shard 2/4; give each shard its own file")
        }
        try "{\"a\": 1}\n".write(toFile: path("other.jsonl"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ResultsFile(path: path("other.jsonl"), shard: .whole, run: "run1", about: "")) {
            XCTAssertTrue("\($0)".contains("is not a CAMScript results file"), "\($0)")
        }
        try "{\"camscript_results\":1,\"run\":\"run1\",\"shard\":\"0/1\"}\nnot json\n{\"path\":\"a\",\"sha256\":\"b\"}\n"
            .write(toFile: path("damaged.jsonl"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ResultsFile(path: path("damaged.jsonl"), shard: .whole, run: "run1", about: "")) {
            XCTAssertTrue("\($0)".contains("damaged.jsonl:2 is not a JSON object"), "\($0)")
        }
        XCTAssertThrowsError(try ResultsFile(path: path("r.txt"), shard: .whole, run: "run1", about: "")) {
            XCTAssertTrue("\($0)".contains("should end in .jsonl (JSON Lines) or .csv"), "\($0)")
        }
        XCTAssertThrowsError(try ResultsFile(path: path("nofolder/r.jsonl"), shard: .whole, run: "run1", about: "")) {
            XCTAssertTrue("\($0)".contains("does not exist"), "\($0)")
        }
    }

    func testCSVKeepsTheColumnsOfItsFirstRow() throws {
        let file = try ResultsFile(path: path("r.csv"), shard: .whole, run: "run1", about: "")
        try file.append(key: "a,1.png", sha256: "aa", fields: [("label", .string("say \"hi\"\nthere")), ("score", .number(0.5))])
        XCTAssertThrowsError(try file.append(key: "b.png", sha256: "bb", fields: [("score", .number(1))]))
        try file.append(key: "b.png", sha256: "bb", fields: [("label", .string("b")), ("score", .number(1))])
        XCTAssertEqual(try lines("r.csv"), ["path,sha256,run,label,score", "\"a,1.png\",aa,run1,\"say \"\"hi\"\" there\",0.5", "b.png,bb,run1,b,1", ""])
        let again = try ResultsFile(path: path("r.csv"), shard: .whole, run: "run1", about: "")
        XCTAssertEqual(again.completed, ["a,1.png": "aa", "b.png": "bb"])
        XCTAssertThrowsError(try ResultsFile(path: path("r.csv"), shard: .whole, run: "run2", about: ""))
    }

    // MARK: - Merge

    /// Writes the shard files of `count` shards over `names`, as separate processes would.
    private func writeShards(_ names: [String], count: Int, run: String = "run1") throws -> [String] {
        try (0..<count).map { index in
            let shard = try Shard(index: index, count: count)
            let name = path("shard-\(index).jsonl")
            let file = try ResultsFile(path: name, shard: shard, run: run, about: "about")
            for key in names where shard.contains(key) {
                try file.append(key: key, sha256: "h-" + key, fields: [("n", .number(Double(key.count)))])
            }
            return name
        }
    }

    func testAMergeOfAllShardsEqualsOneProcessSortedByPath() throws {
        let names = (0..<60).map { "class\($0 % 3)/\($0).png" }
        let single = try ResultsFile(path: path("single.jsonl"), shard: .whole, run: "run1", about: "about")
        for key in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            try single.append(key: key, sha256: "h-" + key, fields: [("n", .number(Double(key.count)))])
        }
        let shards = try writeShards(names, count: 4)
        let summary = try ResultsMerge.merge(shards.reversed(), into: path("merged.jsonl"))
        XCTAssertEqual(summary.rows, 60)
        XCTAssertEqual(summary.shards, 4)
        XCTAssertEqual(Array(try lines("merged.jsonl").dropFirst()), Array(try lines("single.jsonl").dropFirst()))
    }

    func testAMergeNamesMissingOverlappingInconsistentAndUnfinishedShards() throws {
        let names = (0..<40).map { "x/\($0).png" }
        let shards = try writeShards(names, count: 4)
        func message(_ inputs: [String]) -> String {
            do {
                _ = try ResultsMerge.merge(inputs, into: path("merged.jsonl"))
                return "merged"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message([shards[0], shards[2]]),
                       "merge: missing 2 shards of 4: 1/4, 3/4; run them (camscript run … --shard K/4) and merge again")
        try FileManager.default.copyItem(atPath: shards[1], toPath: path("copy.jsonl"))
        XCTAssertEqual(message(shards + [path("copy.jsonl")]),
                       "merge: overlapping shards: \(shards[1]) and \(path("copy.jsonl")) both hold shard 1/4")
        let other = try ResultsFile(path: path("other.jsonl"), shard: try Shard(index: 0, count: 2), run: "run1", about: "about")
        _ = other
        XCTAssertEqual(message([shards[0], path("other.jsonl")]),
                       "merge: inconsistent shards: \(shards[0]) is shard 0/4, \(path("other.jsonl")) is shard 0/2")
        let otherRun = try ResultsFile(path: path("run2.jsonl"), shard: try Shard(index: 0, count: 4), run: "run2", about: "another")
        _ = otherRun
        XCTAssertTrue(message([shards[1], path("run2.jsonl")]).hasPrefix("merge: inconsistent shards: \(shards[1]) holds the run \"about\""))
        // A shard cut mid-line did not finish.
        var data = try Data(contentsOf: URL(fileURLWithPath: shards[3]))
        data.removeLast(5)
        try data.write(to: URL(fileURLWithPath: shards[3]))
        XCTAssertEqual(message(shards),
                       "merge: \(shards[3]) ends in a partial line: its shard did not finish; run it again (it resumes) and merge then")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("merged.jsonl")), "a refused merge writes nothing")
        XCTAssertTrue(message([path("none.jsonl")]).contains("none.jsonl"))
    }

    func testAnImageInTheWrongShardIsInconsistent() throws {
        let shard0 = try ResultsFile(path: path("a.jsonl"), shard: try Shard(index: 0, count: 2), run: "r", about: "")
        let wrong = (0..<100).map { "i\($0)" }.first { !(try! Shard(index: 0, count: 2)).contains($0) } ?? "i0"
        try shard0.append(key: wrong, sha256: "h", fields: [])
        _ = try ResultsFile(path: path("b.jsonl"), shard: try Shard(index: 1, count: 2), run: "r", about: "")
        XCTAssertThrowsError(try ResultsMerge.merge([path("a.jsonl"), path("b.jsonl")], into: path("m.jsonl"))) {
            XCTAssertTrue("\($0)".contains("holds \(wrong), which belongs to shard 1/2, not 0/2"), "\($0)")
        }
    }
}
