import NITensor

/// Whether a forward pass trains (batch statistics, dropout active) or infers.
public enum ForwardMode: Sendable { case training, inference }

/// A learnable tensor with its gradient (and, for non-trainable state such as BatchNorm's running
/// statistics, no gradient use).
public final class Parameter: @unchecked Sendable {
    /// Name used in checkpoints and ONNX initializers (e.g. `conv1.weight`).
    public var name: String
    public let value: Tensor
    public let grad: Tensor
    /// False for state that is saved but not optimised (BatchNorm running mean/var).
    public let trainable: Bool

    public init(name: String, shape: [Int], trainable: Bool = true) {
        self.name = name
        self.value = Tensor(shape: shape)
        self.grad = Tensor(shape: trainable ? shape : [0])
        self.trainable = trainable
    }
}

/// One layer of a network, with its three passes side by side:
/// - `forward`: computes the output and caches what the backward passes need;
/// - `backward`: the exact gradient, dL/dx and (optionally) dL/dθ accumulated into `Parameter.grad`;
/// - `rectifiedBackward`: the paper's "rectified saliency" pass (section "Saliency Map Generation"): the input
///   gradient where, at every ReLU, only positive gradients flow and only where the forward input was
///   positive. Layers without a ReLU-like gate pass the gradient exactly as `backward` does.
///
/// Returned tensors are owned by the layer and stay valid until its next call of the same pass. After one
/// forward, the backward passes may run any number of times (e.g. once per output class).
public protocol Layer: AnyObject {
    /// ONNX-style operator name (`Conv`, `Gemm`, `Relu`, ...), used in summaries.
    var kind: String { get }
    /// Output shape for an input shape (batch axis first); throws for incompatible shapes.
    func outputShape(for input: [Int]) throws -> [Int]
    func forward(_ x: Tensor, mode: ForwardMode) -> Tensor
    /// `inputGradient: false` lets the first layer of a model skip computing dL/dx during training.
    func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor
    func rectifiedBackward(_ dy: Tensor) -> Tensor
    /// Trainable parameters followed by non-trainable state, in a stable order.
    var parameters: [Parameter] { get }
}

extension Layer {
    public var parameters: [Parameter] { [] }
    /// The exact input gradient without parameter gradients.
    public func inputGradient(_ dy: Tensor) -> Tensor { backward(dy, parameterGradients: false, inputGradient: true) }
}

/// Shape errors raised when a model is built or run on an input it cannot take.
public enum ShapeError: Error, CustomStringConvertible, Equatable {
    case mismatch(layer: String, expected: String, got: [Int])

    public var description: String {
        switch self {
        case let .mismatch(layer, expected, got):
            return "\(layer) expects input \(expected) but got \(got)"
        }
    }
}

/// Per-worker scratch buffers that layers reuse across calls.
final class Scratch {
    private(set) var buffers: [Tensor] = []
    func get(_ i: Int, count: Int) -> Tensor {
        while buffers.count <= i { buffers.append(Tensor(shape: [0])) }
        let t = buffers[i]
        if t.count != count { t.resize([count]) }
        return t
    }
}
