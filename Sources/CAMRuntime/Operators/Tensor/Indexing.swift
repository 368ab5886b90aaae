import Foundation

/// ONNX Concat: the inputs joined along `axis` (negative counts from the end); all other
/// dimensions must agree. Backward hands each input its part of the gradient.
///
/// ONNX Split has several outputs, which a graph node does not: the importer lowers it into
/// one `StridedSlice` per output.
final class Concat: Operator {
    /// Affine in the inputs that carry a tangent (ShapleyCAM).
    override var tangentRule: TangentRule { .affine }

    let axis: Int

    init(axis: Int) {
        self.axis = axis
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        guard let first = inputs.first else { throw RuntimeError("Concat expected at least one input, found none") }
        let axis = try Arguments.axis(self.axis, rank: first.rank)
        var shape = first.shape
        shape[axis] = 0
        for input in inputs {
            var other = input.shape
            if other.count == shape.count { other[axis] = 0 }
            guard other == shape else {
                throw RuntimeError("cannot concatenate \(inputs.map { Network.describe($0.shape) }.joined(separator: ", ")) "
                                   + "along axis \(self.axis): the other dimensions differ")
            }
        }
        shape[axis] = inputs.reduce(0) { $0 + $1.shape[axis] }
        try Arguments.elementCount(shape)
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let row = shape[axis] * inner
        var output = Tensor(shape: shape)
        output.withUnsafeMutableBufferPointer { out in
            guard let o = out.baseAddress else { return }
            var column = 0
            for input in inputs {
                let chunk = input.shape[axis] * inner
                input.withUnsafeBufferPointer { source in
                    guard let s = source.baseAddress, chunk > 0 else { return }
                    for i in 0..<outer { (o + i * row + column).update(from: s + i * chunk, count: chunk) }
                }
                column += chunk
            }
        }
        if step.retain { step.saved.shapes = inputs.map(\.shape) }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shapes.count == step.needs.count, let first = saved.shapes.first else { throw unmatchedBackward }
        let axis = try Arguments.axis(self.axis, rank: first.count)
        let outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        let row = saved.shapes.reduce(0) { $0 + $1[axis] } * inner
        guard gradient.count == outer * row else { throw unmatchedBackward }
        var column = 0
        var result: [Tensor?] = []
        for (k, shape) in saved.shapes.enumerated() {
            let chunk = shape[axis] * inner
            if step.needs[k] {
                result.append(gradient.withUnsafeBufferPointer { g in
                    Tensor(shape: shape) { out in
                        guard let gp = g.baseAddress, let o = out.baseAddress else { return }
                        for i in 0..<outer { (o + i * chunk).update(from: gp + i * row + column, count: chunk) }
                    }
                })
            } else {
                result.append(nil)
            }
            column += chunk
        }
        return result
    }
}

/// ONNX Slice (opset ≥ 10): along each of `axes` (default: the first ones), the elements
/// from `starts` up to `ends` (exclusive) by `steps` (default 1; negative walks backwards).
///
/// Bounds follow ONNX: negative ones count from the end, then clamp to [0, size] (to
/// [−1, size − 1] for a negative step), so INT64_MAX and INT64_MIN mean "to the end".
/// (Not named Slice, which would hide Swift's.)
final class StridedSlice: Operator {
    override var kind: String { "Slice" }

    /// What a slice reads: the first element's index, the steps, and the result shape.
    private struct Window {
        var begin: [Int], steps: [Int], shape: [Int]
    }

