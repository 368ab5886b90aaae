import CAMRuntime
import Foundation

// Times the runtime on ResNet-50 and EfficientNet-Lite0 (random weights): the inference forward
// (oneDNN; with CAMSCRIPT_ONEDNN=0 the OpenBLAS path) and forward + backward to the input, batch 1
// and 16 (batch 16 inference is ScoreCAM's pattern), and GradCAM at the last block (batch 1:
// forward retaining + backward to that block + the map). Prints one line per case,
// "<model> <op> <batch> <median ms>" (the median of the repeats, after a warm-up), which
// bench/run.sh sets beside PyTorch's figures.
// Usage: CAMBench [repeats]; CAMBENCH_MODELS=resnet50, CAMBENCH_BATCHES=1,16 and
// CAMBENCH_OPS=forward,forward+backward,gradcam,eigencam,decode select cases; CAMBENCH_SLOW=1 adds
// ablationcam and scorecam (ScoreCAM: 128 batch-16 forwards, timed once); CAMBENCH_JPEG names the
// large JPEG for "decode" (bench/run.sh makes a 4000×3000 one), CAMBENCH_IMAGES the other images.
// (release build: swift build -c release --scratch-path .build-bench --product CAMBench)
//
// CAM methods run on ResNet-50 only (EfficientNet-Lite0: GradCAM), batch 1, class 281, through
// CAMEngine.compute. "decode" times, per image, RGBImage(contentsOf:) alone; "decode+<preset>"
// the file to the model input, preprocess(contentsOf:preset:) (for a JPEG: only the crop's column
// band decoded, resampled while decoding), "full-decode-then-<preset>" the full decode then
// preprocess(_:preset:), and "draft-decode+<preset>" the opt-in draft: true (DCT-scaled decode,
// pixels differ from the reference), for the ResNet V2 preset (232 bilinear) and EfficientNet-Lite0's (256
// bicubic); those lines use the image's name and size as the model column.
//
// CAMBENCH_ONNX=DIR adds, after the built-in models, two cases per DIR/*.onnx (bench/onnx/export.py's
// full-size exports; bench/run.sh with CAMBENCH_ONNX=1 makes them): "<stem>.onnx forward 1" and
// "<stem>.onnx gradcam 1", Grad-CAM at the target layer of DIR/<stem>.json (pytorch-grad-cam's
// tutorial targets: layer4[-1], features[-1], encoder.layers[-1].ln_1; class 281), loaded with
// ModelStore.load(contentsOf:) and oneDNNWarmUpPasses = 0; a "#" line per model gives its load time
// and how far its logits are from PyTorch's (recorded by export.py for this very input).

// Debian's OpenBLAS may fall back to its generic "Prescott" kernels on CPUs it does not know, and
// oneDNN's OpenMP threads should wait passively; both are read only when the libraries load, so
// re-execute with them set (as the CLI does).
let wanted = LibraryEnvironment.preferred(ProcessInfo.processInfo.environment)
if !wanted.isEmpty {
    for (name, value) in wanted { setenv(name, value, 1) }
    let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", arguments)
    print("# CAMBench: could not re-execute with \(wanted); figures use the libraries' defaults")
}

// `CAMBench write-random-weights ARCHITECTURE PATH` writes the deterministic random weights of a
// built-in architecture as a safetensors checkpoint, then exits: bench/seed/run.sh uses it for
// the seed workflow's ResNet-50 on machines without PyTorch (with PyTorch it writes a .pth).
if CommandLine.arguments.count == 4, CommandLine.arguments[1] == "write-random-weights" {
    do {
        let network = try ModelStore.randomNetwork(architecture: CommandLine.arguments[2])
        try SafeTensors.write(ModelStore.stateDict(of: network), to: URL(fileURLWithPath: CommandLine.arguments[3]))
        exit(0)
    } catch {
        print("CAMBench write-random-weights: \(error)")
        exit(1)
    }
}

