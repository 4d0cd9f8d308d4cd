import NITensor

/// Bilinear resampling with the semantics of PyTorch's
/// `F.interpolate(x, size=(H, W), mode="bilinear", align_corners=False, antialias=False)`:
///
/// for an output index `o` along an axis of input size `n` and output size `m`, the source coordinate is
/// `s = max((n / m) * (o + 0.5) - 0.5, 0)`; with `i = floor(s)`, `λ = s - i`, the output mixes input `i`
/// (weight `1 - λ`) and input `min(i + 1, n - 1)` (weight `λ`), rows and columns alike:
/// `out = (1-λy) * ((1-λx) * a + λx * b) + λy * ((1-λx) * c + λx * d)`, computed in Float32.
/// There is no antialiasing: a large downscale samples the input rather than averaging it.
public enum Bilinear {
    /// Resizes a `[N, C, H, W]` or `[C, H, W]` tensor to `height` x `width` (a new tensor).
    public static func resize(_ input: Tensor, height: Int, width: Int) -> Tensor {
        var shape = input.shape
        precondition(shape.count >= 2, "Bilinear.resize needs at least 2 dimensions, got \(shape)")
        shape[shape.count - 2] = height
        shape[shape.count - 1] = width
        let output = Tensor(shape: shape)
        resize(input, into: output)
        return output
    }

    /// Resizes `input` into `output`, whose shape must equal the input's except for the last two (H, W)
    /// extents, which set the output size. Allocates no tensor memory.
    public static func resize(_ input: Tensor, into output: Tensor) {
        let si = input.shape, so = output.shape
        precondition(si.count >= 2 && si.count == so.count && Array(si.dropLast(2)) == Array(so.dropLast(2)),
                     "Bilinear.resize: shapes \(si) and \(so) differ outside the last two dimensions")
        let planes = si.dropLast(2).reduce(1, *)
        resizePlanes(src: input.data, planes: planes, height: si[si.count - 2], width: si[si.count - 1],
                     dst: output.data, outHeight: so[so.count - 2], outWidth: so[so.count - 1])
    }

    /// Resizes `planes` consecutive `height` x `width` Float32 planes at `src` into `outHeight` x `outWidth`
    /// planes at `dst` (which must not overlap `src`).
    public static func resizePlanes(src: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                                    dst: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int) {
        precondition(height > 0 && width > 0 && outHeight > 0 && outWidth > 0, "Bilinear: empty image size")
        withPlan(inX: 0, inWidth: width, outWidth: outWidth, inY: 0, inHeight: height, outHeight: outHeight,
                 xStride: 1, yStride: width) { cx0, cx1, lx0, lx1, ry0, ry1, ly0, ly1 in
            let inPlane = height * width, outPlane = outHeight * outWidth
            for p in 0..<planes {
                let s = src + p * inPlane, d = dst + p * outPlane
                for oy in 0..<outHeight {
                    let r0 = s + ry0[oy], r1 = s + ry1[oy]
                    let h0 = ly0[oy], h1 = ly1[oy]
                    let row = d + oy * outWidth
                    for ox in 0..<outWidth {
                        let a = cx0[ox], b = cx1[ox], w0 = lx0[ox], w1 = lx1[ox]
                        row[ox] = h0 * (w0 * r0[a] + w1 * r0[b]) + h1 * (w0 * r1[a] + w1 * r1[b])
                    }
                }
            }
        }
    }

