/// Which GEMM micro-kernel this build carries (set by the package's kernel flags).
public enum BuildInfo {
    #if NI_AVX512
    public static let kernelFlavour = "AVX-512 (6x32 micro-kernel)"
    #else
    public static let kernelFlavour = "portable (6x16 micro-kernel; AVX2+FMA on x86-64)"
    #endif
}
