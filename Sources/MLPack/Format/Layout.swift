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
    /// In a pack a redaction re-signed: the author's manifest, its signature, and the
    /// author's disclosures of the items kept unchanged.
    static let originalFolder = "mlpack/original/"
    static let originalManifest = "mlpack/original/manifest.json"
    static let originalSignature = "mlpack/original/manifest.json.minisig"
    static let originalDisclosures = "mlpack/original/disclosures.json"

    /// The RO-Crate view: below `data/`, but derived, not an item.
    static let roCrate = payloadDirectory + "/" + ROCrate.metadataPath

    /// Item paths (below `data/`).
    static let card = "pack.json"
    static let codeDirectory = "code"
    static let artifactsDirectory = "artifacts"
    static let environmentDirectory = "env"

    /// Every file outside `data/`, in the order a pack stores them (after the payload).
    static let tagFiles = [
        bagitDeclaration, bagInfo, payloadManifest, disclosures, manifest, signature,
        originalDisclosures, originalManifest, originalSignature, tagManifest,
    ]
    /// Tag files every pack has (no signature in unsigned packs, no original/ unless re-signed).
    static let requiredTagFiles: Set<String> = [
        bagitDeclaration, bagInfo, payloadManifest, disclosures, manifest, tagManifest,
    ]

    static func payloadPath(_ itemPath: String) -> String { payloadDirectory + "/" + itemPath }

    /// The item path of a run's record.
    static func runRecord(_ id: String) -> String { "runs/" + id + ".json" }
    /// Where a run's output read by a later run is packed (a folder's files below it).
    static func checkpoint(run: String, output: String) -> String {
        artifactsDirectory + "/checkpoints/" + run + "/"
            + (output.split(separator: "/").last.map(String.init) ?? output)
    }
    /// The folder (item path) of the code snapshot with this tree digest: `code/<12 hex>`.
    static func codeSnapshot(treeDigest: String) -> String { codeDirectory + "/" + treeDigest.prefix(12) }

    /// The item path of a payload path, or nil when the path is not below `data/`.
    static func itemPath(_ payloadPath: String) -> String? {
        let prefix = payloadDirectory + "/"
        guard payloadPath.hasPrefix(prefix) else { return nil }
        return String(payloadPath.dropFirst(prefix.count))
    }
}
