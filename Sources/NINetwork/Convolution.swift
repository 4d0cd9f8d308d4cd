import NITensor

/// 2-D convolution (cross-correlation, as in PyTorch and ONNX `Conv` with group 1, dilation 1):
///
///     y[n,o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v] · x[n, c, i·s_h + u - p_top, j·s_w + v - p_left]
///
/// Lowered to GEMM per image: `Y[Cout, OH·OW] = W[Cout, C·kh·kw] · col(x)`. Backward:
/// `dW += dY · colᵀ`, `db += Σ dY`, `dx = col2im(Wᵀ · dY)`. Convolution is linear in x, so the rectified
/// backward equals the exact input gradient. The batch is split across cores, one image per GEMM.
public final class Conv2D: Layer {
    public let kind = "Conv"
    public let inChannels, outChannels, kernelH, kernelW, strideH, strideW: Int
    public let padTop, padLeft, padBottom, padRight: Int
    /// `[Cout, Cin, kh, kw]`
    public let weight: Parameter
    /// `[Cout]`
    public let bias: Parameter

    private var input: Tensor?
    private var geometry: ConvGeometry?
    private let output = Tensor(shape: [0])
    private let dx = Tensor(shape: [0])
    private let rdx = Tensor(shape: [0])
    private var dcols = Scratch(), dws = Scratch(), pads = Scratch(), exts = Scratch()
    private var tapOffsets: [Int] = []
    private var tapSpan = 0
    private var workspaces: [GEMM.Workspace] = []

