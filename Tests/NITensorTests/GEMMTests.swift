import XCTest
@testable import NITensor

/// The fast blocked GEMM against the plain triple loop (`GEMM.reference`), over shapes that exercise every
/// edge: partial micro-tiles, several K blocks, transposes, alpha/beta, the threaded split of rows and columns.
final class GEMMTests: XCTestCase {
    func run(_ m: Int, _ n: Int, _ k: Int, transA: Bool, transB: Bool, alpha: Float, beta: Float, threads: Int) {
        var rng = SeededGenerator(seed: UInt64(m * 31 + n * 7 + k))
        let a = Tensor(shape: transA ? [k, m] : [m, k]), b = Tensor(shape: transB ? [n, k] : [k, n])
        for i in 0..<a.count { a[i] = rng.nextNormal() }
        for i in 0..<b.count { b[i] = rng.nextNormal() }
        let c1 = Tensor(shape: [m, n]), c2 = Tensor(shape: [m, n])
        for i in 0..<c1.count { c1[i] = rng.nextNormal(); c2[i] = c1[i] }
        GEMM.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.data, lda: a.shape[1],
                   b: b.data, ldb: b.shape[1], beta: beta, c: c1.data, ldc: n, threads: threads)
        GEMM.reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.data, lda: a.shape[1],
                       b: b.data, ldb: b.shape[1], beta: beta, c: c2.data, ldc: n)
        var worst: Float = 0
        for i in 0..<c1.count { worst = max(worst, abs(c1[i] - c2[i]) / max(1, abs(c2[i]))) }
        XCTAssertLessThan(worst, 1e-4 * Float(max(1, k / 64)), "\(m)x\(n)x\(k) tA=\(transA) tB=\(transB) threads=\(threads)")
    }

    /// Both micro-kernels (the run-time-selected AVX-512 one where the CPU has it, and the portable one).
    func testShapesAndModes() {
        let saved = GEMM.kernel
        defer { GEMM.kernel = saved }
        for kernel in GEMM.cpuHasAVX512 ? [GEMM.Kernel.avx512, .portable] : [.portable] {
            GEMM.kernel = kernel
            checkShapes()
        }
    }

    /// The streaming dot-product GEMM of the weight gradients (`DotGEMM`) against its plain reference, for both
    /// tile kernels, with row and column counts that leave partial tiles and B rows that overlap (shifted views).
    func testDotGEMMMatchesReference() {
        let saved = GEMM.kernel
        defer { GEMM.kernel = saved }
        for kernel in GEMM.cpuHasAVX512 ? [GEMM.Kernel.avx512, .portable] : [.portable] {
            GEMM.kernel = kernel
            for (m, n, columns) in [(1, 16, 1), (5, 32, 7), (12, 64, 9), (13, 48, 29), (32, 160, 288)] {
                var rng = SeededGenerator(seed: UInt64(m * 131 + n * 7 + columns))
                let rows = (m + DotGEMM.rowMultiple - 1) / DotGEMM.rowMultiple * DotGEMM.rowMultiple
                let a = Tensor(shape: [rows, n]), b = Tensor(shape: [3 * n + 16 + n])
                for i in 0..<(m * n) { a[i] = rng.nextNormal() }
                for i in 0..<(3 * n + 16) { b[i] = rng.nextNormal() }
                let zeroOffset = 3 * n + 16
                let offsets = (0..<columns).map { j in (j * 5) % (2 * n + 16) }
                let c1 = Tensor(shape: [m, columns]), c2 = Tensor(shape: [m, columns])
                for i in 0..<c1.count { c1[i] = rng.nextNormal(); c2[i] = c1[i] }
                offsets.withUnsafeBufferPointer { o in
                    DotGEMM.accumulate(m: m, n: n, a: a.data, lda: n, b: b.data, bOffsets: o.baseAddress!, columns: columns,
                                       zeroOffset: zeroOffset, c: c1.data, ldc: columns)
                    DotGEMM.reference(m: m, n: n, a: a.data, lda: n, b: b.data, bOffsets: o.baseAddress!, columns: columns,
                                      c: c2.data, ldc: columns)
                }
                var worst: Float = 0
                for i in 0..<c1.count { worst = max(worst, abs(c1[i] - c2[i]) / max(1, abs(c2[i]))) }
                XCTAssertLessThan(worst, 1e-4, "DotGEMM \(kernel) \(m)x\(columns), n \(n)")
            }
        }
    }

    func checkShapes() {
        let shapes = [(1, 1, 1), (5, 7, 3), (6, 32, 8), (13, 45, 300), (64, 64, 64), (33, 100, 513), (130, 17, 260),
                      (16, 784, 25), (7, 2100, 9), (12, 40, 641), (6, 16, 576)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                run(m, n, k, transA: ta, transB: tb, alpha: 1, beta: 0, threads: 1)
            }
            run(m, n, k, transA: false, transB: false, alpha: 0.5, beta: 1.5, threads: 2)
        }
        run(300, 40, 200, transA: false, transB: true, alpha: 1, beta: 1, threads: 2)  // split rows
        run(20, 700, 150, transA: true, transB: false, alpha: -2, beta: 0, threads: 2)  // split columns
    }

    func testIm2ColCol2ImAreAdjoint() {
        // <im2col(x), c> == <x, col2im(c)> for random x, c: col2im is the exact adjoint of im2col.
        let g = ConvGeometry(channels: 2, height: 6, width: 5, kernelH: 3, kernelW: 2, strideH: 2, strideW: 1,
                             padTop: 1, padLeft: 0, padBottom: 1, padRight: 1)
        var rng = SeededGenerator(seed: 1)
        let x = Tensor(shape: [2, 6, 5]), c = Tensor(shape: [g.patchSize, g.outHeight * g.outWidth])
        for i in 0..<x.count { x[i] = rng.nextNormal() }
        for i in 0..<c.count { c[i] = rng.nextNormal() }
        let col = Tensor(shape: c.shape), back = Tensor(shape: x.shape)
        Im2Col.im2col(x.data, g, into: col.data)
        Im2Col.col2im(c.data, g, into: back.data)
        var lhs = 0.0, rhs = 0.0
        for i in 0..<c.count { lhs += Double(col[i]) * Double(c[i]) }
        for i in 0..<x.count { rhs += Double(x[i]) * Double(back[i]) }
        XCTAssertEqual(lhs, rhs, accuracy: 1e-4)
        // A hand-checked entry: tap (c=0, ky=0, kx=0) at output (0,0) reads padded row -1 -> 0.
        XCTAssertEqual(col[0], 0)
        // Tap (c=0, ky=1, kx=0) at output (0,0) reads x[0,0,0].
        XCTAssertEqual(col[2 * g.outHeight * g.outWidth], x[0])
    }

    func testSeededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9), c = SeededGenerator(seed: 10)
        let va = (0..<5).map { _ in a.next() }, vb = (0..<5).map { _ in b.next() }, vc = (0..<5).map { _ in c.next() }
        XCTAssertEqual(va, vb)
        XCTAssertNotEqual(va, vc)
    }
}