    private func window(_ inputs: [Tensor]) throws -> Window {
        let data = inputs[0]
        let starts = try Arguments.integers(inputs[1], "starts")
        let ends = try Arguments.integers(inputs[2], "ends")
        let axes = inputs.count > 3 ? try Arguments.integers(inputs[3], "axes") : Array(0..<starts.count)
        let steps = inputs.count > 4 ? try Arguments.integers(inputs[4], "steps") : [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw RuntimeError("expected as many ends, axes and steps as starts (\(starts.count)), found "
                               + "\(ends.count), \(axes.count) and \(steps.count)")
        }
        let normalized = try axes.map { try Arguments.axis($0, rank: data.rank) }
        guard Set(normalized).count == normalized.count else {
            throw RuntimeError("Slice axes \(Network.describe(axes)) repeat an axis")
        }
        var w = Window(begin: [Int](repeating: 0, count: data.rank), steps: [Int](repeating: 1, count: data.rank),
                       shape: data.shape)
        for (i, axis) in normalized.enumerated() {
            let size = data.shape[axis], step = steps[i]
            guard step != 0 else { throw RuntimeError("Slice step along axis \(axes[i]) is 0") }
            var start = starts[i] < 0 ? starts[i] + size : starts[i]
            var end = ends[i] < 0 ? ends[i] + size : ends[i]
            let count: Int
            if step > 0 {
                start = Swift.min(Swift.max(start, 0), size)
                end = Swift.min(Swift.max(end, 0), size)
                count = end > start ? (end - start + step - 1) / step : 0
            } else {
                start = Swift.min(Swift.max(start, 0), size - 1)
                end = Swift.min(Swift.max(end, -1), size - 1)
                count = start > end && size > 0 ? (start - end - step - 1) / -step : 0
            }
            w.begin[axis] = count > 0 ? start : 0
            w.steps[axis] = step
            w.shape[axis] = count
        }
        return w
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 3...5, "data, starts, ends, axes, steps")
        let data = inputs[0]
        let w = try window(inputs)
        let strides = Arguments.strides(data.shape)
        let base = zip(w.begin, strides).reduce(0) { $0 + $1.0 * $1.1 }
        if step.retain { step.saved.shapes = [data.shape, w.begin, w.steps, w.shape] }
        return data.withUnsafeBufferPointer { source in
            Tensor(shape: w.shape) { out in
                guard let s = source.baseAddress, let o = out.baseAddress else { return }
                StridedLoop.copy(shape: w.shape, from: s, zip(strides, w.steps).map { $0 * $1 }, to: o,
                                 Arguments.strides(w.shape), sourceBase: base)
            }
        }
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shapes.count == 4, saved.shapes[3] == gradient.shape else { throw unmatchedBackward }
        let (shape, begin, steps) = (saved.shapes[0], saved.shapes[1], saved.shapes[2])
        let strides = Arguments.strides(shape)
        let base = zip(begin, strides).reduce(0) { $0 + $1.0 * $1.1 }
        var result = Tensor(shape: shape)
        result.withUnsafeMutableBufferPointer { out in
            gradient.withUnsafeBufferPointer { g in
                guard let o = out.baseAddress, let gp = g.baseAddress else { return }
                StridedLoop.copy(shape: gradient.shape, from: gp, Arguments.strides(gradient.shape), to: o,
                                 zip(strides, steps).map { $0 * $1 }, destinationBase: base)
            }
        }
        return [result] + Array(repeating: nil, count: Swift.max(step.needs.count - 1, 0))
    }
}

/// ONNX Gather: entries of the data along `axis` picked by an indices tensor of any rank
/// (negative indices count from the end); the result's shape is the data's with that axis
/// replaced by the indices' shape. Backward adds the gradient into the picked entries (an
/// entry picked twice gets both).
final class Gather: Operator {
    let axis: Int

    init(axis: Int = 0) {
        self.axis = axis
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...2, "data, indices")
        let (data, indexTensor) = (inputs[0], inputs[1])
        guard data.rank >= 1 else { throw RuntimeError("Gather expects data of rank 1 or more, found a scalar") }
        let axis = try Arguments.axis(self.axis, rank: data.rank)
        let size = data.shape[axis]
        let indices = try indexTensor.storage.map { value -> Int in
            let index = try Arguments.integer(value, "index")
            guard index >= -size, index < size else {
                throw RuntimeError("index \(index) is out of range for axis \(self.axis) of size \(size)")
            }
            return index < 0 ? index + size : index
        }
        let shape = Array(data.shape[..<axis]) + indexTensor.shape + Array(data.shape[(axis + 1)...])
        try Arguments.elementCount(shape)
        let outer = data.shape[..<axis].reduce(1, *)
        let inner = data.shape[(axis + 1)...].reduce(1, *)
        let output = data.withUnsafeBufferPointer { source in
            Tensor(shape: shape) { out in
                guard let s = source.baseAddress, let o = out.baseAddress else { return }
                for i in 0..<outer {
                    for (j, index) in indices.enumerated() {
                        (o + (i * indices.count + j) * inner).update(from: s + (i * size + index) * inner, count: inner)
                    }
                }
            }
        }
        if step.retain {
            step.saved.shape = data.shape
            step.saved.indices = indices.map { Int32($0) }
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        let shape = saved.shape
        guard !shape.isEmpty, let axis = try? Arguments.axis(self.axis, rank: shape.count) else { throw unmatchedBackward }
        let size = shape[axis]
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let indices = saved.indices
        guard gradient.count == outer * indices.count * inner else { throw unmatchedBackward }
        var result = Tensor(shape: shape)
        result.withUnsafeMutableBufferPointer { out in
            gradient.withUnsafeBufferPointer { g in
                guard let o = out.baseAddress, let gp = g.baseAddress else { return }
                for i in 0..<outer {
                    for (j, index) in indices.enumerated() {
                        let d = o + (i * size + Int(index)) * inner, s = gp + (i * indices.count + j) * inner
                        for e in 0..<inner { d[e] += s[e] }
                    }
                }
            }
        }
        return [result, nil]
    }
}

