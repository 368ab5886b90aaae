import CAMRuntime
import Foundation
import XCTest
@testable import Interpreter

/// The session's environment, not the process's, decides the runtime options and the pass
/// ceiling (issue 16 housekeeping): a program reads its environment once and hands it down.
final class RuntimeOptionsTests: XCTestCase {
    private func session(_ environment: [String: String]) -> Session {
        Session(registry: .standard, output: CollectingSink(), baseDirectory: NSTemporaryDirectory(), environment: environment)
    }

    func testModelsGetTheSessionsRuntimeOptions() throws {
        XCTAssertEqual(RuntimeOptions(environment: ["CAMSCRIPT_ONEDNN": "0", "CAMSCRIPT_WINOGRAD": "0"]),
                       RuntimeOptions(allowsOneDNN: false, allowsWinograd: false))
        XCTAssertEqual(RuntimeOptions(environment: [:]), RuntimeOptions())
        for (environment, expected) in [([String: String](), RuntimeOptions()),
                                        (["CAMSCRIPT_ONEDNN": "0"], RuntimeOptions(allowsOneDNN: false))] {
            let s = session(environment)
            guard case .success = s.run(source: "m = random_model \"resnet18\"\n", fileName: "t.cam"),
                  case .object(let model as ModelObject)? = s.value(named: "m") else { return XCTFail("no model") }
            XCTAssertEqual(model.network.options, expected)
        }
    }

    func testThePassCeilingComesFromTheSessionsEnvironment() {
        let s = session(["CAMSCRIPT_MAX_PASSES": "1"])
        let source = "m = random_model \"resnet18\"\nx = zeros([2, 3, 32, 32])\nfullgrad m x\n"
        guard case .failure(let diagnostic) = s.run(source: source, fileName: "t.cam") else { return XCTFail("not refused") }
        XCTAssertTrue(diagnostic.message.contains("more than the limit of 1"), diagnostic.message)
    }
}

/// Progress goes through the session's output (issue 16 housekeeping): the sink decides where it
/// shows (camscript: a terminal's stderr), and a report or a test sees it as an item, not as
/// bytes on the process's stderr.
final class ProgressOutputTests: XCTestCase {
    func testALongMethodReportsProgressThroughTheSessionsOutput() {
        let sink = CollectingSink()
        let session = Session(registry: .standard, output: sink, baseDirectory: NSTemporaryDirectory(), environment: [:])
        let source = "m = random_model \"resnet18\"\nx = zeros([3, 32, 32])\nc = scorecam m x layer=\"layer1\" batch_size=16\n"
        guard case .success = session.run(source: source, fileName: "t.cam") else { return XCTFail("failed") }
        let progress = sink.items.compactMap { item -> (String, Bool)? in
            if case .progress(let text, let finished) = item.kind { return (text, finished) }
            return nil
        }
        XCTAssertEqual(progress.first?.0, "scorecam: 1/4")
        XCTAssertEqual(progress.dropLast().last?.0, "scorecam: 4/4")
        XCTAssertEqual(progress.last?.1, true, "cleared at the end")
        XCTAssertFalse(sink.lines.contains { $0.contains("4/4") }, "progress is not part of the printed output")
    }
}
