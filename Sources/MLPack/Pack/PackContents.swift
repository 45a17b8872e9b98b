/// A pack's manifest and disclosures, checked against each other: every disclosure is
/// listed in the manifest exactly once; manifest entries without a disclosure are withheld.
public struct PackContents: Sendable {
    public let manifest: Manifest
    let manifestBytes: [UInt8]
    let disclosuresBytes: [UInt8]
    /// The signer, whose signature over `manifestBytes` verified; nil when unsigned.
    public let signer: PublicKey?
    /// Sorted by item path.
    public let disclosures: [Disclosure]
    private let byPath: [String: Int]

    public var items: [Item] { disclosures.map(\.item) }
    public var withheld: Int { manifest.items.count - disclosures.count }

    public func signature(trusting trusted: TrustedKeys) throws -> SignatureStatus {
        try SignatureStatus.of(signer, trusting: trusted)
    }
    public func item(_ path: String) -> Item? { byPath[path].map { disclosures[$0].item } }

    /// The author's pack a re-signing redaction derived this one from (spec §10.1).
    public let provenance: Provenance?

    public struct Provenance: Sendable {
        public let manifest: Manifest
        /// The author, whose signature over the original manifest verified; nil if unsigned.
        public let signer: PublicKey?
        /// Paths of the items the original manifest covers unchanged: the author vouches for
        /// them; the others only the redactor's signature covers.
        public let authorItems: Set<String>
        /// Items of the original pack withheld here (dropped, or rewritten).
        public let withheld: Int
    }

    /// Loads and cross-checks the manifest, its signature and the disclosures (and, in a
    /// re-signed pack, the original ones), given the tag files' bytes by path.
    static func load(tagFile: (String) throws -> [UInt8]?) throws -> PackContents {
        let (manifest, manifestBytes, signer, disclosures) = try loadManifest(
            tagFile(Layout.manifest), signature: tagFile(Layout.signature), disclosures: tagFile(Layout.disclosures),
            manifestPath: Layout.manifest, disclosuresPath: Layout.disclosures)
        var provenance: Provenance?
        if let derivedFrom = manifest.derivedFrom {
            // The hash first: an edited original is a broken link to the author, not a bad signature.
            if let bytes = try tagFile(Layout.originalManifest), SHA256Hasher.hex(bytes) != derivedFrom {
                throw MLPackError.integrity(
                    entry: Layout.originalManifest, problem: "is not the manifest derivedFrom names")
            }
            let (original, _, author, kept) = try loadManifest(
                tagFile(Layout.originalManifest), signature: tagFile(Layout.originalSignature),
                disclosures: tagFile(Layout.originalDisclosures),
                manifestPath: Layout.originalManifest, disclosuresPath: Layout.originalDisclosures,
                signaturePath: Layout.originalSignature)
            let current = Dictionary(uniqueKeysWithValues: disclosures.map { ($0.item.path, $0.item) })
            let covered = kept.filter { current[$0.item.path] == $0.item }.map(\.item.path)
            guard covered.count == kept.count else {
                throw MLPackError.integrity(
                    entry: Layout.originalDisclosures, problem: "discloses an item this pack does not hold as disclosed"
                )
            }
            provenance = Provenance(
                manifest: original, signer: author, authorItems: Set(covered),
                withheld: original.items.count - kept.count)
        }
        let disclosuresBytes = try tagFile(Layout.disclosures) ?? []
        return PackContents(
            manifest: manifest, manifestBytes: manifestBytes, disclosuresBytes: disclosuresBytes, signer: signer,
            disclosures: disclosures,
            byPath: Dictionary(uniqueKeysWithValues: disclosures.enumerated().map { ($1.item.path, $0) }),
            provenance: provenance)
    }

