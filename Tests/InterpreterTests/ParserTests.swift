import Interpreter
import XCTest

final class ParserTests: XCTestCase {
    private func parse(_ source: String) throws -> [Statement] {
        try Parser.parse(source, file: "t").statements
    }

    /// A compact rendering of an expression tree for assertions.
    private func show(_ e: ExpressionNode) -> String {
        switch e {
        case .number(let v, _): return formatNumber(v)
        case .string(let s, _): return "\"\(s)\""
        case .bool(let b, _): return b ? "true" : "false"
        case .none: return "none"
        case .name(let n, _): return n
        case .list(let items, _): return "[" + items.map(show).joined(separator: " ") + "]"
        case .unary(let op, let x, _): return "(\(op.rawValue) \(show(x)))"
        case .binary(let op, let l, let r, _): return "(\(op.rawValue) \(show(l)) \(show(r)))"
        case .and(let l, let r, _): return "(and \(show(l)) \(show(r)))"
        case .or(let l, let r, _): return "(or \(show(l)) \(show(r)))"
        case .call(let f, let args, let command, _):
            let a = args.map { ($0.name.map { "\($0)=" } ?? "") + show($0.value) }
            return (command ? "{cmd " : "{call ") + show(f) + (a.isEmpty ? "" : " " + a.joined(separator: " ")) + "}"
        case .index(let t, let i, _): return "\(show(t))[\(show(i))]"
        case .member(let t, let n, _): return "\(show(t)).\(n)"
        case .timed(let x, _): return "{time \(show(x))}"
        }
    }

    private func expression(_ source: String) throws -> String {
        let statements = try parse(source)
        guard case .expression(let e) = statements.first else {
            if case .assign(let name, let e, _) = statements.first { return "\(name) = \(show(e))" }
            return "not an expression"
        }
        return show(e)
    }

    func testPrecedence() throws {
        XCTAssertEqual(try expression("1 + 2 * 3 ** 2"), "(+ 1 (* 2 (** 3 2)))")
        XCTAssertEqual(try expression("-2 ** 2"), "(- (** 2 2))")
        XCTAssertEqual(try expression("not a == b and c or d"), "(or (and (not (== a b)) c) d)")
        XCTAssertEqual(try expression("a not in b"), "(not in a b)")
    }

    func testCommandForm() throws {
        XCTAssertEqual(try expression("print a + b c"), "{cmd print (+ a b) c}")
        XCTAssertEqual(try expression("gradcam model x layer=\"layer4\" target=281"),
                       "{cmd gradcam model x layer=\"layer4\" target=281}")
        XCTAssertEqual(try expression("print cam.shape cam.min cam.max"), "{cmd print cam.shape cam.min cam.max}")
        XCTAssertEqual(try expression("save hstack(img, v1) \"x.png\""), "{cmd save {call hstack img v1} \"x.png\"}")
        XCTAssertEqual(try expression("x = preprocess img model"), "x = {cmd preprocess img model}")
    }

    func testMinusRules() throws {
        XCTAssertEqual(try expression("f -1"), "{cmd f -1}")
        XCTAssertEqual(try expression("f - 1"), "(- f 1)")
        XCTAssertEqual(try expression("f-1"), "(- f 1)")
        XCTAssertEqual(try expression("print a -b"), "{cmd print a (- b)}")
        XCTAssertEqual(try expression("print a - b"), "{cmd print (- a b)}")
    }

    func testBracketsAfterSpacesStartArguments() throws {
        XCTAssertEqual(try expression("print a [1]"), "{cmd print a [1]}")
        XCTAssertEqual(try expression("print a[1]"), "{cmd print a[1]}")
        XCTAssertEqual(try expression("print f (1)"), "{cmd print f 1}")
        XCTAssertEqual(try expression("print f(1)"), "{cmd print {call f 1}}")
        XCTAssertEqual(try expression("print [a -1]"), "{cmd print [(- a 1)]}")
    }

    func testNonCommands() throws {
        XCTAssertEqual(try expression("a and b"), "(and a b)")
        XCTAssertEqual(try expression("f(1, k=2)"), "{call f 1 k=2}")
        XCTAssertEqual(try expression("model.layers[-1]"), "model.layers[-1]")
    }

    func testTime() throws {
        XCTAssertEqual(try expression("time gradcam model x"), "{time {cmd gradcam model x}}")
        XCTAssertEqual(try expression("t = time f(1)"), "t = {time {call f 1}}")
    }

    func testBlocks() throws {
        let statements = try parse("""
            def f(a, b=1):
                for x in a:
                    if x:
                        return x
                    elif b:
                        continue
                    else:
                        break
                return none
            """)
        guard case .def(let f) = statements.first else { return XCTFail("expected def") }
        XCTAssertEqual(f.name, "f")
        XCTAssertEqual(f.parameters.map(\.name), ["a", "b"])
        XCTAssertNotNil(f.parameters[1].defaultValue)
        XCTAssertEqual(f.body.count, 2)
        guard case .for(let name, _, let body, _) = f.body[0], case .if(let branches, let elseBody, _) = body[0] else {
            return XCTFail("expected for/if")
        }
        XCTAssertEqual(name, "x")
        XCTAssertEqual(branches.count, 2)
        XCTAssertNotNil(elseBody)
    }

