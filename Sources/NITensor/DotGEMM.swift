import NIKernelsAVX512

/// `C[M, N] += A[M, n] · Bᵀ` where row `j` of B starts at `b + bOffsets[j]`: a GEMM whose two operands are
/// both contiguous along the reduction axis, computed by streaming dot-product tiles without packing. It is
/// the weight gradient of a stride-1 convolution, `dW[o, (c,ky,kx)] = Σ_q dY[o, q] · Xpad[c, q + ky·Wp + kx]`,
/// where the rows of B are shifted views of the padded input.
///
/// Contract: `n` is a multiple of 16; A has `roundUp(M, rowMultiple)` readable rows (extra rows zero);
/// `b + zeroOffset` starts `n` readable zeros (used for B rows past `N`). Uses the AVX-512 4x6 tile kernel
/// when `GEMM.kernel == .avx512`, else the portable 4x3 tile.
public enum DotGEMM {
    /// A must have its row count rounded up to this multiple.
    public static let rowMultiple = 12

    public static func accumulate(m: Int, n: Int, a: UnsafePointer<Float>, lda: Int,
                                  b: UnsafePointer<Float>, bOffsets: UnsafePointer<Int>, columns: Int, zeroOffset: Int,
                                  c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(n % 16 == 0, "DotGEMM needs n % 16 == 0")
        let wide = GEMM.kernel == .avx512
        let tm = 4, tn = wide ? 6 : 3
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 24) { tile in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 6) { offs in
                let tc = tile.baseAddress!, ob = offs.baseAddress!
                var i = 0
                while i < m {
                    let rows = Swift.min(tm, m - i)
                    var j = 0
                    while j < columns {
                        let cols = Swift.min(tn, columns - j)
                        if rows == tm && cols == tn {
                            kernel(wide, n: n, a: a + i * lda, lda: lda, b: b, offs: bOffsets + j, c: c + i * ldc + j, ldc: ldc)
                        } else {
                            for t in 0..<tn { ob[t] = t < cols ? bOffsets[j + t] : zeroOffset }
                            tc.update(repeating: 0, count: 24)
                            kernel(wide, n: n, a: a + i * lda, lda: lda, b: b, offs: ob, c: tc, ldc: 6)
                            for r in 0..<rows { for t in 0..<cols { c[(i + r) * ldc + j + t] += tc[r * 6 + t] } }
                        }
                        j += tn
                    }
                    i += tm
                }
            }
        }
    }

    @inline(__always)
    static func kernel(_ wide: Bool, n: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                       offs: UnsafePointer<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if wide { dotKernel4x6(n: n, a: a, lda: lda, b: b, bOffsets: offs, c: c, ldc: ldc) }
        else { dotKernel4x3(n: n, a: a, lda: lda, b: b, bOffsets: offs, c: c, ldc: ldc) }
    }

    /// Plain reference: `C[i, j] += Σ_q A[i, q] · B_j[q]` in Double.
    public static func reference(m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                                 bOffsets: UnsafePointer<Int>, columns: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<columns {
                var s = 0.0
                for q in 0..<n { s += Double(a[i * lda + q]) * Double(b[bOffsets[j] + q]) }
                c[i * ldc + j] += Float(s)
            }
        }
    }

    /// Portable 4x3 tile: 12 accumulators of 8 lanes, 3 B streams and one A row live, i.e. all 16 AVX2
    /// registers. (A 3x4 tile needs 17 and spilled an accumulator every step: 61 against 77 GFLOP/s in a C
    /// model of the loop on Zen 3.)
    @inline(never)
    static func dotKernel4x3(n: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                             bOffsets: UnsafePointer<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        typealias V = SIMD8<Float>
        let a0 = UnsafeRawPointer(a), a1 = UnsafeRawPointer(a + lda), a2 = UnsafeRawPointer(a + 2 * lda)
        let a3 = UnsafeRawPointer(a + 3 * lda)
        let b0 = UnsafeRawPointer(b + bOffsets[0]), b1 = UnsafeRawPointer(b + bOffsets[1])
        let b2 = UnsafeRawPointer(b + bOffsets[2])
        var s00 = V(), s01 = V(), s02 = V(), s10 = V(), s11 = V(), s12 = V()
        var s20 = V(), s21 = V(), s22 = V(), s30 = V(), s31 = V(), s32 = V()
        var off = 0
        let end = n * 4
        while off < end {
            let x0 = b0.loadUnaligned(fromByteOffset: off, as: V.self), x1 = b1.loadUnaligned(fromByteOffset: off, as: V.self)
            let x2 = b2.loadUnaligned(fromByteOffset: off, as: V.self)
            var y = a0.loadUnaligned(fromByteOffset: off, as: V.self)
            s00.addProduct(y, x0); s01.addProduct(y, x1); s02.addProduct(y, x2)
            y = a1.loadUnaligned(fromByteOffset: off, as: V.self)
            s10.addProduct(y, x0); s11.addProduct(y, x1); s12.addProduct(y, x2)
            y = a2.loadUnaligned(fromByteOffset: off, as: V.self)
            s20.addProduct(y, x0); s21.addProduct(y, x1); s22.addProduct(y, x2)
            y = a3.loadUnaligned(fromByteOffset: off, as: V.self)
            s30.addProduct(y, x0); s31.addProduct(y, x1); s32.addProduct(y, x2)
            off += 32
        }
        let r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc
        r0[0] += s00.sum(); r0[1] += s01.sum(); r0[2] += s02.sum()
        r1[0] += s10.sum(); r1[1] += s11.sum(); r1[2] += s12.sum()
        r2[0] += s20.sum(); r2[1] += s21.sum(); r2[2] += s22.sum()
        r3[0] += s30.sum(); r3[1] += s31.sum(); r3[2] += s32.sum()
    }
}