    /// One manifest with its signature and disclosures, each checked against the others.
    private static func loadManifest(
        _ manifestBytes: [UInt8]?, signature: [UInt8]?, disclosures disclosuresBytes: [UInt8]?,
        manifestPath: String, disclosuresPath: String, signaturePath: String = Layout.signature
    ) throws -> (Manifest, [UInt8], PublicKey?, [Disclosure]) {
        guard let manifestBytes else { throw MLPackError.integrity(entry: manifestPath, problem: "missing") }
        guard let disclosuresBytes else { throw MLPackError.integrity(entry: disclosuresPath, problem: "missing") }
        let manifest = try Manifest.decode(manifestBytes, path: manifestPath)
        let signer = try SignatureStatus.validSigner(
            manifest: manifest, manifestBytes: manifestBytes, signatureBytes: signature, manifestPath: manifestPath,
            signaturePath: signaturePath)
        func invalid(_ problem: String) -> MLPackError { .integrity(entry: disclosuresPath, problem: problem) }
        let file: DisclosureFile
        do { file = try DisclosureFile(json: disclosuresBytes) } catch {
            throw invalid("not a valid disclosures file (malformed JSON near byte \(error.offset))")
        }
        let signed = Set(manifest.items)
        var seenDigests = Set<String>()
        var folded: [String: String] = [:]
        var disclosures: [Disclosure] = []
        for (number, encoded) in file.disclosures.enumerated() {
            let disclosure: Disclosure
            do { disclosure = try Disclosure(decoding: encoded) } catch {
                throw invalid("disclosure #\(number + 1): \(error)")
            }
            let path = Layout.payloadPath(disclosure.item.path)
            let digest = disclosure.digest
            guard signed.contains(digest) else { throw invalid("the disclosure of \(path) is not in the manifest") }
            guard seenDigests.insert(digest).inserted else { throw invalid("\(path) is disclosed twice") }
            if let other = folded.updateValue(disclosure.item.path, forKey: PackPath.caseFoldKey(disclosure.item.path))
            {
                throw invalid(
                    other == disclosure.item.path
                        ? "two disclosures for \(path)" : "\(path) differs only by case from data/\(other)")
            }
            disclosures.append(disclosure)
        }
        disclosures = disclosures.sortedBytewise(by: \.item.path)
        return (manifest, manifestBytes, signer, disclosures)
    }

    /// The card, parsed once its bytes have been checked against its disclosure.
    func card(bytes: [UInt8]?) throws -> Card? {
        guard let item = item(Layout.card), let bytes else { return nil }
        guard SHA256Hasher.hex(bytes) == item.sha256 else {
            throw MLPackError.integrity(
                entry: Layout.payloadPath(Layout.card), problem: "sha256 differs from its disclosure")
        }
        do { return try JSONText.decode(Card.self, from: bytes) } catch {
            throw MLPackError.integrity(
                entry: Layout.payloadPath(Layout.card), problem: "not a valid card (\(Manifest.describe(error)))")
        }
    }

    /// Loads the manifest and disclosures through the seek index, without reading the rest.
    static func loadThroughIndex(_ pack: PackFile) throws -> PackContents {
        guard case .success(let loaded) = pack.index else {
            if case .failure(let problem) = pack.index { throw IndexUnusable(reason: problem.description) }
            throw IndexUnusable(reason: "no seek index")
        }
        let top = try topDirectory(of: loaded.index)
        func read(_ path: String) throws -> [UInt8]? {
            try pack.indexEntry(top + "/" + path).map { try pack.read($0) }
        }
        return try load(tagFile: read)
    }

    static func topDirectory(of index: SeekIndex) throws -> String {
        guard let first = index.entries.first?.path, let slash = first.firstIndex(of: "/") else {
            throw IndexUnusable(reason: "index lists no entries")
        }
        return String(first[..<slash])
    }

