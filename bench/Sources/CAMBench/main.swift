import CAMRuntime
import Foundation

// Times the runtime on ResNet-50 and EfficientNet-Lite0 (random weights): the inference forward
// and forward + backward to the input, batch 1 and 16. Prints one line per case,
// "<model> <op> <batch> <best ms>" (the best of the repeats: the machine is
// shared, and the minimum is the figure least disturbed by other processes), which bench/run.sh sets beside PyTorch's figures.
// Usage: CAMBench [repeats]; CAMBENCH_MODELS=resnet50 and CAMBENCH_BATCHES=1,16 select cases   (release build: swift run -c release --scratch-path .build-runtime CAMBench)

// Debian's OpenBLAS may fall back to its generic "Prescott" kernels on CPUs it does not know;
// the core type can only be chosen before the library loads, so re-execute with it set (as the CLI does).
if let core = BLAS.preferredCoreType(environment: ProcessInfo.processInfo.environment) {
    setenv("OPENBLAS_CORETYPE", core, 1)
    let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", arguments)
    print("# CAMBench: could not re-execute with OPENBLAS_CORETYPE=\(core); figures use \(BLAS.coreName)")
}

let repeats = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 5
print("# CAMBench: BLAS core \(BLAS.coreName), \(BLAS.threadCount) threads, best of \(repeats)")

func best(_ values: [Double]) -> Double {
    values.min() ?? .nan
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

do {
    for architecture in (ProcessInfo.processInfo.environment["CAMBENCH_MODELS"] ?? "resnet50,efficientnet_lite0").split(separator: ",").map(String.init) {
        let network = try Network.make(architecture: architecture)
        for batch in (ProcessInfo.processInfo.environment["CAMBENCH_BATCHES"] ?? "1,16").split(separator: ",").compactMap({ Int($0) }) {
            let x = input(batch: batch)
            let n = batch == 1 ? repeats : max(2, repeats / 2)
            _ = try network.forward(x)
            let forward = best(try (0..<n).map { _ in try time { _ = try network.forward(x) } })
            print("\(architecture) forward \(batch) \(String(format: "%.1f", forward))")
            var gradient = Tensor(shape: [batch, 1000])
            for b in 0..<batch { gradient[b, 281] = 1 }
            let backward = best(try (0..<n).map { _ in
                try time {
                    _ = try network.forward(x, retainForBackward: true)
                    _ = try network.backward(gradient, gradientsAt: [], inputGradient: true)
                }
            })
            print("\(architecture) forward+backward \(batch) \(String(format: "%.1f", backward))")
        }
    }
} catch {
    print("CAMBench: \(error)")
    exit(1)
}
