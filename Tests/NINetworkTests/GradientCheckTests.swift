import XCTest
import NITensor
@testable import NINetwork

/// Finite-difference gradient checks, one line per layer and mode (ggml's test-backend-ops style).
///
/// For each case the loss is `L = Σ r ⊙ layer(x)` with a fixed random `r`, evaluated in Double from the
/// layer's Float32 outputs; central differences `(L(θ+ε) - L(θ-ε)) / 2ε` are compared with
///   * `backward` for the input gradient and every parameter gradient, and
///   * `rectifiedBackward` against its definition: `[x > 0] · max(r, 0)` (times the slope for LeakyReLU) at a
///     ReLU-like gate, the exact input gradient for every other layer.
/// Inputs are drawn away from ReLU kinks and max-pool ties.
final class GradientCheckTests: XCTestCase {
    enum Gate { case none, relu, leaky(Float) }
    enum InputKind { case normal, awayFromZero, distinct }

    struct Case {
        let name: String
        let make: () -> Layer
        let shape: [Int]
        var mode: ForwardMode = .inference
        var input: InputKind = .normal
        var gate: Gate = .none
        var eps: Double = 1e-2
        var prepare: (Layer, inout SeededGenerator) -> Void = { _, _ in }
    }

    static let cases: [Case] = [
        Case(name: "Conv 3x3 pad 1", make: { Conv2D(2, 3, kernel: 3, padding: 1) }, shape: [2, 2, 5, 5]),
        Case(name: "Conv 3x3 pad 1, batch 5 (grouped weight gradient)", make: { Conv2D(2, 3, kernel: 3, padding: 1) }, shape: [5, 2, 4, 4]),
        Case(name: "Conv 5x5 pad 2 (MNIST layer)", make: { Conv2D(1, 2, kernel: 5, padding: 2) }, shape: [2, 1, 7, 7]),
        Case(name: "Conv 2x3 stride (2,1) asymmetric pad",
             make: { Conv2D(inChannels: 2, outChannels: 2, kernel: (2, 3), stride: (2, 1), padding: (1, 0, 0, 2)) },
             shape: [2, 2, 6, 5]),
        Case(name: "Conv 3x3 stride 2 no pad", make: { Conv2D(3, 2, kernel: 3, stride: 2) }, shape: [1, 3, 7, 7]),
        Case(name: "Dense", make: { Dense(12, 5) }, shape: [3, 12]),
        Case(name: "Dense from 4-D input", make: { Dense(18, 4) }, shape: [2, 2, 3, 3]),
        Case(name: "ReLU", make: { ReLU() }, shape: [2, 3, 4, 4], input: .awayFromZero, gate: .relu),
        Case(name: "LeakyReLU 0.1", make: { LeakyReLU(alpha: 0.1) }, shape: [2, 3, 4, 4], input: .awayFromZero, gate: .leaky(0.1)),
        Case(name: "MaxPool 2x2", make: { MaxPool2D(kernel: 2) }, shape: [2, 2, 4, 4], input: .distinct, eps: 1e-3),
        Case(name: "MaxPool 3x3 stride 2", make: { MaxPool2D(kernel: 3, stride: 2) }, shape: [1, 2, 7, 7], input: .distinct, eps: 1e-3),
        Case(name: "AvgPool 2x2", make: { AvgPool2D(kernel: 2) }, shape: [2, 2, 4, 4]),
        Case(name: "AvgPool 3x3 stride 2 pad 1", make: { AvgPool2D(kernel: 3, stride: 2, padding: 1) }, shape: [1, 2, 5, 5]),
        Case(name: "AvgPool 3x3 pad 1 count_include_pad",
             make: { AvgPool2D(kernel: 3, stride: 1, padding: 1, countIncludePad: true) }, shape: [1, 1, 4, 4]),
        Case(name: "GlobalAveragePool", make: { GlobalAveragePool() }, shape: [2, 3, 3, 4]),
        Case(name: "BatchNorm training", make: { BatchNorm(3) }, shape: [4, 3, 2, 2], mode: .training,
             prepare: { l, rng in let b = l as! BatchNorm; for c in 0..<3 { b.gamma.value[c] = 0.5 + rng.nextUnit(); b.beta.value[c] = rng.nextUnit() - 0.5 } }),
        Case(name: "BatchNorm inference", make: { BatchNorm(3) }, shape: [2, 3, 2, 2],
             prepare: { l, rng in let b = l as! BatchNorm
                 for c in 0..<3 { b.gamma.value[c] = 0.5 + rng.nextUnit(); b.beta.value[c] = rng.nextUnit() - 0.5
                     b.runningMean.value[c] = rng.nextUnit() - 0.5; b.runningVar.value[c] = 0.5 + rng.nextUnit() } }),
        Case(name: "BatchNorm 1-D training", make: { BatchNorm(5) }, shape: [6, 5], mode: .training),
        Case(name: "Dropout training (fixed mask)", make: { Dropout(0.3) }, shape: [2, 10], mode: .training),
        Case(name: "Dropout inference", make: { Dropout(0.3) }, shape: [2, 10]),
        Case(name: "Flatten", make: { Flatten() }, shape: [2, 2, 3, 3]),
        Case(name: "Softmax", make: { Softmax() }, shape: [3, 6]),
    ]

