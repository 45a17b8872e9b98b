import Foundation

/// A content-addressed store of data files: `<root>/blobs/sha256/<hex>`. A blob becomes
/// visible only after its bytes were hashed and matched; every reference's blobs are staged
/// together and published together, so a failed fetch leaves nothing behind.
public struct DataCache: Sendable {
    public let root: String
    /// Reference name → a file or folder the user holds (`--data NAME=PATH`): the cache is
    /// filled from it first, every byte checked against the pack as any download is. How a
    /// reviewer rebuilds with data its author could not publish.
    public var localCopies: [String: String]
    /// How `s3://` sources are reached (endpoint, region, credentials); nil: from the
    /// environment when the first one is fetched.
    public var s3: S3Settings?

    public init(root: String? = nil, localCopies: [String: String] = [:], s3: S3Settings? = nil) {
        self.root = root ?? DataCache.defaultRoot
        self.localCopies = localCopies
        self.s3 = s3
    }

    public static var defaultRoot: String {
        let environment = Host.current.environment
        let base =
            environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? Host.current.home + "/.cache"
        return base + "/mlpack"
    }

    var blobDirectory: String { root + "/blobs/sha256" }

    public func blobPath(_ sha256: String) -> String { blobDirectory + "/" + sha256 }

    func contains(_ sha256: String) -> Bool { FileSystem.status(blobPath(sha256))?.isRegular == true }

    /// A private staging folder for one reference's downloads.
    func makeStaging() throws -> String {
        try FileSystem.makeDirectories(root + "/tmp")
        try FileSystem.makeDirectories(blobDirectory)
        let path = FileSystem.temporaryName(in: root + "/tmp", prefix: "fetch-")
        guard mkdir(path, 0o700) == 0 else { throw MLPackError.io(path: path, reason: PosixFile.lastError()) }
        return path
    }

    /// Moves verified files into the store (read-only: a blob never changes).
    func publish(_ staged: [(path: String, sha256: String)]) throws {
        for file in staged where !contains(file.sha256) {
            try FileSystem.setPermissions(file.path, 0o444)
            try FileSystem.rename(file.path, blobPath(file.sha256))
        }
    }

    /// Re-hashes a cached blob: the cache lives on the user's disk and may have been changed.
    func check(_ file: DataFile) throws -> Bool {
        guard contains(file.sha256) else { return false }
        let result = try FileHashing.hash(file: blobPath(file.sha256))
        return result.sha256 == file.sha256 && (file.size == nil || file.size == result.size)
    }
}
