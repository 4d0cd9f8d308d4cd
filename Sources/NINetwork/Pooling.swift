import NITensor

/// Max pooling over `k x k` windows with stride `s` (no padding; windows that do not fit are dropped, as in
/// PyTorch's default floor mode):  `y[n,c,i,j] = max_{u,v<k} x[n, c, i·s+u, j·s+v]`.
///
/// backward routes each gradient to the arg-max of its window (first maximum on ties); the rectified
/// backward is the same routing (max-pool has no sign gate of its own).
public final class MaxPool2D: Layer {
    public let kind = "MaxPool"
    public let kernel, stride: Int
    private var inputShape: [Int] = []
    private var argmax: [Int32] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0]), rdx = Tensor(shape: [0])

    public init(kernel: Int = 2, stride: Int? = nil) { self.kernel = kernel; self.stride = stride ?? kernel }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4, s[2] >= kernel, s[3] >= kernel else {
            throw ShapeError.mismatch(layer: "MaxPool \(kernel)x\(kernel)", expected: "[N, C, H>=\(kernel), W>=\(kernel)]", got: s)
        }
        return [s[0], s[1], (s[2] - kernel) / stride + 1, (s[3] - kernel) / stride + 1]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inputShape = x.shape
        let (h, w) = (x.shape[2], x.shape[3])
        let oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1
        output.resize([x.shape[0], x.shape[1], oh, ow])
        let planes = x.shape[0] * x.shape[1]
        if argmax.count != output.count { argmax = [Int32](repeating: 0, count: output.count) }
        let k = kernel, s = stride, xd = x.data, yd = output.data
        argmax.withUnsafeMutableBufferPointer { am in
            let amp = am.baseAddress!
            Parallel.forEachChunk(planes, chunks: planes * h * w < parallelThreshold ? 1 : Parallel.threadCount) { _, r in
                for p in r {
                    let src = xd + p * h * w, dst = yd + p * oh * ow, idx = amp + p * oh * ow
                    if k == 2 && s == 2 {
                        // The common 2x2/2 window, unrolled.
                        for i in 0..<oh {
                            let r0 = src + 2 * i * w, r1 = r0 + w
                            for j in 0..<ow {
                                let a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1]
                                var best = a, bi = 2 * i * w + 2 * j
                                if b > best { best = b; bi = 2 * i * w + 2 * j + 1 }
                                if c > best { best = c; bi = (2 * i + 1) * w + 2 * j }
                                if d > best { best = d; bi = (2 * i + 1) * w + 2 * j + 1 }
                                dst[i * ow + j] = best
                                idx[i * ow + j] = Int32(bi)
                            }
                        }
                        continue
                    }
                    for i in 0..<oh {
                        for j in 0..<ow {
                            var best = -Float.infinity, bi = (i * s) * w + j * s
                            for u in 0..<k {
                                let row = (i * s + u) * w + j * s
                                for v in 0..<k where src[row + v] > best { best = src[row + v]; bi = row + v }
                            }
                            dst[i * ow + j] = best
                            idx[i * ow + j] = Int32(bi)
                        }
                    }
                }
            }
        }
        return output
    }

    private func route(_ dy: Tensor, into dx: Tensor) -> Tensor {
        dx.resize(inputShape)
        let hw = inputShape[2] * inputShape[3], ohw = output.shape[2] * output.shape[3]
        let planes = inputShape[0] * inputShape[1], g = dy.data, d = dx.data
        argmax.withUnsafeBufferPointer { am in
            let amp = am.baseAddress!
            Parallel.forEachChunk(planes, chunks: planes * hw < parallelThreshold ? 1 : Parallel.threadCount) { _, r in
                for p in r {
                    let dst = d + p * hw, src = g + p * ohw, idx = amp + p * ohw
                    dst.update(repeating: 0, count: hw)
                    for o in 0..<ohw { dst[Int(idx[o])] += src[o] }
                }
            }
        }
        return dx
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        inputGradient ? route(dy, into: dx) : dy
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { route(dy, into: rdx) }
}