    public init(inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0), name: String = "conv") {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelH = kernel.0; self.kernelW = kernel.1; self.strideH = stride.0; self.strideW = stride.1
        self.padTop = padding.top; self.padLeft = padding.left; self.padBottom = padding.bottom; self.padRight = padding.right
        weight = Parameter(name: "\(name).weight", shape: [outChannels, inChannels, kernel.0, kernel.1])
        bias = Parameter(name: "\(name).bias", shape: [outChannels])
    }

    /// Square kernel, equal stride and symmetric padding.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                            name: String = "conv") {
        self.init(inChannels: inChannels, outChannels: outChannels, kernel: (kernel, kernel), stride: (stride, stride),
                  padding: (padding, padding, padding, padding), name: name)
    }

    public var parameters: [Parameter] { [weight, bias] }

    func geometry(for s: [Int]) -> ConvGeometry {
        ConvGeometry(channels: s[1], height: s[2], width: s[3], kernelH: kernelH, kernelW: kernelW,
                     strideH: strideH, strideW: strideW, padTop: padTop, padLeft: padLeft,
                     padBottom: padBottom, padRight: padRight)
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4, s[1] == inChannels else {
            throw ShapeError.mismatch(layer: "Conv(\(inChannels)->\(outChannels))", expected: "[N, \(inChannels), H, W]", got: s)
        }
        let g = geometry(for: s)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw ShapeError.mismatch(layer: "Conv \(kernelH)x\(kernelW)", expected: "spatial size >= kernel", got: s)
        }
        return [s[0], outChannels, g.outHeight, g.outWidth]
    }

    private func ensureWorkspaces(_ n: Int) {
        while workspaces.count < n { workspaces.append(GEMM.Workspace()) }
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let g = geometry(for: x.shape)
        geometry = g; input = x
        let n = x.shape[0], ohw = g.outHeight * g.outWidth, k = g.patchSize
        output.resize([n, outChannels, g.outHeight, g.outWidth])
        let inStride = inChannels * g.height * g.width, outStride = outChannels * ohw
        let w = weight.value.data, b = bias.value.data
        let workers = Swift.min(Parallel.threadCount, n)
        ensureWorkspaces(workers)
        let y = output.data, xd = x.data
        let oc = outChannels
        if strideH == 1 && strideW == 1 {
            let pg = PaddedGrid(g)
            for t in 0..<workers { _ = pads.get(2 * t, count: pg.bufferSize(channels: inChannels)); _ = exts.get(t, count: oc * pg.extended) }
            Parallel.forEachChunk(n, chunks: workers) { t, range in
                let xp = self.pads.get(2 * t, count: pg.bufferSize(channels: self.inChannels)).data
                let ext = self.exts.get(t, count: oc * pg.extended).data
                for i in range {
                    pg.pad(xd + i * inStride, channels: self.inChannels, into: xp)
                    pg.convolve(padded: xp, channels: self.inChannels, weights: w, outChannels: oc,
                                bias: b, extended: ext, output: y + i * outStride, workspace: self.workspaces[t])
                }
            }
            return output
        }
        Parallel.forEachChunk(n, chunks: workers) { t, range in
            let ws = self.workspaces[t]
            for i in range {
                let yi = y + i * outStride
                for o in 0..<oc { (yi + o * ohw).update(repeating: b[o], count: ohw) }
                GEMM.sgemm(m: oc, n: ohw, k: k, a: w, lda: k, packer: Im2ColPacker(image: xd + i * inStride, geometry: g),
                           beta: 1, c: yi, ldc: ohw, workspace: ws)
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        backwardImpl(dy, into: dx, parameterGradients: parameterGradients, inputGradient: inputGradient)
    }

    /// Linear in x: the rectified pass is the exact input gradient.
    public func rectifiedBackward(_ dy: Tensor) -> Tensor {
        backwardImpl(dy, into: rdx, parameterGradients: false, inputGradient: true)
    }

    /// The geometry under which the input gradient of a stride-1 convolution is itself a convolution of dY
    /// with the flipped, transposed kernel (`pad' = k - 1 - pad`), or nil when that does not apply.
    private func transposedGeometry(_ g: ConvGeometry) -> ConvGeometry? {
        guard strideH == 1, strideW == 1, padTop < kernelH, padBottom < kernelH, padLeft < kernelW, padRight < kernelW else { return nil }
        let t = ConvGeometry(channels: outChannels, height: g.outHeight, width: g.outWidth, kernelH: kernelH, kernelW: kernelW,
                             padTop: kernelH - 1 - padTop, padLeft: kernelW - 1 - padLeft,
                             padBottom: kernelH - 1 - padBottom, padRight: kernelW - 1 - padRight)
        return t.outHeight == g.height && t.outWidth == g.width ? t : nil
    }

    /// `W'[c, o, u, v] = W[o, c, kh-1-u, kw-1-v]`, the kernel of the transposed convolution.
    private let flipped = Tensor(shape: [0])
    private func flipWeights() {
        let khw = kernelH * kernelW
        flipped.resize([inChannels, outChannels * khw])
        let w = weight.value.data, f = flipped.data
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let src = w + (o * inChannels + c) * khw, dst = f + (c * outChannels + o) * khw
                for u in 0..<khw { dst[u] = src[khw - 1 - u] }
            }
        }
    }

    private func backwardImpl(_ dy: Tensor, into dx: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard let x = input, let g = geometry else { preconditionFailure("Conv2D.backward before forward") }
        let n = x.shape[0], ohw = g.outHeight * g.outWidth, k = g.patchSize, oc = outChannels
        let hw = g.height * g.width, inStride = inChannels * hw, outStride = oc * ohw
        if inputGradient { dx.resize(x.shape) }
        let workers = Swift.min(Parallel.threadCount, n)
        ensureWorkspaces(workers)
        // With fewer input channels than GEMM rows (e.g. an RGB or gray first layer) the transposed convolution
        // would waste most of each micro-tile; col2im is cheaper there.
        let tg = inputGradient && inChannels >= GEMM.mr ? transposedGeometry(g) : nil
        if tg != nil { flipWeights() }
        for t in 0..<workers {
            if inputGradient && tg == nil { _ = dcols.get(t, count: k * ohw) }
            if parameterGradients { dws.get(t, count: oc * k + oc).zero() }
        }
        let w = weight.value.data, xd = x.data, dyd = dy.data, dxd = dx.data, fw = flipped.data
        let cin = inChannels
        if strideH == 1 && strideW == 1 {
            // Padded-grid path: dW by streaming dot products over shifted rows, dX as a convolution of dY
            // (or through col2im when the layer has few input channels).
            let pg = PaddedGrid(g), tpg = PaddedGrid(tg ?? g)
            // dW streams over groups of `group` images laid side by side ([c][image][plane]), so the
            // reduction is long even when the spatial size is small.
            let group = Swift.max(1, Swift.min(2048 / pg.plane, (n + workers - 1) / workers))
            let mRows = (oc + DotGEMM.rowMultiple - 1) / DotGEMM.rowMultiple * DotGEMM.rowMultiple
            let span = group * pg.plane, nPad = (span + 15) / 16 * 16
            let xBuf = cin * span + 16 + nPad, dBuf = tpg.bufferSize(channels: oc)
            let extCount = Swift.max(mRows * nPad, cin * tpg.extended)
            if parameterGradients && (tapOffsets.count != k || tapSpan != span) {
                tapSpan = span
                tapOffsets = (0..<k).map { r in
                    let khw = kernelH * kernelW, c = r / khw, ky = (r % khw) / kernelW, kx = r % kernelW
                    return c * span + ky * pg.paddedWidth + kx
                }
            }
            for t in 0..<workers {
                _ = pads.get(2 * t, count: xBuf); _ = pads.get(2 * t + 1, count: dBuf); _ = exts.get(t, count: extCount)
            }
            let ohh = g.outHeight, oww = g.outWidth, plane = pg.plane, wp = pg.paddedWidth
            tapOffsets.withUnsafeBufferPointer { offsets in
                Parallel.forEachChunk(n, chunks: workers) { t, range in
                    let ws = self.workspaces[t]
                    let ext = self.exts.get(t, count: extCount).data
                    if parameterGradients {
                        let dwPart = self.dws.get(t, count: oc * k + oc).data
                        let xp = self.pads.get(2 * t, count: xBuf).data
                        // Zero once: positions outside the valid outputs (and the tail) are never written
                        // below, so they stay zero; a short last group clears its absent slots.
                        xp.update(repeating: 0, count: xBuf)
                        ext.update(repeating: 0, count: mRows * nPad)
                        var start = range.lowerBound
                        while start < range.upperBound {
                            let members = Swift.min(group, range.upperBound - start)
                            if members < group {
                                for c in 0..<cin { (xp + c * span + members * plane).update(repeating: 0, count: (group - members) * plane) }
                                for o in 0..<oc { (ext + o * nPad + members * plane).update(repeating: 0, count: nPad - members * plane) }
                            }
                            for gi in 0..<members {
                                let i = start + gi
                                pg.pad(xd + i * inStride, channels: cin, into: xp + gi * plane, channelStride: span)
                                let dyi = dyd + i * outStride
                                for o in 0..<oc {
                                    for oy in 0..<ohh {
                                        (ext + o * nPad + gi * plane + oy * wp).update(from: dyi + o * ohw + oy * oww, count: oww)
                                    }
                                }
                                Self.addBiasGradient(dyi, channels: oc, size: ohw, into: dwPart + oc * k)
                            }
                            DotGEMM.accumulate(m: oc, n: nPad, a: ext, lda: nPad, b: xp, bOffsets: offsets.baseAddress!,
                                               columns: k, zeroOffset: cin * span + 16, c: dwPart, ldc: k)
                            start += members
                        }
                    }
                    if inputGradient, tg != nil {
                        let dp = self.pads.get(2 * t + 1, count: dBuf).data
                        for i in range {
                            tpg.pad(dyd + i * outStride, channels: oc, into: dp)
                            tpg.convolve(padded: dp, channels: oc, weights: fw, outChannels: cin, bias: nil,
                                         extended: ext, output: dxd + i * inStride, workspace: ws)
                        }
                    } else if inputGradient {
                        let dcol = self.dcols.get(t, count: k * ohw).data
                        for i in range {
                            Self.inputGradientByCol2Im(dyd + i * outStride, weights: w, geometry: g, outChannels: oc,
                                                       dcol: dcol, into: dxd + i * inStride, workspace: ws)
                        }
                    }
                }
            }
        } else {
        Parallel.forEachChunk(n, chunks: workers) { t, range in
            let ws = self.workspaces[t]
            let dwPart = parameterGradients ? self.dws.get(t, count: oc * k + oc).data : w
            for i in range {
                let dyi = dyd + i * outStride
                if parameterGradients {
                    GEMM.sgemm(m: oc, n: k, k: ohw, a: dyi, lda: ohw,
                               packer: Im2ColTransposedPacker(image: xd + i * inStride, geometry: g),
                               beta: 1, c: dwPart, ldc: k, workspace: ws)
                    Self.addBiasGradient(dyi, channels: oc, size: ohw, into: dwPart + oc * k)
                }
                guard inputGradient else { continue }
                let dxi = dxd + i * inStride
                if let tg {
                    GEMM.sgemm(m: cin, n: hw, k: tg.patchSize, a: fw, lda: tg.patchSize,
                               packer: Im2ColPacker(image: dyi, geometry: tg), beta: 0, c: dxi, ldc: hw, workspace: ws)
                } else {
                    let dcol = self.dcols.get(t, count: k * ohw).data
                    Self.inputGradientByCol2Im(dyi, weights: w, geometry: g, outChannels: oc, dcol: dcol, into: dxi, workspace: ws)
                }
            }
        }
        }
        if parameterGradients {
            let gw = weight.grad.data, gb = bias.grad.data
            for t in 0..<workers {
                let part = dws.get(t, count: oc * k + oc).data
                for j in 0..<(oc * k) { gw[j] += part[j] }
                for o in 0..<oc { gb[o] += part[oc * k + o] }
            }
        }
        return inputGradient ? dx : dy
    }
}

