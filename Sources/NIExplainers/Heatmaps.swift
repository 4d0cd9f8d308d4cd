import NITensor

/// Explanation heatmaps of `images` clean images for every one of `classes` output classes: one-channel maps,
/// `maps` of shape `[classes, images, H, W]` (the input of the paper's feature extraction, section
/// "Features Extraction").
public struct HeatmapSet: Sendable {
    public let maps: Tensor
    public var classes: Int { maps.shape[0] }
    public var images: Int { maps.shape[1] }
    public var height: Int { maps.shape[2] }
    public var width: Int { maps.shape[3] }
    public var mapSize: Int { height * width }

    public init(maps: Tensor) {
        precondition(maps.shape.count == 4, "HeatmapSet needs [classes, images, H, W]")
        self.maps = maps
    }

    /// Pointer to the map of class `c`, image `i` (`H·W` floats).
    @inlinable public func map(class c: Int, image i: Int) -> UnsafeMutablePointer<Float> {
        maps.data + (c * maps.shape[1] + i) * maps.shape[2] * maps.shape[3]
    }
}

/// How the per-channel gradient of an RGB input becomes a one-channel heatmap. The paper leaves this open;
/// the default `maxAbs` is Simonyan et al.'s saliency map (maximum magnitude over channels).
public enum ChannelReduction: String, Codable, Sendable, CaseIterable {
    /// `max_c |g_c|`
    case maxAbs
    /// `Σ_c |g_c|`
    case sumAbs
    /// `Σ_c g_c` (keeps the sign)
    case sum
    /// `max_c g_c`
    case max

    /// Reduces `[C, H·W]` at `src` into `dst[H·W]`.
    @inlinable
    public func reduce(_ src: UnsafePointer<Float>, channels: Int, count: Int, into dst: UnsafeMutablePointer<Float>) {
        for j in 0..<count {
            var v: Float
            switch self {
            case .maxAbs: v = abs(src[j]); for c in 1..<Swift.max(channels, 1) { v = Swift.max(v, abs(src[c * count + j])) }
            case .sumAbs: v = 0; for c in 0..<channels { v += abs(src[c * count + j]) }
            case .sum: v = 0; for c in 0..<channels { v += src[c * count + j] }
            case .max: v = src[j]; for c in 1..<Swift.max(channels, 1) { v = Swift.max(v, src[c * count + j]) }
            }
            dst[j] = v
        }
    }
}
