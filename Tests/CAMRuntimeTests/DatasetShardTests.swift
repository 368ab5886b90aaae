import CAMRuntime
import XCTest

/// Shards (issue 20): every item in exactly one shard, the same shard whatever else the folder
/// holds, and the shard a process is read from `--shard`, Slurm or Kubernetes.
final class DatasetShardTests: XCTestCase {
    private func randomName(_ rng: inout SplitMix64) -> String {
        let folders = ["cat", "dog", "n01440764", "a b", "ünï"]
        let folder = folders[Int.random(in: 0..<folders.count, using: &rng)]
        return "\(folder)/\(Int.random(in: 0..<1_000_000, using: &rng)).jpg"
    }

    /// Over random sizes and shard counts: the shards are disjoint and cover the items; items
    /// added at the end or in the middle leave every earlier item in its shard; shards are
    /// roughly even.
    func testShardsAreCompleteDisjointAndStableUnderAdditions() throws {
        var rng = SplitMix64(seed: 20)  // seeded: a failing round reruns
        for round in 0..<200 {
            let size = Int.random(in: 0...600, using: &rng)
            let count = Int.random(in: 1...9, using: &rng)
            let names = Array(Set((0..<size).map { _ in randomName(&rng) })).sorted()
            let shards = try (0..<count).map { try Shard(index: $0, count: count) }
            var owner: [String: Int] = [:]
            for shard in shards {
                for name in names where shard.contains(name) {
                    XCTAssertNil(owner[name], "round \(round): \(name) in shards \(owner[name] ?? -1) and \(shard.index)")
                    owner[name] = shard.index
                }
            }
            XCTAssertEqual(owner.count, names.count, "round \(round): some items are in no shard")
            // Add items anywhere: nobody moves.
            let more = names + (0..<Int.random(in: 1...50, using: &rng)).map { _ in randomName(&rng) }
            for name in more.sorted() {
                let now = shards.filter { $0.contains(name) }.map(\.index)
                XCTAssertEqual(now.count, 1, "round \(round): \(name) is in \(now.count) shards")
                if let before = owner[name] { XCTAssertEqual(now, [before], "round \(round): \(name) moved") }
            }
            if names.count >= 400 && count <= 4 {
                let sizes = shards.map { s in names.filter { s.contains($0) }.count }
                let expected = Double(names.count) / Double(count)
                for s in sizes { XCTAssertLessThan(abs(Double(s) - expected), 0.25 * expected, "round \(round): sizes \(sizes)") }
            }
        }
    }

    /// The hash is fixed forever: resumed runs depend on it.
    func testTheHashIsFNV1a() {
        XCTAssertEqual(Shard.hash(""), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(Shard.hash("a"), 0xaf63_dc4c_8601_ec8c)
        XCTAssertEqual(Shard.hash("foobar"), 0x85944171f73967e8)
    }

    func testShardSourcesAndTheirMistakes() throws {
        XCTAssertEqual(try Shard.resolve(environment: [:]).shard, .whole)
        XCTAssertEqual(try Shard.resolve(environment: ["CAMSCRIPT_SHARD": "2/4"]).shard, try Shard(index: 2, count: 4))
        // --shard wins over the scheduler's variables.
        XCTAssertEqual(try Shard.resolve(environment: ["CAMSCRIPT_SHARD": "1/2", "SLURM_ARRAY_TASK_ID": "3",
                                                       "SLURM_ARRAY_TASK_MAX": "3"]).shard, try Shard(index: 1, count: 2))
        let slurm = try Shard.resolve(environment: ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0",
                                                    "SLURM_ARRAY_TASK_MAX": "3", "SLURM_ARRAY_TASK_COUNT": "4"])
        XCTAssertEqual(slurm.shard, try Shard(index: 3, count: 4))
        XCTAssertEqual(slurm.source, .slurm)
        // --array=10-40:10 is four tasks: 10, 20, 30, 40.
        XCTAssertEqual(try Shard.resolve(environment: ["SLURM_ARRAY_TASK_ID": "30", "SLURM_ARRAY_TASK_MIN": "10",
                                                       "SLURM_ARRAY_TASK_MAX": "40", "SLURM_ARRAY_TASK_STEP": "10"]).shard,
                       try Shard(index: 2, count: 4))
        XCTAssertEqual(try Shard.resolve(environment: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"]).shard,
                       try Shard(index: 1, count: 3))
        let kubernetes = try Shard.resolve(environment: ["JOB_COMPLETION_INDEX": "0", "CAMSCRIPT_SHARD_COUNT": "4"])
        XCTAssertEqual(kubernetes.shard, try Shard(index: 0, count: 4))
        XCTAssertEqual(kubernetes.source, .kubernetes)
        func message(_ environment: [String: String]) -> String {
            do {
                _ = try Shard.resolve(environment: environment)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message(["CAMSCRIPT_SHARD": "4/4"]), "shard 4 does not exist: shards of 4 are numbered 0 to 3")
        XCTAssertEqual(message(["CAMSCRIPT_SHARD": "1-4"]), "a shard is written K/N (0-based K of N shards, e.g. 0/4), got \"1-4\"")
        XCTAssertEqual(message(["CAMSCRIPT_SHARD": "0/0"]), "the shard count must be between 1 and 1000000, got 0")
        XCTAssertEqual(message(["JOB_COMPLETION_INDEX": "1"]),
                       "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): set CAMSCRIPT_SHARD_COUNT to the Job's completions too")
        XCTAssertEqual(message(["SLURM_ARRAY_TASK_ID": "x"]), "SLURM_ARRAY_TASK_ID must be a whole number, got \"x\"")
        XCTAssertTrue(message(["SLURM_ARRAY_TASK_ID": "2"]).contains("not an array job"))
    }
}
