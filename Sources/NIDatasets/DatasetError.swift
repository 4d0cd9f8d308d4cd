/// Everything that can go wrong while locating, reading or decoding a data set.
///
/// Every case carries the path of the file or folder concerned, and `description` says in plain words what
/// is wrong and, where there is one, what to do about it. Loaders in this module throw only this type
/// (`throws(DatasetError)`).
public enum DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Where in a file a bad value sits: a 1-based text line (CSV) or a 0-based record index (IDX).
    public enum Position: Equatable, Sendable, CustomStringConvertible {
        /// A 1-based line number of a text file (the header is line 1).
        case line(Int)
        /// A 0-based record (item) index of a binary file.
        case record(Int)

        public var description: String {
            switch self {
            case .line(let n): return "line \(n)"
            case .record(let n): return "record \(n)"
            }
        }
    }

    /// The file or folder does not exist. `what` says what was being looked for (e.g. "MNIST image file").
    case fileNotFound(path: String, what: String)
    /// The file exists but could not be read (permissions, I/O error, it is a folder, ...).
    case unreadable(path: String, reason: String)
    /// The file ends before the data its header declares: `expected` and `actual` are byte counts.
    case truncated(path: String, expected: Int, actual: Int)
    /// The file does not start with the signature of the expected format.
    case badMagic(path: String, expected: String, found: String)
    /// The header is readable but inconsistent or malformed.
    case badHeader(path: String, problem: String)
    /// A gzip stream is corrupt or ends early.
    case corruptGzip(path: String, problem: String)
    /// A CSV file lacks a required column.
    case missingColumn(path: String, column: String, header: [String])
    /// A CSV data row is malformed (too few fields, a non-integer where a number is required, a bad ROI).
    case badCSVRow(path: String, line: Int, problem: String)
    /// A class label lies outside the allowed range.
    case labelOutOfRange(path: String, position: Position, value: Int, allowed: ClosedRange<Int>)
    /// Images and labels disagree in number.
    case countMismatch(imagesPath: String, imageCount: Int, labelsPath: String, labelCount: Int)
    /// The file is not an image format this module reads (or a variant of one it does not support).
    case unsupportedImageFormat(path: String, problem: String)
    /// libpng rejected the file.
    case corruptPNG(path: String, reason: String)
    /// An image does not have the size it must have.
    case wrongImageSize(path: String, expectedWidth: Int, expectedHeight: Int, width: Int, height: Int)
    /// A folder holds none of the files looked for.
    case emptyFolder(path: String, lookingFor: String)
    /// A header declares sizes too large to be real; caught before anything is allocated.
    case absurdSize(path: String, problem: String)
    /// A file name taken from a data file would leave the folder it must stay in.
    case pathEscapesFolder(path: String, entry: String, folder: String)
    /// A data set is not where `DataLocation` looks for it.
    case dataNotFound(what: String, path: String, hint: String)
    /// Unpacking an archive failed.
    case extractionFailed(archive: String, destination: String, reason: String)
    /// Writing a file failed.
    case writeFailed(path: String, reason: String)
    /// A caller passed an argument that cannot work (e.g. a negative limit, zero output size).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .fileNotFound(path, what):
            return "\(path): \(what) not found (no such file or folder). Check the path."
        case let .unreadable(path, reason):
            return "\(path): cannot read the file: \(reason)."
        case let .truncated(path, expected, actual):
            return "\(path): file is truncated: the header declares \(expected) bytes but only \(actual) are "
                + "present. The file is incomplete: download or copy it again."
        case let .badMagic(path, expected, found):
            return "\(path): bad magic number: expected \(expected), found \(found). This is not the kind of "
                + "file expected here (wrong file, or corrupt)."
        case let .badHeader(path, problem):
            return "\(path): bad header: \(problem)."
        case let .corruptGzip(path, problem):
            return "\(path): corrupt gzip data: \(problem). The file is damaged or incomplete: download or copy "
                + "it again."
        case let .missingColumn(path, column, header):
            return "\(path): CSV has no column named '\(column)' (header columns: \(header.joined(separator: ";"))). "
                + "The file must have a ';'-separated header row naming this column."
        case let .badCSVRow(path, line, problem):
            return "\(path), line \(line): \(problem)."
        case let .labelOutOfRange(path, position, value, allowed):
            return "\(path), \(position): label \(value) is out of range (allowed \(allowed.lowerBound)..."
                + "\(allowed.upperBound))."
        case let .countMismatch(imagesPath, imageCount, labelsPath, labelCount):
            return "\(imagesPath) holds \(imageCount) images but \(labelsPath) holds \(labelCount) labels: the two "
                + "files must come from the same split."
        case let .unsupportedImageFormat(path, problem):
            return "\(path): unsupported image format: \(problem)."
        case let .corruptPNG(path, reason):
            return "\(path): corrupt or unreadable PNG: \(reason)."
        case let .wrongImageSize(path, ew, eh, w, h):
            return "\(path): image is \(w)x\(h) but \(ew)x\(eh) (width x height) is required."
        case let .emptyFolder(path, lookingFor):
            return "\(path): the folder holds no \(lookingFor)."
        case let .absurdSize(path, problem):
            return "\(path): declared size is not plausible: \(problem). The file is corrupt or not of the "
                + "expected format."
        case let .pathEscapesFolder(path, entry, folder):
            return "\(path): entry '\(entry)' names a file outside its folder \(folder); only plain file names "
                + "are allowed."
        case let .dataNotFound(what, path, hint):
            return "\(what) not found at \(path): \(hint)"
        case let .extractionFailed(archive, destination, reason):
            return "\(archive): could not unpack into \(destination): \(reason)."
        case let .writeFailed(path, reason):
            return "\(path): cannot write the file: \(reason)."
        case let .invalidArgument(problem):
            return "invalid argument: \(problem)."
        }
    }
}
