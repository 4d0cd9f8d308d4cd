/// Single-precision matrix multiply, the engine's one hot kernel:
/// `C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C`, row-major, with `op` an optional transpose.
///
/// Blocked as in GotoBLAS/BLIS: B is packed into `KC x NR` panels, A into `MR x KC` panels, and a register-tiled
/// micro-kernel of `MR x NR` accumulators runs over each pair. The kernel is chosen at run time: on CPUs with
/// AVX-512F the 6x32 kernel of `NIKernelsAVX512` (two 16-lane vectors per row), elsewhere the portable 6x16
/// kernel below (two 8-lane vectors: AVX2+FMA on x86-64, NEON on arm64). `reference` is the plain triple loop
/// that tests compare against.
public enum GEMM {
    /// The available micro-kernels.
    public enum Kernel: String, Sendable { case avx512, portable }

    /// The kernel in use: AVX-512 when the CPU has it, unless `NEURONINSPECT_KERNEL=portable`.
    /// Tests switch it to check both against the reference.
    nonisolated(unsafe) public static var kernel: Kernel = detectKernel() {
        didSet { nr = kernel == .avx512 ? 32 : 16 }
    }
    /// Rows of the micro-tile.
    public static let mr = 6
    /// Columns of the micro-tile (32 for the AVX-512 kernel, 16 for the portable one).
    nonisolated(unsafe) public private(set) static var nr = kernel == .avx512 ? 32 : 16
    static let maxNR = 32
    typealias Vec = SIMD8<Float>

    /// True when the CPU supports AVX-512F (Linux: `/proc/cpuinfo`; elsewhere false).
    public static var cpuHasAVX512: Bool {
        #if arch(x86_64) && os(Linux)
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        for line in info.split(separator: "\n") where line.hasPrefix("flags") {
            return line.split(separator: " ").contains("avx512f")
        }
        #endif
        return false
    }

    static func detectKernel() -> Kernel {
        if let forced = getenv("NEURONINSPECT_KERNEL").map({ String(cString: $0) }), let k = Kernel(rawValue: forced) {
            return k == .avx512 && !cpuHasAVX512 ? .portable : k
        }
        return cpuHasAVX512 ? .avx512 : .portable
    }
    /// Depth blocks are at most `kc` deep; a longer reduction is cut into equal blocks (K = 288 runs as one block,
    /// 576 as two of 288), so no short remainder block pays a full packing and C update for little work.
    static let kc = 320
    static let mc = 120
    @inline(__always) static func depthBlock(_ k: Int) -> Int {
        let blocks = (k + kc - 1) / kc
        return (k + blocks - 1) / blocks
    }
    static let nc = 2048

    /// Per-thread packing buffers, reused across calls.
    public final class Workspace: @unchecked Sendable {
        var packA: UnsafeMutablePointer<Float>
        var packB: UnsafeMutablePointer<Float>
        var tile: UnsafeMutablePointer<Float>
        public init() {
            packA = GEMM.alloc(GEMM.mc * GEMM.kc)
            packB = GEMM.alloc(GEMM.kc * (GEMM.nc + GEMM.maxNR))
            tile = GEMM.alloc(GEMM.mr * GEMM.maxNR)
        }
        deinit { packA.deallocate(); packB.deallocate(); tile.deallocate() }
    }

