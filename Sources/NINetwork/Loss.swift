import NITensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Softmax cross-entropy on logits, averaged over the batch:
///
///     L = -(1/N) Σ_n log softmax(z_n)[y_n],   dL/dz_n = (softmax(z_n) - onehot(y_n)) / N
///
/// computed in one fused, numerically stable pass (log-sum-exp with the row maximum subtracted).
public final class CrossEntropyLoss {
    /// Gradient with respect to the logits of the last call.
    public let gradient = Tensor(shape: [0])
    public init() {}

    /// Returns the mean loss and the number of rows whose arg-max equals the label; fills `gradient`.
    @discardableResult
    public func callAsFunction(_ logits: Tensor, labels: [Int]) -> (loss: Float, correct: Int) {
        let n = logits.shape[0], c = logits.shape[1]
        precondition(labels.count >= n, "need \(n) labels")
        gradient.resize(logits.shape)
        var total = 0.0, correct = 0
        let invN = 1 / Float(n)
        for i in 0..<n {
            let z = logits.data + i * c, g = gradient.data + i * c
            var m = -Float.infinity, arg = 0
            for j in 0..<c where z[j] > m { m = z[j]; arg = j }
            var s: Float = 0
            for j in 0..<c { let e = expf(z[j] - m); g[j] = e; s += e }
            let y = labels[i]
            total += Double(logf(s) + m - z[y])
            let inv = 1 / s
            for j in 0..<c { g[j] = g[j] * inv * invN }
            g[y] -= invN
            if arg == y { correct += 1 }
        }
        return (Float(total / Double(n)), correct)
    }
}

/// Index of the largest logit of each row.
public func argmaxRows(_ logits: Tensor) -> [Int] {
    let n = logits.shape[0], c = logits.shape[1]
    return (0..<n).map { i in
        let z = logits.data + i * c
        var best = 0
        for j in 1..<c where z[j] > z[best] { best = j }
        return best
    }
}
