import Foundation
import NITensor
import NINetwork
import NIDatasets
import NIDetectors
import NIExplainers

/// Pictures that go with a report: for each class its mean heatmap over the clean images and the heatmaps
/// of a few example images, plus those images themselves (all `[0, 1]`-scaled when drawn).
public struct ReportVisuals {
    /// Per class, a `H x W` mean map.
    public var meanMaps: [[Float]]
    /// Per class, per example image, a `H x W` map.
    public var exampleMaps: [[[Float]]]
    /// Example input images `[k, C, H, W]`.
    public var exampleImages: Tensor?
    public var height: Int, width: Int
    /// Extra pictures by title (e.g. Neural Cleanse's reversed masks and patterns), `[C, H, W]` in [0, 1].
    public var extraPictures: [(title: String, perClass: [Tensor])]
    /// The label of each entry of `extraPictures[i].perClass` (nil: entry `c` is label `c`), for reports on a
    /// subset of the labels.
    public var extraPictureLabels: [Int]?

    public init(meanMaps: [[Float]], exampleMaps: [[[Float]]], exampleImages: Tensor?, height: Int, width: Int,
                extraPictures: [(title: String, perClass: [Tensor])] = [], extraPictureLabels: [Int]? = nil) {
        self.meanMaps = meanMaps; self.exampleMaps = exampleMaps; self.exampleImages = exampleImages
        self.height = height; self.width = width; self.extraPictures = extraPictures
        self.extraPictureLabels = extraPictureLabels
    }
}

