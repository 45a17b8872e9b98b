/// Writes what follows a pack's items, all derived from them: the RO-Crate view, the BagIt
/// files, the disclosures, the manifest and its signature, the tag manifest; then the seek
/// index. `create` uses it, and so will everything else that writes packs.
enum PackSealer {
    /// `itemBytes` gives the bytes of the items the views are made from (card, run records,
    /// data references: see `DerivedViews.isSource`).
    static func seal(
        _ writer: PackWriter, items: [Item], name: String, created: String, key: SecretKey?,
        itemBytes: (String) -> [UInt8]?
    ) throws -> Manifest {
        let roCrate = try DerivedViews.roCrate(items: items, bytes: itemBytes)
        try writer.add(path: Layout.roCrate, source: .bytes(roCrate), mode: 0o644)
        let payload = DerivedViews.payload(items: items, roCrate: roCrate)

        // Signed packs derive salts from the key, so they are byte-for-byte reproducible;
        // unsigned packs have no secret to derive from and use random salts.
        let disclosures = items.map { item in
            let salt = key?.salt(for: [name, created, item.path, item.role.rawValue, item.sha256, "\(item.size)", "\(item.mode)"])
            return Disclosure(item: item, salt: salt ?? Sodium.randomBytes(Disclosure.saltLength))
        }
        let signer = key.map { Manifest.Signer(keyId: $0.publicKey.id, publicKey: $0.publicKey.base64) }
        let manifest = Manifest(name: name, created: created, signer: signer, items: disclosures.map(\.digest))
        let manifestBytes = try manifest.encoded()
        var tagFiles: [(path: String, bytes: [UInt8])] = [
            (Layout.bagitDeclaration, BagIt.declaration),
            (Layout.bagInfo, BagIt.bagInfo(manifest: manifest, payload: payload)),
            (Layout.payloadManifest, BagIt.payloadManifest(payload)),
            (Layout.disclosures, try DisclosureFile(disclosures: disclosures.map(\.encoded)).encoded()),
            (Layout.manifest, manifestBytes),
        ]
        if let key {
            let signature = key.sign(
                manifestBytes, trustedComment: "mlpack pack:\(name) created:\(created) id:\(manifest.packId)",
                untrustedComment: "signature of \(name)/\(Layout.manifest) by mlpack key \(key.publicKey.id)")
            tagFiles.append((Layout.signature, signature.fileBytes))
        }
        tagFiles.append((Layout.tagManifest, BagIt.tagManifest(tagFiles.map { ($0.path, SHA256Hasher.hex($0.bytes)) })))
        for tag in tagFiles {
            try writer.add(path: tag.path, source: .bytes(tag.bytes), mode: 0o644)
        }
        try writer.finish()
        return manifest
    }
}
