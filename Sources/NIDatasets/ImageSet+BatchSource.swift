import NITensor

/// An `ImageSet` hands out training mini-batches directly.
extension ImageSet: BatchSource {
    public var sampleShape: [Int] { [channels, height, width] }
    public func fill(batch indices: ArraySlice<Int>, into x: Tensor, labels: inout [Int]) {
        batch(indices, into: x, labels: &labels)
    }
}