    /// Every case under each GEMM micro-kernel this CPU can run (AVX-512 and portable).
    func testAllLayers() {
        let saved = GEMM.kernel
        defer { GEMM.kernel = saved }
        for kernel in GEMM.cpuHasAVX512 ? [GEMM.Kernel.avx512, .portable] : [.portable] {
            GEMM.kernel = kernel
            for c in Self.cases { check(c) }
        }
    }

    func makeInput(_ c: Case, _ rng: inout SeededGenerator) -> Tensor {
        let x = Tensor(shape: c.shape)
        switch c.input {
        case .normal: for i in 0..<x.count { x[i] = rng.nextNormal() }
        case .awayFromZero:
            for i in 0..<x.count { let v = 0.1 + rng.nextUnit(); x[i] = rng.nextUnit() < 0.5 ? -v : v }
        case .distinct:
            var values = (0..<x.count).map { Float($0) * 0.05 - Float(x.count) * 0.025 }
            rng.shuffle(&values)
            for i in 0..<x.count { x[i] = values[i] }
        }
        return x
    }

    func check(_ c: Case, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededGenerator(seed: 42)
        let layer = c.make()
        for p in layer.parameters where p.trainable { for i in 0..<p.value.count { p.value[i] = rng.nextNormal() * 0.5 } }
        c.prepare(layer, &rng)
        let x = makeInput(c, &rng)
        let outShape = try! layer.outputShape(for: c.shape)
        let r = Tensor(shape: outShape)
        for i in 0..<r.count { r[i] = rng.nextNormal() }

        func loss() -> Double {
            (layer as? Dropout)?.reseed(7)
            let y = layer.forward(x, mode: c.mode)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
            return s
        }
        func numeric(_ t: Tensor, _ i: Int) -> Double { FiniteDifferences.central(t, i, eps: c.eps, loss: loss) }
        let close = FiniteDifferences.close

        // Analytical gradients.
        for p in layer.parameters where p.trainable { p.grad.zero() }
        _ = loss()
        let dx = layer.backward(r, parameterGradients: true, inputGradient: true).copy()
        let rdx = layer.rectifiedBackward(r).copy()
        XCTAssertEqual(dx.shape, x.shape, "\(c.name): dx shape", file: file, line: line)

        for i in 0..<x.count {
            let n = numeric(x, i)
            XCTAssert(close(Double(dx[i]), n), "\(c.name): dL/dx[\(i)] analytic \(dx[i]) vs numeric \(n)", file: file, line: line)
            let expectedRect: Double
            switch c.gate {
            case .none: expectedRect = n
            case .relu: expectedRect = x[i] > 0 ? max(Double(r[i]), 0) : 0
            case .leaky(let a): expectedRect = max(Double(r[i]), 0) * (x[i] > 0 ? 1 : Double(a))
            }
            XCTAssert(close(Double(rdx[i]), expectedRect),
                      "\(c.name): rectified dx[\(i)] \(rdx[i]) vs definition \(expectedRect)", file: file, line: line)
        }
        for p in layer.parameters where p.trainable {
            let g = p.grad.copy()
            for i in 0..<p.value.count {
                let n = numeric(p.value, i)
                XCTAssert(close(Double(g[i]), n), "\(c.name): d\(p.name)[\(i)] analytic \(g[i]) vs numeric \(n)", file: file, line: line)
            }
        }
    }

    /// The rectified backward of a whole model equals the chain of the per-layer definition: at each ReLU
    /// `g ← [x > 0] · max(g, 0)`, elsewhere `g ← exact input gradient of the layer`.
    func testRectifiedSequentialMatchesDefinition() throws {
        let model = try ArchitectureSpec("input(2,6,6) conv(3,3,pad=1) relu maxpool(2) flatten dense(8) relu dense(4)").build(seed: 3)
        var rng = SeededGenerator(seed: 5)
        let x = Tensor(shape: [2, 2, 6, 6])
        for i in 0..<x.count { x[i] = rng.nextNormal() }
        var inputs: [Tensor] = []
        var h = x
        for l in model.layers { inputs.append(h.copy()); h = l.forward(h, mode: .inference) }
        let r = Tensor(shape: h.shape)
        for i in 0..<r.count { r[i] = rng.nextNormal() }
        let got = model.rectifiedBackward(r).copy()
        var g = r.copy()
        for (l, xin) in zip(model.layers, inputs).reversed() {
            if l is ReLU {
                let ng = Tensor(shape: xin.shape)
                for i in 0..<ng.count { ng[i] = xin[i] > 0 ? max(g[i], 0) : 0 }
                g = ng
            } else {
                g = l.inputGradient(g).copy()
            }
        }
        for i in 0..<got.count { XCTAssertEqual(got[i], g[i], accuracy: 1e-5) }
        // And it differs from the plain gradient somewhere (the clipping does something on this input).
        let plain = model.backward(r, parameterGradients: false, inputGradient: true)
        var differs = false
        for i in 0..<got.count where abs(plain[i] - got[i]) > 1e-4 { differs = true }
        XCTAssertTrue(differs)
    }
}
