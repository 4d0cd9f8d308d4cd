/// AVX-512 "A·Bᵀ" tile kernel for weight gradients: `C[i, j] += Σ_q A_i[q] · B_j[q]` for 4 rows `A_i = a + i·lda`
/// and 6 rows `B_j = b + bOffsets[j]`, both contiguous along q, `n` a multiple of 16. No packing: both
/// operands stream along the reduction axis, 24 accumulators stay in registers, horizontal sums at the end.
@inline(never)
public func dotKernel4x6(n: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                         bOffsets: UnsafePointer<Int>, c: UnsafeMutablePointer<Float>, ldc: Int) {
    typealias V = SIMD16<Float>
    let a0 = UnsafeRawPointer(a), a1 = UnsafeRawPointer(a + lda), a2 = UnsafeRawPointer(a + 2 * lda), a3 = UnsafeRawPointer(a + 3 * lda)
    let b0 = UnsafeRawPointer(b + bOffsets[0]), b1 = UnsafeRawPointer(b + bOffsets[1]), b2 = UnsafeRawPointer(b + bOffsets[2])
    let b3 = UnsafeRawPointer(b + bOffsets[3]), b4 = UnsafeRawPointer(b + bOffsets[4]), b5 = UnsafeRawPointer(b + bOffsets[5])
    var s00 = V(), s01 = V(), s02 = V(), s03 = V(), s04 = V(), s05 = V()
    var s10 = V(), s11 = V(), s12 = V(), s13 = V(), s14 = V(), s15 = V()
    var s20 = V(), s21 = V(), s22 = V(), s23 = V(), s24 = V(), s25 = V()
    var s30 = V(), s31 = V(), s32 = V(), s33 = V(), s34 = V(), s35 = V()
    var off = 0
    let end = n * 4
    while off < end {
        let x0 = b0.loadUnaligned(fromByteOffset: off, as: V.self), x1 = b1.loadUnaligned(fromByteOffset: off, as: V.self)
        let x2 = b2.loadUnaligned(fromByteOffset: off, as: V.self), x3 = b3.loadUnaligned(fromByteOffset: off, as: V.self)
        let x4 = b4.loadUnaligned(fromByteOffset: off, as: V.self), x5 = b5.loadUnaligned(fromByteOffset: off, as: V.self)
        var y = a0.loadUnaligned(fromByteOffset: off, as: V.self)
        s00.addProduct(y, x0); s01.addProduct(y, x1); s02.addProduct(y, x2); s03.addProduct(y, x3); s04.addProduct(y, x4); s05.addProduct(y, x5)
        y = a1.loadUnaligned(fromByteOffset: off, as: V.self)
        s10.addProduct(y, x0); s11.addProduct(y, x1); s12.addProduct(y, x2); s13.addProduct(y, x3); s14.addProduct(y, x4); s15.addProduct(y, x5)
        y = a2.loadUnaligned(fromByteOffset: off, as: V.self)
        s20.addProduct(y, x0); s21.addProduct(y, x1); s22.addProduct(y, x2); s23.addProduct(y, x3); s24.addProduct(y, x4); s25.addProduct(y, x5)
        y = a3.loadUnaligned(fromByteOffset: off, as: V.self)
        s30.addProduct(y, x0); s31.addProduct(y, x1); s32.addProduct(y, x2); s33.addProduct(y, x3); s34.addProduct(y, x4); s35.addProduct(y, x5)
        off += 64
    }
    let r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc
    r0[0] += s00.sum(); r0[1] += s01.sum(); r0[2] += s02.sum(); r0[3] += s03.sum(); r0[4] += s04.sum(); r0[5] += s05.sum()
    r1[0] += s10.sum(); r1[1] += s11.sum(); r1[2] += s12.sum(); r1[3] += s13.sum(); r1[4] += s14.sum(); r1[5] += s15.sum()
    r2[0] += s20.sum(); r2[1] += s21.sum(); r2[2] += s22.sum(); r2[3] += s23.sum(); r2[4] += s24.sum(); r2[5] += s25.sum()
    r3[0] += s30.sum(); r3[1] += s31.sum(); r3[2] += s32.sum(); r3[3] += s33.sum(); r3[4] += s34.sum(); r3[5] += s35.sum()
}
