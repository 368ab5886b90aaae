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
