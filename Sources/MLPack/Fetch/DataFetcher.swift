import Foundation

/// What `fetch` (and `verify --data`) did with each data reference of a pack.
public struct DataReport: Sendable, Codable {
    public struct Reference: Sendable, Codable {
        public var name: String
        public var kind: DataReference.Kind
        public var digest: String
        public var size: UInt64
        public var files: Int
        public var mountPath: String
        /// "inline" (stored in the pack), "cached" (already there), "fetched", "verified"
        /// (re-hashed in the cache) or "not checked".
        public var status: String
        /// Where the fetched bytes came from.
        public var sources: [String]
    }

    public var pack: String
    public var cache: String
    public var references: [Reference]
}

/// Fetches a pack's data references into the content-addressed cache, verifying every byte
/// before it becomes visible (spec/FORMAT.md §9.3).
public enum DataFetcher {
    /// The references of a pack, with their listings and private locations, read and
    /// checked against the disclosures.
    struct Loaded {
        var reference: DataReference
        var files: [DataFile]
        var localURIs: [String]
    }

    /// `trusted`: the contents a verification vouched for, which every byte read must match.
    static func references(in pack: PackFile, trusted: PackContents?) throws -> [Loaded] {
        let loaded = try PackItems.read(pack, trusted: trusted) { $0.hasPrefix("refs/") }.items
        let byPath = Dictionary(uniqueKeysWithValues: loaded.map { ($0.item.path, $0.bytes) })
        return try loaded.filter { $0.item.role == .dataRef && $0.item.path.hasSuffix(".json") }.map { entry in
            let reference: DataReference
            do { reference = try JSONText.decode(DataReference.self, from: entry.bytes) } catch {
                throw MLPackError.integrity(
                    entry: Layout.payloadPath(entry.item.path), problem: "not a valid data reference")
            }
            guard DataReference.itemPath(reference.name) == entry.item.path else {
                throw MLPackError.integrity(
                    entry: Layout.payloadPath(entry.item.path), problem: "names another reference (\(reference.name))")
            }
            var files: [DataFile]
            switch reference.kind {
            case .file:
                guard let sha256 = reference.sha256, Hex.isSHA256(sha256) else {
                    throw MLPackError.integrity(
                        entry: Layout.payloadPath(entry.item.path), problem: "a file reference needs a sha256")
                }
                files = [DataFile(relativePath: "", sha256: sha256, size: reference.size)]
            case .directory:
                let listingPath = DataReference.listingPath(reference.name)
                guard let listing = byPath[listingPath], SHA256Hasher.hex(listing) == reference.treeDigest else {
                    throw MLPackError.integrity(
                        entry: Layout.payloadPath(listingPath),
                        problem: "missing, or not the listing whose digest the reference records")
                }
                files = try ListingParser.parse(listing, what: Layout.payloadPath(listingPath))
            }
            if reference.kind == .file { files[0].size = reference.size }
            let local = byPath[DataReference.localPath(reference.name)].flatMap {
                try? JSONText.decode(LocalDataLocation.self, from: $0)
            }
            return Loaded(reference: reference, files: files, localURIs: local?.uris ?? [])
        }
    }

    /// Fetches what the cache lacks. With `recheck`, also re-hashes what it already has
    /// (`verify --data`).
    public static func fetch(
        _ pack: String, cache: DataCache = .init(), limits: ReaderLimits = .init(), recheck: Bool = false,
        progress: ProgressHandler? = nil
    ) throws -> DataReport {
        try fetch(
            references(in: PackFile(path: pack, limits: limits), trusted: nil), of: pack, cache: cache,
            recheck: recheck, progress: progress)
    }

    /// Fetches what the cache lacks of references already read (from the pack named `pack`).
    static func fetch(
        _ references: [Loaded], of pack: String, cache: DataCache, recheck: Bool = false,
        progress: ProgressHandler? = nil
    ) throws -> DataReport {
        var report = DataReport(pack: pack, cache: cache.root, references: [])
        let names = Set(references.map(\.reference.name))
        for (name, path) in cache.localCopies.sorted(by: { $0.key < $1.key }) {
            guard names.contains(name) else {
                throw MLPackError.usage(
                    "\(input: .localData) \(name)=\(path): \(pack) has no data reference \(name) (it has: \(names.isEmpty ? "none" : names.sorted().joined(separator: ", ")))"
                )
            }
            guard FileSystem.status(path, followLinks: true) != nil else {
                throw MLPackError.io(path: path, reason: "no such file or directory (given for data reference \(name))")
            }
        }
        // Every reference is tried, so one error can list all that is missing.
        var missingData: [String] = []
        for var loaded in references {
            let reference = loaded.reference
            if let copy = cache.localCopies[reference.name] {
                loaded.localURIs.insert(URL(fileURLWithPath: copy).standardizedFileURL.absoluteString, at: 0)
            }
            var entry = DataReport.Reference(
                name: reference.name, kind: reference.kind, digest: reference.digest, size: reference.size,
                files: loaded.files.count, mountPath: reference.mountPath, status: "cached", sources: [])
            if reference.inline != nil {
                entry.status = "inline"
            } else {
                let missing = try loaded.files.filter { file in
                    guard cache.contains(file.sha256) else { return true }
                    guard recheck else { return false }
                    if try cache.check(file) { return false }
                    try? FileManager.default.removeItem(atPath: cache.blobPath(file.sha256))
                    return true
                }
                if !missing.isEmpty {
                    do {
                        entry.sources = try fetch(missing, of: loaded, into: cache, progress: progress)
                        entry.status = "fetched"
                    } catch let error as MLPackError where error.category == .usage {
                        let reason = if case .io(_, let reason) = error { reason } else { error.description }
                        missingData.append(
                            "data reference \(reference.name) (mounted at \(reference.mountPath); \(missing.count) of \(loaded.files.count) files not in the cache): \(reason)"
                        )
                    }
                } else if recheck {
                    entry.status = "verified"
                }
            }
            report.references.append(entry)
        }
        if !missingData.isEmpty {
            throw MLPackError.usage(
                "\(cache.root): missing data: \(missingData.joined(separator: "; ")); a copy you hold can be given with \(input: .localData) NAME=PATH (its files are checked against the pack's digests)"
            )
        }
        return report
    }

