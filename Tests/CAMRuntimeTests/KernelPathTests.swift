import Foundation
import XCTest
@testable import CAMRuntime

/// Which kernels this test process runs on, and whether they are the ones asked for.
///
/// `make test` runs the numerical tests a second time with `OPENBLAS_CORETYPE=Haswell` and
/// `ONEDNN_MAX_CPU_ISA=AVX2` — the kernels an AVX2-only CPU gets — and names them in
/// `CAMSCRIPT_TEST_KERNELS` ("OpenBLAS core/oneDNN instruction set"). Both libraries read their
/// variable only when they load, and silently keep their own choice when they do not know a
/// value; this test fails that run if either did, so the second run cannot quietly repeat the
/// first.
final class KernelPathTests: XCTestCase {
    func testTheRequestedKernelsAreInEffect() throws {
        let core = BLAS.coreName, isa = OneDNNRuntime.instructionSet
        print("kernels: OpenBLAS \(core), oneDNN \(isa)")
        XCTAssertNotEqual(core, "unknown")
        XCTAssertFalse(isa.hasPrefix("isa 0x"), "oneDNN reports an instruction set this build does not name: \(isa)")
        guard let requested = ProcessInfo.processInfo.environment["CAMSCRIPT_TEST_KERNELS"] else { return }
        let parts = requested.split(separator: "/").map(String.init)
        XCTAssertEqual(parts.count, 2, "CAMSCRIPT_TEST_KERNELS is \"core/isa\", got \(requested)")
        guard parts.count == 2 else { return }
        XCTAssertEqual(core, parts[0], "OpenBLAS ignored OPENBLAS_CORETYPE")
        XCTAssertEqual(isa, parts[1], "oneDNN ignored ONEDNN_MAX_CPU_ISA")
    }
}
