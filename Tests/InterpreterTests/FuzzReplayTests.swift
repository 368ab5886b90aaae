import Foundation
import XCTest
@testable import Interpreter

/// Inputs that a fuzzing campaign reported, replayed through the same path as the fuzz target
/// (fuzz/targets/lexer.swift: parse, then check with the standard builtins).
final class FuzzReplayTests: XCTestCase {
    /// Reported as a timeout (> 1 s) on 2026-11-30 04:16 UTC by a lexer campaign running at
    /// nice 19 while CI's build and fuzz smoke run took both cores; replayed alone it takes
    /// 20 ms under ASan. Kept so that a real slowdown on it would show.
    func testTheLexerCampaignsTimeoutInputChecksQuickly() throws {
        let encoded = "aGVscCBwbiBhQWcgZSAgcCBwbiBhIGcgZSAgOXByb3QgMSBpbnQgMSA8IDIgMiBBPSAyIDMgPiBaIDQ+IHhwZSB0cnVlPHQgMSBlICAyID54cGUgbiBhQWcgZSAgcCBwbiBhIGcgZSAgOXByb3QgMSBpbnQgMSA8IDIgMiBBPSAyIDMgPiBaIDQgPnhwZSB0cnVlPHQgMSBlICAyIDMgPiA0cnVlPHQgMSBlICAyIDMgPiA0IDQgPkFnIGUgIHAgcG4gYSBnIGVlICBwIHBuIGEgZyBlICA5cHczID4gWiA0ID54cGUgdHJ1ZTx0IDEgPCAyIDIgQT1udCAxIDwgMiAyIEE9IDIgMyA+IFogNCA+eHBlIHRydWU8dCAxIGUgIDIgMyA+IDQgNCA+QWcgZSAgcCBwbiBhIGcgZXQgIDlwdzMgPiBaIDQgcG54ICA5cDB3MyA+IFogNCA+eHBlIHRydWU8dCAxIDwgMiAyIEE9IDIgMyA+IFogNCA+QWcgZSAgcCBvdCAxIGludCAxIDwgMiAyIEE9IDIgMyA+IFogNCA+eHBlIHRydWU8dCAxIGUgIDIgMyA+IDggNCA+QWcgZSAgcCBwbiBhIGcgIDQgPkFnIGUgIHAgcG4gYSBnIGVlICBwIHBuIGEgZyBlICA5cHczID4gWiA0ID54cDQgPkFnIGUgIHAgb3QgMSBpbnQgMSA8IDIgMiBBPSAyIDMgPiBaIDQgPnhwZSB0cnVlPHQgYnJlYWsyIDMgPiA0IDQgPkFnIGUgIHAgcG4gdCAxIDwgMiAyIEE9IDIgMyA+IFogNCA+QWcgZSAgcCBvdCAxIGludCAxIDwgMiAyIEE9IDIgMyA+IFogNCA+eHBlIHRydWU8dCAxIGUgIDIgMyA+IDQgNCA+QWcgZSAgcCBwbiBhIGcgZSAgOXB3MyBlICBwIG90IDEgaW50IDEgPCAyIDIgQT0gMiAzID4gWiA0ID54cGUgdHJ1ZTx0IDEgZSAgMiAyIDMgPiBaIDQgPnhwZSB0cnVlPHQgMSBlICAyIDMgPiA0IDQgPkFnIGUgIHAgcG4gYSBnIGUgIDlwdzMgPiBaIDQgcG54cGUgdHJ1ZQphbgo="
        let data = try XCTUnwrap(Data(base64Encoded: encoded))
        XCTAssertEqual(data.count, 839)
        let source = String(decoding: data, as: UTF8.self)
        let start = Date()
        for _ in 0..<5 {
            do {
                let program = try Parser.parse(source, file: "fuzz.cam")
                var checker = Checker(registry: .standard)
                _ = checker.check([program])
            } catch is Diagnostic {
                // A syntax error with a location is the expected refusal.
            }
        }
        let perRun = Date().timeIntervalSince(start) / 5
        XCTAssertLessThan(perRun, 0.5, "lexing, parsing and checking 839 bytes took \(perRun) s")
    }
}
