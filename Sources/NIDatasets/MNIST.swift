import NITensor

/// The MNIST handwritten-digit data set, read from its four official IDX files.
///
/// A folder holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
/// `t10k-labels-idx1-ubyte`, each either plain or gzip-compressed with a `.gz` suffix (the plain file is used
/// when both exist). Whether a file is compressed is decided by its first bytes, not its name.
public enum MNIST {
    /// Which half of MNIST to read.
    public enum Split: String, Sendable, CaseIterable {
        /// 60,000 training images (`train-*`).
        case train
        /// 10,000 test images (`t10k-*`).
        case test

        /// The file-name prefix of the split.
        public var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Number of classes (digits 0-9).
    public static let classCount = 10

    /// The image and label file paths of a split in `directory` (the plain name if it exists, else `.gz`).
    public static func files(directory: String, split: Split) -> (images: String, labels: String) {
        func pick(_ base: String) -> String {
            let plain = FileIO.join(directory, base)
            if FileIO.isFile(plain) { return plain }
            return plain + ".gz"
        }
        return (pick("\(split.filePrefix)-images-idx3-ubyte"), pick("\(split.filePrefix)-labels-idx1-ubyte"))
    }

    /// Loads a split as an `ImageSet` of shape `[N, 1, 28, 28]` (28x28 as declared by the file), pixel bytes
    /// divided by 255, labels 0-9.
    ///
    /// - Parameters:
    ///   - directory: the folder holding the IDX files.
    ///   - split: `.train` or `.test`.
    ///   - limit: if given, only the first `limit` images (in file order) are kept.
    /// - Throws: `DatasetError` naming the file for a missing, truncated, corrupt or inconsistent file, a
    ///   count mismatch between the two files, or a label outside 0...9.
    public static func load(directory: String, split: Split, limit: Int? = nil) throws(DatasetError) -> ImageSet {
        if let limit, limit < 0 { throw .invalidArgument("MNIST limit must be >= 0, got \(limit)") }
        guard FileIO.isDirectory(directory) else {
            throw .fileNotFound(path: directory, what: "MNIST folder")
        }
        let paths = files(directory: directory, split: split)
        let labelFile = try IDXFile(path: paths.labels, what: "MNIST label file (plain or .gz)")
        guard labelFile.dataType == IDXFile.unsignedByte, labelFile.dimensions.count == 1 else {
            throw .badHeader(path: paths.labels, problem: "expected a 1-dimensional unsigned-byte label file, found "
                             + "type 0x\(hex2(labelFile.dataType)) with dimensions \(labelFile.dimensions)")
        }
        let imageFile = try IDXFile(path: paths.images, what: "MNIST image file (plain or .gz)")
        guard imageFile.dataType == IDXFile.unsignedByte, imageFile.dimensions.count == 3,
              imageFile.dimensions[1] > 0, imageFile.dimensions[2] > 0 else {
            throw .badHeader(path: paths.images, problem: "expected a 3-dimensional [N, rows, columns] unsigned-byte "
                             + "image file, found type 0x\(hex2(imageFile.dataType)) with dimensions "
                             + "\(imageFile.dimensions)")
        }
        let total = imageFile.dimensions[0]
        guard total == labelFile.dimensions[0] else {
            throw .countMismatch(imagesPath: paths.images, imageCount: total,
                                 labelsPath: paths.labels, labelCount: labelFile.dimensions[0])
        }
        let n = Swift.min(total, limit ?? total)
        let rows = imageFile.dimensions[1], cols = imageFile.dimensions[2]

        var labels = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let value = Int(labelFile.bytes[labelFile.payloadOffset + i])
            guard value < classCount else {
                throw .labelOutOfRange(path: paths.labels, position: .record(i), value: value,
                                       allowed: 0...(classCount - 1))
            }
            labels[i] = value
        }

        let images = Tensor(shape: [n, 1, rows, cols])
        let count = n * rows * cols
        let dst = images.data
        imageFile.bytes.withUnsafeBufferPointer { src in
            let base = src.baseAddress! + imageFile.payloadOffset
            for i in 0..<count { dst[i] = Float(base[i]) / 255 }
        }
        return ImageSet(images: images, labels: labels, classCount: classCount)
    }
}
