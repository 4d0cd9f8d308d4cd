import NITensor
import NIDatasets

extension TriggerSpec {
    /// The mask `m` of the stamping formula `x' = (1 - m) ⊙ x + m ⊙ p` for `channels` x `height` x `width`
    /// images, shape `[1, H, W]`: the mask is the same on every channel (broadcast it over C). Values are the
    /// opacity α inside each patch (everywhere for `.fullImage`) and 0 elsewhere.
    ///
    /// - Throws: `AttackError` when the trigger is invalid, a patch does not fit, or the pattern cannot be
    ///   drawn on `channels` channels.
    public func mask(channels: Int, height: Int, width: Int) throws(AttackError) -> Tensor {
        try compiled(channels: channels, height: height, width: width).mask.copy()
    }

    /// The pattern `p` of the stamping formula, shape `[C, H, W]`: the patch pattern drawn at every position
    /// (over the whole image for `.fullImage`), 0 outside the patches (where the mask is 0 anyway).
    ///
    /// - Throws: as `mask(channels:height:width:)`, and when an `.image` pattern file cannot be read.
    public func pattern(channels: Int, height: Int, width: Int) throws(AttackError) -> Tensor {
        try compiled(channels: channels, height: height, width: width).pattern.copy()
    }

    /// The trigger prepared for `channels` x `height` x `width` images (mask, pattern and the masked pixel
    /// runs), to stamp many batches without redoing that work (reading an image pattern's file, ...).
    public func compiled(channels: Int, height: Int, width: Int) throws(AttackError) -> CompiledTrigger {
        try CompiledTrigger(spec: self, channels: channels, height: height, width: width)
    }

    /// Stamps the trigger in place on the images at `indices` of an `[N, C, H, W]` batch:
    /// `x' = (1 - m) ⊙ x + m ⊙ p`. Only the masked pixels are touched (every pixel for `.fullImage`).
    /// Prepares the trigger on each call; stamp many batches with `compiled(...)` instead.
    ///
    /// - Throws: `AttackError` for an invalid trigger, a patch that does not fit, a batch that is not
    ///   `[N, C, H, W]`, or an index outside `0..<N`.
    public func stamp<S: Sequence>(_ images: Tensor, indices: S) throws(AttackError) where S.Element == Int {
        guard images.shape.count == 4 else {
            throw .invalidArgument("stamping trigger '\(description)' needs an [N, C, H, W] batch, got shape \(images.shape)")
        }
        try compiled(channels: images.shape[1], height: images.shape[2], width: images.shape[3])
            .stamp(images, indices: indices)
    }

    /// Stamps the trigger in place on every image of an `[N, C, H, W]` batch.
    public func stamp(_ images: Tensor) throws(AttackError) {
        guard images.shape.count == 4 else {
            throw .invalidArgument("stamping trigger '\(description)' needs an [N, C, H, W] batch, got shape \(images.shape)")
        }
        try stamp(images, indices: 0..<images.shape[0])
    }

    /// The pattern of one `w` x `h` patch (or of the whole image) on `channels` channels, planar CHW.
    func patchPattern(channels: Int, width w: Int, height h: Int) throws(AttackError) -> [Float] {
        let plane = w * h
        var out = [Float](repeating: 0, count: channels * plane)
        switch pattern {
        case .solid(let color):
            for c in 0..<channels {
                guard let v = color.value(channel: c, of: channels) else {
                    throw .unsupportedChannels(spec: description, channels: channels,
                                               reason: "an RGB colour needs 1 or 3 channels; use a gray color=V")
                }
                for i in 0..<plane { out[c * plane + i] = v }
            }
        case .checkerboard:
            for c in 0..<channels {
                for y in 0..<h { for x in 0..<w { out[c * plane + y * w + x] = (x + y) % 2 == 0 ? 1 : 0 } }
            }
        case .random(let seed):
            var rng = SeededGenerator(seed: seed)
            for i in 0..<out.count { out[i] = rng.next() >> 63 == 1 ? 1 : 0 }
        case .image(let path):
            guard channels == 1 || channels == 3 else {
                throw .unsupportedChannels(spec: description, channels: channels,
                                           reason: "an image pattern can be drawn on gray (1) or RGB (3) images only")
            }
            let decoded: DecodedImage
            do {
                decoded = try ImageFile.read(path: path)
            } catch {
                throw .patternImage(spec: description, path: path, reason: error.description)
            }
            guard decoded.width > 0, decoded.height > 0 else {
                throw .patternImage(spec: description, path: path, reason: "the image is empty")
            }
            out.withUnsafeMutableBufferPointer { buf in
                decoded.writePlanar(into: buf.baseAddress!, channels: channels, height: h, width: w)
            }
        }
        return out
    }
}

