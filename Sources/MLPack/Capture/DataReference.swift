import Foundation

/// Data a pack names but does not hold (spec/FORMAT.md §9.3): what it is (hashes), where to
/// get it (public URIs), and where a rebuild mounts it.
public struct DataReference: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case file, directory }

    public var formatVersion = 1
    public var name: String
    public var kind: Kind
    /// SHA-256 of a file reference.
    public var sha256: String?
    /// SHA-256 of a directory reference's listing (`refs/<name>.sha256`).
    public var treeDigest: String?
    public var size: UInt64
    public var fileCount: Int
    /// Public places to fetch it from (`https://…`); the local `file://` path is kept apart,
    /// in the private `refs/<name>.local.json`.
    public var uris: [String]
    /// Where a rebuild puts it, relative to the working directory of the run.
    public var mountPath: String
    /// Item path of the copy stored inside the pack (`--inline-data`), if any.
    public var inline: String?

    /// Item paths of a reference's files in a pack.
    static func itemPath(_ name: String) -> String { "refs/\(name).json" }
    static func listingPath(_ name: String) -> String { "refs/\(name).sha256" }
    static func localPath(_ name: String) -> String { "refs/\(name).local.json" }
    static func inlineDirectory(_ name: String) -> String { "inputs/\(name)" }

    /// The digest that identifies the data: the file's SHA-256 or the directory's tree digest.
    public var digest: String { sha256 ?? treeDigest ?? "" }

    static func isValidName(_ name: String) -> Bool { PackPath.isValidTopDirectory(name) }

    /// Neither a URI to fetch it from nor a copy inside the pack: only a reviewer who holds
    /// the data can rebuild.
    public var isUnfetchable: Bool { uris.isEmpty && inline == nil }

    /// What the author is told about an unfetchable reference (at `create`, `redact
    /// --public`): only she can publish the data.
    public static func unfetchableWarning(name: String) -> Message {
        "data reference \(name) has no public URI: a reviewer can rebuild only with its files at hand (\(input: .localData) \(name)=PATH); publish it and give \(input: .dataURI) \(name)=https://…, or pack it with \(input: .inlineData) \(name)"
    }

    /// The URIs given for a reference, checked as public ones must be: https:// (http:// on
    /// loopback) or s3://BUCKET/KEY only, with any credentials taken out (the pack would
    /// publish them).
    static func publicURIs(_ uris: [String], name: String) throws -> (uris: [String], warnings: [String]) {
        for uri in uris where !(uri.hasPrefix("https://") || uri.hasPrefix("http://")) {
            guard let location = S3Location(uri), !location.key.isEmpty else {
                throw MLPackError.usage(
                    "\(input: .dataURI) \(name)=\(uri): only https:// (or http:// on loopback) and s3://BUCKET/KEY URIs can be public"
                )
            }
        }
        var warnings: [String] = []
        let clean = uris.map { uri in
            guard let clean = SecretScrubber.withoutCredentials(uri) else { return uri }
            warnings.append("data reference \(name): credentials taken out of its URI, recorded as \(clean)")
            return clean
        }
        return (clean, warnings)
    }
}

/// The private half of a reference: where the data lay on the author's machine.
struct LocalDataLocation: Codable, Equatable {
    var uris: [String]
}

/// One file of a reference: its path inside a directory reference ("" for a file
/// reference), its digest, and (when known) its size.
public struct DataFile: Sendable, Equatable {
    public var relativePath: String
    public var sha256: String
    public var size: UInt64?
}