extension Conv2D {
    /// `db[o] += Σ_j dY[o, j]` for one image.
    @inline(__always)
    static func addBiasGradient(_ dy: UnsafePointer<Float>, channels: Int, size: Int, into db: UnsafeMutablePointer<Float>) {
        for o in 0..<channels {
            var s: Float = 0
            let row = dy + o * size
            for j in 0..<size { s += row[j] }
            db[o] += s
        }
    }

    /// dX of one image the general way: `dcol = Wᵀ · dY`, then `col2im` (any stride and padding).
    @inline(__always)
    static func inputGradientByCol2Im(_ dy: UnsafePointer<Float>, weights w: UnsafePointer<Float>, geometry g: ConvGeometry,
                                      outChannels oc: Int, dcol: UnsafeMutablePointer<Float>,
                                      into dx: UnsafeMutablePointer<Float>, workspace: GEMM.Workspace) {
        let k = g.patchSize, ohw = g.outHeight * g.outWidth
        GEMM.sgemm(transA: true, m: k, n: ohw, k: oc, a: w, lda: k, b: dy, ldb: ohw, beta: 0, c: dcol, ldc: ohw, workspace: workspace)
        dx.update(repeating: 0, count: g.channels * g.height * g.width)
        Im2Col.col2im(dcol, g, into: dx)
    }
}

