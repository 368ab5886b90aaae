import Foundation

/// How a layer's output maps onto the `[N, C, h, w]` grid a CAM weighs: as it is, channels last
/// (Swin's `[N, H, W, C]`), or tokens (a ViT's `[N, prefix + h·w, C]`, whose class, distillation
/// and register tokens are dropped) — pytorch-grad-cam's tutorial `reshape_transform`s, done by
/// the network so that every CAM method sees a grid.
public enum ActivationLayout: Equatable, Sendable {
    /// `[N, C, h, w]`, used as it is.
    case channelsFirst
    /// `[N, h, w, C]`, permuted to `[N, C, h, w]`.
    case channelsLast
    /// `[N, prefix + h·w, C]` with a square grid h = w: the first `prefix` tokens are dropped and
    /// the rest folded into `[N, C, h, w]`.
    case tokens(prefix: Int)

    /// The layout of a rank-3 token tensor `[N, T, C]`: the fewest prefix tokens that leave a
    /// square grid of at least 2 × 2, or nil when there is none.
    static func guessTokens(count: Int) -> ActivationLayout? {
        for prefix in 0..<count {
            let n = count - prefix
            let side = Int(Double(n).squareRoot().rounded())
            if n >= 4 && side * side == n { return .tokens(prefix: prefix) }
        }
        return nil
    }

    /// `tensor` as an `[N, C, h, w]` grid.
    func grid(_ tensor: Tensor) throws -> Tensor {
        switch self {
        case .channelsFirst:
            return tensor
        case .channelsLast:
            guard tensor.rank == 4 else { throw RuntimeError("expected [N, H, W, C], found \(Network.describe(tensor.shape))") }
            return ActivationLayout.permute(tensor, n: tensor.shape[0], rows: tensor.shape[1] * tensor.shape[2],
                                            columns: tensor.shape[3], skip: 0,
                                            result: [tensor.shape[0], tensor.shape[3], tensor.shape[1], tensor.shape[2]])
        case let .tokens(prefix):
            guard tensor.rank == 3, tensor.shape[1] > prefix else {
                throw RuntimeError("expected tokens [N, \(prefix) + h·w, C], found \(Network.describe(tensor.shape))")
            }
            let n = tensor.shape[1] - prefix
            let side = Int(Double(n).squareRoot().rounded())
            guard side * side == n else {
                throw RuntimeError("\(n) tokens after dropping \(prefix) are not a square grid")
            }
            return ActivationLayout.permute(tensor, n: tensor.shape[0], rows: n, columns: tensor.shape[2], skip: prefix,
                                            result: [tensor.shape[0], tensor.shape[2], side, side])
        }
    }

    /// An `[N, C, h, w]` grid back in this layout (channels last only: dropped tokens cannot come back).
    func ungrid(_ grid: Tensor) throws -> Tensor {
        switch self {
        case .channelsFirst:
            return grid
        case .channelsLast:
            let (n, c, h, w) = (grid.shape[0], grid.shape[1], grid.shape[2], grid.shape[3])
            return ActivationLayout.permute(grid, n: n, rows: c, columns: h * w, skip: 0, result: [n, h, w, c])
        case .tokens:
            throw RuntimeError("a layer of tokens cannot be run from a grid: its class and prefix tokens are not in it")
        }
    }

    /// Per batch item, the `[rows, columns]` matrix after `skip` leading rows, transposed.
    private static func permute(_ t: Tensor, n: Int, rows: Int, columns: Int, skip: Int, result: [Int]) -> Tensor {
        let total = rows + skip
        return Tensor(shape: result) { out in
            t.withUnsafeBufferPointer { src in
                for b in 0..<n {
                    let s = b * total * columns + skip * columns, d = b * rows * columns
                    for r in 0..<rows {
                        for c in 0..<columns { out[d + c * rows + r] = src[s + r * columns + c] }
                    }
                }
            }
        }
    }
}
