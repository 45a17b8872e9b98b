/// Reads chosen small items (environment captures, data references, run records) out of a
/// pack: through the seek index when it is usable, else by a sequential scan; either way each
/// item's bytes are checked against its disclosure, and the signature over the manifest is
/// checked first.
public enum PackItems {
    public struct Loaded: Sendable {
        public var item: Item
        public var bytes: [UInt8]
    }

    /// `wanted` picks items by their path below `data/` (e.g. `{ $0.hasPrefix("env/") }`).
    public static func read(
        _ path: String, limits: ReaderLimits = .init(), where wanted: (_ itemPath: String) -> Bool
    ) throws -> (contents: PackContents, items: [Loaded]) {
        let pack = try PackFile(path: path, limits: limits)
        if pack.size != nil, let result = try? readThroughIndex(pack, wanted) { return result }
        return try readByScanning(pack, wanted)
    }

    private static func readThroughIndex(_ pack: PackFile, _ wanted: (String) -> Bool) throws -> (PackContents, [Loaded]) {
        let contents = try PackContents.loadThroughIndex(pack)
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
        return (contents, items)
    }

    private static func readByScanning(_ pack: PackFile, _ wanted: (String) -> Bool) throws -> (PackContents, [Loaded]) {
        var collected: [String: [UInt8]] = [:]
        let limit = pack.limits.maxMetadataBytes
        let scanned = try withoutActuallyEscaping(wanted) { wanted in
            try PackScanner(pack: pack).scan { entry in
            guard let itemPath = Layout.itemPath(entry.path), wanted(itemPath), entry.hardlinkTarget == nil, entry.size <= UInt64(limit) else { return nil }
            collected[itemPath] = []
            return { collected[itemPath]! += $0 }
            }
        }
        let contents = try PackContents.load(
            manifest: scanned.metadata[Layout.manifest], disclosures: scanned.metadata[Layout.disclosures],
            signature: scanned.metadata[Layout.signature])
        try contents.check(scanned)
        let items = try contents.items.filter { wanted($0.path) }.map { item in
            guard let bytes = collected[item.path] else {
                throw MLPackError.limitExceeded(limit: "metadata-size", detail: "data/\(item.path) is \(item.size) bytes")
            }
            return Loaded(item: item, bytes: bytes)
        }
        return (contents, items)
    }
}
