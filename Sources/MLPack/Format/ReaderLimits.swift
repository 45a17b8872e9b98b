/// Resource limits a reader enforces on a pack from a stranger (spec/FORMAT.md §8). Every
/// limit has a safe default and a name the CLI can raise it by.
public struct ReaderLimits: Sendable {
    /// Most tar entries a pack may hold (`--max-entries`).
    public var maxEntries = 200_000
    /// Largest metadata file read into memory: manifest, disclosures, index, tag files, card;
    /// also the most bytes all entry names may total, since a scan holds them to its end
    /// (`--max-metadata-size`).
    public var maxMetadataBytes = 64 << 20
    /// Most bytes the tar stream may expand to (`--max-total-size`).
    public var maxTotalBytes: UInt64 = 1 << 40
    /// Largest ratio of uncompressed to compressed bytes, checked once `expansionGrace` bytes
    /// came out (`--max-expansion-ratio`). zstd can shrink zeros ~30000x; real packs stay low.
    public var maxExpansionRatio: UInt64 = 1000
    public var expansionGrace: UInt64 = 256 << 20
    /// Largest zstd window a frame may ask for (2^24 = 16 MiB), bounding decoder memory.
    public var zstdWindowLogMax: Int32 = 24

    public init() {}
}