/// ONNX Pad in constant mode: the data with `pads` elements of the constant value (the
/// third input, 0 without it) added before and after each axis, pads in ONNX order
/// [x1_begin, x2_begin, …, x1_end, x2_end, …] over all axes or over the fourth input's axes.
/// Negative pads crop. Reflect, edge and wrap modes are refused.
final class Pad: Operator {
    /// ONNX's mode attribute ("constant", "reflect", "edge", "wrap").
    let mode: String

    init(mode: String = "constant") {
        self.mode = mode
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 2...4, "data, pads, constant_value, axes")
        guard mode == "constant" else {
            throw RuntimeError("Pad mode \"\(mode)\" is not supported: only \"constant\" is")
        }
        let data = inputs[0]
        let pads = try Arguments.integers(inputs[1], "pads")
        let value = inputs.count > 2 && inputs[2].count > 0 ? try Arguments.scalar(inputs[2], "constant_value") : 0
        let axes = inputs.count > 3
            ? try Arguments.integers(inputs[3], "axes").map { try Arguments.axis($0, rank: data.rank) }
            : Array(0..<data.rank)
        guard Set(axes).count == axes.count else { throw RuntimeError("Pad axes repeat an axis") }
        guard pads.count == 2 * axes.count else {
            throw RuntimeError("expected \(2 * axes.count) pads for \(axes.count) axes of \(Network.describe(data.shape)), "
                               + "found \(pads.count)")
        }
        var before = [Int](repeating: 0, count: data.rank), after = before
        for (i, axis) in axes.enumerated() {
            before[axis] = pads[i]
            after[axis] = pads[i + axes.count]
        }
        let shape = data.shape.indices.map { data.shape[$0] + before[$0] + after[$0] }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw RuntimeError("pads \(Network.describe(pads)) crop \(Network.describe(data.shape)) below nothing")
        }
        try Arguments.elementCount(shape)
        let region = Region(input: data.shape, output: shape, before: before)
        var output = Tensor(shape: shape, repeating: value)
        output.withUnsafeMutableBufferPointer { out in
            data.withUnsafeBufferPointer { source in
                guard let o = out.baseAddress, let s = source.baseAddress else { return }
                StridedLoop.copy(shape: region.shape, from: s, region.inputStrides, to: o, region.outputStrides,
                                 sourceBase: region.inputBase, destinationBase: region.outputBase)
            }
        }
        if step.retain {
            step.saved.shapes = [data.shape, shape, before, inputs.count > 2 ? inputs[2].shape : []]
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shapes.count == 4, saved.shapes[1] == gradient.shape else { throw unmatchedBackward }
        let region = Region(input: saved.shapes[0], output: saved.shapes[1], before: saved.shapes[2])
        var result = Tensor(shape: saved.shapes[0])
        result.withUnsafeMutableBufferPointer { out in
            gradient.withUnsafeBufferPointer { g in
                guard let o = out.baseAddress, let gp = g.baseAddress else { return }
                StridedLoop.copy(shape: region.shape, from: gp, region.outputStrides, to: o, region.inputStrides,
                                 sourceBase: region.outputBase, destinationBase: region.inputBase)
            }
        }
        var gradients: [Tensor?] = [step.needs.first == true ? result : nil]
        gradients += Array(repeating: nil, count: Swift.max(step.needs.count - 1, 0))
        // The constant's gradient: the gradient at the padding, all but the copied region.
        if step.needs.count > 2 && step.needs[2] && saved.shapes[3].reduce(1, *) == 1 {
            gradients[2] = Tensor(shape: saved.shapes[3], storage: [gradient.sum - result.sum])
        }
        return gradients
    }

    /// The part of the input that the output keeps, in both.
    private struct Region {
        var shape: [Int]
        var inputStrides: [Int], outputStrides: [Int]
        var inputBase = 0, outputBase = 0

        init(input: [Int], output: [Int], before: [Int]) {
            inputStrides = Arguments.strides(input)
            outputStrides = Arguments.strides(output)
            shape = []
            for axis in input.indices {
                let from = Swift.max(0, -before[axis]), to = Swift.max(0, before[axis])
                shape.append(Swift.max(0, Swift.min(input[axis] - from, output[axis] - to)))
                inputBase += from * inputStrides[axis]
                outputBase += to * outputStrides[axis]
            }
        }
    }
}