/// A stride-1 convolution computed on the padded grid (see `ShiftedRowsPacker`): the input is copied once into
/// a zero-bordered `C x Hp x Wp` buffer, one GEMM produces the output at the `extended` positions
/// `q = oy·Wp + ox`, and the valid columns `ox < OW` are compacted into the output.
struct PaddedGrid {
    let g: ConvGeometry
    let paddedHeight, paddedWidth, plane, extended: Int
    init(_ g: ConvGeometry) {
        self.g = g
        paddedHeight = g.height + g.padTop + g.padBottom
        paddedWidth = g.width + g.padLeft + g.padRight
        plane = paddedHeight * paddedWidth
        extended = (g.outHeight - 1) * paddedWidth + g.outWidth
    }

    /// Padded planes, 16 floats of slack and a zero row of `tail` floats.
    func bufferSize(channels: Int, tail: Int = 0) -> Int { channels * plane + 16 + tail }

    /// Copies `channels` planes of `x` into zero-bordered planes `channelStride` floats apart.
    func pad(_ x: UnsafePointer<Float>, channels: Int, into xp: UnsafeMutablePointer<Float>, channelStride: Int? = nil) {
        let h = g.height, w = g.width, wp = paddedWidth, stride = channelStride ?? plane
        for c in 0..<channels {
            let dst = xp + c * stride, src = x + c * h * w
            if g.padTop > 0 { dst.update(repeating: 0, count: g.padTop * wp) }
            for y in 0..<h {
                let row = dst + (y + g.padTop) * wp
                for t in 0..<g.padLeft { row[t] = 0 }
                (row + g.padLeft).update(from: src + y * w, count: w)
                for t in (g.padLeft + w)..<wp { row[t] = 0 }
            }
            if g.padBottom > 0 { (dst + (g.padTop + h) * wp).update(repeating: 0, count: g.padBottom * wp) }
        }
    }

    func convolve(padded xp: UnsafePointer<Float>, channels: Int, weights: UnsafePointer<Float>, outChannels oc: Int,
                  bias: UnsafePointer<Float>?, extended ext: UnsafeMutablePointer<Float>, output y: UnsafeMutablePointer<Float>,
                  workspace: GEMM.Workspace) {
        let k = channels * g.kernelH * g.kernelW
        GEMM.sgemm(m: oc, n: extended, k: k, a: weights, lda: k,
                   packer: ShiftedRowsPacker(padded: xp, planeSize: plane, paddedWidth: paddedWidth, kernelH: g.kernelH, kernelW: g.kernelW),
                   beta: 0, c: ext, ldc: extended, workspace: workspace)
        let oh = g.outHeight, ow = g.outWidth
        for o in 0..<oc {
            let b = bias?[o] ?? 0
            let src = ext + o * extended, dst = y + o * oh * ow
            for oy in 0..<oh {
                let s = src + oy * paddedWidth, d = dst + oy * ow
                for ox in 0..<ow { d[ox] = s[ox] + b }
            }
        }
    }
}
