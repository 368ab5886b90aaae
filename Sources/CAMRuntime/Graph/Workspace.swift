import Foundation

/// Scratch memory that convolutions reuse across layers and passes instead of allocating and
/// zero-filling a column matrix for every call; grows to the largest request. One pass at a time
/// uses it (a network owns one).
final class Workspace {
    private var first: [Float] = []
    private var second: [Float] = []
    /// Whether inference passes may use oneDNN, and Winograd in it; a change takes effect at
    /// the next pass (the engine is made again).
    var options: RuntimeOptions {
        didSet { if options != oldValue { engine = (false, nil) } }
    }
    /// The engine, created on first use; nil after a failed creation (OpenBLAS is used then).
    private var engine: (tried: Bool, value: OneDNNEngine?) = (false, nil)

    init(options: RuntimeOptions = RuntimeOptions()) {
        self.options = options
    }

    /// Inference passes that run on OpenBLAS before oneDNN takes over. Making oneDNN's
    /// primitives (JIT kernels, weights reordered, BN-folded and Winograd-transformed into a
    /// second copy) costs about a forward pass and ResNet-50's weights again in memory, which a
    /// process that explains one image or two never earns back (bench/seed); ScoreCAM's
    /// thousands of passes and a REPL that keeps going do.
    var oneDNNWarmUpPasses = 2
    /// Passes begun so far (`beginPass`).
    private(set) var passes = 0

    /// Counts a forward pass; oneDNN serves the passes after the warm-up ones.
    func beginPass() {
        passes += 1
    }

    /// The oneDNN engine for the current pass, or nil when oneDNN is off or unavailable, or
    /// the pass is one of the warm-up passes.
    var oneDNN: OneDNNEngine? {
        oneDNNWarmUpPasses == 0 || passes > oneDNNWarmUpPasses ? oneDNNEngine : nil
    }

    /// Whether oneDNN will serve inference once warmed up (it is on and its engine works).
    var usesOneDNNEventually: Bool { oneDNNEngine != nil }

    private var oneDNNEngine: OneDNNEngine? {
        guard options.allowsOneDNN else { return nil }
        if !engine.tried { engine = (true, try? OneDNNEngine(allowsWinograd: options.allowsWinograd)) }
        return engine.value
    }

    /// Calls `body` with two scratch buffers of at least the given sizes; their contents are undefined.
    func withBuffers<R>(_ firstCount: Int, _ secondCount: Int,
                        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> R) -> R {
        if first.count < Swift.max(firstCount, 1) { first = [Float](repeating: 0, count: Swift.max(firstCount, 1)) }
        if second.count < Swift.max(secondCount, 1) { second = [Float](repeating: 0, count: Swift.max(secondCount, 1)) }
        return first.withUnsafeMutableBufferPointer { a in
            second.withUnsafeMutableBufferPointer { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else {
                    preconditionFailure("a non-empty array has storage")
                }
                return body(pa, pb)
            }
        }
    }
}
