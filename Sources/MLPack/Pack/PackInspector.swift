/// What `mlpack inspect` shows: read from the seek index and the few small entries it needs,
/// so its time does not grow with the size of the weights.
public struct InspectReport: Sendable, Codable {
    public struct RoleSummary: Sendable, Codable {
        public var role: Role
        public var items: Int
        public var bytes: UInt64
    }

    public struct File: Sendable, Codable {
        public var path: String
        public var role: Role
        public var size: UInt64
        public var sha256: String
    }

    public var pack: String
    public var name: String
    public var packId: String
    public var created: String
    public var title: String?
    /// Key id of the signer, or "unsigned". A key id is a label anyone can give a key: only
    /// `signerTrusted` says whether the key is one the user trusts.
    public var signer: String
    /// The signer's public-key line (what to compare with the author's), when signed.
    public var signerPublicKey: String?
    /// Whether the signing key is one of the trusted keys (`--key`, the keyring).
    public var signerTrusted: Bool
    /// "valid" or "unsigned": a signature that does not verify makes inspect fail (exit 1).
    /// It covers the manifest and the disclosures; the files themselves are only checked
    /// against them when `filesChecked`.
    public var signature: String
    /// Whether every file's bytes were hashed and found as disclosed: true after a sequential
    /// scan, false through the seek index (which reads only the few items shown).
    public var filesChecked: Bool
    public var items: Int
    public var withheld: Int
    public var payloadBytes: UInt64
    public var packBytes: UInt64?
    public var roles: [RoleSummary]
    public var outputs: [Card.Output]
    /// The runs that produced the outputs, oldest first (empty without recorded runs).
    public var lineage: [LineageView.Step]
    public var files: [File]
    /// "seek index" or "sequential scan".
    public var readThrough: String
    public var warnings: [String]
}

public enum PackInspector {
    public static func inspect(
        _ path: String, limits: ReaderLimits = .init(), trusted: TrustedKeys = .init()
    ) throws -> InspectReport {
        let read = try PackItems.read(path, limits: limits) { item in
            item == Layout.card || (item.hasPrefix("runs/") || item.hasPrefix("refs/")) && item.hasSuffix(".json")
        }
        let contents = read.contents
        let card = try contents.card(bytes: read.bytes(Layout.card))
        let items = contents.items
        let roles = Dictionary(grouping: items, by: \.role).map { role, items in
            InspectReport.RoleSummary(role: role, items: items.count, bytes: items.reduce(0) { $0 + $1.size })
        }.sorted { $0.role < $1.role }
        return InspectReport(
            pack: path, name: contents.manifest.name, packId: contents.manifest.packId,
            created: contents.manifest.created,
            title: card?.title, signer: contents.manifest.signer?.keyId ?? "unsigned",
            signerPublicKey: contents.signer?.base64,
            signerTrusted: try contents.signature(trusting: trusted).isTrusted,
            signature: contents.signer == nil ? "unsigned" : "valid",
            filesChecked: read.readThrough == "sequential scan",
            items: items.count,
            withheld: contents.withheld, payloadBytes: items.reduce(0) { $0 + $1.size },
            packBytes: read.packBytes,
            roles: roles, outputs: card?.outputs ?? [], lineage: try LineageView.steps(read),
            files: items.map { .init(path: $0.path, role: $0.role, size: $0.size, sha256: $0.sha256) },
            readThrough: read.readThrough, warnings: read.warnings)
    }
}
