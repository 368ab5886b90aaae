import Foundation
import XCTest
@testable import CAMRuntime

/// oneDNN primitives created on one thread and run on another (the interpreter runs each REPL
/// input and each script cell on a new thread). With oneDNN's default library-managed
/// scratchpad, a thread-local global of the creating thread, the second thread's `gradcam`
/// crashed the process (SIGSEGV in memset inside libdnnl); primitives now use the engine's
/// scratchpad (`dnnl_scratchpad_mode_user`).
final class OneDNNThreadTests: XCTestCase {
    typealias S = LayerTestSupport

    /// Runs `body` on a new thread (with a large stack, as the interpreter's) and waits for it to end.
    private func onNewThread<R>(_ body: @escaping () throws -> R) throws -> R {
        let box = ThreadResultBox<R>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.result = Result { try body() }
            done.signal()
        }
        thread.stackSize = 64 << 20
        thread.start()
        done.wait()
        guard let result = box.result else { throw RuntimeError("the thread produced no result") }
        return try result.get()
    }

    func testGradCAMAndInferenceOnSeveralThreadsAgree() throws {
        let network = try Network.make(architecture: "resnet18")
        network.oneDNNWarmUpPasses = 0
        XCTAssertNotNil(network.workspace.oneDNN, "oneDNN engine unavailable")
        let engine = CAMEngine(network: network)
        let input = S.random([1, 3, 64, 64], seed: 21, low: -2, high: 2)
        let run = { () throws -> (Tensor, Tensor) in
            let cam = try engine.compute(GradCAM(), input: input, layers: ["layer4"], targets: [.index(281)])
            return (cam.map, try network.forward(input).logits)
        }
        let first = try onNewThread(run)
        XCTAssertGreaterThan(first.0.max, 0, "the CAM is not all zeros")
        for round in 1...2 {
            let again = try onNewThread(run)
            S.assertClose(again.0, first.0, "GradCAM map, thread \(round + 1)")
            S.assertClose(again.1, first.1, "logits, thread \(round + 1)")
        }
        let here = try run()
        S.assertClose(here.0, first.0, "GradCAM map, test thread")
    }
}

/// Carries a result from a test's thread back to the test.
private final class ThreadResultBox<R>: @unchecked Sendable {
    var result: Result<R, Error>?
}

/// Inference moves to oneDNN after the warm-up passes, and gives the same results there.
final class OneDNNWarmUpTests: XCTestCase {
    typealias S = LayerTestSupport

    func testTheFirstPassesRunOnOpenBLASThenOneDNN() throws {
        let network = try Network.make(architecture: "resnet18")
        XCTAssertEqual(network.oneDNNWarmUpPasses, 2)
        let input = S.random([1, 3, 40, 40], seed: 41)
        var engines: [Bool] = []
        var logits: [Tensor] = []
        for _ in 0..<4 {
            logits.append(try network.forward(input).logits)
            engines.append(network.workspace.oneDNN != nil)
        }
        XCTAssertEqual(engines, [false, false, true, true], "passes 1 and 2 on OpenBLAS, then oneDNN")
        for (i, l) in logits.enumerated().dropFirst() { S.assertClose(l, logits[0], "pass \(i + 1)") }
        // Passes after a layer and partial retentions count too.
        let other = try Network.make(architecture: "resnet18")
        _ = try other.forward(input, recording: [], retainingFor: ["layer4"])
        let activation = try other.forward(input, recording: ["layer3"]).activations["layer3"]
        XCTAssertNil(other.workspace.oneDNN)
        _ = try other.forward(after: "layer3", activation: try XCTUnwrap(activation))
        XCTAssertNotNil(other.workspace.oneDNN)
    }
}
