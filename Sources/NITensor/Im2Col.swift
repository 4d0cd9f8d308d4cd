/// Geometry of a 2-D sliding window (convolution or pooling) over one `C x H x W` image.
public struct ConvGeometry: Equatable, Sendable {
    public var channels, height, width: Int
    public var kernelH, kernelW: Int
    public var strideH, strideW: Int
    /// Padding before (top/left) and after (bottom/right) each spatial axis.
    public var padTop, padLeft, padBottom, padRight: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW; self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padLeft = padLeft; self.padBottom = padBottom; self.padRight = padRight
    }

    /// Output height `floor((H + pads - kh) / sh) + 1`.
    public var outHeight: Int { (height + padTop + padBottom - kernelH) / strideH + 1 }
    /// Output width `floor((W + pads - kw) / sw) + 1`.
    public var outWidth: Int { (width + padLeft + padRight - kernelW) / strideW + 1 }
    /// Rows of the column matrix, `C * kh * kw`.
    public var patchSize: Int { channels * kernelH * kernelW }
}

/// im2col / col2im: the lowering of convolution to GEMM. The column matrix of one image has
/// `C*kh*kw` rows (one per kernel tap, channel-major) and `OH*OW` columns (one per output position).
public enum Im2Col {
    /// Writes the column matrix of `image` (`C x H x W`) into `col` (`patchSize x OH*OW`).
    public static func im2col(_ image: UnsafePointer<Float>, _ g: ConvGeometry, into col: UnsafeMutablePointer<Float>) {
        let oh = g.outHeight, ow = g.outWidth, ohw = oh * ow
        var row = 0
        for c in 0..<g.channels {
            let plane = image + c * g.height * g.width
            for ky in 0..<g.kernelH {
                for kx in 0..<g.kernelW {
                    let dst = col + row * ohw
                    for oy in 0..<oh {
                        let iy = oy * g.strideH - g.padTop + ky
                        let out = dst + oy * ow
                        if iy < 0 || iy >= g.height {
                            out.update(repeating: 0, count: ow)
                            continue
                        }
                        let src = plane + iy * g.width
                        if g.strideW == 1 {
                            // Contiguous run: columns ox with 0 <= ox - padLeft + kx < W.
                            let shift = kx - g.padLeft
                            let lo = Swift.max(0, -shift), hi = Swift.min(ow, g.width - shift)
                            if lo > 0 { out.update(repeating: 0, count: Swift.min(lo, ow)) }
                            if hi > lo { out.advanced(by: lo).update(from: src + lo + shift, count: hi - lo) }
                            if hi < ow { out.advanced(by: Swift.max(hi, 0)).update(repeating: 0, count: ow - Swift.max(hi, 0)) }
                        } else {
                            for ox in 0..<ow {
                                let ix = ox * g.strideW - g.padLeft + kx
                                out[ox] = (ix >= 0 && ix < g.width) ? src[ix] : 0
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Accumulates the column matrix `col` back into `image` (`C x H x W`, zeroed by the caller):
    /// the adjoint of `im2col`.
    public static func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, into image: UnsafeMutablePointer<Float>) {
        let oh = g.outHeight, ow = g.outWidth, ohw = oh * ow
        var row = 0
        for c in 0..<g.channels {
            let plane = image + c * g.height * g.width
            for ky in 0..<g.kernelH {
                for kx in 0..<g.kernelW {
                    let srcRow = col + row * ohw
                    for oy in 0..<oh {
                        let iy = oy * g.strideH - g.padTop + ky
                        if iy < 0 || iy >= g.height { continue }
                        let dst = plane + iy * g.width
                        let src = srcRow + oy * ow
                        if g.strideW == 1 {
                            let shift = kx - g.padLeft
                            let lo = Swift.max(0, -shift), hi = Swift.min(ow, g.width - shift)
                            var ox = lo
                            while ox < hi { dst[ox + shift] += src[ox]; ox += 1 }
                        } else {
                            for ox in 0..<ow {
                                let ix = ox * g.strideW - g.padLeft + kx
                                if ix >= 0 && ix < g.width { dst[ix] += src[ox] }
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}

extension ConvGeometry {
    /// Writes `count` consecutive entries of row `r = (c, ky, kx)` of the column matrix, starting at output
    /// position `p`, to `dst[0], dst[stride], ...` (zeros where the tap falls in the padding).
    @inline(__always)
    func gatherTap(_ image: UnsafePointer<Float>, row r: Int, position p: Int, count: Int,
                   into dst: UnsafeMutablePointer<Float>, stride: Int) {
        let khw = kernelH * kernelW
        let c = r / khw, rem = r - c * khw, ky = rem / kernelW, kx = rem - ky * kernelW
        let plane = image + c * height * width
        let ow = outWidth
        var oy = p / ow, ox = p - oy * ow
        var q = 0
        while q < count {
            let seg = Swift.min(count - q, ow - ox)
            let iy = oy * strideH - padTop + ky
            let out = dst + q * stride
            if iy < 0 || iy >= height {
                for t in 0..<seg { out[t * stride] = 0 }
            } else {
                let src = plane + iy * width
                let base = kx - padLeft
                if strideW == 1 {
                    // ix = ox + t + base must lie in [0, width)
                    let lo = Swift.max(0, Swift.min(seg, -(ox + base)))
                    let hi = Swift.max(lo, Swift.min(seg, width - (ox + base)))
                    for t in 0..<lo { out[t * stride] = 0 }
                    if stride == 1 {
                        if hi > lo { out.advanced(by: lo).update(from: src + ox + base + lo, count: hi - lo) }
                    } else {
                        var t = lo
                        while t < hi { out[t * stride] = src[ox + base + t]; t += 1 }
                    }
                    var t = hi
                    while t < seg { out[t * stride] = 0; t += 1 }
                } else {
                    for t in 0..<seg {
                        let ix = (ox + t) * strideW + base
                        out[t * stride] = (ix >= 0 && ix < width) ? src[ix] : 0
                    }
                }
            }
            q += seg
            ox = 0; oy += 1
        }
    }
}

/// Packs the column matrix of one image (`B = col[C·kh·kw, OH·OW]`) straight from the image into GEMM
/// panels: the implicit im2col of the convolution forward pass.
public struct Im2ColPacker: PanelPacker {
    public let image: UnsafePointer<Float>, geometry: ConvGeometry
    public init(image: UnsafePointer<Float>, geometry: ConvGeometry) { self.image = image; self.geometry = geometry }

    @inline(__always)
    public func pack(p0: Int, kc: Int, j0: Int, nc: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = GEMM.nr
        var d = dst
        var j = 0
        while j < nc {
            let cols = Swift.min(nr, nc - j)
            for r in 0..<kc {
                let row = d + r * nr
                geometry.gatherTap(image, row: p0 + r, position: j0 + j, count: cols, into: row, stride: 1)
                if cols < nr { (row + cols).update(repeating: 0, count: nr - cols) }
            }
            d += nr * kc
            j += nr
        }
    }
}

/// Packs the transposed column matrix of one image (`B = colᵀ[OH·OW, C·kh·kw]`) straight from the image:
/// the operand of the weight gradient `dW += dY · colᵀ`.
public struct Im2ColTransposedPacker: PanelPacker {
    public let image: UnsafePointer<Float>, geometry: ConvGeometry
    public init(image: UnsafePointer<Float>, geometry: ConvGeometry) { self.image = image; self.geometry = geometry }

    @inline(__always)
    public func pack(p0: Int, kc: Int, j0: Int, nc: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = GEMM.nr
        var d = dst
        var j = 0
        while j < nc {
            let cols = Swift.min(nr, nc - j)
            for q in 0..<nr {
                if q < cols {
                    geometry.gatherTap(image, row: j0 + j + q, position: p0, count: kc, into: d + q, stride: nr)
                } else {
                    for p in 0..<kc { d[p * nr + q] = 0 }
                }
            }
            d += nr * kc
            j += nr
        }
    }
}

/// The B operand of a stride-1 convolution computed on the padded grid: row `k = (c, ky, kx)` of B is the
/// padded input plane `c` shifted by `ky·Wp + kx`, so each packed panel row is one contiguous copy.
/// Output position `q = oy·Wp + ox` of the "extended" output (columns `ox >= OW` are discarded later).
public struct ShiftedRowsPacker: PanelPacker {
    public let padded: UnsafePointer<Float>
    public let planeSize, paddedWidth, kernelH, kernelW: Int
    public init(padded: UnsafePointer<Float>, planeSize: Int, paddedWidth: Int, kernelH: Int, kernelW: Int) {
        self.padded = padded; self.planeSize = planeSize; self.paddedWidth = paddedWidth
        self.kernelH = kernelH; self.kernelW = kernelW
    }

    @inline(__always)
    public func pack(p0: Int, kc: Int, j0: Int, nc: Int, into dst: UnsafeMutablePointer<Float>) {
        let nr = GEMM.nr, khw = kernelH * kernelW
        var d = dst
        var j = 0
        while j < nc {
            let cols = Swift.min(nr, nc - j)
            var c = p0 / khw, rem = p0 - c * khw, ky = rem / kernelW, kx = rem - ky * kernelW
            for r in 0..<kc {
                let src = padded + c * planeSize + ky * paddedWidth + kx + j0 + j
                let row = d + r * nr
                if cols == nr {
                    if nr == 32 {
                        let s = UnsafeRawPointer(src), o = UnsafeMutableRawPointer(row)
                        o.storeBytes(of: s.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                        o.storeBytes(of: s.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), toByteOffset: 32, as: SIMD8<Float>.self)
                        o.storeBytes(of: s.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), toByteOffset: 64, as: SIMD8<Float>.self)
                        o.storeBytes(of: s.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self), toByteOffset: 96, as: SIMD8<Float>.self)
                    } else if nr == 16 {
                        let s = UnsafeRawPointer(src), o = UnsafeMutableRawPointer(row)
                        o.storeBytes(of: s.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
                        o.storeBytes(of: s.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self), toByteOffset: 32, as: SIMD8<Float>.self)
                    } else {
                        for t in 0..<nr { row[t] = src[t] }
                    }
                } else {
                    for t in 0..<cols { row[t] = src[t] }
                    for t in cols..<nr { row[t] = 0 }
                }
                kx += 1
                if kx == kernelW { kx = 0; ky += 1; if ky == kernelH { ky = 0; c += 1 } }
            }
            d += nr * kc
            j += nr
        }
    }
}
