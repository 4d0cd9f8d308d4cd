#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where the data sets live: the one setting is the environment variable `NEURONINSPECT_DATA`, the folder
/// holding `mnist/` (the four official IDX files) and `gtsrb/` (`GTSRB-subset.tar.xz`).
///
/// When it is unset, `../shared/data` is tried relative to the current directory, then relative to the
/// package root (the nearest folder at or above the current directory that holds a `Package.swift`); the
/// first that exists is used. The unpacked GTSRB images are cached under `$NEURONINSPECT_CACHE/gtsrb`, or
/// by default `<package root>/.build-data-cache/gtsrb` (`./.build-data-cache/gtsrb` outside a package).
public enum DataLocation {
    /// The environment variable naming the data folder.
    public static let environmentVariable = "NEURONINSPECT_DATA"
    /// The environment variable naming the cache folder for unpacked archives.
    public static let cacheEnvironmentVariable = "NEURONINSPECT_CACHE"
    /// The default data folder, relative to the current directory or the package root.
    public static let defaultRelativePath = "../shared/data"

    /// A data set `require` can check for.
    public enum Item: String, Sendable, CaseIterable {
        /// The MNIST folder with its four IDX files (gzip'd or not).
        case mnist
        /// The GTSRB subset archive `gtsrb/GTSRB-subset.tar.xz`.
        case gtsrbArchive

        /// The name used in messages.
        public var displayName: String { self == .mnist ? "MNIST" : "GTSRB archive" }
    }

    /// The data folder (see the type's documentation). Never fails; `require` checks that data is there.
    public static var root: String {
        if let value = environment(environmentVariable) { return standardized(value) }
        let candidates = defaultCandidates()
        return candidates.first(where: FileIO.isDirectory) ?? candidates[0]
    }

    /// The MNIST folder, `<root>/mnist`.
    public static var mnist: String { FileIO.join(root, "mnist") }

    /// The GTSRB archive, `<root>/gtsrb/GTSRB-subset.tar.xz`.
    public static var gtsrbArchive: String { FileIO.join(root, "gtsrb/GTSRB-subset.tar.xz") }

    /// The path of `item`.
    public static func path(of item: Item) -> String { item == .mnist ? mnist : gtsrbArchive }

    /// The nearest folder at or above `start` (default: the current directory) holding a `Package.swift`.
    public static func packageRoot(from start: String = FileManager.default.currentDirectoryPath) -> String? {
        var dir = URL(fileURLWithPath: start).standardizedFileURL
        while true {
            if FileIO.isFile(dir.appendingPathComponent("Package.swift").path) { return dir.path }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path || dir.path == "/" { return nil }
            dir = parent
        }
    }

    /// Checks that `item` is present and returns its path, or throws `.dataNotFound` with a message that
    /// says where it looked and how to point `NEURONINSPECT_DATA` at the data.
    @discardableResult
    public static func require(_ item: Item) throws(DatasetError) -> String {
        let path = path(of: item)
        let present: Bool
        switch item {
        case .mnist:
            present = MNIST.Split.allCases.allSatisfy { split in
                let f = MNIST.files(directory: path, split: split)
                return FileIO.isFile(f.images) && FileIO.isFile(f.labels)
            }
        case .gtsrbArchive:
            present = FileIO.isFile(path)
        }
        if present { return path }
        throw .dataNotFound(what: item.displayName, path: path, hint: hint())
    }

    /// Unpacks `gtsrb/GTSRB-subset.tar.xz` (with `/usr/bin/tar -xJf`) into `cache` once and returns `cache`,
    /// the folder holding `GTSRB/` (pass it to `GTSRB.load(root:)`). Later calls find it and return at once.
    ///
    /// The archive is unpacked into a fresh temporary folder beside `cache` that is then renamed to `cache`,
    /// so a crash leaves no half-filled cache, and concurrent callers end with one complete copy.
    /// - Parameter cache: the cache folder; nil for the default (see the type's documentation).
    public static func gtsrbRoot(cache: String? = nil) throws(DatasetError) -> String {
        let dest = standardized(cache ?? defaultGTSRBCache())
        if FileIO.isDirectory(FileIO.join(dest, "GTSRB")) { return dest }
        let archive = try require(.gtsrbArchive)
        let parent = URL(fileURLWithPath: dest).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw .extractionFailed(archive: archive, destination: dest,
                                    reason: "cannot create \(parent): \(error.localizedDescription)")
        }
        let temp = dest + ".partial-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: temp) }
        do {
            try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: false)
        } catch {
            throw .extractionFailed(archive: archive, destination: dest,
                                    reason: "cannot create \(temp): \(error.localizedDescription)")
        }
        try untar(archive: archive, into: temp, destination: dest)
        guard FileIO.isDirectory(FileIO.join(temp, "GTSRB")) else {
            throw .extractionFailed(archive: archive, destination: dest, reason: "the archive holds no GTSRB/ folder")
        }
        if rename(temp, dest) != 0 {
            let reason = FileIO.errnoText()
            // Another process may have finished first: its copy is as good as ours.
            if FileIO.isDirectory(FileIO.join(dest, "GTSRB")) { return dest }
            throw .extractionFailed(archive: archive, destination: dest,
                                    reason: "cannot move the unpacked folder into place (\(reason)); if \(dest) "
                                    + "exists without a GTSRB/ folder, delete it")
        }
        return dest
    }

    // MARK: - Helpers

    private static func untar(archive: String, into folder: String, destination: String) throws(DatasetError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        process.arguments = ["-xJf", archive, "-C", folder]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw .extractionFailed(archive: archive, destination: destination,
                                    reason: "cannot run /usr/bin/tar: \(error.localizedDescription)")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .extractionFailed(archive: archive, destination: destination,
                                    reason: "tar exited with status \(process.terminationStatus): \(text)")
        }
    }

    private static func defaultGTSRBCache() -> String {
        if let cache = environment(cacheEnvironmentVariable) { return FileIO.join(cache, "gtsrb") }
        let base = packageRoot() ?? FileManager.default.currentDirectoryPath
        return FileIO.join(base, ".build-data-cache/gtsrb")
    }

    private static func defaultCandidates() -> [String] {
        let cwd = FileManager.default.currentDirectoryPath
        var list = [standardized(FileIO.join(cwd, defaultRelativePath))]
        if let pkg = packageRoot() {
            let p = standardized(FileIO.join(pkg, defaultRelativePath))
            if p != list[0] { list.append(p) }
        }
        return list
    }

    private static func hint() -> String {
        var text = "set \(environmentVariable) to the folder holding mnist/ and gtsrb/"
        if let value = environment(environmentVariable) {
            text += " (it is set to '\(value)', which does not hold it)"
        } else {
            text += " (it is unset, so \(defaultRelativePath) was tried relative to the current directory and to "
                + "the package root: \(defaultCandidates().joined(separator: ", ")))"
        }
        return text
    }

    private static func environment(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    private static func standardized(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
