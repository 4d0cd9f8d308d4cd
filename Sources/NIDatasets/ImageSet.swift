import NITensor

/// A labelled image data set held in memory: images as one `[N, C, H, W]` Float32 tensor with values in
/// [0, 1], and one class label per image.
///
/// `images` is a reference (`Tensor` is a class): copies of an `ImageSet` share pixel storage. `subset`
/// makes an independent copy.
public struct ImageSet: Sendable {
    /// All images, shape `[N, C, H, W]`, values in [0, 1].
    public let images: Tensor
    /// The class of each image, in `0..<classCount`; `labels.count == N`.
    public let labels: [Int]
    /// Number of classes of the task (not necessarily all present).
    public let classCount: Int

    /// Wraps images and labels. Preconditions: `images` has rank 4, one label per image, labels in range.
    public init(images: Tensor, labels: [Int], classCount: Int) {
        precondition(images.shape.count == 4, "ImageSet images must be [N, C, H, W], got \(images.shape)")
        precondition(images.shape[0] == labels.count,
                     "ImageSet has \(images.shape[0]) images but \(labels.count) labels")
        precondition(classCount > 0 && labels.allSatisfy { $0 >= 0 && $0 < classCount },
                     "ImageSet labels must lie in 0..<\(classCount)")
        self.images = images
        self.labels = labels
        self.classCount = classCount
    }

    /// Number of images N.
    public var count: Int { labels.count }
    /// Channels per image C.
    public var channels: Int { images.shape[1] }
    /// Image height H.
    public var height: Int { images.shape[2] }
    /// Image width W.
    public var width: Int { images.shape[3] }
    /// Elements per image, C * H * W.
    public var imageSize: Int { channels * height * width }

    /// How many images each class has (index = class).
    public var labelCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// A new, independent set with the images at `indices`, in that order (indices may repeat).
    public func subset<S: Sequence>(_ indices: S) -> ImageSet where S.Element == Int {
        let picked = Array(indices)
        let size = imageSize
        let out = Tensor(shape: [picked.count, channels, height, width])
        var newLabels: [Int] = []
        newLabels.reserveCapacity(picked.count)
        for (k, i) in picked.enumerated() {
            precondition(i >= 0 && i < count, "subset index \(i) out of range 0..<\(count)")
            (out.data + k * size).update(from: images.data + i * size, count: size)
            newLabels.append(labels[i])
        }
        return ImageSet(images: out, labels: newLabels, classCount: classCount)
    }

    /// Copies the images at `indices` into `x` (resized in place to `[b, C, H, W]`, `b = indices.count`) and
    /// their labels into `labels` (replacing its contents). Allocates nothing once `x` and `labels` have
    /// grown to the largest batch.
    public func batch(_ indices: ArraySlice<Int>, into x: Tensor, labels: inout [Int]) {
        let size = imageSize
        x.resize([indices.count, channels, height, width])
        labels.removeAll(keepingCapacity: true)
        var k = 0
        for i in indices {
            precondition(i >= 0 && i < count, "batch index \(i) out of range 0..<\(count)")
            (x.data + k * size).update(from: images.data + i * size, count: size)
            labels.append(self.labels[i])
            k += 1
        }
    }

    /// The image at `index` as a new `[1, C, H, W]` tensor.
    public func image(at index: Int) -> Tensor {
        precondition(index >= 0 && index < count, "image index \(index) out of range 0..<\(count)")
        let out = Tensor(shape: [1, channels, height, width])
        out.data.update(from: images.data + index * imageSize, count: imageSize)
        return out
    }
}