    /// Resamples the `rect` part of an interleaved (HWC) 8-bit raster into planar Float32
    /// `[outChannels, outHeight, outWidth]` at `dst`, dividing by `divisor` (255 for [0, 1] output).
    /// Gray (1) -> RGB (3) repeats the plane; RGB -> gray uses BT.601 luma 0.299 R + 0.587 G + 0.114 B on
    /// the interpolated values. Allocates nothing on the heap.
    static func resampleBytes(src: UnsafePointer<UInt8>, rowStride: Int, channels: Int, rect: PixelRect,
                              divisor: Float, dst: UnsafeMutablePointer<Float>, outChannels: Int,
                              outHeight: Int, outWidth: Int) {
        precondition(outChannels == 1 || outChannels == 3, "output channels must be 1 or 3, got \(outChannels)")
        precondition(channels == 1 || channels == 3, "input channels must be 1 or 3, got \(channels)")
        precondition(outHeight > 0 && outWidth > 0, "Bilinear: empty output size")
        withPlan(inX: rect.x, inWidth: rect.width, outWidth: outWidth, inY: rect.y, inHeight: rect.height,
                 outHeight: outHeight, xStride: channels, yStride: rowStride) { cx0, cx1, lx0, lx1, ry0, ry1, ly0, ly1 in
            let plane = outHeight * outWidth
            for oy in 0..<outHeight {
                let r0 = src + ry0[oy], r1 = src + ry1[oy]
                let h0 = ly0[oy], h1 = ly1[oy]
                let o = oy * outWidth
                @inline(__always) func sample(_ a: Int, _ b: Int, _ w0: Float, _ w1: Float) -> Float {
                    h0 * (w0 * Float(r0[a]) + w1 * Float(r0[b])) + h1 * (w0 * Float(r1[a]) + w1 * Float(r1[b]))
                }
                if channels == outChannels {
                    for c in 0..<channels {
                        let row = dst + c * plane + o
                        for ox in 0..<outWidth {
                            row[ox] = sample(cx0[ox] + c, cx1[ox] + c, lx0[ox], lx1[ox]) / divisor
                        }
                    }
                } else if channels == 1 {
                    let row = dst + o
                    for ox in 0..<outWidth {
                        let v = sample(cx0[ox], cx1[ox], lx0[ox], lx1[ox]) / divisor
                        row[ox] = v
                        row[plane + ox] = v
                        row[2 * plane + ox] = v
                    }
                } else {
                    let row = dst + o
                    for ox in 0..<outWidth {
                        let a = cx0[ox], b = cx1[ox], w0 = lx0[ox], w1 = lx1[ox]
                        let r = sample(a, b, w0, w1), g = sample(a + 1, b + 1, w0, w1), bl = sample(a + 2, b + 2, w0, w1)
                        row[ox] = (0.299 * r + 0.587 * g + 0.114 * bl) / divisor
                    }
                }
            }
        }
    }

    /// Computes the source offsets (already multiplied by the strides, and shifted by `inX`/`inY`) and the
    /// weights of both axes in stack buffers and passes them to `body`.
    private static func withPlan(
        inX: Int, inWidth: Int, outWidth: Int, inY: Int, inHeight: Int, outHeight: Int, xStride: Int, yStride: Int,
        _ body: (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<Float>,
                 UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>,
                 UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * (outWidth + outHeight)) { ints in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * (outWidth + outHeight)) { floats in
                let cx0 = ints.baseAddress!, cx1 = cx0 + outWidth, ry0 = cx1 + outWidth, ry1 = ry0 + outHeight
                let lx0 = floats.baseAddress!, lx1 = lx0 + outWidth, ly0 = lx1 + outWidth, ly1 = ly0 + outHeight
                axis(start: inX, inSize: inWidth, outSize: outWidth, stride: xStride, i0: cx0, i1: cx1, l0: lx0, l1: lx1)
                axis(start: inY, inSize: inHeight, outSize: outHeight, stride: yStride, i0: ry0, i1: ry1, l0: ly0, l1: ly1)
                body(cx0, cx1, lx0, lx1, ry0, ry1, ly0, ly1)
            }
        }
    }

    /// One axis of the plan (PyTorch's `area_pixel_compute_source_index` with align_corners = false).
    private static func axis(start: Int, inSize: Int, outSize: Int, stride: Int,
                             i0: UnsafeMutablePointer<Int>, i1: UnsafeMutablePointer<Int>,
                             l0: UnsafeMutablePointer<Float>, l1: UnsafeMutablePointer<Float>) {
        let scale = Float(inSize) / Float(outSize)
        for o in 0..<outSize {
            let s = Swift.max(scale * (Float(o) + 0.5) - 0.5, 0)
            let i = Swift.min(Int(s), inSize - 1)
            let step = i < inSize - 1 ? 1 : 0
            let lambda = s - Float(i)
            i0[o] = (start + i) * stride
            i1[o] = (start + i + step) * stride
            l1[o] = lambda
            l0[o] = 1 - lambda
        }
    }
}

extension DecodedImage {
    /// This image resized bilinearly (`Bilinear` semantics) to `width` x `height`, rounded back to 8 bits.
    public func resized(width outWidth: Int, height outHeight: Int) -> DecodedImage {
        let plane = outWidth * outHeight
        var planar = [Float](repeating: 0, count: plane * channels)
        planar.withUnsafeMutableBufferPointer { buf in
            pixels.withUnsafeBufferPointer { src in
                Bilinear.resampleBytes(src: src.baseAddress!, rowStride: width * channels, channels: channels,
                                       rect: PixelRect(x: 0, y: 0, width: width, height: height), divisor: 1,
                                       dst: buf.baseAddress!, outChannels: channels, outHeight: outHeight,
                                       outWidth: outWidth)
            }
        }
        var out = [UInt8](repeating: 0, count: plane * channels)
        for c in 0..<channels {
            for i in 0..<plane {
                out[i * channels + c] = UInt8(Swift.min(Swift.max(planar[c * plane + i].rounded(), 0), 255))
            }
        }
        return DecodedImage(width: outWidth, height: outHeight, channels: channels, pixels: out)
    }
}
