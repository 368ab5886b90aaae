import Foundation
import XCTest
@testable import CAMRuntime

/// Helpers shared by the layer and model tests.
enum LayerTestSupport {
    /// The runtime fixture folder.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/runtime")

    static func fixture(_ name: String) throws -> StateDict {
        try SafeTensors.read(contentsOf: fixtures.appendingPathComponent(name))
    }

    static func random(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in rng.uniform(low, high) })
    }

    /// Values whose magnitude is at least `gap` (away from ReLU's kink) and below `limit`.
    static func awayFromZero(_ shape: [Int], seed: UInt64, gap: Float = 0.1, limit: Float = 2) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in
            let magnitude = rng.uniform(gap, limit)
            return rng.uniform(0, 1) < 0.5 ? -magnitude : magnitude
        })
    }

    /// A random-weight network whose batch norms are not the identity (so that folding them
    /// into convolutions matters), with every inference pass on oneDNN.
    static func networkWithRandomBatchNorms(_ architecture: String, seed: UInt64) throws -> Network {
        let network = try Network.make(architecture: architecture)
        network.oneDNNWarmUpPasses = 0
        var seed = seed
        for node in network.graph.nodes {
            guard let bn = node.op as? BatchNorm2d else { continue }
            for (name, low, high) in [("weight", 0.5, 1.5), ("bias", -0.1, 0.1), ("running_mean", -0.1, 0.1),
                                      ("running_var", 0.5, 1.5)] as [(String, Float, Float)] {
                seed &+= 1
                bn.setParameter(name, random([bn.channels], seed: seed, low: low, high: high))
            }
        }
        return network
    }

    /// Random weights (and BN statistics) for an operator.
    static func randomize(_ op: Operator, seed: UInt64) {
        var s = seed
        for (name, value) in op.parameters.sorted(by: { $0.key < $1.key }) {
            s &+= 1
            let isBNScale = op is BatchNorm2d && (name == "weight" || name == "running_var")
            let t = isBNScale ? random(value.shape, seed: s, low: 0.5, high: 1.5)
                : random(value.shape, seed: s, low: -0.5, high: 0.5)
            op.setParameter(name, t)
        }
    }

    /// Random weights for every operator of a graph.
    static func randomize(_ graph: Graph, seed: UInt64) {
        for (i, node) in graph.nodes.enumerated() { randomize(node.op, seed: seed &+ UInt64(i) &* 16) }
    }

    /// A graph of one operator applied to the input.
    static func graph(_ op: Operator) -> Graph {
        graph { b in b.node(op, [b.input], path: "op") }
    }

    /// The operators applied one after the other, at paths `s.0`, `s.1`, ….
    static func chain(_ ops: [Operator]) -> Graph {
        graph { b in
            var x = b.input
            for (i, op) in ops.enumerated() { x = b.node(op, [x], path: "s.\(i)") }
            return x
        }
    }

    /// The graph that `body` builds from the input.
    static func graph(_ body: (GraphBuilder) -> GraphValue) -> Graph {
        let b = GraphBuilder()
        return b.finish(output: body(b))
    }

    /// Runs a graph once on a fresh executor (OpenBLAS: a fresh workspace has not warmed up
    /// oneDNN); `retain` runs the retaining path, otherwise the fused inference path.
    static func run(_ graph: Graph, _ input: Tensor, retain: Bool = true, workspace: Workspace = Workspace()) throws -> Tensor {
        try Executor(graph: graph, workspace: workspace)
            .forward(from: graph.input, input, recording: [], retention: retain ? .all : .none, cancellation: nil).output
    }

    /// Runs one operator on a fresh executor.
    static func run(_ op: Operator, _ input: Tensor, retain: Bool = true) throws -> Tensor {
        try run(graph(op), input, retain: retain)
    }

    /// The output of a retaining forward of `graph` and the input gradient for `gradient` at the output.
    static func forwardBackward(_ graph: Graph, _ input: Tensor, _ gradient: (Tensor) -> Tensor,
                                mode: ReLUBackwardMode = .standard) throws -> (output: Tensor, input: Tensor?) {
        let executor = Executor(graph: graph, workspace: Workspace())
        let output = try executor.forward(from: graph.input, input, recording: [], retention: .all, cancellation: nil).output
        let g = try executor.backward(gradient(output), targets: [], inputGradient: true, reluMode: mode)
        return (output, g[graph.input])
    }

    /// Compares a graph's backward with central finite differences of L = Σ f(x)·R at
    /// `samples` input elements; fails where |num − ana| > abs + rel·|ana|. The loss runs the
    /// fused inference path unless `fusedLoss` is false.
    static func gradientCheck(_ graph: Graph, input: Tensor, step: Float = 1e-2, samples: Int = 40,
                              absolute: Double = 2e-3, relative: Double = 1e-2, fusedLoss: Bool = true,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        var r = Tensor(shape: [])
        let (_, gradient) = try forwardBackward(graph, input) { output in
            r = random(output.shape, seed: 99, low: -1, high: 1)
            return r
        }
        guard let analytic = gradient else {
            XCTFail("backward returned no input gradient", file: file, line: line)
            return
        }
        XCTAssertEqual(analytic.shape, input.shape, file: file, line: line)
        func loss(_ x: Tensor) throws -> Double {
            let y = try run(graph, x, retain: !fusedLoss)
            return zip(y.storage, r.storage).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var rng = SplitMix64(seed: 7)
        var checked = 0
        for _ in 0..<samples {
            let i = Int(rng.next() % UInt64(input.count))
            var plus = input, minus = input
            plus.storage[i] += step
            minus.storage[i] -= step
            let numeric = (try loss(plus) - loss(minus)) / Double(plus.storage[i] - minus.storage[i])
            let a = Double(analytic.storage[i])
            XCTAssertLessThanOrEqual(abs(numeric - a), absolute + relative * abs(a),
                                     "element \(i): numeric \(numeric), analytic \(a)", file: file, line: line)
            checked += 1
        }
        XCTAssertEqual(checked, samples, file: file, line: line)
        // The check must be able to fail: a gradient that is all zeros would not pass it.
        XCTAssertGreaterThan(analytic.storage.map(abs).max() ?? 0, 0, "analytic gradient is all zeros", file: file, line: line)
    }

    /// `gradientCheck` of one operator.
    static func gradientCheck(_ op: Operator, input: Tensor, step: Float = 1e-2, absolute: Double = 2e-3,
                              file: StaticString = #filePath, line: UInt = #line) throws {
        try gradientCheck(graph(op), input: input, step: step, absolute: absolute, file: file, line: line)
    }

    /// Asserts equal shapes and max |a − e| ≤ rel · max |e|.
    static func assertClose(_ actual: Tensor?, _ expected: Tensor?, relative: Float = 1e-4, _ name: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        guard let actual, let expected else {
            XCTFail("\(name): missing (actual \(actual == nil ? "nil" : "present"), expected \(expected == nil ? "nil" : "present"))",
                    file: file, line: line)
            return
        }
        XCTAssertEqual(actual.shape, expected.shape, "\(name) shape", file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let scale = expected.storage.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 0, "\(name): reference is all zeros", file: file, line: line)
        let diff = actual.maxAbsDifference(expected)
        XCTAssertLessThanOrEqual(diff, relative * scale, "\(name): max abs diff \(diff), scale \(scale)", file: file, line: line)
    }
}
