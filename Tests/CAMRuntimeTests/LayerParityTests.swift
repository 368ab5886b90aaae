import XCTest
@testable import CAMRuntime

/// Single layers against PyTorch (tools/fixtures/gen_runtime.py, layers.safetensors).
final class LayerParityTests: XCTestCase {
    typealias S = LayerTestSupport

    private func check(_ module: Module, prefix: String, _ f: StateDict) throws {
        guard let input = f[prefix + ".input"], let r = f[prefix + ".r"] else { return XCTFail("fixture \(prefix) incomplete") }
        let out = try module.forward(input, S.forwardContext())
        S.assertClose(out, f[prefix + ".output"], prefix + " output")
        S.assertClose(module.backward(r, S.backwardContext()), f[prefix + ".grad_input"], prefix + " input gradient")
    }

    func testDilatedGroupedConvWithBias() throws {
        let f = try S.fixture("layers.safetensors")
        let conv = Conv2d(path: "conv", inChannels: 4, outChannels: 6, kernelSize: (3, 2), stride: (2, 1),
                          padding: .explicit(2, 1), dilation: (2, 3), groups: 2, bias: true)
        guard let w = f["conv.weight"], let b = f["conv.bias"] else { return XCTFail("fixture incomplete") }
        conv.setParameter("weight", w)
        conv.setParameter("bias", b)
        try check(conv, prefix: "conv", f)
    }

    func testSameDepthwiseConv() throws {
        let f = try S.fixture("layers.safetensors")
        let conv = Conv2d(path: "dw", inChannels: 5, outChannels: 5, kernelSize: (5, 5), stride: (2, 2),
                          padding: .same, groups: 5)
        guard let w = f["dw.weight"] else { return XCTFail("fixture incomplete") }
        conv.setParameter("weight", w)
        try check(conv, prefix: "dw", f)
    }

    func testMaxPool() throws {
        let f = try S.fixture("layers.safetensors")
        try check(MaxPool2d(path: "pool", kernelSize: 3, stride: 2, padding: 1), prefix: "pool", f)
    }
}
