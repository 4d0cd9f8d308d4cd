/// Anything that can hand out labelled mini-batches by index: datasets, poisoned datasets, augmented views.
public protocol BatchSource {
    /// Number of samples.
    var count: Int { get }
    /// Shape of one sample, e.g. `[1, 28, 28]`.
    var sampleShape: [Int] { get }
    /// Copies the samples at `indices` into `x` (resized to `[b] + sampleShape`) and their labels into `labels`.
    func fill(batch indices: ArraySlice<Int>, into x: Tensor, labels: inout [Int])
}
