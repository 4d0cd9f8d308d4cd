import NITensor

/// Which GEMM micro-kernel runs (chosen at run time from the CPU's features).
public enum BuildInfo {
    public static var kernelFlavour: String {
        GEMM.kernel == .avx512 ? "AVX-512 6x32 micro-kernel (run-time dispatch)" : "portable 6x16 micro-kernel (AVX2+FMA on x86-64)"
    }
}
