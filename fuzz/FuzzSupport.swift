import Foundation
import CAMRuntime

/// Runs one fuzz input through `body`: a `UserFacingError` is the expected way to refuse bad
/// input and is ignored; any other error means a reader let something other than a clear
/// message escape, and aborts so that libFuzzer records the input as a crash.
///
/// Crashes, traps (overflow, out-of-range index, force unwrap), leaks and timeouts are caught by
/// libFuzzer and AddressSanitizer themselves.
func runFuzzInput(_ start: UnsafePointer<UInt8>?, _ count: Int, _ body: (Data) throws -> Void) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    do {
        try body(data)
    } catch is UserFacingError {
        // Refused with a message: the behaviour we want.
    } catch {
        fputs("fuzz: an error that is not a UserFacingError escaped: \(type(of: error)): \(error)\n", stderr)
        abort()
    }
    return 0
}
