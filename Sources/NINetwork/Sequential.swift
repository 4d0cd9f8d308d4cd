import NITensor

/// The network interface detectors and trainers use: logits from images, and the three backward passes
/// from a gradient on the output back to the input. `Sequential` implements it now; a graph model with
/// branches (residual `Add`, `Concat`) implements the same protocol.
public protocol Model: AnyObject {
    /// Shape of one input, without the batch axis (e.g. `[1, 28, 28]`).
    var inputShape: [Int] { get }
    /// Number of output classes (length of the logits vector).
    var classCount: Int { get }
    func forward(_ x: Tensor, mode: ForwardMode) -> Tensor
    /// Backpropagates `dy` (gradient on the output); accumulates parameter gradients when asked.
    func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor
    /// The rectified-saliency pass (see `Layer.rectifiedBackward`).
    func rectifiedBackward(_ dy: Tensor) -> Tensor
    /// All parameters, trainable first within each layer, in a stable order.
    var parameters: [Parameter] { get }
}

/// A chain of layers applied in order.
public final class Sequential: Model {
    public private(set) var layers: [Layer]
    public let inputShape: [Int]
    public let classCount: Int

    /// Builds the chain and checks every layer accepts the shape the previous one produces.
    public init(inputShape: [Int], layers: [Layer]) throws {
        self.layers = layers
        self.inputShape = inputShape
        var s = [1] + inputShape
        for l in layers { s = try l.outputShape(for: s) }
        guard s.count == 2 else {
            throw ShapeError.mismatch(layer: "model output", expected: "[N, classes]", got: s)
        }
        classCount = s[1]
    }

    public var parameters: [Parameter] { layers.flatMap { $0.parameters } }
    public var trainableParameters: [Parameter] { parameters.filter { $0.trainable } }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        var h = x
        for l in layers { h = l.forward(h, mode: mode) }
        return h
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        var g = dy
        for (i, l) in layers.enumerated().reversed() {
            g = l.backward(g, parameterGradients: parameterGradients, inputGradient: inputGradient || i > 0)
        }
        return g
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor {
        var g = dy
        for l in layers.reversed() { g = l.rectifiedBackward(g) }
        return g
    }

    /// True when the last layer is a softmax; detection reads logits, so `removingSoftmax()` drops it.
    public var endsWithSoftmax: Bool { layers.last is Softmax }

    /// The same layers without a trailing softmax (shares the layers).
    public func removingSoftmax() throws -> Sequential {
        endsWithSoftmax ? try Sequential(inputShape: inputShape, layers: Array(layers.dropLast())) : self
    }

    /// Zeroes all parameter gradients.
    public func zeroGradients() {
        for p in parameters where p.trainable {
            let g = p.grad.data
            elementwise(p.grad.count) { r in g.advanced(by: r.lowerBound).update(repeating: 0, count: r.count) }
        }
    }

    /// A one-line-per-layer summary with output shapes and parameter counts.
    public var summary: String {
        var s = [1] + inputShape
        var lines: [String] = []
        for l in layers {
            s = (try? l.outputShape(for: s)) ?? s
            let n = l.parameters.filter(\.trainable).reduce(0) { $0 + $1.value.count }
            lines.append("\(l.kind.padding(toLength: 20, withPad: " ", startingAt: 0)) -> \(s.dropFirst().map(String.init).joined(separator: "x"))\(n > 0 ? "  (\(n) params)" : "")")
        }
        let total = trainableParameters.reduce(0) { $0 + $1.value.count }
        return lines.joined(separator: "\n") + "\ntotal trainable parameters: \(total)"
    }
}

import Foundation
