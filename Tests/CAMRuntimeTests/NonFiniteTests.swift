import CAMRuntime
import XCTest

/// NaN and infinity are refused where they enter a model (issue 17, class 6): before, an input
/// with a NaN gave one prediction on the first two calls and another once oneDNN took over, and
/// NaN weights loaded silently.
final class NonFiniteTests: XCTestCase {
    func testWeightsWithNaNOrInfinityAreRefusedByName() throws {
        for bad in [Float.nan, Float.infinity, -Float.infinity] {
            let network = try ModelStore.randomNetwork(architecture: "resnet18", classes: 4)
            var dict = ModelStore.stateDict(of: network)
            guard var tensor = dict["layer3.1.bn2.running_var"] else { return XCTFail("no such key") }
            tensor.storage[7] = bad
            dict.set("layer3.1.bn2.running_var", tensor)
            let fresh = try ModelStore.randomNetwork(architecture: "resnet18", classes: 4)
            XCTAssertThrowsError(try fresh.load(dict)) { error in
                let message = (error as? UserFacingError)?.message ?? ""
                XCTAssertTrue(message.contains("`layer3.1.bn2.running_var` has 1 \(bad.isNaN ? "NaN" : "infinite") value, the first at [7]"), message)
            }
        }
    }

    func testTheSameFiniteWeightsStillLoad() throws {
        let network = try ModelStore.randomNetwork(architecture: "resnet18", classes: 4)
        XCTAssertNoThrow(try ModelStore.randomNetwork(architecture: "resnet18", classes: 4).load(ModelStore.stateDict(of: network)))
    }

    func testAnInputWithNaNIsRefusedOnEveryCallAndEveryPath() throws {
        let network = try ModelStore.randomNetwork(architecture: "resnet18", classes: 10)
        var input = Tensor(shape: [1, 3, 32, 32], storage: [Float](repeating: 0.5, count: 3 * 32 * 32))
        input.storage[1000] = .nan
        // Three calls reach the oneDNN path, which once dropped the NaN and answered.
        for call in 0..<4 {
            XCTAssertThrowsError(try network.forward(input), "call \(call)") { error in
                let message = (error as? UserFacingError)?.message ?? ""
                XCTAssertTrue(message.contains("has 1 NaN value, the first at [0, 0, 31, 8]"), message)
            }
            XCTAssertThrowsError(try network.forward(input, recording: ["layer4"], retainingFor: ["layer4"]))
        }
        input.storage[1000] = 0.5
        XCTAssertNoThrow(try network.forward(input))
    }

    func testTheSummaryCountsBothKinds() {
        let t = Tensor(shape: [2, 2], storage: [1, .infinity, .nan, .nan])
        XCTAssertEqual(t.nonFiniteSummary(), "2 NaN and 1 infinite values, the first at [0, 1]")
        XCTAssertNil(Tensor(shape: [2], storage: [1, 2]).nonFiniteSummary())
    }
}