    func testRangesSpanExpressions() throws {
        guard case .expression(let e) = try parse("print 10 / 0").first,
              case .call(_, let args, _, _) = e else { return XCTFail() }
        XCTAssertEqual(args[0].value.range, SourceRange(file: "t", line: 1, column: 7, length: 6))
    }

    func testSyntaxErrors() {
        let cases: [(String, String, Int, Int)] = [
            ("x = ", "expected a value after `=`, found end of line", 1, 5),
            ("if x\n    y", "expected `:` after the `if` header, found end of line", 1, 5),
            ("f(1 2)", "expected `,` between arguments, found number 2", 1, 5),
            ("a.1", "expected a name after `.`, found number 1", 1, 3),
            ("continue", "`continue` outside a loop", 1, 1),
        ]
        for (source, message, line, column) in cases {
            XCTAssertThrowsError(try parse(source), source) { error in
                let d = error as? Diagnostic
                XCTAssertEqual(d?.message, message, source)
                XCTAssertEqual(d?.range?.line, line, source)
                XCTAssertEqual(d?.range?.column, column, source)
                XCTAssertEqual(d?.kind, .syntax, source)
            }
        }
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let source = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        XCTAssertThrowsError(try parse(source)) { error in
            XCTAssertEqual((error as? Diagnostic)?.message, "nested too deeply: more than 100 levels of brackets, prefix operators and blocks")
        }
    }
}

/// The design's normative seed script must parse as intended (it runs once the runtime builtins
/// are registered).
final class NormativeExampleTests: XCTestCase {
    static let seed = """
        # %% Grad-CAM vs Grad-CAM element-wise
        model = load "resnet50" weights="resnet50.pth"      # any torchvision ResNet-50 checkpoint
        img = load "bird.jpg"
        print img.size                                      # [474, 315]
        x = preprocess img model                            # the weights' own transforms
        print x.shape                                       # [3, 224, 224]
        cam = gradcam model x layer="layer4[-1]"            # no target: the top class
        print cam.shape cam.min cam.max                     # [224, 224] 0 1 (approximately)
        vis1 = overlay cam x
        cam2 = gradcam_elementwise model x layer="layer4[-1]" target=281
        vis2 = overlay cam2 x
        save hstack(resize(img, 224, 224), vis1, vis2) "cam_compare.png"
        """

    func testSeedParsesIntoCommands() throws {
        let file = ScriptFile(source: NormativeExampleTests.seed, fileName: "seed.cam")
        XCTAssertEqual(file.cells.count, 1)
        XCTAssertEqual(file.cells[0].title, "Grad-CAM vs Grad-CAM element-wise")
        let statements = try XCTUnwrap(file.parse().first).program.statements
        XCTAssertEqual(statements.count, 11)
        guard case .assign("model", .call(.name("load", _), let loadArgs, true, _), _) = statements[0] else {
            return XCTFail("model = load … must be a command call")
        }
        XCTAssertEqual(loadArgs.map(\.name), [nil, "weights"])
        guard case .assign("cam2", .call(.name("gradcam_elementwise", _), let camArgs, true, _), let range) = statements[8] else {
            return XCTFail("cam2 = gradcam_elementwise … must be a command call")
        }
        XCTAssertEqual(camArgs.map(\.name), [nil, nil, "layer", "target"])
        XCTAssertEqual(range.line, 10)
        guard case .expression(.call(.name("save", _), let saveArgs, true, _)) = statements[10],
              case .call(.name("hstack", _), let stacked, false, _) = saveArgs[0].value else {
            return XCTFail("save hstack(…) \"…\" must nest a call in a command")
        }
        XCTAssertEqual(stacked.count, 3)
        guard case .expression(.call(.name("print", _), let printed, true, _)) = statements[6] else {
            return XCTFail("print cam.shape cam.min cam.max")
        }
        XCTAssertEqual(printed.count, 3)
    }

    func testCheckerFindsNothingInTheSeedWithTheRuntimeBuiltins() throws {
        let programs = try ScriptFile(source: NormativeExampleTests.seed, fileName: "seed.cam").parse().map(\.program)
        var checker = Checker(registry: .standard)
        XCTAssertEqual(checker.check(programs).map(\.message), [])
        var core = Checker(registry: .core)
        XCTAssertEqual(Set(core.check(programs).map(\.message)),
                       ["undefined name `preprocess`", "undefined name `gradcam`", "undefined name `overlay`",
                        "undefined name `gradcam_elementwise`", "undefined name `hstack`", "undefined name `resize`"])
    }
}
