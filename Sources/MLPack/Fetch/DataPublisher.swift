import Foundation

/// What `data push` uploaded.
public struct PushReport: Sendable, Codable {
    public var pack: String
    public var name: String
    public var destination: String
    public var files: Int
    public var bytes: UInt64
    /// True when the pack itself names `destination` among the reference's URIs.
    public var namedByPack: Bool
}

/// Uploads a data reference's files to an object store (`mlpack data push`), so an author
/// can publish her data where the pack says it is. Each file comes from the cache or from
/// where it lay when the pack was made (or `--data NAME=PATH`), and is hashed as it is sent:
/// a file that no longer matches the pack's SHA-256 is not uploaded, and the push stops.
public enum DataPublisher {
    public static func push(
        _ pack: String, name: String, to destination: String, cache: DataCache = .init(),
        limits: ReaderLimits = .init(), progress: ProgressHandler? = nil
    ) throws -> PushReport {
        guard let target = S3Location(destination) else {
            throw MLPackError.usage(
                "\(destination): give an s3://BUCKET/KEY (a file) or s3://BUCKET/PREFIX/ (a folder)")
        }
        let references = try DataFetcher.references(in: PackFile(path: pack, limits: limits), trusted: nil)
        guard let loaded = references.first(where: { $0.reference.name == name }) else {
            let names = references.map(\.reference.name).sorted()
            throw MLPackError.usage(
                "\(pack) has no data reference \(name) (it has: \(names.isEmpty ? "none" : names.joined(separator: ", ")))"
            )
        }
        let reference = loaded.reference
        if reference.kind == .directory && !target.key.isEmpty && !target.key.hasSuffix("/") {
            throw MLPackError.usage("\(destination): data reference \(name) is a folder: give a prefix ending in /")
        }
        if reference.kind == .file && (target.key.isEmpty || target.key.hasSuffix("/")) {
            throw MLPackError.usage("\(destination): data reference \(name) is one file: give the object's key")
        }
        let settings = try cache.s3 ?? S3Settings()
        // Where the files are: a copy the user names, then where the author's machine had them.
        let folders =
            (cache.localCopies[name].map { [$0] } ?? [])
            + loaded.localURIs.compactMap { URL(string: $0).flatMap { $0.isFileURL ? $0.path : nil } }
        let counter = ProgressCounter(progress, phase: "pushing \(name)", total: reference.size)
        let stop = StopFlag()
        let failures = concurrentMap(count: loaded.files.count, threads: DataFetcher.connections) {
            index -> MLPackError? in
            guard !stop.isSet else { return nil }
            let file = loaded.files[index]
            do {
                try upload(file, from: source(file, cache: cache, folders: folders), to: target, settings, counter)
                return nil
            } catch {
                stop.set()
                if let error = error as? MLPackError { return error }
                let what = file.relativePath.isEmpty ? "" : " (\(file.relativePath))"
                return MLPackError.io(
                    path: "data reference \(name)\(what)", reason: "cannot push to \(target.uri): \(error)")
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
        return PushReport(
            pack: pack, name: name, destination: target.uri, files: loaded.files.count, bytes: reference.size,
            namedByPack: reference.uris.contains { S3Location($0) == target })
    }

    /// The file holding `file`'s bytes: the cache's blob, else the first folder that has it.
    private static func source(_ file: DataFile, cache: DataCache, folders: [String]) throws -> String {
        if cache.contains(file.sha256) { return cache.blobPath(file.sha256) }
        for folder in folders {
            let path = file.relativePath.isEmpty ? folder : folder + "/" + file.relativePath
            if FileSystem.status(path, followLinks: true)?.isRegular == true { return path }
        }
        throw MLPackError.io(
            path: folders.first ?? cache.root,
            reason: "not found (nor in the cache): give the data with --data NAME=PATH")
    }

    private static func upload(
        _ file: DataFile, from path: String, to target: S3Location, _ settings: S3Settings, _ counter: ProgressCounter
    ) throws {
        let input = try PosixFile(path: path, mode: .read)
        guard let size = FileSystem.status(path, followLinks: true)?.size, file.size == nil || file.size == size else {
            throw MLPackError.integrity(entry: path, problem: "its size changed since the pack was made")
        }
        var hasher = SHA256Hasher()
        var sent: UInt64 = 0
        let location = file.relativePath.isEmpty ? target : target.appending(file.relativePath)
        try S3.put(location, settings, size: size, sha256: file.sha256) { buffer in
            let count = try input.read(into: buffer)
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            sent += UInt64(count)
            counter.advance(by: count)
            // The last bytes are checked before they leave: a changed file never completes its upload.
            if sent == size && Hex.encode(hasher.finalize()) != file.sha256 {
                throw MLPackError.integrity(
                    entry: path, problem: "changed since the pack was made (its SHA-256 differs)")
            }
            return count
        }
    }
}