/// Average pooling over `k x k` windows with stride `s` and symmetric zero padding `p`; the divisor counts
/// only the pixels inside the image unless `countIncludePad` (ONNX `AveragePool` semantics).
/// Linear: the rectified backward equals the exact input gradient.
public final class AvgPool2D: Layer {
    public let kind = "AveragePool"
    public let kernel, stride, padding: Int
    public let countIncludePad: Bool
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(kernel: Int = 2, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = false) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding; self.countIncludePad = countIncludePad
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4, s[2] + 2 * padding >= kernel, s[3] + 2 * padding >= kernel else {
            throw ShapeError.mismatch(layer: "AveragePool \(kernel)x\(kernel)", expected: "[N, C, H, W] with H, W >= kernel", got: s)
        }
        return [s[0], s[1], (s[2] + 2 * padding - kernel) / stride + 1, (s[3] + 2 * padding - kernel) / stride + 1]
    }

    /// Calls `body(outputIndex, inputIndex, 1/divisor)` for every (output, input) pair of one plane.
    @inline(__always)
    private func forEachTap(h: Int, w: Int, _ body: (Int, Int, Float) -> Void) {
        let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
        for i in 0..<oh {
            for j in 0..<ow {
                let y0 = i * stride - padding, x0 = j * stride - padding
                let ya = Swift.max(y0, 0), yb = Swift.min(y0 + kernel, h), xa = Swift.max(x0, 0), xb = Swift.min(x0 + kernel, w)
                let n = countIncludePad ? kernel * kernel : Swift.max((yb - ya) * (xb - xa), 1)
                let inv = 1 / Float(n)
                for y in ya..<yb { for x in xa..<xb { body(i * ow + j, y * w + x, inv) } }
            }
        }
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inputShape = x.shape
        let s = try! outputShape(for: x.shape)
        output.resize(s); output.zero()
        let (h, w) = (x.shape[2], x.shape[3]), ohw = s[2] * s[3]
        for p in 0..<(s[0] * s[1]) {
            let src = x.data + p * h * w, dst = output.data + p * ohw
            forEachTap(h: h, w: w) { o, i, inv in dst[o] += src[i] * inv }
        }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient else { return dy }
        dx.resize(inputShape); dx.zero()
        let (h, w) = (inputShape[2], inputShape[3]), ohw = output.shape[2] * output.shape[3]
        for p in 0..<(inputShape[0] * inputShape[1]) {
            let src = dy.data + p * ohw, dst = dx.data + p * h * w
            forEachTap(h: h, w: w) { o, i, inv in dst[i] += src[o] * inv }
        }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { backward(dy, parameterGradients: false, inputGradient: true) }
}

/// Global average pooling, `y[n,c,0,0] = mean_{i,j} x[n,c,i,j]`. Linear: rectified backward = backward.
public final class GlobalAveragePool: Layer {
    public let kind = "GlobalAveragePool"
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])
    public init() {}

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4 else { throw ShapeError.mismatch(layer: "GlobalAveragePool", expected: "[N, C, H, W]", got: s) }
        return [s[0], s[1], 1, 1]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inputShape = x.shape
        let planes = x.shape[0] * x.shape[1], hw = x.shape[2] * x.shape[3]
        output.resize([x.shape[0], x.shape[1], 1, 1])
        for p in 0..<planes {
            var s: Float = 0
            let src = x.data + p * hw
            for i in 0..<hw { s += src[i] }
            output.data[p] = s / Float(hw)
        }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient else { return dy }
        dx.resize(inputShape)
        let planes = inputShape[0] * inputShape[1], hw = inputShape[2] * inputShape[3]
        for p in 0..<planes { (dx.data + p * hw).update(repeating: dy.data[p] / Float(hw), count: hw) }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { backward(dy, parameterGradients: false, inputGradient: true) }
}
