import XCTest
@testable import CAMRuntime

/// Single layers against PyTorch (tools/fixtures/gen_runtime.py, layers.safetensors).
final class LayerParityTests: XCTestCase {
    typealias S = LayerTestSupport

    private func check(_ op: Operator, prefix: String, _ f: StateDict) throws {
        guard let input = f[prefix + ".input"], let r = f[prefix + ".r"] else { return XCTFail("fixture \(prefix) incomplete") }
        let (out, gradient) = try S.forwardBackward(S.graph(op), input) { _ in r }
        S.assertClose(out, f[prefix + ".output"], prefix + " output")
        S.assertClose(gradient, f[prefix + ".grad_input"], prefix + " input gradient")
    }

    func testDilatedGroupedConvWithBias() throws {
        let f = try S.fixture("layers.safetensors")
        let conv = Conv2d(inChannels: 4, outChannels: 6, kernelSize: (3, 2), stride: (2, 1),
                          padding: .explicit(2, 1), dilation: (2, 3), groups: 2, bias: true)
        guard let w = f["conv.weight"], let b = f["conv.bias"] else { return XCTFail("fixture incomplete") }
        conv.setParameter("weight", w)
        conv.setParameter("bias", b)
        try check(conv, prefix: "conv", f)
    }

    func testSameDepthwiseConv() throws {
        let f = try S.fixture("layers.safetensors")
        let conv = Conv2d(inChannels: 5, outChannels: 5, kernelSize: (5, 5), stride: (2, 2),
                          padding: .same, groups: 5)
        guard let w = f["dw.weight"] else { return XCTFail("fixture incomplete") }
        conv.setParameter("weight", w)
        try check(conv, prefix: "dw", f)
    }

    func testMaxPool() throws {
        let f = try S.fixture("layers.safetensors")
        try check(MaxPool2d(kernelSize: 3, stride: 2, padding: 1), prefix: "pool", f)
    }
}