    static func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: n)
        p.initialize(repeating: 0, count: n)
        return p
    }

    /// One workspace per top-level worker thread.
    nonisolated(unsafe) static var pool: [Workspace] = []
    static let poolLock = NSLockShim()

    static func workspaces(_ n: Int) -> [Workspace] {
        poolLock.lock(); defer { poolLock.unlock() }
        while pool.count < n { pool.append(Workspace()) }
        return Array(pool.prefix(n))
    }

    /// `C = alpha * op(A) · op(B) + beta * C`. When `workspace` is given the call runs on the calling thread
    /// with those buffers (use this inside a parallel region); otherwise it splits the work over
    /// `threads` workers.
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                             threads: Int = Parallel.threadCount, workspace: Workspace? = nil) {
        if m == 0 || n == 0 { return }
        if beta != 1 {
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
            }
        }
        if k == 0 || alpha == 0 { return }
        if let ws = workspace {
            block(transA: transA, transB: transB, rows: 0..<m, cols: 0..<n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, ws: ws)
            return
        }
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let t = flops < 4e6 ? 1 : Swift.max(1, threads)
        let wss = workspaces(t)
        if t == 1 {
            block(transA: transA, transB: transB, rows: 0..<m, cols: 0..<n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, ws: wss[0])
            return
        }
        // Split the larger dimension, on micro-tile boundaries.
        let splitRows = m >= n
        let unit = splitRows ? mr : nr
        let blocks = ((splitRows ? m : n) + unit - 1) / unit
        Parallel.forEachChunk(blocks, chunks: t) { chunk, r in
            let lo = r.lowerBound * unit
            let hi = Swift.min(r.upperBound * unit, splitRows ? m : n)
            if lo >= hi { return }
            block(transA: transA, transB: transB, rows: splitRows ? lo..<hi : 0..<m,
                  cols: splitRows ? 0..<n : lo..<hi, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, ws: wss[chunk])
        }
    }

    @inline(__always)
    static func block(transA: Bool, transB: Bool, rows: Range<Int>, cols: Range<Int>, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      c: UnsafeMutablePointer<Float>, ldc: Int, ws: Workspace) {
        block(transA: transA, rows: rows, cols: cols, k: k, alpha: alpha, a: a, lda: lda,
              packer: MatrixPacker(b: b, ldb: ldb, transB: transB), c: c, ldc: ldc, ws: ws)
    }

    /// Single-threaded GEMM whose B operand is produced panel by panel by `packer` (e.g. an implicit im2col),
    /// so B never needs to exist as a matrix. `C[rows, cols] += alpha · op(A) · B` after `beta` scaling.
    public static func sgemm<P: PanelPacker>(transA: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                                             a: UnsafePointer<Float>, lda: Int, packer: P, beta: Float = 0,
                                             c: UnsafeMutablePointer<Float>, ldc: Int, workspace: Workspace) {
        if m == 0 || n == 0 { return }
        if beta != 1 {
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
            }
        }
        if k == 0 || alpha == 0 { return }
        block(transA: transA, rows: 0..<m, cols: 0..<n, k: k, alpha: alpha, a: a, lda: lda, packer: packer,
              c: c, ldc: ldc, ws: workspace)
    }

    @inline(__always)
    static func block<P: PanelPacker>(transA: Bool, rows: Range<Int>, cols: Range<Int>, k: Int, alpha: Float,
                                      a: UnsafePointer<Float>, lda: Int, packer: P,
                                      c: UnsafeMutablePointer<Float>, ldc: Int, ws: Workspace) {
        var j0 = cols.lowerBound
        while j0 < cols.upperBound {
            let ncur = Swift.min(nc, cols.upperBound - j0)
            var p0 = 0
            let kb = depthBlock(k)
            while p0 < k {
                let kcur = Swift.min(kb, k - p0)
                packer.pack(p0: p0, kc: kcur, j0: j0, nc: ncur, into: ws.packB)
                var i0 = rows.lowerBound
                while i0 < rows.upperBound {
                    let mcur = Swift.min(mc, rows.upperBound - i0)
                    packA(transA: transA, a: a, lda: lda, i0: i0, mc: mcur, p0: p0, kc: kcur, alpha: alpha,
                          into: ws.packA)
                    macroKernel(mc: mcur, nc: ncur, kc: kcur, packA: ws.packA, packB: ws.packB,
                                c: c + i0 * ldc + j0, ldc: ldc, tile: ws.tile)
                    i0 += mcur
                }
                p0 += kcur
            }
            j0 += ncur
        }
    }

    /// Packs rows `i0..<i0+mc`, depth `p0..<p0+kc` of op(A) (scaled by alpha) into MR-row panels,
    /// layout `[panel][k][MR]`, zero-padded.
    @inline(__always)
    static func packA(transA: Bool, a: UnsafePointer<Float>, lda: Int, i0: Int, mc: Int, p0: Int, kc: Int,
                      alpha: Float, into dst: UnsafeMutablePointer<Float>) {
        var d = dst
        var i = 0
        while i < mc {
            let rowsHere = Swift.min(mr, mc - i)
            if !transA && rowsHere == mr {
                // Six row streams read in step, the panel written contiguously.
                let s0 = a + (i0 + i) * lda + p0, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda
                if alpha == 1 {
                    for p in 0..<kc {
                        let row = d + p * mr
                        row[0] = s0[p]; row[1] = s1[p]; row[2] = s2[p]; row[3] = s3[p]; row[4] = s4[p]; row[5] = s5[p]
                    }
                } else {
                    for p in 0..<kc {
                        let row = d + p * mr
                        row[0] = alpha * s0[p]; row[1] = alpha * s1[p]; row[2] = alpha * s2[p]
                        row[3] = alpha * s3[p]; row[4] = alpha * s4[p]; row[5] = alpha * s5[p]
                    }
                }
            } else if !transA {
                for r in 0..<mr {
                    if r < rowsHere {
                        let src = a + (i0 + i + r) * lda + p0
                        for p in 0..<kc { d[p * mr + r] = alpha * src[p] }
                    } else {
                        for p in 0..<kc { d[p * mr + r] = 0 }
                    }
                }
            } else {
                for p in 0..<kc {
                    let src = a + (p0 + p) * lda + i0 + i
                    let row = d + p * mr
                    for r in 0..<mr { row[r] = r < rowsHere ? alpha * src[r] : 0 }
                }
            }
            d += mr * kc
            i += mr
        }
    }

    /// Packs depth `p0..<p0+kc`, columns `j0..<j0+nc` of op(B) into NR-column panels, layout `[panel][k][NR]`.
    @inline(__always)
    public static func packB(transB: Bool, b: UnsafePointer<Float>, ldb: Int, p0: Int, kc: Int, j0: Int, nc: Int,
                      into dst: UnsafeMutablePointer<Float>) {
        var d = dst
        var j = 0
        while j < nc {
            let colsHere = Swift.min(nr, nc - j)
            if !transB {
                if colsHere == nr {
                    // Whole panels: vector copies (a memmove call per 64-byte row cost a fifth of the GEMM).
                    var src = UnsafeRawPointer(b + p0 * ldb + j0 + j)
                    var dst = UnsafeMutableRawPointer(d)
                    let step = ldb * 4
                    for _ in 0..<kc {
                        for q in stride(from: 0, to: nr * 4, by: 32) {
                            dst.storeBytes(of: src.loadUnaligned(fromByteOffset: q, as: Vec.self), toByteOffset: q, as: Vec.self)
                        }
                        src += step
                        dst += nr * 4
                    }
                } else {
                    for p in 0..<kc {
                        let src = b + (p0 + p) * ldb + j0 + j
                        let row = d + p * nr
                        for q in 0..<nr { row[q] = q < colsHere ? src[q] : 0 }
                    }
                }
            } else {
                for q in 0..<nr {
                    if q < colsHere {
                        let src = b + (j0 + j + q) * ldb + p0
                        for p in 0..<kc { d[p * nr + q] = src[p] }
                    } else {
                        for p in 0..<kc { d[p * nr + q] = 0 }
                    }
                }
            }
            d += nr * kc
            j += nr
        }
    }

    @inline(__always)
    static func macroKernel(mc: Int, nc: Int, kc: Int, packA: UnsafeMutablePointer<Float>,
                            packB: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                            tile: UnsafeMutablePointer<Float>) {
        let nr = GEMM.nr, wide = nr == 32
        var j = 0
        while j < nc {
            let cols = Swift.min(nr, nc - j)
            let bp = packB + (j / nr) * nr * kc
            var i = 0
            while i < mc {
                let rows = Swift.min(mr, mc - i)
                let ap = packA + (i / mr) * mr * kc
                if rows == mr && cols == nr {
                    wide ? microKernel6x32(kc: kc, a: ap, b: bp, c: c + i * ldc + j, ldc: ldc)
                         : microKernel(kc: kc, a: ap, b: bp, c: c + i * ldc + j, ldc: ldc)
                } else {
                    tile.update(repeating: 0, count: mr * nr)
                    wide ? microKernel6x32(kc: kc, a: ap, b: bp, c: tile, ldc: nr)
                         : microKernel(kc: kc, a: ap, b: bp, c: tile, ldc: nr)
                    for r in 0..<rows {
                        let dst = c + (i + r) * ldc + j
                        let src = tile + r * nr
                        for q in 0..<cols { dst[q] += src[q] }
                    }
                }
                i += mr
            }
            j += nr
        }
    }

    /// The portable register-tiled `6 x 16` kernel: `C[6, 16] += Apanel[6, kc] · Bpanel[kc, 16]`.
    @inline(__always)
    static func microKernel(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        let w = Vec.scalarCount
        var c00 = Vec(), c01 = Vec(), c10 = Vec(), c11 = Vec(), c20 = Vec(), c21 = Vec()
        var c30 = Vec(), c31 = Vec(), c40 = Vec(), c41 = Vec(), c50 = Vec(), c51 = Vec()
        var ap = a
        var bp = UnsafeRawPointer(b)
        for _ in 0..<kc {
            let b0 = bp.load(as: Vec.self)
            let b1 = bp.load(fromByteOffset: w * 4, as: Vec.self)
            var x = Vec(repeating: ap[0]); c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = Vec(repeating: ap[1]); c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = Vec(repeating: ap[2]); c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = Vec(repeating: ap[3]); c30.addProduct(x, b0); c31.addProduct(x, b1)
            x = Vec(repeating: ap[4]); c40.addProduct(x, b0); c41.addProduct(x, b1)
            x = Vec(repeating: ap[5]); c50.addProduct(x, b0); c51.addProduct(x, b1)
            ap += 6
            bp += 2 * w * 4
        }
        @inline(__always) func acc(_ row: Int, _ v0: Vec, _ v1: Vec) {
            let p = UnsafeMutableRawPointer(c + row * ldc)
            p.storeBytes(of: p.loadUnaligned(as: Vec.self) + v0, as: Vec.self)
            p.storeBytes(of: p.loadUnaligned(fromByteOffset: w * 4, as: Vec.self) + v1,
                         toByteOffset: w * 4, as: Vec.self)
        }
        acc(0, c00, c01); acc(1, c10, c11); acc(2, c20, c21)
        acc(3, c30, c31); acc(4, c40, c41); acc(5, c50, c51)
    }

    /// The plain triple loop (Double accumulation): the reference the fast kernel is tested against.
    public static func reference(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                                 alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                 b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                                 c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(s) + old
            }
        }
    }
}

