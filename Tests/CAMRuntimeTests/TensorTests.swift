import XCTest
@testable import CAMRuntime

final class TensorTests: XCTestCase {
    func testIndexingIsRowMajor() {
        var t = Tensor(shape: [2, 3, 4])
        t[1, 2, 3] = 5
        XCTAssertEqual(t.storage[1 * 12 + 2 * 4 + 3], 5)
        XCTAssertEqual(t.flatIndex([0, 1, 0]), 4)
    }

    func testStackSliceAndStatistics() {
        let a = Tensor(shape: [2], storage: [1, 4])
        let b = Tensor(shape: [2], storage: [-2, 4])
        let s = Tensor.stack([a, b])
        XCTAssertEqual(s.shape, [2, 2])
        XCTAssertEqual(s.slice(1), b)
        XCTAssertEqual(s.min, -2)
        XCTAssertEqual(s.max, 4)
        XCTAssertEqual(s.argmax, 1, "ties resolve to the first index")
        XCTAssertEqual(s.mean, 1.75, accuracy: 1e-7)
    }
}