    /// Checks a scanned pack's files against these disclosures and its BagIt view against
    /// what the items imply (spec/FORMAT.md §6).
    func check(_ scanned: ScannedPack) throws {
        for required in Layout.requiredTagFiles.sorted() where scanned.entry(required) == nil {
            throw MLPackError.integrity(entry: required, problem: "missing")
        }
        var present = Set<String>()
        for entry in scanned.entries where entry.path != Layout.roCrate {
            guard let itemPath = Layout.itemPath(entry.path) else { continue }
            guard let item = item(itemPath) else {
                throw MLPackError.integrity(entry: entry.path, problem: "not in the pack's disclosures")
            }
            if item.size != entry.size {
                throw MLPackError.integrity(
                    entry: entry.path, problem: "size \(entry.size) differs from the disclosed \(item.size)")
            }
            if item.sha256 != entry.sha256 {
                throw MLPackError.integrity(
                    entry: entry.path, problem: "sha256 differs from its disclosure (content was changed)")
            }
            if item.mode != entry.mode {
                throw MLPackError.integrity(
                    entry: entry.path,
                    problem:
                        "mode \(String(entry.mode, radix: 8)) differs from the disclosed \(String(item.mode, radix: 8))"
                )
            }
            present.insert(itemPath)
        }
        // Extracted, a hard link shares its target's inode, and so its mode.
        for entry in scanned.entries {
            if let target = entry.hardlinkTarget.flatMap(scanned.entry), target.mode != entry.mode {
                throw MLPackError.integrity(
                    entry: entry.path,
                    problem:
                        "hard link with mode \(String(entry.mode, radix: 8)), but its target has \(String(target.mode, radix: 8))"
                )
            }
        }
        for item in items where !present.contains(item.path) {
            throw MLPackError.integrity(
                entry: Layout.payloadPath(item.path), problem: "disclosed but missing from the archive")
        }
        guard scanned.metadata[Layout.manifest] == manifestBytes,
            scanned.metadata[Layout.disclosures] == disclosuresBytes
        else {
            throw MLPackError.integrity(
                entry: Layout.manifest, problem: "the seek index points at a different manifest than the archive holds")
        }
        try checkBagIt(scanned)
        try checkStructure(scanned)
    }

    /// What the manifest says about the archive's own shape (§4, §10.1): its top-level
    /// directory is the pack's name, and only a derived pack holds the author's originals.
    private func checkStructure(_ scanned: ScannedPack) throws {
        guard scanned.topDirectory == manifest.name else {
            throw MLPackError.integrity(
                entry: scanned.topDirectory,
                problem: "top-level directory differs from the manifest's name \(manifest.name)")
        }
        if manifest.derivedFrom == nil,
            let original = scanned.entries.first(where: { $0.path.hasPrefix(Layout.originalFolder) })
        {
            throw MLPackError.integrity(entry: original.path, problem: "in a pack that is not derived (no derivedFrom)")
        }
    }

    private func checkBagIt(_ scanned: ScannedPack) throws {
        guard item(Layout.card) != nil else {
            throw MLPackError.integrity(entry: Layout.payloadPath(Layout.card), problem: "missing")
        }
        guard let entry = scanned.entry(Layout.roCrate), let roCrate = scanned.metadata[Layout.roCrate] else {
            throw MLPackError.integrity(entry: Layout.roCrate, problem: "missing")
        }
        // Checked by what it states (§6.3), then bound to the BagIt view by its hash like any payload file.
        try ROCrate.check(roCrate, manifest: manifest, items: items)
        let payload =
            items.map(BagIt.PayloadFile.init) + [
                BagIt.PayloadFile(path: Layout.roCrate, sha256: entry.sha256, size: entry.size)
            ]
        let expected: [(String, [UInt8])] = [
            (Layout.bagitDeclaration, BagIt.declaration),
            (Layout.bagInfo, BagIt.bagInfo(manifest: manifest, payload: payload)),
            (Layout.payloadManifest, BagIt.payloadManifest(payload)),
        ]
        for (path, bytes) in expected where scanned.entry(path)?.sha256 != SHA256Hasher.hex(bytes) {
            throw MLPackError.integrity(
                entry: path, problem: "does not match the pack's items (BagIt view tampered with)")
        }
        let tagged = Layout.tagFiles.filter { $0 != Layout.tagManifest }.compactMap { path in
            scanned.entry(path).map { (path, $0.sha256) }
        }
        if scanned.entry(Layout.tagManifest)?.sha256 != SHA256Hasher.hex(BagIt.tagManifest(tagged)) {
            throw MLPackError.integrity(
                entry: Layout.tagManifest, problem: "does not match the tag files (BagIt view tampered with)")
        }
    }
}