/// `sha256sum` listings, written and read the same way for code snapshots, BagIt manifests
/// and directory references.
enum ListingParser {
    /// Parses `<hex>  <path>` lines; rejects anything else, including unsafe paths.
    static func parse(_ bytes: [UInt8], what: String) throws -> [DataFile] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw MLPackError.integrity(entry: what, problem: "listing is not UTF-8")
        }
        var files: [DataFile] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let hash = String(line.prefix(64))
            let separator = line.dropFirst(64).prefix(2)
            let path = String(line.dropFirst(66))
            guard Hex.isSHA256(hash), separator == "  " || separator == " *", PackPath.problem(with: path) == nil else {
                throw MLPackError.integrity(
                    entry: what, problem: "line \(number + 1) is not \"<sha256>  <safe relative path>\"")
            }
            files.append(DataFile(relativePath: path, sha256: hash, size: nil))
        }
        return files
    }
}

/// Hashes a file or folder given with `create --data NAME=PATH` into a reference.
enum DataReferenceCapture {
    struct Captured {
        var reference: DataReference
        /// For a directory: its listing, stored as `refs/<name>.sha256`.
        var listing: [UInt8]?
        /// The files, for `--inline-data` (absolute path, path inside the reference).
        var files: [(absolute: String, relative: String, size: UInt64)]
        var local: LocalDataLocation
        /// URIs given with credentials, which were taken out.
        var warnings: [String] = []
    }

    static func capture(
        name: String, path: String, uris: [String], mount: String?, progress: ProgressHandler?
    ) throws -> Captured {
        guard DataReference.isValidName(name) else {
            throw MLPackError.usage("\(input: .data) \(name)=…: a name is letters, digits, '.', '_' or '-'")
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let status = FileSystem.status(absolute, followLinks: true) else {
            throw MLPackError.io(path: path, reason: "no such file or directory")
        }
        let mountPath = mount ?? (absolute as NSString).lastPathComponent
        if let problem = PackPath.problem(with: mountPath) {
            throw MLPackError.usage("\(input: .dataMount) \(name)=\(mountPath): \(problem)")
        }
        let (uris, warnings) = try DataReference.publicURIs(uris, name: name)
        let local = LocalDataLocation(uris: [URL(fileURLWithPath: absolute).absoluteString])
        if status.isRegular {
            let counter = ProgressCounter(progress, phase: "hashing \(name)", total: status.size)
            let hash = try FileHashing.hash(files: [absolute], progress: counter)[0]
            let reference = DataReference(
                name: name, kind: .file, sha256: hash.sha256, size: hash.size, fileCount: 1, uris: uris,
                mountPath: mountPath)
            return Captured(
                reference: reference, listing: nil,
                files: [(absolute, (absolute as NSString).lastPathComponent, hash.size)], local: local,
                warnings: warnings)
        }
        guard status.isDirectory else {
            throw MLPackError.usage("\(input: .data) \(name)=\(path): not a file or directory")
        }
        var relatives: [String] = []
        var total: UInt64 = 0
        for (relative, file) in try CodeSelection.walkWithStatus(absolute, skipDefaults: false) {
            guard file.isRegular else {
                throw MLPackError.usage(
                    "\(input: .data) \(name): \(relative) is not a regular file (symbolic links are not followed)")
            }
            if let problem = PackPath.problem(with: relative) {
                throw MLPackError.usage("\(input: .data) \(name): cannot name \(relative) in a listing: \(problem)")
            }
            relatives.append(relative)
            total += file.size
        }
        let counter = ProgressCounter(progress, phase: "hashing \(name)", total: total)
        let hashes = try FileHashing.hash(files: relatives.map { absolute + "/" + $0 }, progress: counter)
        let listing = Listing.sha256sum(zip(relatives, hashes).map { ($0, $1.sha256) })
        let reference = DataReference(
            name: name, kind: .directory, treeDigest: SHA256Hasher.hex(listing),
            size: hashes.reduce(0) { $0 + $1.size },
            fileCount: relatives.count, uris: uris, mountPath: mountPath)
        let files = zip(relatives, hashes).map { (absolute + "/" + $0, $0, $1.size) }
        return Captured(reference: reference, listing: listing, files: files, local: local, warnings: warnings)
    }
}
