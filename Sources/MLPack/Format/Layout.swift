/// Fixed names inside a pack's top-level directory (spec/FORMAT.md §4).
enum Layout {
    static let payloadDirectory = "data"
    static let manifest = "mlpack/manifest.json"
    static let signature = "mlpack/manifest.json.minisig"
    static let disclosures = "mlpack/disclosures.json"
    static let bagitDeclaration = "bagit.txt"
    static let bagInfo = "bag-info.txt"
    static let payloadManifest = "manifest-sha256.txt"
    static let tagManifest = "tagmanifest-sha256.txt"

    /// The RO-Crate view: below `data/`, but derived, not an item.
    static let roCrate = payloadDirectory + "/" + ROCrate.metadataPath

    /// Item paths (below `data/`).
    static let card = "pack.json"
    static let codeDirectory = "code"
    static let artifactsDirectory = "artifacts"

    /// Every file outside `data/`, in the order a pack stores them (after the payload).
    static let tagFiles = [
        bagitDeclaration, bagInfo, payloadManifest, disclosures, manifest, signature, tagManifest,
    ]
    /// Tag files a pack must have (the signature is absent from unsigned packs).
    static let requiredTagFiles = Set(tagFiles).subtracting([signature])

    static func payloadPath(_ itemPath: String) -> String { payloadDirectory + "/" + itemPath }

    /// The item path of a payload path, or nil when the path is not below `data/`.
    static func itemPath(_ payloadPath: String) -> String? {
        let prefix = payloadDirectory + "/"
        guard payloadPath.hasPrefix(prefix) else { return nil }
        return String(payloadPath.dropFirst(prefix.count))
    }
}
