import Foundation
import XCTest

/// Dataset runs through the real binary (issue 20): shards by `--shard`, by Kubernetes' and
/// Slurm's variables, merged to the single-process table; resume after `kill -9` at random
/// points without losing or duplicating more than the batch in flight; merge's refusals.
final class DatasetCLITests: CLIFolderTestCase {
    /// The dataset script: Grad-CAM on a random ResNet-18 over the folder, one row per image.
    private let run = """
        # %% A dataset run
        model = random_model "resnet18"
        items = dataset "data" labels="folder"
        out = results args[0] model=model method="gradcam"
        for b in batch(pending(out, items), 4, model):
            cams = gradcam model b.x layer="layer4"
            for i in range(len(b)):
                record out b[i] label=b.labels[i] target=cams[i].target max=cams[i].max
        print "done" out.done

        """

    /// Makes `perClass` small distinct PNGs in each of four class folders, with camscript itself.
    private func makeDataset(perClass: Int) throws {
        for label in ["ant", "bee", "cat", "dog"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("data/\(label)"), withIntermediateDirectories: true)
        }
        let maker = try script("make.cam", """
            labels = ["ant", "bee", "cat", "dog"]
            for c in range(4):
                for i in range(\(perClass)):
                    save to_image(zeros([3, 24 + c, 20 + i % 7]) + i / \(perClass * 2)) "data/" + labels[c] + "/" + str(i) + ".png"

            """)
        let made = try CLI.run(["run", maker])
        XCTAssertEqual(made.status, 0, made.stderr)
    }

    /// The rows of a results file (its first line, the run's description, left out), sorted.
    private func rows(_ name: String) throws -> [String] {
        // A run killed before it opened its results file left none.
        guard let text = try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().map(String.init).sorted()
    }

    func testShardsMergeToTheSingleProcessTable() throws {
        try makeDataset(perClass: 5)
        let path = try script("run.cam", run)
        let single = try CLI.run(["run", path, "--", "single.jsonl"])
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertEqual(single.stdout, "done 20\n")
        XCTAssertEqual(try rows("single.jsonl").count, 20)

        // Shards as --shard gives them, as a Kubernetes Indexed Job gives them, and as a Slurm
        // array (--array=0-3) gives them: each process its own file.
        var shardFiles: [String] = []
        var counted = 0
        for k in 0..<4 {
            let flag = try CLI.run(["run", path, "--shard", "\(k)/4", "--", "flag-\(k).jsonl"])
            XCTAssertEqual(flag.status, 0, flag.stderr)
            let count = Int(flag.stdout.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
            counted += count
            XCTAssertTrue(flag.stdout.hasPrefix("dataset: shard \(k)/4: \(count) of 20 items\n"), flag.stdout)
            let job = try CLI.run(["run", path, "--", "k8s-\(k).jsonl"],
                                  environment: ["JOB_COMPLETION_INDEX": "\(k)", "CAMSCRIPT_SHARD_COUNT": "4"])
            XCTAssertEqual(job.status, 0, job.stderr)
            XCTAssertTrue(job.stdout.contains("(Kubernetes Job completion index)"), job.stdout)
            let slurm = try CLI.run(["run", path, "--", "slurm-\(k).jsonl"],
                                    environment: ["SLURM_ARRAY_TASK_ID": "\(k)", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "3"])
            XCTAssertEqual(slurm.status, 0, slurm.stderr)
            XCTAssertTrue(slurm.stdout.contains("(Slurm array task)"), slurm.stdout)
            shardFiles.append("flag-\(k).jsonl")
        }
        XCTAssertEqual(counted, 20)
        for prefix in ["flag", "k8s", "slurm"] {
            let files = (0..<4).map { folder.appendingPathComponent("\(prefix)-\($0).jsonl").path }
            let merged = try CLI.run(["merge", folder.appendingPathComponent("\(prefix).jsonl").path] + files)
            XCTAssertEqual(merged.status, 0, merged.stderr)
            XCTAssertEqual(merged.stdout, "merged 4 shards: 20 images into \(folder.appendingPathComponent("\(prefix).jsonl").path)\n")
            XCTAssertEqual(try rows("\(prefix).jsonl"), try rows("single.jsonl"), prefix)
        }

        // The dataset report of the merged file: the summary table and its picture.
        let report = folder.appendingPathComponent("report.html").path
        let reported = try CLI.run(["merge", folder.appendingPathComponent("with-report.jsonl").path]
                                   + (0..<4).map { folder.appendingPathComponent("flag-\($0).jsonl").path }
                                   + ["--html", report, "--metric", "max"])
        XCTAssertEqual(reported.status, 0, reported.stderr)
        let html = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(html.contains("Dataset run: max"), "the report's heading")
        XCTAssertTrue(html.contains("<table") && html.contains("<td>ant</td>") && html.contains("data:image/png;base64"), "table and picture")
        let noMetric = try CLI.run(["merge", folder.appendingPathComponent("m.jsonl").path, "--html", report])
        XCTAssertEqual(noMetric.status, 64)

        // Merge's refusals: a missing shard, a shard given twice, a shard that did not finish.
        let three = (0..<3).map { folder.appendingPathComponent("flag-\($0).jsonl").path }
        let missing = try CLI.run(["merge", folder.appendingPathComponent("m.jsonl").path] + three)
        XCTAssertEqual(missing.status, 65)
        XCTAssertEqual(missing.stderr, "camscript merge: missing shard of 4: 3/4; run it (camscript run … --shard K/4) and merge again\n")
        let twice = try CLI.run(["merge", folder.appendingPathComponent("m.jsonl").path] + three
                                + [folder.appendingPathComponent("flag-3.jsonl").path, folder.appendingPathComponent("k8s-3.jsonl").path])
        XCTAssertEqual(twice.status, 65)
        XCTAssertTrue(twice.stderr.contains("overlapping shards"), twice.stderr)
        let absent = try CLI.run(["merge", folder.appendingPathComponent("m.jsonl").path, folder.appendingPathComponent("nope.jsonl").path])
        XCTAssertEqual(absent.status, 66, absent.stderr)
        let badShard = try CLI.run(["run", path, "--shard", "4/4", "--", "x.jsonl"])
        XCTAssertEqual(badShard.status, 64)
        XCTAssertEqual(badShard.stderr, "camscript: --shard: shard 4 does not exist: shards of 4 are numbered 0 to 3\n")
    }

    /// Kill -9 at random moments, then rerun until done: every image ends up exactly once, and a
    /// rerun says how many it skipped.
    func testResumeAfterKillLosesNothingAndDuplicatesNothing() throws {
        try makeDataset(perClass: 8)
        let path = try script("run.cam", run)
        var generator = SystemRandomNumberGenerator()
        for attempt in 0..<4 {
            let process = Process()
            process.executableURL = CLI.executable
            process.arguments = ["run", path, "--", "r.jsonl"]
            process.environment = ProcessInfo.processInfo.environment.merging(["CAMSCRIPT_WEIGHTS_URL": "http://127.0.0.1:1/models/"]) { $1 }
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 500_000...2_500_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            _ = out.fileHandleForReading.readDataToEndOfFile()
            // Whatever the moment, the file has no duplicate and at most one partial line.
            let names = try rows("r.jsonl").compactMap { line -> String? in
                guard let data = line.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
                return object["path"] as? String
            }
            XCTAssertEqual(names.count, Set(names).count, "attempt \(attempt): a duplicated row")
        }
        // Complete rows only: a kill inside a write may leave a partial last line.
        let text = (try? Data(contentsOf: folder.appendingPathComponent("r.jsonl"))) ?? Data()
        let before = max(0, text.filter { $0 == UInt8(ascii: "\n") }.count - 1)
        let finish = try CLI.run(["run", path, "--", "r.jsonl"])
        XCTAssertEqual(finish.status, 0, finish.stderr)
        if before > 0 {
            XCTAssertTrue(finish.stdout.contains("pending: \(before) of 32 images are already in r.jsonl; \(32 - before) to do\n"), finish.stdout)
        }
        XCTAssertTrue(finish.stdout.hasSuffix("done 32\n"), finish.stdout)
        let lines = try rows("r.jsonl")
        XCTAssertEqual(lines.count, 32)
        let names = lines.compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["path"] as? String
        }
        XCTAssertEqual(Set(names).count, 32, "every image once")
        // Done: another run skips everything.
        let again = try CLI.run(["run", path, "--", "r.jsonl"])
        XCTAssertEqual(again.stdout, "pending: 32 of 32 images are already in r.jsonl; 0 to do\ndone 32\n", again.stderr)
    }

    /// A results file cut in the middle of a line (a machine that lost power) is repaired by the
    /// next run, which says so and redoes that image only.
    func testAFileCutMidLineIsRepairedOnResume() throws {
        try makeDataset(perClass: 2)
        let path = try script("run.cam", run)
        XCTAssertEqual(try CLI.run(["run", path, "--", "r.jsonl"]).status, 0)
        let url = folder.appendingPathComponent("r.jsonl")
        var data = try Data(contentsOf: url)
        data.removeLast(17)
        try data.write(to: url)
        let resumed = try CLI.run(["run", path, "--", "r.jsonl"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.hasPrefix("results: r.jsonl ended in a partial line ("), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("pending: 7 of 8 images are already in r.jsonl; 1 to do\n"), resumed.stdout)
        XCTAssertEqual(try rows("r.jsonl").count, 8)
    }

    /// A real one-node Slurm cluster (Debian's slurm-wlm and munge, started by
    /// Tests/slurm/check_slurm.sh on 127.0.0.1) runs the script as `sbatch --array=0-3`; the
    /// merged table equals a single-process run.
    func testASlurmArrayJobMergesToTheSingleProcessTable() throws {
        try makeDataset(perClass: 4)
        let path = try script("slurm.cam", """
            model = random_model "resnet18"
            out = results args[1] model=model method="gradcam"
            for b in batch(pending(out, dataset(args[0], labels="folder")), 4, model):
                cams = gradcam model b.x layer="layer4"
                for i in range(len(b)):
                    record out b[i] label=b.labels[i] target=cams[i].target max=cams[i].max

            """)
        let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("slurm/check_slurm.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [checker, CLI.executable.path, path, folder.appendingPathComponent("data").path, folder.path]
        var environment = ProcessInfo.processInfo.environment
        environment["CAMSCRIPT_WEIGHTS_URL"] = "http://127.0.0.1:1/models/"
        for name in environment.keys where name.hasPrefix("SLURM_") { environment[name] = nil }
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 77 {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("Slurm and munge are required in CI (scripts/setup.sh installs them): \(said)")
            }
            throw XCTSkip(said)
        }
        XCTAssertEqual(process.terminationStatus, 0, said)
        XCTAssertTrue(said.contains("slurm: ok: array job"), said)
        XCTAssertTrue(said.contains("merged to 16 rows, equal to one process"), said)
    }

    /// On a terminal a batch stream shows images done, images per second and the time left,
    /// rewritten in place and cleared at the end; in a pipe or a log, nothing.
    func testProgressShowsOnATerminalOnly() throws {
        try makeDataset(perClass: 3)
        let path = try script("run.cam", run)
        // util-linux's `script` gives the run a pseudo-terminal.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "'\(CLI.executable.path)' run '\(path)' -- tty.jsonl", "/dev/null"]
        process.environment = ProcessInfo.processInfo.environment.merging(["CAMSCRIPT_WEIGHTS_URL": "http://127.0.0.1:1/models/"]) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let said = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, said)
        XCTAssertTrue(said.contains("\r0/12 images"), said)
        XCTAssertNotNil(said.range(of: #"\r4/12 images · [0-9.]+ images/s · 0:[0-9]{2} left"#, options: .regularExpression), said)
        XCTAssertTrue(said.contains("\r\u{1B}[K"), "the line is cleared at the end: \(said)")
        let piped = try CLI.run(["run", path, "--", "pipe.jsonl"])
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertFalse(piped.stderr.contains("images/s") || piped.stdout.contains("images/s"), piped.stderr)
    }
}
