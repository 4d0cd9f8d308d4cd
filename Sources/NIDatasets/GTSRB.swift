import NITensor

/// The German Traffic Sign Recognition Benchmark (43 classes) in the layout of its official "Final" release:
///
///     GTSRB/Final_Training/Images/000NN/GT-000NN.csv   one folder and CSV per class NN (train)
///     GTSRB/Final_Test/Images/GT-final_test.csv        one CSV for the test images (with ClassId)
///
/// CSVs are ';'-separated with the header `Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId`
/// (columns are found by name, extra columns are ignored). Each image is cropped to its ROI (X2/Y2 inclusive,
/// as in the official files), resized bilinearly to `size` x `size` (`Bilinear` semantics), kept RGB and
/// scaled to [0, 1].
///
/// When the stored image is not the size the CSV declares (the public subset stores every image at 35x35
/// but keeps the original Width/Height/ROI in its CSVs), the ROI is scaled to the stored size and rounded
/// to whole pixels; see `cropRect`.
public enum GTSRB {
    /// Which half of GTSRB to read.
    public enum Split: String, Sendable, CaseIterable {
        /// `Final_Training`: one folder per class.
        case train
        /// `Final_Test`: one folder, one CSV.
        case test
    }

    /// One image listed by a CSV file.
    public struct Sample: Equatable, Sendable {
        /// Path of the image file.
        public var imagePath: String
        /// Path of the CSV that lists it.
        public var csvPath: String
        /// Line of the CSV that lists it (the header is line 1).
        public var line: Int
        /// Image size the CSV declares.
        public var declaredWidth: Int
        /// Image size the CSV declares.
        public var declaredHeight: Int
        /// The sign's bounding box as the CSV gives it, in declared-size pixel coordinates.
        public var roi: PixelRect
        /// The class, 0..<43.
        public var label: Int
    }

    /// Number of classes.
    public static let classCount = 43
    /// The CSV columns the loader needs.
    public static let requiredColumns = ["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"]

    /// The `GTSRB` folder for `root`, which may be the folder holding `GTSRB/` or `GTSRB/` itself.
    public static func resolveRoot(_ root: String) throws(DatasetError) -> String {
        let inner = FileIO.join(root, "GTSRB")
        for candidate in [inner, root] {
            if FileIO.isDirectory(FileIO.join(candidate, "Final_Training"))
                || FileIO.isDirectory(FileIO.join(candidate, "Final_Test")) {
                return candidate
            }
        }
        if !FileIO.exists(root) { throw .fileNotFound(path: root, what: "GTSRB folder") }
        throw .fileNotFound(path: inner, what: "GTSRB folder (one with Final_Training/ or Final_Test/ inside)")
    }

    /// The samples of a split, in file order: class folders in ascending name order (train), then CSV rows in
    /// order. Validates every row (columns, integers, ROI inside the declared size, label 0...42, plain file
    /// names) without reading any image.
    public static func samples(root: String, split: Split) throws(DatasetError) -> [Sample] {
        let base = try resolveRoot(root)
        switch split {
        case .test:
            let folder = FileIO.join(base, "Final_Test/Images")
            return try readCSV(FileIO.join(folder, "GT-final_test.csv"), folder: folder)
        case .train:
            let images = FileIO.join(base, "Final_Training/Images")
            let classFolders = try FileIO.listDirectory(images, what: "GTSRB training folder")
                .filter { FileIO.isDirectory(FileIO.join(images, $0)) }
            guard !classFolders.isEmpty else {
                throw .emptyFolder(path: images, lookingFor: "class folders (00000 ... 00042)")
            }
            var all: [Sample] = []
            for name in classFolders {
                let folder = FileIO.join(images, name)
                all += try readCSV(FileIO.join(folder, "GT-\(name).csv"), folder: folder)
            }
            return all
        }
    }

    /// Loads a split as an `ImageSet` of shape `[N, 3, size, size]` with labels 0...42, decoding on all cores.
    ///
    /// - Parameters:
    ///   - root: the folder holding `GTSRB/`, or `GTSRB/` itself.
    ///   - split: `.train` or `.test`.
    ///   - limit: if given and smaller than the split, keeps `limit` samples at evenly spaced positions of the
    ///     file-order list (`floor(i * total / limit)` for `i` in `0..<limit`): deterministic, roughly
    ///     proportional per class, and spread over each class's tracks.
    ///   - size: output height and width (default 32).
    public static func load(root: String, split: Split, limit: Int? = nil, size: Int = 32) throws(DatasetError) -> ImageSet {
        if let limit, limit < 0 { throw .invalidArgument("GTSRB limit must be >= 0, got \(limit)") }
        guard size > 0 else { throw .invalidArgument("GTSRB size must be positive, got \(size)") }
        let all = try samples(root: root, split: split)
        var chosen = all
        if let limit, limit < all.count {
            chosen = (0..<limit).map { all[$0 * all.count / limit] }
        }
        let n = chosen.count
        let images = Tensor(shape: [n, 3, size, size])
        let perImage = 3 * size * size
        let out = images.data
        try ParallelLoad.run(count: n) { range in
            var buffer: [UInt8] = []
            for i in range {
                do throws(DatasetError) {
                    try decode(chosen[i], buffer: &buffer, into: out + i * perImage, size: size)
                } catch {
                    return (i, error)
                }
            }
            return nil
        }
        return ImageSet(images: images, labels: chosen.map(\.label), classCount: classCount)
    }

