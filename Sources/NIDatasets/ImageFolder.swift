import NITensor

/// The images of one folder as one tensor: every `.png`, `.ppm` and `.pgm` file directly inside it
/// (extensions matched case-insensitively; subfolders and other files are ignored), in ascending byte order
/// of their names, so the order is the same on every machine.
///
/// Each image is decoded (`ImageFile`), converted to the requested channel count (gray is repeated into
/// R, G, B; RGB becomes gray with BT.601 luma 0.299 R + 0.587 G + 0.114 B, computed on the unrounded
/// values), resized bilinearly (`Bilinear` semantics) when its size differs from the requested one, and
/// scaled to [0, 1]. No labels are read.
public struct ImageFolder: Sendable {
    /// The folder read.
    public let directory: String
    /// The paths of the images, in tensor order.
    public let files: [String]
    /// The images, `[N, channels, height, width]`, values in [0, 1].
    public let images: Tensor

    /// Number of images.
    public var count: Int { files.count }

    /// Loads the images of `directory`.
    ///
    /// - Parameters:
    ///   - directory: the folder.
    ///   - channels: 1 (gray) or 3 (RGB).
    ///   - height: output height; given with `width`, every image is resized to `height` x `width` (aspect
    ///     ratio not kept). If either is nil nothing is resized: the missing extent is taken from the first
    ///     image, and every image must be exactly `height` x `width` (`DatasetError.wrongImageSize` otherwise).
    ///   - width: output width (see `height`).
    ///   - limit: if given, only the first `limit` files in name order are read.
    /// - Throws: `.fileNotFound` for a missing folder, `.emptyFolder` when it holds no image, and the
    ///   decoder's error (naming the file) for a corrupt one.
    public static func load(directory: String, channels: Int, height: Int? = nil, width: Int? = nil,
                            limit: Int? = nil) throws(DatasetError) -> ImageFolder {
        guard channels == 1 || channels == 3 else {
            throw .invalidArgument("ImageFolder channels must be 1 or 3, got \(channels)")
        }
        if let limit, limit < 0 { throw .invalidArgument("ImageFolder limit must be >= 0, got \(limit)") }
        if let height, height <= 0 { throw .invalidArgument("ImageFolder height must be positive, got \(height)") }
        if let width, width <= 0 { throw .invalidArgument("ImageFolder width must be positive, got \(width)") }
        var names = try FileIO.listDirectory(directory, what: "image folder")
            .filter { ImageFile.hasSupportedExtension($0) && FileIO.isFile(FileIO.join(directory, $0)) }
        guard !names.isEmpty else {
            throw .emptyFolder(path: directory, lookingFor: ".png, .ppm or .pgm images")
        }
        if let limit { names = Array(names.prefix(limit)) }
        let files = names.map { FileIO.join(directory, $0) }

        var outHeight = height ?? 0, outWidth = width ?? 0
        let exactSize = height == nil || width == nil
        if exactSize, let firstPath = files.first {
            let first = try ImageFile.read(path: firstPath)
            outHeight = height ?? first.height
            outWidth = width ?? first.width
        }
        let images = Tensor(shape: [files.count, channels, outHeight, outWidth])
        let perImage = channels * outHeight * outWidth
        let out = images.data
        try ParallelLoad.run(count: files.count) { range in
            for i in range {
                do throws(DatasetError) {
                    let image = try ImageFile.read(path: files[i])
                    if exactSize && (image.width != outWidth || image.height != outHeight) {
                        throw .wrongImageSize(path: files[i], expectedWidth: outWidth,
                                                          expectedHeight: outHeight, width: image.width,
                                                          height: image.height)
                    }
                    image.writePlanar(into: out + i * perImage, channels: channels, height: outHeight, width: outWidth)
                } catch {
                    return (i, error)
                }
            }
            return nil
        }
        return ImageFolder(directory: directory, files: files, images: images)
    }
}