/// ONNX ScatterND: a copy of the data with the slices addressed by the last axis of
/// `indices` replaced by (or, with reduction "add", increased by) `updates`.
///
/// Backward: the data's gradient is the output's except at replaced slices, and the
/// updates' gradient is the output's at their slices. ONNX leaves repeated indices
/// undefined without a reduction; here the last write wins and every copy gets the gradient.
final class ScatterND: Operator {
    /// ONNX's reduction attribute: "none" or "add" ("mul", "max", "min" are refused).
    let reduction: String

    init(reduction: String = "none") {
        self.reduction = reduction
    }

    override func forward(_ inputs: [Tensor], _ step: inout ForwardStep) throws -> Tensor {
        try checkInputCount(inputs, 3...3, "data, indices, updates")
        guard reduction == "none" || reduction == "add" else {
            throw RuntimeError("ScatterND reduction \"\(reduction)\" is not supported: only \"none\" and \"add\" are")
        }
        let (data, indexTensor, updates) = (inputs[0], inputs[1], inputs[2])
        guard indexTensor.rank >= 1, let depth = indexTensor.shape.last, depth <= data.rank else {
            throw RuntimeError("expected indices [..., q] with q ≤ \(data.rank), found \(Network.describe(indexTensor.shape))")
        }
        let expected = Array(indexTensor.shape.dropLast()) + Array(data.shape[depth...])
        guard updates.shape == expected else {
            throw RuntimeError("expected updates \(Network.describe(expected)), found \(Network.describe(updates.shape))")
        }
        let strides = Arguments.strides(data.shape)
        let slice = data.shape[depth...].reduce(1, *)
        let count = indexTensor.shape.dropLast().reduce(1, *)
        var offsets: [Int] = []
        offsets.reserveCapacity(count)
        for i in 0..<count {
            var offset = 0
            for j in 0..<depth {
                let size = data.shape[j]
                let index = try Arguments.integer(indexTensor.storage[i * depth + j], "index")
                guard index >= -size, index < size else {
                    throw RuntimeError("index \(index) is out of range for axis \(j) of size \(size)")
                }
                offset += (index < 0 ? index + size : index) * strides[j]
            }
            offsets.append(offset)
        }
        let adds = reduction == "add"
        var output = data
        output.withUnsafeMutableBufferPointer { out in
            updates.withUnsafeBufferPointer { source in
                guard let o = out.baseAddress, let s = source.baseAddress else { return }
                for (i, offset) in offsets.enumerated() {
                    if adds {
                        for e in 0..<slice { o[offset + e] += s[i * slice + e] }
                    } else {
                        (o + offset).update(from: s + i * slice, count: slice)
                    }
                }
            }
        }
        if step.retain {
            step.saved.indices = offsets.map { Int32($0) }
            step.saved.shapes = [data.shape, updates.shape, [slice]]
        }
        return output
    }

    override func backward(_ gradient: Tensor, _ saved: Saved, _ step: BackwardStep) throws -> [Tensor?] {
        guard saved.shapes.count == 3, saved.shapes[0] == gradient.shape, step.needs.count == 3,
              let slice = saved.shapes[2].first else { throw unmatchedBackward }
        let offsets = saved.indices.map { Int($0) }
        var result: [Tensor?] = [nil, nil, nil]
        if step.needs[0] {
            var data = gradient
            if reduction != "add" {
                data.withUnsafeMutableBufferPointer { g in
                    guard let gp = g.baseAddress else { return }
                    for offset in offsets { (gp + offset).update(repeating: 0, count: slice) }
                }
            }
            result[0] = data
        }
        if step.needs[2] {
            result[2] = gradient.withUnsafeBufferPointer { g in
                Tensor(shape: saved.shapes[1]) { out in
                    guard let gp = g.baseAddress, let o = out.baseAddress else { return }
                    for (i, offset) in offsets.enumerated() { (o + i * slice).update(from: gp + offset, count: slice) }
                }
            }
        }
        return result
    }
}
