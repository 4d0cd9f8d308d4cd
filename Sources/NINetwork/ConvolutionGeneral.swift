import NITensor

/// 2-D convolution with groups and dilations (ONNX `Conv` in full; `Conv2D` is the faster group-1,
/// dilation-1 case):
///
///     y[n,o,i,j] = b[o] + Σ_{c<C/G,u,v} W[o,c,u,v] · x[n, g(o)·C/G + c, i·s_h + u·d_h − p_top, j·s_w + v·d_w − p_left]
///
/// with `g(o) = o / (M/G)` the group of output channel o. Lowered per image and group to GEMM on an explicit
/// dilated column matrix: `Y_g = W_g · col_g`; backward `dW_g += dY_g · col_gᵀ`, `db += Σ dY`,
/// `dx_g = col2im(W_gᵀ · dY_g)`. Linear in x: the rectified backward is the exact input gradient.
public final class GroupedConv2D: Layer {
    public let kind = "Conv"
    public let inChannels, outChannels, groups, kernelH, kernelW, strideH, strideW, dilationH, dilationW: Int
    public let padTop, padLeft, padBottom, padRight: Int
    /// `[M, C/G, kh, kw]`
    public let weight: Parameter
    /// `[M]`
    public let bias: Parameter
    private var input: Tensor?
    private var h = 0, w = 0, oh = 0, ow = 0
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])
    private var cols = Scratch(), dws = Scratch()
    private var workspaces: [GEMM.Workspace] = []

    public init(inChannels: Int, outChannels: Int, groups: Int, kernel: (Int, Int), stride: (Int, Int), dilation: (Int, Int),
                padding: (top: Int, left: Int, bottom: Int, right: Int), name: String = "conv") {
        self.inChannels = inChannels; self.outChannels = outChannels; self.groups = groups
        kernelH = kernel.0; kernelW = kernel.1; strideH = stride.0; strideW = stride.1; dilationH = dilation.0; dilationW = dilation.1
        padTop = padding.top; padLeft = padding.left; padBottom = padding.bottom; padRight = padding.right
        weight = Parameter(name: "\(name).weight", shape: [outChannels, inChannels / Swift.max(groups, 1), kernel.0, kernel.1])
        bias = Parameter(name: "\(name).bias", shape: [outChannels])
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4, s[1] == inChannels, groups >= 1, inChannels % groups == 0, outChannels % groups == 0 else {
            throw ShapeError.mismatch(layer: "Conv(\(inChannels)->\(outChannels), groups \(groups))", expected: "[N, \(inChannels), H, W]", got: s)
        }
        let eh = (kernelH - 1) * dilationH + 1, ew = (kernelW - 1) * dilationW + 1
        let o1 = s[2] + padTop + padBottom - eh, o2 = s[3] + padLeft + padRight - ew
        guard o1 >= 0, o2 >= 0, strideH > 0, strideW > 0 else {
            throw ShapeError.mismatch(layer: "Conv \(kernelH)x\(kernelW) dilation \(dilationH)x\(dilationW)", expected: "spatial size >= dilated kernel", got: s)
        }
        return [s[0], outChannels, o1 / strideH + 1, o2 / strideW + 1]
    }

    private var patch: Int { inChannels / groups * kernelH * kernelW }

    /// Column matrix `[C/G·kh·kw, OH·OW]` of channels `c0 ..< c0 + C/G` of one image.
    private func im2col(_ x: UnsafePointer<Float>, c0: Int, into col: UnsafeMutablePointer<Float>) {
        let cg = inChannels / groups, p = oh * ow
        var row = 0
        for c in 0..<cg {
            let plane = x + (c0 + c) * h * w
            for u in 0..<kernelH {
                for v in 0..<kernelW {
                    let dst = col + row * p
                    for i in 0..<oh {
                        let iy = i * strideH + u * dilationH - padTop
                        let out = dst + i * ow
                        if iy < 0 || iy >= h { out.update(repeating: 0, count: ow); continue }
                        let src = plane + iy * w
                        for j in 0..<ow {
                            let ix = j * strideW + v * dilationW - padLeft
                            out[j] = ix >= 0 && ix < w ? src[ix] : 0
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Adjoint of `im2col`: accumulates `col` into channels `c0 ..< c0 + C/G` of `x`.
    private func col2im(_ col: UnsafePointer<Float>, c0: Int, into x: UnsafeMutablePointer<Float>) {
        let cg = inChannels / groups, p = oh * ow
        var row = 0
        for c in 0..<cg {
            let plane = x + (c0 + c) * h * w
            for u in 0..<kernelH {
                for v in 0..<kernelW {
                    let src = col + row * p
                    for i in 0..<oh {
                        let iy = i * strideH + u * dilationH - padTop
                        if iy < 0 || iy >= h { continue }
                        let dst = plane + iy * w
                        for j in 0..<ow {
                            let ix = j * strideW + v * dilationW - padLeft
                            if ix >= 0 && ix < w { dst[ix] += src[i * ow + j] }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        input = x
        h = x.shape[2]; w = x.shape[3]
        let s = (try? outputShape(for: x.shape)) ?? [x.shape[0], outChannels, 1, 1]
        oh = s[2]; ow = s[3]
        output.resize(s)
        let n = x.shape[0], p = oh * ow, k = patch, mg = outChannels / groups
        let workers = Swift.min(Parallel.threadCount, Swift.max(n, 1))
        while workspaces.count < workers { workspaces.append(GEMM.Workspace()) }
        for t in 0..<workers { _ = cols.get(t, count: k * p) }
        let xd = x.data, y = output.data, wd = weight.value.data, b = bias.value.data
        let inStride = inChannels * h * w, outStride = outChannels * p, cg = inChannels / groups
        Parallel.forEachChunk(n, chunks: workers) { t, range in
            let col = self.cols.get(t, count: k * p).data, ws = self.workspaces[t]
            for i in range {
                for g in 0..<self.groups {
                    self.im2col(xd + i * inStride, c0: g * cg, into: col)
                    GEMM.sgemm(m: mg, n: p, k: k, a: wd + g * mg * k, lda: k, b: col, ldb: p, beta: 0,
                               c: y + i * outStride + g * mg * p, ldc: p, workspace: ws)
                }
                for o in 0..<self.outChannels {
                    let row = y + i * outStride + o * p, bo = b[o]
                    for j in 0..<p { row[j] += bo }
                }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard let x = input else { preconditionFailure("GroupedConv2D.backward before forward") }
        let n = x.shape[0], p = oh * ow, k = patch, mg = outChannels / groups, cg = inChannels / groups
        let workers = Swift.min(Parallel.threadCount, Swift.max(n, 1))
        if inputGradient { dx.resize(x.shape); dx.zero() }
        for t in 0..<workers {
            _ = cols.get(t, count: k * p)
            if parameterGradients { dws.get(t, count: outChannels * k + outChannels).zero() }
        }
        let xd = x.data, g = dy.data, wd = weight.value.data, d = dx.data
        let inStride = inChannels * h * w, outStride = outChannels * p
        Parallel.forEachChunk(n, chunks: workers) { t, range in
            let col = self.cols.get(t, count: k * p).data, ws = self.workspaces[t]
            for i in range {
                for gr in 0..<self.groups {
                    let dyg = g + i * outStride + gr * mg * p
                    if parameterGradients {
                        let part = self.dws.get(t, count: self.outChannels * k + self.outChannels).data
                        self.im2col(xd + i * inStride, c0: gr * cg, into: col)
                        GEMM.sgemm(transB: true, m: mg, n: k, k: p, a: dyg, lda: p, b: col, ldb: p, beta: 1,
                                   c: part + gr * mg * k, ldc: k, workspace: ws)
                        for o in 0..<mg {
                            var s: Float = 0
                            for j in 0..<p { s += dyg[o * p + j] }
                            part[self.outChannels * k + gr * mg + o] += s
                        }
                    }
                    if inputGradient {
                        GEMM.sgemm(transA: true, m: k, n: p, k: mg, a: wd + gr * mg * k, lda: k, b: dyg, ldb: p, beta: 0,
                                   c: col, ldc: p, workspace: ws)
                        self.col2im(col, c0: gr * cg, into: d + i * inStride)
                    }
                }
            }
        }
        if parameterGradients {
            let gw = weight.grad.data, gb = bias.grad.data
            for t in 0..<workers {
                let part = dws.get(t, count: outChannels * k + outChannels).data
                for j in 0..<(outChannels * k) { gw[j] += part[j] }
                for o in 0..<outChannels { gb[o] += part[outChannels * k + o] }
            }
        }
        return inputGradient ? dx : dy
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor {
        // Linear in x; parameter gradients are not touched, so the exact pass serves (its buffer is shared).
        backward(dy, parameterGradients: false, inputGradient: true)
    }
}

/// Max or average pooling with everything ONNX allows in 2-D: rectangular kernels, strides, asymmetric pads,
/// dilations, `ceil_mode`, `count_include_pad`, and the global forms (`GlobalMaxPool`: the window is the
/// whole plane). `MaxPool2D` / `AvgPool2D` / `GlobalAveragePool` are the faster common cases.
///
///     max:  y[n,c,i,j] = max_{u,v} x[n,c, i·s_h + u·d_h − p_top, j·s_w + v·d_w − p_left]   (taps inside the image)
///     avg:  y[n,c,i,j] = (1/count) Σ_{u,v} x[...],  count = taps inside the image (or inside image + pads)
///
/// Output size `⌊(H + p_top + p_bottom − ((k−1)·d + 1)) / s⌋ + 1` (⌈⌉ with `ceil_mode`, dropping a last window
/// that would start in the bottom/right padding, as PyTorch and onnxruntime do). backward: max routes dy to the
/// first arg-max of each window, avg spreads `dy / count`. The rectified backward is the same (no ReLU gate).
public final class Pool2D: Layer {
    public let kind: String
    public let isMax: Bool, global: Bool
    public let kernelH, kernelW, strideH, strideW, dilationH, dilationW, padTop, padLeft, padBottom, padRight: Int
    public let ceilMode, countIncludePad: Bool
    private var inShape: [Int] = [], oh = 0, ow = 0, kh = 0, kw = 0
    private var argmax: [Int32] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(max: Bool, global: Bool = false, kernel: (Int, Int) = (1, 1), stride: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1),
                padding: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0), ceilMode: Bool = false,
                countIncludePad: Bool = false) {
        isMax = max; self.global = global
        kind = global ? (max ? "GlobalMaxPool" : "GlobalAveragePool") : (max ? "MaxPool" : "AveragePool")
        kernelH = kernel.0; kernelW = kernel.1; strideH = stride.0; strideW = stride.1; dilationH = dilation.0; dilationW = dilation.1
        padTop = padding.top; padLeft = padding.left; padBottom = padding.bottom; padRight = padding.right
        self.ceilMode = ceilMode; self.countIncludePad = countIncludePad
    }

    static func outSize(_ n: Int, k: Int, s: Int, d: Int, p0: Int, p1: Int, ceil: Bool) -> Int {
        let span = n + p0 + p1 - ((k - 1) * d + 1)
        if span < 0 { return 0 }
        var o = (ceil ? (span + s - 1) / s : span / s) + 1
        if ceil && (o - 1) * s >= n + p0 { o -= 1 }
        return o
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4 else { throw ShapeError.mismatch(layer: kind, expected: "[N, C, H, W]", got: s) }
        if global { return [s[0], s[1], 1, 1] }
        guard strideH > 0, strideW > 0, kernelH > 0, kernelW > 0, dilationH > 0, dilationW > 0 else {
            throw ShapeError.mismatch(layer: "\(kind) with non-positive kernel, stride or dilation", expected: "positive", got: s)
        }
        let a = Pool2D.outSize(s[2], k: kernelH, s: strideH, d: dilationH, p0: padTop, p1: padBottom, ceil: ceilMode)
        let b = Pool2D.outSize(s[3], k: kernelW, s: strideW, d: dilationW, p0: padLeft, p1: padRight, ceil: ceilMode)
        guard a > 0, b > 0 else { throw ShapeError.mismatch(layer: "\(kind) \(kernelH)x\(kernelW)", expected: "spatial size >= kernel", got: s) }
        return [s[0], s[1], a, b]
    }

    /// Calls body(outputIndex, inputIndex, weight) for every tap of every window of one plane; for max pooling
    /// `weight` is unused.
    @inline(__always)
    private func windows(_ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        // (i, j, y0, x0, ...) expanded by the callers
        for i in 0..<oh { for j in 0..<ow { body(i, j, i * sh - pt, j * sw - pl, 0, 0) } }
    }
    private var sh: Int { global ? 1 : strideH }
    private var sw: Int { global ? 1 : strideW }
    private var pt: Int { global ? 0 : padTop }
    private var pl: Int { global ? 0 : padLeft }
    private var dh: Int { global ? 1 : dilationH }
    private var dw: Int { global ? 1 : dilationW }

    private func divisor(y0: Int, x0: Int, h: Int, w: Int) -> Float {
        var cy = 0, cx = 0
        let loY = countIncludePad ? -pt : 0, hiY = countIncludePad ? h + (global ? 0 : padBottom) : h
        let loX = countIncludePad ? -pl : 0, hiX = countIncludePad ? w + (global ? 0 : padRight) : w
        for u in 0..<kh { let y = y0 + u * dh; if y >= loY && y < hiY { cy += 1 } }
        for v in 0..<kw { let x = x0 + v * dw; if x >= loX && x < hiX { cx += 1 } }
        return 1 / Float(Swift.max(cy * cx, 1))
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inShape = x.shape
        let s = (try? outputShape(for: x.shape)) ?? [x.shape[0], x.shape[1], 1, 1]
        oh = s[2]; ow = s[3]
        let h = x.shape[2], w = x.shape[3]
        kh = global ? h : kernelH; kw = global ? w : kernelW
        output.resize(s)
        let planes = s[0] * s[1], ohw = oh * ow
        if isMax && argmax.count != output.count { argmax = [Int32](repeating: -1, count: output.count) }
        let xd = x.data, yd = output.data
        argmax.withUnsafeMutableBufferPointer { am in
            for p in 0..<planes {
                let src = xd + p * h * w, dst = yd + p * ohw
                windows { i, j, y0, x0, _, _ in
                    if self.isMax {
                        var best = -Float.infinity, bi = -1
                        for u in 0..<self.kh {
                            let y = y0 + u * self.dh
                            if y < 0 || y >= h { continue }
                            for v in 0..<self.kw {
                                let xx = x0 + v * self.dw
                                if xx < 0 || xx >= w { continue }
                                let val = src[y * w + xx]
                                if bi < 0 || val > best { best = val; bi = y * w + xx }
                            }
                        }
                        dst[i * ow + j] = bi < 0 ? 0 : best
                        am[p * ohw + i * ow + j] = Int32(bi)
                    } else {
                        var sum: Float = 0
                        for u in 0..<self.kh {
                            let y = y0 + u * self.dh
                            if y < 0 || y >= h { continue }
                            for v in 0..<self.kw {
                                let xx = x0 + v * self.dw
                                if xx >= 0 && xx < w { sum += src[y * w + xx] }
                            }
                        }
                        dst[i * ow + j] = sum * self.divisor(y0: y0, x0: x0, h: h, w: w)
                    }
                }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient else { return dy }
        dx.resize(inShape); dx.zero()
        let h = inShape[2], w = inShape[3], planes = inShape[0] * inShape[1], ohw = oh * ow
        let g = dy.data, d = dx.data
        argmax.withUnsafeBufferPointer { am in
            for p in 0..<planes {
                let src = g + p * ohw, dst = d + p * h * w
                if isMax {
                    for o in 0..<ohw { let k = Int(am[p * ohw + o]); if k >= 0 { dst[k] += src[o] } }
                    continue
                }
                windows { i, j, y0, x0, _, _ in
                    let gv = src[i * ow + j] * self.divisor(y0: y0, x0: x0, h: h, w: w)
                    for u in 0..<self.kh {
                        let y = y0 + u * self.dh
                        if y < 0 || y >= h { continue }
                        for v in 0..<self.kw {
                            let xx = x0 + v * self.dw
                            if xx >= 0 && xx < w { dst[y * w + xx] += gv }
                        }
                    }
                }
            }
        }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { backward(dy, parameterGradients: false, inputGradient: true) }
}
