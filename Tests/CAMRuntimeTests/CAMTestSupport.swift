import Foundation
import XCTest
@testable import CAMRuntime

/// The fixture folder of the CAM tests.
let camFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/cam")

/// A hand-written network with the structure of gen_cam.py's `Tiny`: conv1 (1×1, bias) → relu1 →
/// pool1 (avg 2×2) → conv2 (1×1, bias) → relu2 → global average pool → fc.
final class TinyNetwork: CAMNetwork {
    let w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, wfc: Tensor, bfc: Tensor
    private var retained: (input: Tensor, c1: Tensor, c2: Tensor)?
    var forwardCalls = 0
    var afterCalls = 0

    init(parameters: StateDict) throws {
        func p(_ key: String) throws -> Tensor {
            guard let t = parameters["param|" + key] else { throw RuntimeError("missing \(key)") }
            return t
        }
        w1 = try p("conv1.weight"); b1 = try p("conv1.bias")
        w2 = try p("conv2.weight"); b2 = try p("conv2.bias")
        wfc = try p("fc.weight"); bfc = try p("fc.bias")
    }

    var classNames: [String] { ["zero", "one", "two", "three", "four"] }
    var defaultTargetLayer: String { "conv2" }
    var biasLayers: [(path: String, bias: Tensor)] { [("conv1", b1), ("conv2", b2)] }
    let layerNames = ["conv1", "relu1", "pool1", "conv2", "relu2"]

    func resolveLayer(_ path: String) throws -> String {
        guard layerNames.contains(path) else { throw RuntimeError("layer \"\(path)\" not found") }
        return path
    }

    /// 1×1 convolution `[N, I, h, w]` → `[N, O, h, w]`.
    static func conv1x1(_ x: Tensor, _ w: Tensor, _ b: Tensor) -> Tensor {
        let (n, i, h, ww) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let o = w.shape[0], hw = h * ww
        var out = [Float](repeating: 0, count: n * o * hw)
        for s in 0..<n { for oc in 0..<o {
            for p in 0..<hw {
                var acc = b.storage[oc]
                for ic in 0..<i { acc += w.storage[oc * i + ic] * x.storage[(s * i + ic) * hw + p] }
                out[(s * o + oc) * hw + p] = acc
            }
        } }
        return Tensor(shape: [n, o, h, ww], storage: out)
    }

    static func pool(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (h / 2, w / 2)
        var out = [Float](repeating: 0, count: n * c * oh * ow)
        for nc in 0..<(n * c) { for y in 0..<oh { for xx in 0..<ow {
            let base = nc * h * w
            let s = x.storage[base + 2 * y * w + 2 * xx] + x.storage[base + 2 * y * w + 2 * xx + 1]
                + x.storage[base + (2 * y + 1) * w + 2 * xx] + x.storage[base + (2 * y + 1) * w + 2 * xx + 1]
            out[(nc * oh + y) * ow + xx] = s / 4
        } } }
        return Tensor(shape: [n, c, oh, ow], storage: out)
    }

    func head(_ r2: Tensor) -> Tensor {
        let (n, c, hw) = (r2.shape[0], r2.shape[1], r2.shape[2] * r2.shape[3])
        let k = wfc.shape[0]
        var logits = [Float](repeating: 0, count: n * k)
        for s in 0..<n {
            let gap = (0..<c).map { ch in r2.storage[((s * c + ch) * hw)..<((s * c + ch + 1) * hw)].reduce(0, +) / Float(hw) }
            for j in 0..<k {
                var acc = bfc.storage[j]
                for ch in 0..<c { acc += wfc.storage[j * c + ch] * gap[ch] }
                logits[s * k + j] = acc
            }
        }
        return Tensor(shape: [n, k], storage: logits)
    }

    func forward(_ input: Tensor, recording: [String], retainForBackward: Bool,
                 cancellation: CancellationFlag?) throws -> ForwardResult {
        forwardCalls += 1
        let c1 = Self.conv1x1(input, w1, b1)
        let r1 = c1.map { max($0, 0) }
        let p1 = Self.pool(r1)
        let c2 = Self.conv1x1(p1, w2, b2)
        let r2 = c2.map { max($0, 0) }
        let all = ["conv1": c1, "relu1": r1, "pool1": p1, "conv2": c2, "relu2": r2]
        if retainForBackward { retained = (input, c1, c2) }
        return ForwardResult(logits: head(r2), activations: all.filter { recording.contains($0.key) })
    }