/// A self-contained HTML page (no network: images are inline PNG data URIs, charts inline SVG) showing each
/// class's mean heatmap and a few per-image heatmaps, the features as bar charts, and the anomaly indices.
public enum HTMLReport {
    /// Writes `index.html` into `directory` (created if needed), atomically.
    public static func write(_ r: DetectionReport, visuals: ReportVisuals?, to directory: URL) throws {
        let html = try render(r, visuals: visuals)
        try AtomicFile.write(Data(html.utf8), to: directory.appendingPathComponent("index.html"))
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// A heatmap as a PNG data URI (per-map min-max scaled, "hot" colour map), upscaled `scale` times.
    static func heatmapURI(_ map: [Float], height: Int, width: Int, scale: Int = 4) throws -> String {
        let lo = map.min() ?? 0, hi = map.max() ?? 1
        let span = hi > lo ? hi - lo : 1
        var img = DecodedImage(width: width * scale, height: height * scale, channels: 3)
        for y in 0..<(height * scale) {
            for x in 0..<(width * scale) {
                let v = (map[(y / scale) * width + x / scale] - lo) / span
                let o = (y * width * scale + x) * 3
                img.pixels[o] = UInt8(Swift.min(255, Swift.max(0, v * 3 * 255)))
                img.pixels[o + 1] = UInt8(Swift.min(255, Swift.max(0, (v * 3 - 1) * 255)))
                img.pixels[o + 2] = UInt8(Swift.min(255, Swift.max(0, (v * 3 - 2) * 255)))
            }
        }
        return "data:image/png;base64," + Data(try PNG.encode(img)).base64EncodedString()
    }

    /// An image tensor `[C, H, W]` in [0, 1] as a PNG data URI, upscaled.
    static func imageURI(_ t: UnsafePointer<Float>, channels: Int, height: Int, width: Int, scale: Int = 4) throws -> String {
        let outC = channels == 1 ? 1 : 3
        var img = DecodedImage(width: width * scale, height: height * scale, channels: outC)
        for y in 0..<(height * scale) {
            for x in 0..<(width * scale) {
                for c in 0..<outC {
                    let v = t[c * height * width + (y / scale) * width + x / scale]
                    img.pixels[(y * width * scale + x) * outC + c] = UInt8(Swift.min(255, Swift.max(0, v * 255 + 0.5)))
                }
            }
        }
        return "data:image/png;base64," + Data(try PNG.encode(img)).base64EncodedString()
    }

    /// A horizontal SVG bar chart of one value per class; flagged classes in red.
    static func bars(_ title: String, _ values: [(Int, Double, Bool)], threshold: Double? = nil) -> String {
        let w = 520.0, rowH = 14.0, left = 44.0
        let maxV = Swift.max(values.map { abs($0.1.isFinite ? $0.1 : 0) }.max() ?? 1, threshold ?? 0, 1e-12)
        var s = "<figure><figcaption>\(esc(title))</figcaption><svg width=\"\(Int(w + left + 70))\" height=\"\(Int(Double(values.count) * rowH + 6))\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\" font-family=\"monospace\">"
        for (i, (label, v, flagged)) in values.enumerated() {
            let y = Double(i) * rowH + 2
            let len = (v.isFinite ? abs(v) : 0) / maxV * w
            s += "<text x=\"0\" y=\"\(y + 10)\">\(label)</text><rect x=\"\(left)\" y=\"\(y)\" width=\"\(String(format: "%.1f", len))\" height=\"\(rowH - 3)\" fill=\"\(flagged ? "#d62728" : "#4c78a8")\"/><text x=\"\(String(format: "%.1f", left + len + 4))\" y=\"\(y + 10)\">\(String(format: "%.4g", v))</text>"
        }
        if let t = threshold {
            let x = left + t / maxV * w
            s += "<line x1=\"\(x)\" y1=\"0\" x2=\"\(x)\" y2=\"\(Double(values.count) * rowH + 4)\" stroke=\"#000\" stroke-dasharray=\"3,2\"/>"
        }
        return s + "</svg></figure>"
    }

    public static func render(_ r: DetectionReport, visuals: ReportVisuals?) throws -> String {
        var h = """
        <!doctype html><html><head><meta charset="utf-8"><title>\(esc(r.detector)) report: \(esc(r.model))</title>
        <style>body{font-family:sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right;font-family:monospace}
        .flag{background:#fde0dd}.verdict{font-size:1.3em;padding:8px;border:2px solid \(r.flagged.isEmpty ? "#2ca02c" : "#d62728")}
        .grid{display:flex;flex-wrap:wrap;gap:10px}.cell{text-align:center;font-size:11px}.cell img{image-rendering:pixelated;display:block}
        figure{display:inline-block;margin:8px}</style></head><body>
        <h1>\(esc(r.detector)) report</h1>
        <p class="verdict">\(esc(r.verdict))</p>
        <p>Model <code>\(esc(r.model))</code>; preset <code>\(esc(r.preset))</code>; \(r.classes) classes; \(r.images) clean images; \(String(format: "%.2f", r.seconds)) s.</p>
        """
        for n in r.notes { h += "<p><em>note:</em> \(esc(n))</p>" }
        let featureNames = Array(Set(r.perClass.flatMap { $0.features.keys })).sorted()
        h += "<h2>Anomaly index (MAD outlier test, threshold \(r.threshold))</h2>"
        h += bars("anomaly index per class", r.perClass.map { ($0.label, $0.anomalyIndex, $0.flagged) }, threshold: r.threshold)
        h += "<h2>Features</h2>"
        h += bars("combined score", r.perClass.map { ($0.label, $0.combined, $0.flagged) })
        // Window positions and sizes are coordinates, not scores: they stay in the table only.
        for f in featureNames where !["windowX", "windowY", "windowSize"].contains(f) {
            h += bars(f, r.perClass.map { ($0.label, $0.features[f] ?? 0, $0.flagged) })
        }
        h += "<h2>Per-class table</h2><table><tr><th>label</th>" + featureNames.map { "<th>\(esc($0))</th>" }.joined() + "<th>combined</th><th>anomaly index</th></tr>"
        for e in r.perClass {
            h += "<tr\(e.flagged ? " class=\"flag\"" : "")><td>\(e.label)</td>" + featureNames.map { "<td>\(String(format: "%.5g", e.features[$0] ?? 0))</td>" }.joined()
                + "<td>\(String(format: "%.5g", e.combined))</td><td>\(String(format: "%.3f", e.anomalyIndex))</td></tr>"
        }
        h += "</table>"
        if let v = visuals, !v.meanMaps.isEmpty {
            h += "<h2>Mean heatmap per class</h2><div class=\"grid\">"
            for (c, m) in v.meanMaps.enumerated() {
                let flagged = r.perClass.first { $0.label == c }?.flagged ?? false
                h += "<div class=\"cell\"><img src=\"\(try heatmapURI(m, height: v.height, width: v.width))\" alt=\"class \(c)\"\(flagged ? " style=\"outline:3px solid #d62728\"" : "")>class \(c)</div>"
            }
            h += "</div>"
            if !v.exampleMaps.isEmpty, let imgs = v.exampleImages {
                let k = imgs.shape[0], ch = imgs.shape[1]
                h += "<h2>Per-image heatmaps</h2><table><tr><th>image</th>"
                for i in 0..<k { h += "<td><img src=\"\(try imageURI(imgs.data + i * ch * v.height * v.width, channels: ch, height: v.height, width: v.width, scale: 2))\"></td>" }
                h += "</tr>"
                for (c, maps) in v.exampleMaps.enumerated() {
                    h += "<tr><th>class \(c)</th>" + (try maps.map { "<td><img src=\"\(try heatmapURI($0, height: v.height, width: v.width, scale: 2))\"></td>" }.joined()) + "</tr>"
                }
                h += "</table>"
            }
        }
        if let v = visuals {
            for extra in v.extraPictures {
                h += "<h2>\(esc(extra.title))</h2><div class=\"grid\">"
                for (i, t) in extra.perClass.enumerated() {
                    let c = v.extraPictureLabels.map { i < $0.count ? $0[i] : i } ?? i
                    let flagged = r.perClass.first { $0.label == c }?.flagged ?? false
                    h += "<div class=\"cell\"><img src=\"\(try imageURI(t.data, channels: t.shape[0], height: t.shape[1], width: t.shape[2]))\" alt=\"class \(c)\"\(flagged ? " style=\"outline:3px solid #d62728\"" : "")>class \(c)</div>"
                }
                h += "</div>"
            }
        }
        h += "<h2>Settings</h2><table>" + r.settings.sorted { $0.key < $1.key }.map { "<tr><td style=\"text-align:left\">\(esc($0.key))</td><td style=\"text-align:left\">\(esc($0.value))</td></tr>" }.joined() + "</table>"
        return h + "</body></html>\n"
    }
}

