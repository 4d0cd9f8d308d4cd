/// The AVX-512 GEMM micro-kernel, in its own module so that only this code is compiled for AVX-512
/// (`-target-cpu skylake-avx512`, which Intel Skylake-SP and AMD Zen 4 or newer run). `NITensor.GEMM`
/// calls it only after checking at run time that the CPU has AVX-512F; other CPUs use the portable 6x16
/// kernel. `C[6, 32] += Apanel[6, kc] · Bpanel[kc, 32]`, panels packed as `[k][6]` and `[k][32]`.
@inline(never)
public func microKernel6x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
    typealias V = SIMD16<Float>
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
    var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
    var ap = a
    var bp = UnsafeRawPointer(b)
    for _ in 0..<kc {
        let b0 = bp.load(as: V.self)
        let b1 = bp.load(fromByteOffset: 64, as: V.self)
        var x = V(repeating: ap[0]); c00.addProduct(x, b0); c01.addProduct(x, b1)
        x = V(repeating: ap[1]); c10.addProduct(x, b0); c11.addProduct(x, b1)
        x = V(repeating: ap[2]); c20.addProduct(x, b0); c21.addProduct(x, b1)
        x = V(repeating: ap[3]); c30.addProduct(x, b0); c31.addProduct(x, b1)
        x = V(repeating: ap[4]); c40.addProduct(x, b0); c41.addProduct(x, b1)
        x = V(repeating: ap[5]); c50.addProduct(x, b0); c51.addProduct(x, b1)
        ap += 6
        bp += 128
    }
    @inline(__always) func acc(_ row: Int, _ v0: V, _ v1: V) {
        let p = UnsafeMutableRawPointer(c + row * ldc)
        p.storeBytes(of: p.loadUnaligned(as: V.self) + v0, as: V.self)
        p.storeBytes(of: p.loadUnaligned(fromByteOffset: 64, as: V.self) + v1, toByteOffset: 64, as: V.self)
    }
    acc(0, c00, c01); acc(1, c10, c11); acc(2, c20, c21)
    acc(3, c30, c31); acc(4, c40, c41); acc(5, c50, c51)
}