let repeats = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 5
let environment = ProcessInfo.processInfo.environment
let options = RuntimeOptions(environment: environment)
let oneDNN = options.allowsOneDNN
let slow = environment["CAMBENCH_SLOW"] == "1"
let operations = Set((environment["CAMBENCH_OPS"] ?? "forward,forward+backward,gradcam,eigencam,decode")
    .split(separator: ",").map(String.init) + (slow ? ["ablationcam", "scorecam", "road", "curves", "sanity"] : []))
print("# CAMBench: BLAS core \(BLAS.coreName), \(BLAS.threadCount) threads, inference convolutions on "
      + (oneDNN ? "oneDNN (\(OneDNNRuntime.instructionSet))" : "OpenBLAS") + ", OMP_WAIT_POLICY=\(environment["OMP_WAIT_POLICY"] ?? "default"), median of \(repeats)")

/// The median of the timings (issue 7 asks for medians: the minimum flatters whichever side had
/// a quiet moment on a shared machine).
func best(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

func time(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

func input(batch: Int) -> Tensor {
    var state: UInt32 = 12345
    return Tensor(shape: [batch, 3, 224, 224]) { buffer in
        for i in 0..<buffer.count {
            state = state &* 1_664_525 &+ 1_013_904_223
            buffer[i] = Float(state >> 8) / Float(1 << 24) * 4 - 2
        }
    }
}

/// Times decoding `path` and decoding + preprocessing it for the two presets (median of `repeats`).
func benchmarkDecoding(_ path: String, repeats: Int) throws {
    let url = URL(fileURLWithPath: path)
    let image = try RGBImage(contentsOf: url)
    let label = "\(url.lastPathComponent)-\(image.width)x\(image.height)"
    let decode = best(try (0..<repeats).map { _ in try time { _ = try RGBImage(contentsOf: url) } })
    print("\(label) decode 1 \(String(format: "%.1f", decode))")
    for (name, preset) in [("resnet_v2", InputPreset.resnetV2), ("efficientnet_lite0", InputPreset.efficientNetLite0)] {
        // The file straight to the model input (a JPEG: only the crop's band decoded, resampled while decoding).
        let total = best(try (0..<repeats).map { _ in
            try time { _ = try preprocess(contentsOf: url, preset: preset) }
        })
        print("\(label) decode+\(name) 1 \(String(format: "%.1f", total))")
        // The full decode, then the preset on the picture in memory.
        let separate = best(try (0..<repeats).map { _ in
            try time { _ = preprocess(try RGBImage(contentsOf: url), preset: preset) }
        })
        print("\(label) full-decode-then-\(name) 1 \(String(format: "%.1f", separate))")
        // The opt-in draft mode (DCT-scaled decode; not the reference pixels).
        let draft = best(try (0..<repeats).map { _ in
            try time { _ = try preprocess(contentsOf: url, preset: preset, draft: true) }
        })
        print("\(label) draft-decode+\(name) 1 \(String(format: "%.1f", draft))")
    }
}

/// The sidecar bench/onnx/export.py writes beside each model.
struct ONNXSidecar: Decodable {
    var target_layer: String
    var `class`: Int
    var cambench_input_logits: [Float]
}

/// Times every FOLDER/*.onnx (bench/onnx/export.py's full-size exports): the inference forward and
/// Grad-CAM at the sidecar's target layer (pytorch-grad-cam's tutorial target; without a sidecar the
/// network's default layer, class 281), batch 1, median of `repeats` after a warm-up.
func benchmarkONNX(folder: String, repeats: Int) throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".onnx") }.sorted()
    let x = input(batch: 1)
    for file in files {
        let path = folder + "/" + file
        let stem = String(file.dropLast(".onnx".count))
        let sidecarURL = URL(fileURLWithPath: folder + "/" + stem + ".json")
        let sidecar = FileManager.default.fileExists(atPath: sidecarURL.path)
            ? try JSONDecoder().decode(ONNXSidecar.self, from: Data(contentsOf: sidecarURL)) : nil
        var network: Network? = nil
        let load = try time { network = try ModelStore.load(contentsOf: path) }
        guard let network else { continue }
        network.options = options
        network.oneDNNWarmUpPasses = 0  // the steady state: every pass on oneDNN
        let layer = sidecar?.target_layer ?? network.defaultTargetLayer
        let logits = try network.forward(x).logits
        var note = ""
        if let reference = sidecar?.cambench_input_logits, reference.count == logits.count {
            let diff = zip(logits.storage, reference).map { abs($0 - $1) }.max() ?? 0
            let scale = reference.map(abs).max() ?? 0
            note = String(format: ", logits vs PyTorch: max abs diff %.3g (max |logit| %.4g)", diff, scale)
        }
        print("# \(file): loaded in \(String(format: "%.0f", load)) ms, \(network.outputCount) classes, "
              + "Grad-CAM at \(layer)\(note)")
        if operations.contains("forward") {
            _ = try network.forward(x)
            let forward = best(try (0..<repeats).map { _ in try time { _ = try network.forward(x) } })
            print("\(file) forward 1 \(String(format: "%.1f", forward))")
        }
        if operations.contains("gradcam") {
            let engine = CAMEngine(network: network)
            let target = ClassTarget.index(sidecar?.class ?? 281)
            let run = { _ = try engine.compute(GradCAM(), input: x, layers: [layer], targets: [target]) }
            try run()
            let gradcam = best(try (0..<repeats).map { _ in try time(run) })
            print("\(file) gradcam 1 \(String(format: "%.1f", gradcam))")
        }
    }
}

