import CAMRuntime
import Foundation
import Interpreter
import XCTest

/// Ctrl-C in a loop over a dataset's batches lets the batch under way finish (its rows are
/// recorded) and then stops the loop; a second Ctrl-C stops at once; other loops stop inside
/// their body as before.
final class InterruptDeferralTests: XCTestCase {
    /// A sink that presses Ctrl-C (`interrupt()`, as the signal handler and the kernel do) when
    /// a given line is printed, on the interpreter's own thread.
    private final class PressingSink: OutputSink, @unchecked Sendable {
        var lines: [String] = []
        var presses: [String: Int] = [:]
        var held: [Bool] = []
        weak var session: Session?

        func emit(_ item: OutputItem) {
            guard case .text(let text) = item.kind else { return }
            lines.append(text)
            for _ in 0..<(presses.removeValue(forKey: text) ?? 0) {
                if let session { held.append(session.cancellation.interrupt()) }
            }
        }
    }

    private static let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden/data").path

    private let script = """
        model = random_model "resnet18"
        items = dataset env("CAMSCRIPT_TEST_DATA") + "/pets" labels="folder"
        for b in batch(items, 2, model):
            print "start"
            print "end"
        print "after"
        """

    private func run(pressing count: Int) -> (sink: PressingSink, diagnostic: Diagnostic?) {
        let sink = PressingSink()
        sink.presses = ["start": count]
        let session = Session(output: sink, baseDirectory: NSTemporaryDirectory(),
                              environment: ["CAMSCRIPT_TEST_DATA": Self.data])
        sink.session = session
        let outcome = session.run(source: script, fileName: "t.cam")
        return (sink, outcome.diagnostic)
    }

    func testOneInterruptFinishesTheBatchThenStops() throws {
        let (sink, diagnostic) = run(pressing: 1)
        XCTAssertEqual(sink.held, [true])
        XCTAssertEqual(sink.lines.filter { $0 == "start" || $0 == "end" || $0 == "after" }, ["start", "end"])
        let d = try XCTUnwrap(diagnostic)
        XCTAssertEqual(d.kind, .interrupted)
        XCTAssertTrue(d.message.contains("interrupted after 1 of 3 batches"), d.message)
    }

    func testASecondInterruptStopsAtOnce() throws {
        let (sink, diagnostic) = run(pressing: 2)
        XCTAssertEqual(sink.held, [true, false])
        XCTAssertEqual(sink.lines.filter { $0 == "start" || $0 == "end" || $0 == "after" }, ["start"])
        XCTAssertEqual(diagnostic?.kind, .interrupted)
        XCTAssertEqual(diagnostic?.message, "interrupted")
    }

    /// Outside such a loop an interrupt is never held, and a held one left when the loop ends
    /// stops what follows.
    func testOtherLoopsAndWhatFollowsStopAsBefore() {
        let flag = CancellationFlag()
        XCTAssertFalse(flag.interrupt())
        XCTAssertTrue(flag.isCancelled)
        flag.reset()
        flag.deferringInterrupts {
            XCTAssertTrue(flag.interrupt())
            XCTAssertTrue(flag.stopIsRequested)
            XCTAssertFalse(flag.isCancelled)
        }
        XCTAssertTrue(flag.isCancelled)
        flag.reset()
        XCTAssertFalse(flag.isCancelled || flag.stopIsRequested)
    }
}