    /// The crop rectangle, in stored-image pixels, for a ROI given in declared-size pixels.
    ///
    /// If the stored size equals the declared size this is the ROI itself. Otherwise each edge is scaled and
    /// rounded half up: `x1 = floor(X1 * w / W + 1/2)`, `x2end = floor((X2 + 1) * w / W + 1/2)` (exclusive),
    /// likewise for y; the result is clamped to the image and at least 1 pixel wide and high.
    public static func cropRect(roi: PixelRect, declaredWidth W: Int, declaredHeight H: Int,
                                width w: Int, height h: Int) -> PixelRect {
        if w == W && h == H { return roi }
        func scaled(_ v: Int, _ stored: Int, _ declared: Int) -> Int { (2 * v * stored + declared) / (2 * declared) }
        let x0 = Swift.min(Swift.max(scaled(roi.x, w, W), 0), w - 1)
        let y0 = Swift.min(Swift.max(scaled(roi.y, h, H), 0), h - 1)
        let x1 = Swift.min(Swift.max(scaled(roi.x + roi.width, w, W), x0 + 1), w)
        let y1 = Swift.min(Swift.max(scaled(roi.y + roi.height, h, H), y0 + 1), h)
        return PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// Decodes one sample straight into `dst` (`[3, size, size]` floats), reusing `buffer` for the file.
    private static func decode(_ s: Sample, buffer: inout [UInt8], into dst: UnsafeMutablePointer<Float>,
                               size: Int) throws(DatasetError) {
        let n = try FileIO.read(s.imagePath, what: "GTSRB image (listed at line \(s.line) of \(s.csvPath))",
                                into: &buffer)
        if n >= 2 && buffer[0] == UInt8(ascii: "P") {
            // Fast path for the official PPMs: resample straight from the file bytes.
            let header = try PPM.parseHeader(buffer, count: n, path: s.imagePath)
            let rect = cropRect(roi: s.roi, declaredWidth: s.declaredWidth, declaredHeight: s.declaredHeight,
                                width: header.width, height: header.height)
            buffer.withUnsafeBufferPointer { buf in
                Bilinear.resampleBytes(src: buf.baseAddress! + header.dataOffset,
                                       rowStride: header.width * header.channels, channels: header.channels,
                                       rect: rect, divisor: Float(header.maxValue), dst: dst, outChannels: 3,
                                       outHeight: size, outWidth: size)
            }
        } else {
            let image = try ImageFile.decode(Array(buffer[0..<n]), path: s.imagePath)
            let rect = cropRect(roi: s.roi, declaredWidth: s.declaredWidth, declaredHeight: s.declaredHeight,
                                width: image.width, height: image.height)
            image.writePlanar(into: dst, channels: 3, height: size, width: size, crop: rect)
        }
    }

    /// Parses and validates one annotation CSV whose images live in `folder`.
    private static func readCSV(_ path: String, folder: String) throws(DatasetError) -> [Sample] {
        let table = try CSVTable(path: path, what: "GTSRB annotation CSV")
        var col: [Int] = []
        for name in requiredColumns { col.append(try table.column(name)) }
        var out: [Sample] = []
        out.reserveCapacity(table.rows.count)
        for row in table.rows {
            let file = String(try table.field(row, col[0], "Filename"))
            guard !file.isEmpty, !file.contains("/"), !file.contains("\\"), file != ".", file != ".." else {
                throw .pathEscapesFolder(path: "\(path), line \(row.line)", entry: file, folder: folder)
            }
            var v: [Int] = []
            for k in 1..<requiredColumns.count { v.append(try table.int(row, col[k], requiredColumns[k])) }
            let (w, h, x1, y1, x2, y2, label) = (v[0], v[1], v[2], v[3], v[4], v[5], v[6])
            guard w > 0, h > 0 else {
                throw .badCSVRow(path: path, line: row.line, problem: "declared image size \(w)x\(h) is empty")
            }
            guard 0 <= x1, x1 <= x2, x2 < w, 0 <= y1, y1 <= y2, y2 < h else {
                throw .badCSVRow(path: path, line: row.line, problem: "ROI (\(x1),\(y1))-(\(x2),\(y2)) does not lie "
                                 + "inside the declared \(w)x\(h) image")
            }
            guard (0..<classCount).contains(label) else {
                throw .labelOutOfRange(path: path, position: .line(row.line), value: label, allowed: 0...(classCount - 1))
            }
            out.append(Sample(imagePath: FileIO.join(folder, file), csvPath: path, line: row.line,
                              declaredWidth: w, declaredHeight: h, roi: PixelRect(x1: x1, y1: y1, x2: x2, y2: y2),
                              label: label))
        }
        return out
    }
}
