/// Writes what follows a pack's items, all derived from them: the RO-Crate view, the BagIt
/// files, the disclosures, the manifest and its signature (new, or kept from the pack a
/// redaction withholds items from), the tag manifest; then the seek index.
enum PackSealer {
    enum Manifesting {
        /// A new manifest, signed with `key` (derived salts) or unsigned (random salts);
        /// `original` is the pack a rewriting redaction derives from (spec §10.1).
        case new(key: SecretKey?, original: OriginalPack? = nil)
        /// The manifest, signature and disclosures of the pack items were withheld from:
        /// byte for byte, so the author's signature still verifies.
        case kept(manifest: [UInt8], signature: [UInt8]?, disclosures: [String])
    }

    /// The author's manifest and signature inside a re-signed pack, with the disclosures of
    /// the items it still holds unchanged.
    struct OriginalPack {
        var manifest: [UInt8]
        var signature: [UInt8]?
        var disclosures: [String]
    }

    /// `itemBytes` gives the bytes of the items the views are made from (card, run records,
    /// data references: see `DerivedViews.isSource`).
    static func seal(
        _ writer: PackWriter, items: [Item], name: String, created: String, manifesting: Manifesting,
        itemBytes: (String) -> [UInt8]?
    ) throws -> Manifest {
        let roCrate = try DerivedViews.roCrate(items: items, bytes: itemBytes)
        try writer.add(path: Layout.roCrate, source: .bytes(roCrate), mode: 0o644)
        let payload = DerivedViews.payload(items: items, roCrate: roCrate)

        let manifest: Manifest
        var security: [(path: String, bytes: [UInt8])] = []
        switch manifesting {
        case .kept(let manifestBytes, let signature, let disclosures):
            manifest = try Manifest.decode(manifestBytes)
            security.append((Layout.disclosures, try DisclosureFile(disclosures: disclosures).encoded()))
            security.append((Layout.manifest, manifestBytes))
            if let signature { security.append((Layout.signature, signature)) }
        case .new(let key, let original):
            // Signed packs derive salts from the key, so they are byte-for-byte reproducible;
            // unsigned packs have no secret to derive from and use random salts.
            let disclosures = items.map { item in
                let salt = key?.salt(for: [
                    name, created, item.path, item.role.rawValue, item.sha256, "\(item.size)", "\(item.mode)",
                ])
                return Disclosure(item: item, salt: salt ?? Sodium.randomBytes(Disclosure.saltLength))
            }
            let signer = key.map { Manifest.Signer(keyId: $0.publicKey.id, publicKey: $0.publicKey.base64) }
            manifest = Manifest(
                name: name, created: created, signer: signer, items: disclosures.map(\.digest),
                derivedFrom: original.map { SHA256Hasher.hex($0.manifest) })
            let manifestBytes = try manifest.encoded()
            security.append((Layout.disclosures, try DisclosureFile(disclosures: disclosures.map(\.encoded)).encoded()))
            security.append((Layout.manifest, manifestBytes))
            if let key {
                let signature = key.sign(
                    manifestBytes, trustedComment: "mlpack pack:\(name) created:\(created) id:\(manifest.packId)",
                    untrustedComment: "signature of \(name)/\(Layout.manifest) by mlpack key \(key.publicKey.id)")
                security.append((Layout.signature, signature.fileBytes))
            }
            if let original {
                security.append(
                    (Layout.originalDisclosures, try DisclosureFile(disclosures: original.disclosures).encoded()))
                security.append((Layout.originalManifest, original.manifest))
                if let signature = original.signature { security.append((Layout.originalSignature, signature)) }
            }
        }
        var tagFiles: [(path: String, bytes: [UInt8])] = [
            (Layout.bagitDeclaration, BagIt.declaration),
            (Layout.bagInfo, BagIt.bagInfo(manifest: manifest, payload: payload)),
            (Layout.payloadManifest, BagIt.payloadManifest(payload)),
        ]
        tagFiles += security.sorted {
            Layout.tagFiles.firstIndex(of: $0.path)! < Layout.tagFiles.firstIndex(of: $1.path)!
        }
        tagFiles.append((Layout.tagManifest, BagIt.tagManifest(tagFiles.map { ($0.path, SHA256Hasher.hex($0.bytes)) })))
        for tag in tagFiles {
            try writer.add(path: tag.path, source: .bytes(tag.bytes), mode: 0o644)
        }
        try writer.finish()
        return manifest
    }
}
