import XCTest
import NITensor
import NINetwork
@testable import NIExplainers

/// Explainers on a hand-weighted model whose heatmaps are exact (Captum's test style).
///
/// Model: x ∈ R³ (as [1,1,3]) → h = ReLU(W1 x), W1 = [[1,-1,0],[0,1,2]] → logits = W2 h, W2 = [[1,-1],[2,1]].
/// For x = (1, 0.5, 0.25): W1 x = (0.5, 1.0), both units active.
///   class 0: ∂/∂h = (1,-1); plain ∂/∂x = W1ᵀ(1,-1) = (1,-2,-2); rectified clips -1 → W1ᵀ(1,0) = (1,-1,0).
///   class 1: ∂/∂h = (2,1) (no clipping); ∂/∂x = (2,-1,2) for both rules.
/// For x = (0, 1, 0): W1 x = (-1, 1), unit 0 inactive.
///   class 0: plain masks unit 0: W1ᵀ(0,-1) = (0,-1,-2); rectified: max((1,-1),0)·[active] = (0,0) → (0,0,0).
final class ExplainerTests: XCTestCase {
    func model() throws -> Sequential {
        let d1 = Dense(3, 2), d2 = Dense(2, 2)
        for (i, v) in [Float(1), -1, 0, 0, 1, 2].enumerated() { d1.weight.value[i] = v }
        for (i, v) in [Float(1), -1, 2, 1].enumerated() { d2.weight.value[i] = v }
        return try Sequential(inputShape: [1, 1, 3], layers: [Flatten(), d1, ReLU(), d2])
    }

    let inputs = Tensor(shape: [2, 1, 1, 3], values: [1, 0.5, 0.25, 0, 1, 0])

    func maps(_ e: Explainer) throws -> [[Float]] {
        let h = e.attributeAllClasses(try model(), inputs: inputs)
        XCTAssertEqual(h.maps.shape, [2, 2, 1, 3])
        // [class][image*3 + pixel]
        return (0..<2).map { c in (0..<6).map { h.maps[c * 6 + $0] } }
    }

    func testRectifiedSaliencyIsExact() throws {
        let m = try maps(RectifiedSaliency())
        XCTAssertEqual(m[0], [1, 1, 0, 0, 0, 0])
        XCTAssertEqual(m[1][0..<3], [2, 1, 2])
    }

    func testSaliencyIsExact() throws {
        let m = try maps(Saliency())
        XCTAssertEqual(m[0], [1, 2, 2, 0, 1, 2])
        XCTAssertEqual(m[1][0..<3], [2, 1, 2])
    }

    func testGuidedBackpropKeepsPositiveEvidence() throws {
        let m = try maps(GuidedBackprop())
        XCTAssertEqual(m[0][0..<3], [1, 0, 0])
        XCTAssertEqual(m[1][0..<3], [2, 0, 2])
    }

    func testGradientTimesInputIsExact() throws {
        let m = try maps(GradientTimesInput())
        XCTAssertEqual(m[0][0..<3], [1, 1, 0.5])           // |(1,-2,-2) ⊙ (1,0.5,0.25)|
        XCTAssertEqual(m[0][3..<6], [0, 1, 0])             // |(0,-1,-2) ⊙ (0,1,0)|
    }

    func testIntegratedGradientsEqualsGradientTimesInputOnAPiecewiseLinearPath() throws {
        // Along α·x the active set of the first image never changes, so IG = x ⊙ ∇f exactly, for any steps.
        let m = try maps(IntegratedGradients(steps: 5))
        for (a, b) in zip(m[0][0..<3], [Float(1), 1, 0.5]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    func testSmoothGradWithoutNoiseEqualsItsBase() throws {
        let a = try maps(SmoothGrad(base: RectifiedSaliency(), samples: 3, sigma: 0))
        XCTAssertEqual(a, try maps(RectifiedSaliency()))
        let b = try maps(SmoothGrad(base: RectifiedSaliency(), samples: 4, sigma: 0.5, seed: 1))
        XCTAssertNotEqual(b, a)
    }

    /// All classes' heatmaps cost one forward per chunk of images, not one per class.
    func testOneForwardForAllClasses() throws {
        final class Counting: Model {
            let inner: Sequential
            var forwards = 0
            init(_ m: Sequential) { inner = m }
            var inputShape: [Int] { inner.inputShape }
            var classCount: Int { inner.classCount }
            var parameters: [Parameter] { inner.parameters }
            func forward(_ x: Tensor, mode: ForwardMode) -> Tensor { forwards += 1; return inner.forward(x, mode: mode) }
            func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
                inner.backward(dy, parameterGradients: parameterGradients, inputGradient: inputGradient)
            }
            func rectifiedBackward(_ dy: Tensor) -> Tensor { inner.rectifiedBackward(dy) }
        }
        let m = try ArchitectureSpec("input(1,8,8) conv(3,3,pad=1) relu flatten dense(7)").build(seed: 1)
        let counting = Counting(m)
        let x = Tensor(shape: [10, 1, 8, 8], repeating: 0.5)
        let h = RectifiedSaliency().attributeAllClasses(counting, inputs: x)
        XCTAssertEqual(h.maps.shape, [7, 10, 8, 8])
        XCTAssertEqual(counting.forwards, 1)
        // And the batched result equals per-image, per-class computation.
        for c in [0, 6] {
            for i in [0, 9] {
                let one = Tensor(shape: [1, 1, 8, 8], repeating: 0.5)
                let single = RectifiedSaliency().attribute(m, inputs: one, targets: [c])
                for j in 0..<64 { XCTAssertEqual(single.maps[j], h.map(class: c, image: i)[j], accuracy: 1e-6) }
            }
        }
    }
}