extension ReportVisuals {
    /// Mean heatmap per class and the maps of the first `examples` images, from a heatmap set.
    public static func from(_ h: HeatmapSet, images: Tensor, examples: Int = 6) -> ReportVisuals {
        let k = Swift.min(examples, h.images)
        let hw = h.height * h.width
        var means: [[Float]] = [], ex: [[[Float]]] = []
        for c in 0..<h.classes {
            var m = [Float](repeating: 0, count: hw)
            for i in 0..<h.images { let p = h.map(class: c, image: i); for j in 0..<hw { m[j] += p[j] } }
            means.append(m.map { $0 / Float(h.images) })
            ex.append((0..<k).map { i in Array(UnsafeBufferPointer(start: h.map(class: c, image: i), count: hw)) })
        }
        let per = images.count / Swift.max(images.shape[0], 1)
        let sample = Tensor(shape: [k] + Array(images.shape.dropFirst()))
        sample.data.update(from: images.data, count: k * per)
        return ReportVisuals(meanMaps: means, exampleMaps: ex, exampleImages: sample, height: h.height, width: h.width)
    }

    /// As `from(_:images:)`, plus each label's candidate trigger (`report.triggers`) stamped on the first clean
    /// image: what the model is shown when the detector measures that label's flip rate.
    public static func from(_ h: HeatmapSet, images: Tensor, report: DetectionReport, examples: Int = 6) -> ReportVisuals {
        var v = from(h, images: images, examples: examples)
        guard let triggers = report.triggers, !triggers.isEmpty, images.shape.count == 4, images.shape[0] > 0 else { return v }
        let c = images.shape[1], hh = images.shape[2], w = images.shape[3]
        var pictures: [Tensor] = []
        for t in triggers {
            let pic = Tensor(shape: [c, hh, w])
            pic.data.update(from: images.data, count: c * hh * w)
            if let a = t.opacity.map(Float.init), t.channels == c && t.values.count == c * hh * w {
                for q in 0..<(c * hh * w) { pic.data[q] = (1 - a) * pic.data[q] + a * t.values[q] }
            } else if t.channels == c && t.values.count == c * t.size * t.size && t.x >= 0 && t.y >= 0 && t.x + t.size <= w && t.y + t.size <= hh {
                for ch in 0..<c { for dy in 0..<t.size { for dx in 0..<t.size {
                    pic.data[(ch * hh + t.y + dy) * w + t.x + dx] = t.values[(ch * t.size + dy) * t.size + dx]
                } } }
            }
            pictures.append(pic)
        }
        v.extraPictures.append((title: "Candidate trigger per class, stamped (or blended) on the first clean image", perClass: pictures))
        v.extraPictureLabels = triggers.map(\.label)
        return v
    }
}