/// A `TriggerSpec` prepared for one image size: the mask `m` (`[1, H, W]`) and pattern `p` (`[C, H, W]`)
/// of Huang et al.'s attack model `x' = (1 - m) ⊙ x + m ⊙ p` (*NeuronInspect*, "Algorithm Design"), and
/// the row runs of masked pixels, so that stamping touches only the trigger's pixels. Immutable after
/// creation and safe to share between threads; stamping allocates nothing.
public final class CompiledTrigger: @unchecked Sendable {
    /// The trigger this was prepared from.
    public let spec: TriggerSpec
    /// Image channels C.
    public let channels: Int
    /// Image height H.
    public let height: Int
    /// Image width W.
    public let width: Int
    /// The mask, `[1, H, W]`: α inside the trigger, 0 elsewhere. Do not modify.
    public let mask: Tensor
    /// The pattern, `[C, H, W]` (0 where the mask is 0). Do not modify.
    public let pattern: Tensor
    /// Masked runs within one plane, as consecutive (start offset, length) pairs.
    private let runs: [Int]
    private let alpha: Float

    /// Shape of one image, `[C, H, W]`.
    public var sampleShape: [Int] { [channels, height, width] }
    /// Number of pixels per channel the trigger covers.
    public var maskedPixelCount: Int { stride(from: 1, to: runs.count, by: 2).reduce(0) { $0 + runs[$1] } }

    /// Prepares `spec` for `channels` x `height` x `width` images (see `TriggerSpec.compiled`).
    public init(spec: TriggerSpec, channels: Int, height: Int, width: Int) throws(AttackError) {
        try spec.validate()
        guard channels >= 1, height >= 1, width >= 1 else {
            throw .invalidArgument("trigger '\(spec)': image size \(channels)x\(height)x\(width) (CxHxW) must be "
                                   + "at least 1x1x1")
        }
        self.spec = spec
        self.channels = channels
        self.height = height
        self.width = width
        alpha = spec.opacity
        let plane = height * width
        let mask = Tensor(shape: [1, height, width])
        let pattern = Tensor(shape: [channels, height, width])
        var runs: [Int] = []
        switch spec.placement {
        case .fullImage:
            let full = try spec.patchPattern(channels: channels, width: width, height: height)
            full.withUnsafeBufferPointer { pattern.data.update(from: $0.baseAddress!, count: full.count) }
            mask.fill(spec.opacity)
            runs = [0, plane]
        case let .patches(w, h, positions):
            var origins: [(x: Int, y: Int)] = []
            for p in positions {
                let o = p.origin(patchWidth: w, patchHeight: h, imageWidth: width, imageHeight: height)
                guard o.x >= 0, o.y >= 0, o.x + w <= width, o.y + h <= height else {
                    throw .patchDoesNotFit(spec: spec.description, position: p.description, patchWidth: w,
                                           patchHeight: h, x: o.x, y: o.y, imageWidth: width, imageHeight: height)
                }
                origins.append(o)
            }
            let patch = try spec.patchPattern(channels: channels, width: w, height: h)
            for o in origins {
                for c in 0..<channels {
                    for y in 0..<h {
                        let dst = pattern.data + c * plane + (o.y + y) * width + o.x
                        for x in 0..<w { dst[x] = patch[(c * h + y) * w + x] }
                    }
                }
                for y in 0..<h { (mask.data + (o.y + y) * width + o.x).update(repeating: spec.opacity, count: w) }
            }
            for y in 0..<height {
                var x = 0
                while x < width {
                    if mask[y * width + x] == 0 { x += 1; continue }
                    let start = x
                    while x < width && mask[y * width + x] != 0 { x += 1 }
                    runs += [y * width + start, x - start]
                }
            }
        }
        self.mask = mask
        self.pattern = pattern
        self.runs = runs
    }

    /// Stamps the images at `indices` of an `[N, C, H, W]` batch in place.
    ///
    /// - Throws: `AttackError.shapeMismatch` when the batch is not `[N, C, H, W]` of this size,
    ///   `.indexOutOfRange` for an index outside `0..<N` (images before it are already stamped).
    public func stamp<S: Sequence>(_ images: Tensor, indices: S) throws(AttackError) where S.Element == Int {
        let s = images.shape
        guard s.count == 4, s[1] == channels, s[2] == height, s[3] == width else {
            throw .shapeMismatch(what: "stamping trigger '\(spec)'", expected: [s.first ?? 0, channels, height, width],
                                 got: s)
        }
        let size = channels * height * width
        for i in indices {
            guard i >= 0 && i < s[0] else { throw .indexOutOfRange(what: "stamping trigger '\(spec)'", index: i, count: s[0]) }
            stampImage(images.data + i * size)
        }
    }

    /// Stamps every image of an `[N, C, H, W]` batch in place.
    public func stamp(_ images: Tensor) throws(AttackError) {
        try stamp(images, indices: 0..<(images.shape.first ?? 0))
    }

    /// Stamps one `[C, H, W]` image at `image` in place (no checks, no allocation).
    func stampImage(_ image: UnsafeMutablePointer<Float>) {
        let plane = height * width
        let a = alpha, keep = 1 - a
        runs.withUnsafeBufferPointer { r in
            for c in 0..<channels {
                let x = image + c * plane, p = UnsafePointer(pattern.data + c * plane)
                var k = 0
                while k < r.count {
                    let start = r[k], n = r[k + 1]
                    if a == 1 {
                        (x + start).update(from: p + start, count: n)
                    } else {
                        for j in start..<(start + n) { x[j] = keep * x[j] + a * p[j] }
                    }
                    k += 2
                }
            }
        }
    }
}