    /// Lists the references without touching the cache (`verify` without `--data`).
    static func unchecked(_ references: [Loaded]) -> [DataReport.Reference] {
        references.map { loaded in
            let reference = loaded.reference
            return DataReport.Reference(
                name: reference.name, kind: reference.kind, digest: reference.digest, size: reference.size,
                files: loaded.files.count, mountPath: reference.mountPath,
                status: reference.inline != nil ? "inline" : "not checked", sources: [])
        }
    }

    /// Downloads `files` of one reference into a staging folder, then publishes them all.
    private static func fetch(
        _ files: [DataFile], of loaded: Loaded, into cache: DataCache, progress: ProgressHandler?
    ) throws -> [String] {
        let reference = loaded.reference
        let uris = loaded.localURIs + reference.uris
        guard !uris.isEmpty else {
            throw MLPackError.io(
                path: "data reference \(reference.name)",
                reason: "no URI to fetch it from")
        }
        let staging = try cache.makeStaging()
        defer { FileSystem.removeTree(staging) }
        let counter = ProgressCounter(progress, phase: "fetching \(reference.name)", total: reference.size)
        let stop = StopFlag()
        let s3 = try cache.s3 ?? (uris.contains { S3Location($0) != nil } ? S3Settings() : nil)
        // Several files in flight (a folder on an object store is thousands of small requests);
        // the first failure stops the rest.
        let results = concurrentMap(count: files.count, threads: Self.connections) { number -> FileFetch in
            guard !stop.isSet else { return .skipped }
            let file = files[number]
            var problems: [String] = []
            var altered = false
            for base in uris {
                let uri = file.relativePath.isEmpty ? base : join(base, file.relativePath)
                let destination = staging + "/\(number)-\(problems.count)"
                do {
                    let result = try Downloader.fetch(
                        uri, to: destination, maxBytes: file.size ?? reference.size, progress: counter, s3: s3)
                    guard result.sha256 == file.sha256, file.size == nil || result.size == file.size else {
                        altered = true
                        problems.append(
                            "\(uri) served different bytes (sha256 \(result.sha256), expected \(file.sha256))")
                        unlink(destination)
                        continue
                    }
                    return .fetched(path: destination, sha256: file.sha256, base: base)
                } catch {
                    unlink(destination)
                    problems.append("\(uri): \(error)")
                }
            }
            stop.set()
            return .failed(file: file.relativePath, problems: problems, altered: altered)
        }
        var staged: [(path: String, sha256: String)] = []
        var sources = Set<String>()
        for result in results {
            switch result {
            case .fetched(let path, let sha256, let base):
                staged.append((path, sha256))
                sources.insert(base)
            case .failed(let file, let problems, let altered):
                let what = file.isEmpty ? "" : " (\(file))"
                let message = problems.joined(separator: "; ")
                throw altered
                    ? MLPackError.integrity(entry: "data reference \(reference.name)\(what)", problem: message)
                    : MLPackError.io(
                        path: "data reference \(reference.name)\(what)", reason: "cannot fetch: \(message)")
            case .skipped: continue
            }
        }
        try cache.publish(staged)
        return sources.sorted()
    }

    /// Downloads in flight at once for one reference.
    static let connections = 8

    private enum FileFetch: Sendable {
        case fetched(path: String, sha256: String, base: String)
        case failed(file: String, problems: [String], altered: Bool)
        /// Not tried: another file had failed.
        case skipped
    }

    /// `base` + `/` + `relative`, escaping each path component for URLs.
    private static func join(_ base: String, _ relative: String) -> String {
        let escaped = relative.split(separator: "/").map {
            $0.addingPercentEncoding(
                withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? String($0)
        }.joined(separator: "/")
        return (base.hasSuffix("/") ? base : base + "/") + escaped
    }
}