    func forward(after layer: String, activation: Tensor, cancellation: CancellationFlag?) throws -> Tensor {
        afterCalls += 1
        switch layer {
        case "pool1": return head(Self.conv1x1(activation, w2, b2).map { max($0, 0) })
        case "conv2": return head(activation.map { max($0, 0) })
        case "relu2": return head(activation)
        default: throw RuntimeError("cannot run after \(layer)")
        }
    }

    func backward(_ logitsGradient: Tensor, gradientsAt: [String], inputGradient: Bool,
                  reluMode: ReLUBackwardMode) throws -> BackwardResult {
        guard let (input, c1, c2) = retained else { throw RuntimeError("no retained forward") }
        let n = input.shape[0]
        let (c, h, w) = (c2.shape[1], c2.shape[2], c2.shape[3])
        let k = wfc.shape[0], hw = h * w
        func relu(_ g: Tensor, _ x: Tensor) -> Tensor {
            Tensor(shape: g.shape, storage: (0..<g.count).map { i in
                let v = x.storage[i] > 0 ? g.storage[i] : 0
                return reluMode == .guided ? (g.storage[i] > 0 ? v : 0) : v
            })
        }
        var gr2 = [Float](repeating: 0, count: n * c * hw)
        for s in 0..<n { for ch in 0..<c {
            var acc: Float = 0
            for j in 0..<k { acc += logitsGradient.storage[s * k + j] * wfc.storage[j * c + ch] }
            for p in 0..<hw { gr2[(s * c + ch) * hw + p] = acc / Float(hw) }
        } }
        let gRelu2 = Tensor(shape: c2.shape, storage: gr2)
        let gConv2 = relu(gRelu2, c2)
        let i = w2.shape[1]
        var gp1 = [Float](repeating: 0, count: n * i * hw)
        for s in 0..<n { for ic in 0..<i { for p in 0..<hw {
            var acc: Float = 0
            for oc in 0..<c { acc += w2.storage[oc * i + ic] * gConv2.storage[(s * c + oc) * hw + p] }
            gp1[(s * i + ic) * hw + p] = acc
        } } }
        let gPool1 = Tensor(shape: [n, i, h, w], storage: gp1)
        let (H, W) = (c1.shape[2], c1.shape[3])
        var gr1 = [Float](repeating: 0, count: n * i * H * W)
        for nc in 0..<(n * i) { for y in 0..<H { for x in 0..<W {
            gr1[(nc * H + y) * W + x] = gPool1.storage[(nc * h + y / 2) * w + x / 2] / 4
        } } }
        let gRelu1 = Tensor(shape: c1.shape, storage: gr1)
        let gConv1 = relu(gRelu1, c1)
        var result = BackwardResult(gradients: [:], input: nil)
        let all = ["conv1": gConv1, "relu1": gRelu1, "pool1": gPool1, "conv2": gConv2, "relu2": gRelu2]
        for name in gradientsAt { result.gradients[name] = all[name] }
        if inputGradient {
            let ch = input.shape[1], P = H * W
            var gi = [Float](repeating: 0, count: input.count)
            for s in 0..<n { for cc in 0..<ch { for p in 0..<P {
                var acc: Float = 0
                for ic in 0..<i { acc += w1.storage[ic * ch + cc] * gConv1.storage[(s * i + ic) * P + p] }
                gi[(s * ch + cc) * P + p] = acc
            } } }
            result.input = Tensor(shape: input.shape, storage: gi)
        }
        return result
    }
}

/// One reference case of a fixture JSON.
struct CAMCase: Decodable {
    struct Target: Decodable { var kind: String; var classes: [Int] }
    var name: String
    var method: String
    var layers: [String]?
    var target: Target?
    var aug_smooth: Bool?
    var eigen_smooth: Bool?
    var sign_rule_variant: String?
    var svd_sign_flips: Int?
    /// Max |float32 reference − the same case computed by PyTorch in float64| (gen_cam.py).
    var conditioning: Double?
    /// Half the tolerance the case is tested with; `conditioning` above it means ill-conditioned.
    var conditioning_limit: Double?
    /// The generator's verdict: the float32 reference depends on rounding luck, not a usable expectation.
    var ill_conditioned: Bool?
}

struct CAMFixture: Decodable {
    var files: [String]
    var cases: [CAMCase]
    var random_cam_seed: UInt32?
}

