/// Reads chosen small items (the card, run records, environment captures, data references)
/// out of a pack: through the seek index when it is usable, else by a sequential scan; either
/// way each item's bytes are checked against its disclosure, and the signature over the
/// manifest is checked first.
public enum PackItems {
    public struct Loaded: Sendable {
        public var item: Item
        public var bytes: [UInt8]
    }

    public struct Result: Sendable {
        public var contents: PackContents
        public var items: [Loaded]
        /// "seek index" or "sequential scan".
        public var readThrough: String
        public var warnings: [String]
        /// The pack's own size, when it could seek (not a stream).
        public var packBytes: UInt64?

        public func bytes(_ itemPath: String) -> [UInt8]? { items.first { $0.item.path == itemPath }?.bytes }
    }

    /// `wanted` picks items by their path below `data/` (e.g. `{ $0.hasPrefix("env/") }`).
    public static func read(
        _ path: String, limits: ReaderLimits = .init(), where wanted: (_ itemPath: String) -> Bool
    ) throws -> Result {
        try read(PackFile(path: path, limits: limits), where: wanted)
    }

    /// With `trusted` (the contents a verification of this same open pack vouched for), the
    /// result holds those contents and each item read must have the digest they disclose:
    /// bytes changed under the descriptor since are an integrity error, never used.
    static func read(_ pack: PackFile, trusted: PackContents? = nil, where wanted: (String) -> Bool) throws -> Result {
        guard pack.size != nil else { return try checked(readByScanning(pack, wanted, warnings: []), trusted, wanted) }
        do {
            return try readThroughIndex(pack, trusted, wanted)
        } catch let error as MLPackError where error.category != .invalid {
            throw error
        } catch {
            // Anything odd through the index: read the pack front to back instead.
            let reason = error is IndexUnusable ? "\(error)" : "seek index unusable (\(error))"
            return try checked(
                readByScanning(pack, wanted, warnings: ["\(reason); read the whole pack"]), trusted, wanted)
        }
    }

    /// A scan's result held to the trusted contents, when there are any.
    private static func checked(_ result: Result, _ trusted: PackContents?, _ wanted: (String) -> Bool) throws -> Result
    {
        guard let trusted else { return result }
        let loaded = Dictionary(result.items.map { ($0.item.path, $0.bytes) }, uniquingKeysWith: { first, _ in first })
        var held = result
        held.items = try trusted.items.filter { wanted($0.path) }.map { item in
            guard let bytes = loaded[item.path], UInt64(bytes.count) == item.size,
                SHA256Hasher.hex(bytes) == item.sha256
            else {
                throw MLPackError.integrity(
                    entry: Layout.payloadPath(item.path), problem: "changed since the pack was verified")
            }
            return Loaded(item: item, bytes: bytes)
        }
        held.contents = trusted
        return held
    }

    /// Copies one item's bytes out of the pack through the seek index, checking them against
    /// its disclosure as they stream (a large item is never held in memory).
    static func copy(_ item: Item, from pack: PackFile, into file: PosixFile) throws {
        guard case .success(let loaded) = pack.index,
            let entry = loaded.index.entries.first(where: {
                $0.path.hasSuffix("/" + Layout.payloadPath(item.path)) && $0.size == item.size
            })
        else {
            throw MLPackError.usage("\(pack.path): its seek index is unusable; extract the pack and create it again")
        }
        var hasher = SHA256Hasher()
        try pack.stream(entry) { chunk in
            hasher.update(chunk)
            try file.write(chunk)
        }
        guard Hex.encode(hasher.finalize()) == item.sha256 else {
            throw MLPackError.integrity(
                entry: Layout.payloadPath(item.path), problem: "sha256 differs from its disclosure")
        }
    }

    /// Copies one item into a new file at `path` (readable by its owner only).
    static func copy(_ item: Item, from pack: PackFile, to path: String) throws {
        try copy(item, from: pack, into: PosixFile(path: path, mode: .createExclusive, permissions: 0o600))
    }

    /// Through the index, each item checked against `trusted` (or the contents the index
    /// leads to, when none were verified).
    private static func readThroughIndex(
        _ pack: PackFile, _ trusted: PackContents?, _ wanted: (String) -> Bool
    ) throws -> Result {
        let contents = try trusted ?? PackContents.loadThroughIndex(pack)
        let top = try PackContents.topDirectory(of: pack.index.get().index)
        let items = try contents.items.filter { wanted($0.path) }.map { item in
            guard let entry = pack.indexEntry(top + "/" + Layout.payloadPath(item.path)), entry.size == item.size else {
                throw IndexUnusable(reason: "index does not list data/\(item.path)")
            }
            let bytes = try pack.read(entry)
            guard SHA256Hasher.hex(bytes) == item.sha256 else {
                throw IndexUnusable(reason: "data/\(item.path) does not match its disclosure")
            }
            return Loaded(item: item, bytes: bytes)
        }
        return Result(contents: contents, items: items, readThrough: "seek index", warnings: [], packBytes: pack.size)
    }

    private static func readByScanning(
        _ pack: PackFile, _ wanted: (String) -> Bool, warnings: [String]
    ) throws -> Result {
        var collected: [String: [UInt8]] = [:]
        let limit = pack.limits.maxMetadataBytes
        let scanned = try withoutActuallyEscaping(wanted) { wanted in
            try PackScanner(pack: pack).scan { entry in
                guard let itemPath = Layout.itemPath(entry.path), wanted(itemPath), entry.hardlinkTarget == nil,
                    entry.size <= UInt64(limit)
                else { return nil }
                collected[itemPath] = []
                return { collected[itemPath]! += $0 }
            }
        }
        let contents = try PackContents.load { scanned.metadata[$0] }
        try contents.check(scanned)
        let items = try contents.items.filter { wanted($0.path) }.map { item in
            guard
                let bytes = collected[item.path]
                    ?? scanned.entries.first(where: { $0.path == Layout.payloadPath(item.path) })
                    .flatMap({ $0.hardlinkTarget }).flatMap({ Layout.itemPath($0) }).flatMap({ collected[$0] })
            else {
                throw MLPackError.limitExceeded(
                    limit: "metadata-size", detail: "data/\(item.path) is \(item.size) bytes")
            }
            return Loaded(item: item, bytes: bytes)
        }
        return Result(
            contents: contents, items: items, readThrough: "sequential scan", warnings: warnings, packBytes: pack.size)
    }
}
