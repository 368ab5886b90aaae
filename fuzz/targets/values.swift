// fuzz-max-len: 64
// fuzz-needs: Interpreter

import Foundation
import CAMRuntime
@testable import Interpreter

/// The standard builtins, built once.
let standardRegistry = BuiltinRegistry.standard

/// Random nested values (issue 17, class 3): each input byte is one step that wraps, shares,
/// unwraps, compares, prints or drops lists, so values nest up to and past the 1000-level
/// limit in every shape; printing, `str`, `==`, `in` and release must neither overflow the
/// stack nor leak. Sharing (`[x, x]`) is capped so the printed size stays bounded.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzValues(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        // Each step runs on its own, as REPL cells do, so that a refusal (a list nested past
        // the limit) does not end the exploration.
        var lines = ["x = []\ny = [1]"]
        var shared = 0
        for byte in data {
            let repeats = Int(byte >> 4) * 80 + 1
            switch byte & 15 {
            case 0: lines.append("for i in range(\(repeats)):\n    x = [x]")
            case 1: lines.append("for i in range(\(repeats)):\n    x = [x, 1]")
            case 2: lines.append("for i in range(\(repeats)):\n    x = [\"s\", x]")
            case 3 where shared < 10:
                shared += 1
                lines.append("x = [x, x]")
            case 4: lines.append("y = x")
            case 5: lines.append("print(x == y, y == x, x != [])")
            case 6: lines.append("print(len(str(x)))")
            case 7: lines.append("for i in range(\(repeats % 50)):\n    x = x[0] if len(x) > 0 and x[0] != 1 else x")
            case 8: lines.append("x = []")
            case 9: lines.append("print(y in [x, y])")
            case 10: lines.append("print(x)")
            case 11: lines.append("z = [x, y, [x]]")
            case 12: lines.append("y = 0")
            default: lines.append("print(len(x))")
            }
        }
        let session = Session(registry: standardRegistry, output: CollectingSink(), baseDirectory: NSTemporaryDirectory(), environment: [:])
        for cell in lines { _ = session.run(source: cell + "\n", fileName: "fuzz.cam") }
        session.state.globals.values.removeAll()
    }
}