func loadCAMFixture(_ stem: String) throws -> (CAMFixture, StateDict) {
    let json = try Data(contentsOf: camFixtures.appendingPathComponent(stem + ".json"))
    let fixture = try JSONDecoder().decode(CAMFixture.self, from: json)
    var tensors = StateDict()
    for file in fixture.files {
        let part = try SafeTensors.read(contentsOf: camFixtures.appendingPathComponent(file))
        for key in part.keys { if let t = part[key] { tensors.set(key, t) } }
    }
    return (fixture, tensors)
}

/// The method object for a pytorch-grad-cam class name, from the registry (every class name
/// in a fixture must be a registered method's).
func makeCAMMethod(_ name: String, seed: UInt32) throws -> CAMMethod {
    guard let info = CAMMethods.all.first(where: { $0.className == name }) else {
        throw RuntimeError("no registered CAM method has the class name \(name)")
    }
    return info.make(CAMOptionValues(["seed": Double(seed)]))
}

/// Runs one fixture case through `CAMEngine`; returns the map and the reference to compare with.
func runCAMCase(_ c: CAMCase, network: CAMNetwork, input: Tensor, tensors: StateDict, seed: UInt32)
    throws -> (ours: CAMResult, reference: Tensor, tolerance: Float) {
    let method = try makeCAMMethod(c.method, seed: seed)
    let targets = c.target.map { $0.classes.map { ClassTarget.index($0) } }
    let score: CAMScore = c.target?.kind == "softmax" ? .softmax : .logit
    let result = try CAMEngine(network: network).compute(
        method, input: input, layers: c.layers.flatMap { $0.isEmpty ? nil : $0 }, targets: targets, score: score,
        augSmooth: c.aug_smooth ?? false, eigenSmooth: c.eigen_smooth ?? false)
    guard let reference = tensors[c.sign_rule_variant ?? c.name] else { throw RuntimeError("no reference for \(c.name)") }
    return (result, reference, camTolerance(c.method))
}

/// The max abs difference allowed between our map and pytorch-grad-cam's for a method (gen_cam.py's
/// `swift_tolerance` mirrors it to set each case's `conditioning_limit` to half of it). The
/// methods that weigh many passes by their scores get 5e-3: their float32 references move by
/// about 1e-3 from float64 on EfficientNet-Lite0 (ReLU6 kinks in ScoreCAM's masked inputs,
/// SESS's upscaled patches).
func camTolerance(_ method: String) -> Float {
    ["ScoreCAM", "AblationCAM", "SESS"].contains(method) ? 5e-3 : 1e-3
}

/// Asserts `|a − b| ≤ 1e-4 · max(|b|, floor · max|b|)` element-wise.
func assertRelativelyClose(_ a: Tensor, _ b: Tensor, _ what: String, floor: Float = 1e-3,
                           file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
    guard a.shape == b.shape else { return }
    let scale = b.storage.map(abs).max() ?? 0
    var worst: Float = 0
    for i in 0..<a.count {
        let allowed = 1e-4 * max(abs(b.storage[i]), floor * scale, 1e-12)
        worst = max(worst, abs(a.storage[i] - b.storage[i]) / allowed)
    }
    XCTAssertLessThanOrEqual(worst, 1, "\(what): worst error is \(worst)× the 1e-4 relative tolerance", file: file, line: line)
}

/// The random weights of gen_cam.py's real networks, rebuilt from their manifest with numpy's
/// legacy generator: every tensor in order from one `RandomState(seed).uniform(low, high)`.
struct SeededWeights: Decodable {
    struct Entry: Decodable {
        var key: String
        var shape: [Int]
        var low: Double?
        var high: Double?
        var fill: Double?
    }
    var seed: UInt32
    var checksum_sum: Double
    var tensors: [Entry]

    static func load(_ stem: String) throws -> SeededWeights {
        let data = try Data(contentsOf: camFixtures.appendingPathComponent(stem + "_weights.json"))
        return try JSONDecoder().decode(SeededWeights.self, from: data)
    }

    /// The state dict (`num_batches_tracked` entries included as zeros) and the float64 sum of
    /// the drawn values, to compare with `checksum_sum`.
    func stateDict() -> (StateDict, Double) {
        var rng = NumpyRandomState(seed: seed)
        var dict = StateDict()
        var total: Double = 0
        for entry in tensors {
            let count = entry.shape.reduce(1, *)
            if let low = entry.low, let high = entry.high {
                let values = (0..<count).map { _ in Float(rng.uniform(low, high)) }
                for v in values { total += Double(v) }
                dict.set(entry.key, Tensor(shape: entry.shape, storage: values))
            } else {
                dict.set(entry.key, Tensor(shape: entry.shape, repeating: Float(entry.fill ?? 0)))
            }
        }
        return (dict, total)
    }
}
