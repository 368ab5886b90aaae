import Foundation
import XCTest
@testable import Interpreter

/// Every row of the Python-habits table points to CAMScript's form where a Python user meets it
/// (issue 16, item 9): undefined names, keyword arguments and members at run time and in `check`,
/// and the parser's `with` and `c[0, :]`.
final class PythonHabitsTests: XCTestCase {
    private func failure(_ source: String) -> String {
        let session = Session(registry: .standard, output: CollectingSink(), baseDirectory: NSTemporaryDirectory(), environment: [:])
        guard case .failure(let diagnostic) = session.run(source: source, fileName: "t.cam") else {
            XCTFail("\(source) did not fail")
            return ""
        }
        return diagnostic.message
    }

    private func checked(_ source: String) -> [String] {
        guard let program = try? Parser.parse(source, file: "t.cam") else { return ["does not parse"] }
        var checker = Checker(registry: .standard)
        return checker.check([program]).map(\.message)
    }

    func testEveryUndefinedNameRowPointsToCAMScript() {
        XCTAssertGreaterThan(PythonHabits.names.count, 25)
        for (name, habit) in PythonHabits.names {
            let pointer = "in CAMScript: \(habit.camscript) (Python: \(habit.python))"
            XCTAssertEqual(failure("\(name)\n"), "undefined name `\(name)`; " + pointer, name)
            XCTAssertEqual(checked("y = \(name)\n"), ["undefined name `\(name)`; " + pointer], name)
        }
    }

    func testEveryKeywordRowPointsToCAMScript() {
        for (key, habit) in PythonHabits.keywords {
            let expected = "len: unknown keyword argument `\(key)`; in CAMScript: \(habit.camscript) (Python: \(habit.python))"
            XCTAssertEqual(failure("len([1], \(key)=1)\n"), expected, key)
            XCTAssertEqual(checked("len([1], \(key)=1)\n"), [expected], key)
        }
    }

    func testEveryMemberRowPointsToCAMScript() {
        for (member, habit) in PythonHabits.members {
            XCTAssertTrue(failure("zeros([1]).\(member)\n").hasPrefix(
                "tensor has no member `\(member)`; in CAMScript: \(habit.camscript) (Python: \(habit.python))"), member)
        }
    }

    func testAModelsLayerAsAMemberNamesTheLayerArgument() {
        XCTAssertEqual(failure("m = random_model \"resnet18\"\nm.layer4[-1]\n"),
                       "model has no member `layer4`; in CAMScript: layer=\"layer4\" (or \"layer4[-1]\" for its last block) names a layer "
                       + "in a CAM call, and `layers model` lists them (Python: target_layers=[model.layer4[-1]])")
    }

    func testTheParserPointsAtWithAndMultiAxisIndexing() {
        XCTAssertEqual(failure("with open(\"x\") as f:\n    pass\n"),
                       "unexpected `:` in the arguments of `with`; in CAMScript: no `with`: load and save open and close files themselves (Python: with open(path) as f:)")
        for index in ["c[0, :]", "c[:, 0]"] {
            XCTAssertTrue(failure("c = zeros([2, 3])\n\(index)\n").hasSuffix(
                "; in CAMScript: one axis at a time, c[0] (c[0][1] for two); there are no `:` slices (Python: c[0, :])"), index)
        }
    }
}
