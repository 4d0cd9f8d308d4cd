/// A rectangle of whole pixels: columns `x ..< x + width`, rows `y ..< y + height`.
public struct PixelRect: Equatable, Sendable, CustomStringConvertible {
    /// Left column (0-based).
    public var x: Int
    /// Top row (0-based).
    public var y: Int
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int

    /// A rectangle from its top-left corner and size.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// A rectangle from inclusive corners (x1, y1) and (x2, y2), as GTSRB's `Roi.X1 ... Roi.Y2` give them.
    public init(x1: Int, y1: Int, x2: Int, y2: Int) {
        self.init(x: x1, y: y1, width: x2 - x1 + 1, height: y2 - y1 + 1)
    }

    /// Whether the rectangle is non-empty and lies inside a `width` x `height` image.
    public func fits(width w: Int, height h: Int) -> Bool {
        x >= 0 && y >= 0 && width > 0 && height > 0 && x + width <= w && y + height <= h
    }

    public var description: String { "(x \(x), y \(y), \(width)x\(height))" }
}

extension DecodedImage {
    /// The pixels inside `rect` as a new image. Precondition: `rect.fits(width: width, height: height)`.
    public func cropped(to rect: PixelRect) -> DecodedImage {
        precondition(rect.fits(width: width, height: height), "crop \(rect) outside the \(width)x\(height) image")
        var out = [UInt8](repeating: 0, count: rect.width * rect.height * channels)
        let rowBytes = rect.width * channels
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for r in 0..<rect.height {
                    let from = src.baseAddress! + ((rect.y + r) * width + rect.x) * channels
                    (dst.baseAddress! + r * rowBytes).update(from: from, count: rowBytes)
                }
            }
        }
        return DecodedImage(width: rect.width, height: rect.height, channels: channels, pixels: out)
    }
}