/// Produces the packed B operand of a GEMM: depth `p0..<p0+kc`, columns `j0..<j0+nc` into NR-column panels,
/// layout `[panel][k][GEMM.nr]`, zero-padded to whole panels.
public protocol PanelPacker {
    func pack(p0: Int, kc: Int, j0: Int, nc: Int, into dst: UnsafeMutablePointer<Float>)
}

/// The ordinary packer: B is a row-major matrix (or its transpose).
public struct MatrixPacker: PanelPacker {
    public let b: UnsafePointer<Float>, ldb: Int, transB: Bool
    public init(b: UnsafePointer<Float>, ldb: Int, transB: Bool) { self.b = b; self.ldb = ldb; self.transB = transB }
    @inline(__always)
    public func pack(p0: Int, kc: Int, j0: Int, nc: Int, into dst: UnsafeMutablePointer<Float>) {
        GEMM.packB(transB: transB, b: b, ldb: ldb, p0: p0, kc: kc, j0: j0, nc: nc, into: dst)
    }
}

/// A minimal mutex (pthread) so the core module needs nothing beyond the standard library and Glibc.
final class NSLockShim: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func lock() { pthread_mutex_lock(&mutex) }
    func unlock() { pthread_mutex_unlock(&mutex) }
}

import NIKernelsAVX512
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
