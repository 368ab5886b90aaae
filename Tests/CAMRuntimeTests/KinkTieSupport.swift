import Foundation
import XCTest
@testable import CAMRuntime

// ReLU6 gates at kink ties (issue 14; docs/reliability.md, "Parity on every x86-64 CPU").
//
// An EfficientNet-Lite0 fixture may come with `<name>.kinks.safetensors` (tools/fixtures/kinks.py):
// every ReLU6 input of the reference within 1e-4 × that tensor's largest magnitude of 0 or 6, as
// `index.<bn>` (flat) and `value.<bn>` (PyTorch's float32 value). Such an element falls on one side
// of the kink or the other by float32 rounding alone (PyTorch's own float32 gradients differ from
// its float64 ones by ~1 % on the runtime fixture for one such element), and a flipped gate moves
// the gradients below it — and Grad-CAM — by far more than the tolerances. Used by
// ModelParityTests and CAMHeadParityTests.

/// The most ReLU6 gates in one retaining forward whose side of a kink may differ from the
/// reference's. The measured counts are in docs/reliability.md ("Parity on every x86-64 CPU"); a
/// larger count means the pre-activations disagree by more than rounding, which the tests must catch.
let maximumKinkTies = 8

/// What `adoptReferenceGatesAtKinks` did after one retaining forward.
struct KinkAdoption {
    /// The listed elements at the gates that the forward retained.
    var near = 0
    /// The elements given the reference's gate: "path[index] reference input value".
    var ties: [String] = []
    /// The ReLU6 nodes with listed elements that kept no output (a forward retaining for some
    /// layers keeps only what lies after them; the backward does not use the others).
    var unretained: [String] = []
}

/// Gives the reference's gate to every listed ReLU6 element (`kinks`) whose gate in `network`'s
/// last retaining forward differs, and says how many there were.
///
/// Every other gate keeps our decision, so any real difference still fails the gradient checks
/// at their unchanged tolerance. Call it right after a retaining forward of the very input the
/// kinks file was made for, and pass the result to `reportKinkTies`.
func adoptReferenceGatesAtKinks(_ network: Network, kinks: StateDict) throws -> KinkAdoption {
    var gates: [String: Int] = [:]
    for (index, node) in network.graph.nodes.enumerated() where node.op is ReLU { gates[node.name] = index }
    /// The ReLU6 that a batch norm of the fixture feeds.
    func gate(after bn: String) -> String {
        switch bn {
        case "_bn0": return "_relu#stem"
        case "_bn1": return "_relu#head"
        default: return bn.hasSuffix("._bn0") ? String(bn.dropLast(5)) + "._relu#0" : String(bn.dropLast(5)) + "._relu#1"
        }
    }
    var adoption = KinkAdoption()
    for key in kinks.keys.sorted() where key.hasPrefix("index.") {
        let bn = String(key.dropFirst("index.".count))
        let path = gate(after: bn)
        let node = try XCTUnwrap(gates[path], "no ReLU6 at \(path) for \(bn)")
        guard var output = network.executor.retainedOutput(of: node) else {
            adoption.unretained.append(path)
            continue
        }
        let indices = try XCTUnwrap(kinks[key]), values = try XCTUnwrap(kinks["value." + bn])
        XCTAssertEqual(indices.count, values.count, key)
        adoption.near += indices.count
        for (index, value) in zip(indices.storage, values.storage) {
            let theirs = value > 0 && value < 6
            let i = Int(index)
            XCTAssertTrue(output.storage.indices.contains(i), "\(path): index \(index) out of range")
            guard output.storage.indices.contains(i) else { continue }
            let ours = output.storage[i] > 0 && output.storage[i] < 6
            guard ours != theirs else { continue }
            // A value strictly inside (0, 6) opens the gate; 0 closes it. The tensor that was
            // passed on is not changed: the tape keeps its own copy.
            output.storage[i] = theirs ? 3 : 0
            adoption.ties.append("\(path)[\(i)] reference input \(value)")
        }
        network.executor.setRetainedOutput(of: node, output)
    }
    return adoption
}

/// Prints how many gates took the reference's side and fails above `maximumKinkTies`, or when
/// the forward retained no listed element (then nothing was checked).
func reportKinkTies(_ adoption: KinkAdoption, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertGreaterThan(adoption.near, 0, "\(what): no listed kink element at a retained ReLU6", file: file, line: line)
    let ties = adoption.ties
    print("\(what): \(ties.count) of \(adoption.near) ReLU6 inputs within rounding of a kink fell on the other side than in the reference\(ties.isEmpty ? "" : ": " + ties.joined(separator: ", "))")
    XCTAssertLessThanOrEqual(ties.count, maximumKinkTies, "\(what): kink ties \(ties)", file: file, line: line)
}

/// A `Network` for `CAMEngine` that forwards every call to it and, right after each retaining
/// forward of the one input a kinks file was made for, gives the reference's gates at its listed
/// elements (`adoptReferenceGatesAtKinks`), keeping what it did in `adoptions`.
///
/// Any other input — another image, a batch, an augmentation-smoothing pass — adopts nothing, and
/// so does every forward while `enabled` is false; forwards that retain nothing have no gates to
/// adopt.
final class KinkAdoptingNetwork: CAMNetwork {
    let network: Network
    /// The fixture's input: the only forward the kinks describe.
    let input: Tensor
    let kinks: StateDict
    var enabled = true
    private(set) var adoptions: [KinkAdoption] = []

    init(_ network: Network, input: Tensor, kinks: StateDict) {
        self.network = network
        self.input = input
        self.kinks = kinks
    }

    private func adopt(after input: Tensor) throws {
        guard enabled, input.shape == self.input.shape, input.storage == self.input.storage else { return }
        adoptions.append(try adoptReferenceGatesAtKinks(network, kinks: kinks))
    }

    func forward(_ input: Tensor, recording: [String], retainForBackward: Bool,
                 cancellation: CancellationFlag?) throws -> ForwardResult {
        let result = try network.forward(input, recording: recording, retainForBackward: retainForBackward,
                                         cancellation: cancellation)
        if retainForBackward { try adopt(after: input) }
        return result
    }

    func forward(_ input: Tensor, recording: [String], retainingFor gradientLayers: [String],
                 cancellation: CancellationFlag?) throws -> ForwardResult {
        let result = try network.forward(input, recording: recording, retainingFor: gradientLayers,
                                         cancellation: cancellation)
        try adopt(after: input)
        return result
    }

    func backward(_ logitsGradient: Tensor, gradientsAt: [String], inputGradient: Bool,
                  reluMode: ReLUBackwardMode) throws -> BackwardResult {
        try network.backward(logitsGradient, gradientsAt: gradientsAt, inputGradient: inputGradient, reluMode: reluMode)
    }

    func forward(after layer: String, activation: Tensor, cancellation: CancellationFlag?) throws -> Tensor {
        try network.forward(after: layer, activation: activation, cancellation: cancellation)
    }

    func resolveLayer(_ path: String) throws -> String { try network.resolveLayer(path) }
    var defaultTargetLayer: String { network.defaultTargetLayer }
    var classNames: [String] { network.classNames }
    var biasLayers: [(path: String, bias: Tensor)] { network.biasLayers }
}