do {
    if operations.contains("decode") {
        let images = (environment["CAMBENCH_JPEG"].map { [$0] } ?? [])
            + (environment["CAMBENCH_IMAGES"] ?? "examples/images/chelsea.png").split(separator: ",").map(String.init)
        for path in images { try benchmarkDecoding(path, repeats: repeats) }
    }
    for architecture in (environment["CAMBENCH_MODELS"] ?? "resnet50,efficientnet_lite0").split(separator: ",").map(String.init) {
        let network = try Network.make(architecture: architecture)
        network.options = options
        network.oneDNNWarmUpPasses = 0  // the steady state: every pass on oneDNN
        for batch in (environment["CAMBENCH_BATCHES"] ?? "1,16").split(separator: ",").compactMap({ Int($0) }) {
            let x = input(batch: batch)
            let n = batch == 1 ? repeats : max(2, repeats / 2)
            if operations.contains("forward") {
                _ = try network.forward(x)
                let forward = best(try (0..<n).map { _ in try time { _ = try network.forward(x) } })
                print("\(architecture) forward \(batch) \(String(format: "%.1f", forward))")
            }
            if operations.contains("forward+backward") {
                var gradient = Tensor(shape: [batch, 1000])
                for b in 0..<batch { gradient[b, 281] = 1 }
                let pass = {
                    _ = try network.forward(x, retainForBackward: true)
                    _ = try network.backward(gradient, gradientsAt: [], inputGradient: true)
                }
                try pass()
                let backward = best(try (0..<n).map { _ in try time(pass) })
                print("\(architecture) forward+backward \(batch) \(String(format: "%.1f", backward))")
            }
            if operations.contains("gradcam"), batch == 1 {
                // pytorch-grad-cam's usual target: the last block (layer4[-1], _blocks[-1]), class 281.
                let layer = architecture.hasPrefix("resnet") ? "layer4[-1]" : "_blocks[-1]"
                let engine = CAMEngine(network: network)
                let run = { _ = try engine.compute(GradCAM(), input: x, layers: [layer], targets: [.index(281)]) }
                try run()
                let gradcam = best(try (0..<n).map { _ in try time(run) })
                print("\(architecture) gradcam \(batch) \(String(format: "%.1f", gradcam))")
            }
            if architecture.hasPrefix("resnet"), batch == 1 {
                let engine = CAMEngine(network: network)
                // ScoreCAM is timed once (about a minute per call); the others warm up, then the median of n.
                let methods: [(String, CAMMethod, Int)] = [("eigencam", EigenCAM(), n), ("ablationcam", AblationCAM(), n),
                                                           ("scorecam", ScoreCAM(), 1)]
                for (name, method, runs) in methods where operations.contains(name) {
                    let run = { _ = try engine.compute(method, input: x, layers: ["layer4[-1]"], targets: [.index(281)]) }
                    if runs > 1 { try run() }
                    let ms = best(try (0..<runs).map { _ in try time(run) })
                    print("\(architecture) \(name) \(batch) \(String(format: "%.1f", ms))")
                }
            }
            if architecture.hasPrefix("resnet"), batch == 1, operations.contains("road") {
                // ROAD combined (9 percentiles × 2 orders: 18 imputations and 19 forward passes) of
                // the Grad-CAM map at layer4[-1], class 281, pytorch-grad-cam's default noise 0.01.
                let engine = CAMEngine(network: network)
                let cam = try engine.compute(GradCAM(), input: x, layers: ["layer4[-1]"], targets: [.index(281)])
                let metrics = PerturbationMetrics(network: network)
                let run = { _ = try metrics.road(input: x, maps: cam.map, targets: .explained(cam.targets), order: .combined) }
                let runs = max(1, min(3, n))
                if runs > 1 { try run() }
                let ms = best(try (0..<runs).map { _ in try time(run) })
                print("\(architecture) road_combined \(batch) \(String(format: "%.1f", ms))")
            }
            if architecture.hasPrefix("resnet"), batch == 1, operations.contains("curves") {
                // Deletion and insertion at 224 steps (TorchCAM's definition, zero baseline,
                // softmax, batches of 8: the builtin's default) of the Grad-CAM map at layer4[-1],
                // class 281: 448 forward passes.
                let engine = CAMEngine(network: network)
                let cam = try engine.compute(GradCAM(), input: x, layers: ["layer4[-1]"], targets: [.index(281)])
                var metrics = PerturbationMetrics(network: network)
                metrics.batchSize = 8
                let run = {
                    _ = try metrics.curves(input: x, maps: cam.map, targets: .classes([.index(281)], score: .softmax),
                                           kinds: [.deletion, .insertion], steps: 224, baseline: .zero)
                }
                let runs = max(1, min(3, n))
                if runs > 1 { try run() }
                let ms = best(try (0..<runs).map { _ in try time(run) })
                print("\(architecture) deletion+insertion \(batch) \(String(format: "%.1f", ms))")
            }
            if architecture.hasPrefix("resnet"), batch == 1, operations.contains("sanity") {
                // Cascading model-parameter randomisation, one module per step from the top (107
                // steps for ResNet-50, Quantus' MPRT's), Grad-CAM at layer4[-1] for class 281 after
                // each, compared with the original by Spearman, |Spearman|, SSIM and HOG (Quantus'
                // MPRT computes Spearman alone). The network is put back after each run.
                let engine = CAMEngine(network: network)
                let check = SanityCheck(network: network)
                let run = {
                    _ = try check.modelRandomisation(granularity: .layer, seed: 0) {
                        try engine.compute(GradCAM(), input: x, layers: ["layer4[-1]"], targets: [.index(281)]).map
                    }
                }
                let runs = max(1, min(3, n))
                if runs > 1 { try run() }
                let ms = best(try (0..<runs).map { _ in try time(run) })
                print("\(architecture) sanity_model_layers \(batch) \(String(format: "%.1f", ms))")
            }
        }
    }
    if let folder = environment["CAMBENCH_ONNX"] {
        try benchmarkONNX(folder: folder, repeats: repeats)
    }
} catch {
    print("CAMBench: \(error)")
    exit(1)
}
