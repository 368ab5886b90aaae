@testable import CAMRuntime
@testable import Interpreter
import XCTest

/// The CAM method contract: each method declares itself once (`CAMMethodInfo`), and the
/// builtins, `help`, `check` and the option errors are generated from the registry's list.
final class CAMMethodRegistryTests: XCTestCase {
    func testEveryDeclaredMethodIsABuiltinWithItsOwnDocumentation() throws {
        let registry = BuiltinRegistry.standard
        for info in CAMMethods.all {
            let builtin = try XCTUnwrap(registry.builtins[info.builtin], "no builtin \(info.builtin)")
            XCTAssertEqual(builtin.signature.summary, info.summary)
            XCTAssertEqual(builtin.signature.formula, info.formula)
            XCTAssertEqual(builtin.signature.paper, info.paper)
            XCTAssertEqual(builtin.signature.category, "CAM methods")
            let keywords = builtin.signature.keywordNames
            for option in info.options {
                XCTAssertTrue(keywords.contains(option.name), "\(info.builtin) lacks its option \(option.name)")
            }
            XCTAssertEqual(keywords.contains("max_passes"), info.cost.isLong, info.builtin)
            // A method's own declaration is the one its instances report.
            let method = info.make(CAMOptionValues())
            XCTAssertEqual(method.info.name, info.name)
            XCTAssertEqual(method.name, info.className)
        }
    }

    func testNamesAreUniqueAcrossMethods() throws {
        var seen: [String: String] = [:]
        for info in CAMMethods.all {
            for spelling in Set(([info.name, info.builtin, info.className] + info.aliases).map(CAMMethods.key)) {
                XCTAssertNil(seen[spelling], "\(spelling) names both \(seen[spelling] ?? "") and \(info.name)")
                seen[spelling] = info.name
            }
            XCTAssertEqual(try CAMMethods.info(named: info.className).name, info.name)
            XCTAssertEqual(try CAMMethods.info(named: info.builtin).name, info.name)
        }
    }

    func testAnOptionOfAnotherMethodIsRefusedByNameInCheckAndAtRunTime() throws {
        let registry = BuiltinRegistry.standard
        let gradcam = try XCTUnwrap(registry.builtins["gradcam"]).signature
        let expected = "gradcam: seed= only applies to randomcam, sscam, smoothgradcampp and smoothgrad, not GradCAM"
        XCTAssertEqual(gradcam.unknownKeywordMessage("seed"), expected)
        XCTAssertThrowsError(try gradcam.bind([CallArgument(name: "seed", value: .number(1))])) { error in
            XCTAssertEqual((error as? RuntimeError)?.message, expected)
        }
        let program = try Parser.parse("m = random_model \"resnet18\"\nc = gradcam m zeros([3, 8, 8]) seed=1\n", file: "o.cam")
        var checker = Checker(registry: registry)
        XCTAssertEqual(checker.check([program]).map(\.message), [expected])
        XCTAssertEqual(gradcam.unknownKeywordMessage("max_passes"),
                       "gradcam: max_passes= only applies to the methods whose work is long (scorecam, ablationcam, fullgrad, sess, iscam, sscam, smoothgradcampp, smoothgrad and integrated_gradients), not GradCAM")
        // A keyword no method takes still gets the did-you-mean.
        XCTAssertTrue(gradcam.unknownKeywordMessage("layr").contains("did you mean `layer`"), gradcam.unknownKeywordMessage("layr"))
    }

    func testOptionRangesComeFromTheDeclaration() {
        XCTAssertEqual(ScoreCAM.batchSizeOption.problem(with: 0), "batch_size must be at least 1, got 0")
        XCTAssertNil(ScoreCAM.batchSizeOption.problem(with: 1))
        XCTAssertEqual(RandomCAM.seed.problem(with: -1), "seed must be between 0 and 4294967295, got -1")
        XCTAssertEqual((ScoreCAM.info.make(CAMOptionValues(["batch_size": 5])) as? ScoreCAM)?.batchSize, 5)
        XCTAssertEqual((AblationCAM.info.make(CAMOptionValues()) as? AblationCAM)?.batchSize, 32)
    }
}
