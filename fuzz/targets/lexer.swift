// fuzz-max-len: 4096
// fuzz-seeds: examples Tests/InterpreterTests/Golden
// fuzz-needs: Interpreter

import Foundation
import CAMRuntime
import Interpreter

/// The standard builtins, built once: building the registry for every input cost more than
/// the lexing, parsing and checking together (480 exec/s).
let standardRegistry = BuiltinRegistry.standard

/// The language front end as `camscript check` runs it: the lexer and the parser (its first
/// syntax error is thrown as a `Diagnostic`) and, for a script that parses, the checker with
/// the standard builtins. Nothing is executed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLexer(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    runFuzzInput(start, count) { data in
        // Scripts are read as UTF-8 with invalid bytes repaired, as the runner does.
        let source = String(decoding: data, as: UTF8.self)
        // `Parser.parse` runs `Lexer.tokenize` first (lexing the input a second time here
        // doubled the lexing work).
        let program: Program
        do {
            program = try Parser.parse(source, file: "fuzz.cam")
        } catch is Diagnostic {
            return  // a syntax error with a location: the expected refusal
        }
        var checker = Checker(registry: standardRegistry)
        _ = checker.check([program])
    }
}
