import Foundation

/// Which part of a dataset this process runs: shard `index` of `count`.
///
/// An item belongs to the shard its relative path hashes to (FNV-1a, 64 bits, modulo `count`),
/// so the assignment is the same on every machine and does not change when items are added
/// anywhere in the folder — a rerun after adding images redoes nothing that is done. Shards are
/// equal in size on average, not exactly.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// The whole dataset: one shard.
    public static let whole = Shard(uncheckedIndex: 0, count: 1)

    /// The most shards a run may be cut into.
    public static let maximumCount = 1_000_000

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Shard `index` (0-based) of `count`.
    public init(index: Int, count: Int) throws {
        guard (1...Shard.maximumCount).contains(count) else {
            throw RuntimeError("the shard count must be between 1 and \(Shard.maximumCount), got \(count)")
        }
        guard (0..<count).contains(index) else {
            throw RuntimeError("shard \(index) does not exist: shards of \(count) are numbered 0 to \(count - 1)")
        }
        self.init(uncheckedIndex: index, count: count)
    }

    /// `K/N` as `--shard` takes it.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw RuntimeError("a shard is written K/N (0-based K of N shards, e.g. 0/4), got \"\(text)\"")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// Whether the item with this key (its relative path) is in this shard.
    public func contains(_ key: String) -> Bool {
        count == 1 || Int(Shard.hash(key) % UInt64(count)) == index
    }

    /// FNV-1a over the key's UTF-8 bytes: small, fast, and fixed forever (a changed hash would
    /// move items between shards of resumed runs).
    public static func hash(_ key: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    /// Where a shard came from, for messages.
    public enum Source: Sendable, Equatable {
        case whole, flag, slurm, kubernetes
    }

    /// The shard a process is: `CAMSCRIPT_SHARD=K/N` (what `--shard K/N` sets), else a Slurm
    /// array task (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_MIN`/`MAX`/`STEP`, or
    /// `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` with
    /// `CAMSCRIPT_SHARD_COUNT`, which the Job's manifest sets to its `completions`), else the
    /// whole dataset.
    public static func resolve(environment: [String: String]) throws -> (shard: Shard, source: Source) {
        func integer(_ name: String) throws -> Int? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw RuntimeError("\(name) must be a whole number, got \"\(text)\"")
            }
            return value
        }
        if let text = environment["CAMSCRIPT_SHARD"], !text.isEmpty {
            return (try Shard(parsing: text), .flag)
        }
        if let id = try integer("SLURM_ARRAY_TASK_ID") {
            let minimum = try integer("SLURM_ARRAY_TASK_MIN") ?? 0
            let step = try integer("SLURM_ARRAY_TASK_STEP") ?? 1
            guard step >= 1, (id - minimum) % step == 0 else {
                throw RuntimeError("SLURM_ARRAY_TASK_ID \(id) is not on the array's grid (min \(minimum), step \(step))")
            }
            let count: Int
            if let maximum = try integer("SLURM_ARRAY_TASK_MAX") {
                count = (maximum - minimum) / step + 1
            } else if let total = try integer("SLURM_ARRAY_TASK_COUNT") {
                count = total
            } else {
                throw RuntimeError("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_MAX nor SLURM_ARRAY_TASK_COUNT is: not an array job?")
            }
            return (try Shard(index: (id - minimum) / step, count: count), .slurm)
        }
        if let index = try integer("JOB_COMPLETION_INDEX") {
            guard let count = try integer("CAMSCRIPT_SHARD_COUNT") else {
                throw RuntimeError("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): set CAMSCRIPT_SHARD_COUNT to the Job's completions too")
            }
            return (try Shard(index: index, count: count), .kubernetes)
        }
        return (.whole, .whole)
    }
}
