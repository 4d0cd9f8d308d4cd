// swift-tools-version:6.0
//
// NeuronInspect: trojan-backdoor detection for image classifiers, on a CPU engine written in Swift.
//
// Kernel build flags (see README "Build flavours"):
//   * The compute modules (NITensor, NINetwork) are always compiled with -Ounchecked, also inside a debug
//     `swift test`, so end-to-end tests run at full speed.
//   * Portable default on x86_64: `-target-cpu haswell` (AVX2 + FMA: any Intel Haswell / AMD Zen or newer).
//     Without a target CPU, Swift lowers SIMD fused multiply-adds to scalar `fmaf` calls (100x slower).
//   * The GEMM micro-kernel is chosen at run time: the 6x32 AVX-512 kernel (module NIKernelsAVX512, the only
//     code compiled for AVX-512) when the CPU has AVX-512F, else the portable 6x16 kernel.
//   * Native build: `NEURONINSPECT_TARGET_CPU=native swift build -c release` (or any LLVM CPU name, e.g.
//     znver4) compiles the other compute code for this CPU too.
import PackageDescription
import Foundation

let env = ProcessInfo.processInfo.environment
#if arch(x86_64)
let targetCPU = env["NEURONINSPECT_TARGET_CPU"] ?? "haswell"
#else
let targetCPU = env["NEURONINSPECT_TARGET_CPU"] ?? ""
#endif

var kernelFlags = ["-Ounchecked"]
if !targetCPU.isEmpty { kernelFlags += ["-target-cpu", targetCPU] }
let kernelSettings: [SwiftSetting] = [.unsafeFlags(kernelFlags)]
#if arch(x86_64)
// Only the AVX-512 micro-kernel is compiled for AVX-512; GEMM calls it after a run-time CPU check.
let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "skylake-avx512"])]
#else
let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
#endif

let package = Package(
    name: "NeuronInspect",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "neuroninspect", targets: ["neuroninspect"]),
        .library(name: "NeuronInspect", targets: ["NITensor", "NINetwork", "NIDatasets", "NIONNX", "NIAttacks",
                                                  "NIExplainers", "NIDetectors", "NIExperiments"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
    ],
    targets: [
        // System libraries that ship with the image (zlib for gzip'd IDX, libpng for PNG folders).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),

        // Tensor core: storage, GEMM (fast + reference), im2col, element-wise kernels, parallel loops.
        .target(name: "NIKernelsAVX512", swiftSettings: avx512Settings),
        .target(name: "NITensor", dependencies: ["NIKernelsAVX512"], swiftSettings: kernelSettings),
        // Layers (forward, backward, rectified backward), models, losses, optimisers, trainer.
        .target(name: "NINetwork", dependencies: ["NITensor"], swiftSettings: kernelSettings),
        // Datasets: MNIST IDX, GTSRB official layout, image folders (PNG/PPM).
        .target(name: "NIDatasets", dependencies: ["NITensor", "CZlib", "CPNG"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        // ONNX model files: protobuf bindings generated from onnx.proto, export and import.
        .target(name: "NIONNX", dependencies: ["NITensor", "NINetwork",
                                               .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // Trojan attacks: trigger specs, BadNets poisoning, attack success rate (issue 3).
        .target(name: "NIAttacks", dependencies: ["NITensor", "NINetwork", "NIDatasets"], swiftSettings: kernelSettings),
        // Explainers: rectified saliency and the other gradient heatmaps, one type each (issue 3).
        .target(name: "NIExplainers", dependencies: ["NITensor", "NINetwork"], swiftSettings: kernelSettings),
        // Detectors: heatmap features, MAD outlier test, NeuronInspect (issue 3).
        .target(name: "NIDetectors", dependencies: ["NITensor", "NINetwork", "NIExplainers"], swiftSettings: kernelSettings),
        // Reports: terminal table, JSON and a self-contained HTML page with heatmaps (issue 3).
        .target(name: "NIReports", dependencies: ["NITensor", "NINetwork", "NIDatasets", "NIExplainers", "NIDetectors"]),
        // Benchmarks printed by `neuroninspect bench`, with PyTorch's figures from the same run.
        .target(name: "NIBenchmarks", dependencies: ["NITensor", "NINetwork", "NIDetectors"], swiftSettings: kernelSettings),
        // Experiments: zoo plans (grids of benign and trojaned models), sharding, result tables (issue 6).
        .target(name: "NIExperiments", dependencies: ["NIDetectors"]),
        // The command-line tool: a thin shell over the library.
        .executableTarget(name: "neuroninspect", dependencies: [
            "NITensor", "NINetwork", "NIDatasets", "NIONNX", "NIBenchmarks", "NIAttacks", "NIExplainers", "NIDetectors", "NIReports", "NIExperiments",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], resources: [.copy("Resources/Demo")]),

        .testTarget(name: "NITensorTests", dependencies: ["NITensor"]),
        .testTarget(name: "NINetworkTests", dependencies: ["NINetwork", "NITensor", "NIDatasets"]),
        .testTarget(name: "NIDatasetsTests", dependencies: ["NIDatasets", "NITensor"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "NIAttacksTests", dependencies: ["NIAttacks", "NITensor", "NINetwork", "NIDatasets"]),
        .testTarget(name: "NIExplainersTests", dependencies: ["NIExplainers", "NITensor", "NINetwork"]),
        .testTarget(name: "NIDetectorsTests", dependencies: ["NIDetectors", "NIExplainers", "NITensor", "NINetwork", "NIDatasets", "NIAttacks"],
                    exclude: ["make_expected.py"]),
        .testTarget(name: "CLITests", dependencies: ["neuroninspect", "NITensor", "NINetwork", "NIDatasets", "NIONNX",
                                                  .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(name: "NIExperimentsTests", dependencies: ["NIExperiments", "NIDetectors"]),
        .testTarget(name: "NIReportsTests", dependencies: ["NIReports", "NIDetectors", "NIExplainers", "NITensor"]),
        .testTarget(name: "NIONNXTests", dependencies: ["NIONNX", "NINetwork", "NITensor"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
