/// The BagIt (RFC 8493) view of a pack: derived from the items and the manifest, never signed
/// (redaction changes it), and regenerated and compared byte for byte by `verify`.
enum BagIt {
    static let declaration = Array("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".utf8)

    /// `manifest-sha256.txt`: every payload file present.
    static func payloadManifest(_ items: [Item]) -> [UInt8] {
        Listing.sha256sum(items.map { (Layout.payloadPath($0.path), $0.sha256) })
    }

    static func bagInfo(manifest: Manifest, items: [Item]) -> [UInt8] {
        let octets = items.reduce(UInt64(0)) { $0 + $1.size }
        return Array("""
            Bag-Software-Agent: mlpack (format \(manifest.formatVersion))
            Bagging-Date: \(manifest.created.prefix(10))
            External-Identifier: \(manifest.packId)
            Payload-Oxum: \(octets).\(items.count)

            """.utf8)
    }

    /// `tagmanifest-sha256.txt`: every other tag file present, `mlpack/` included.
    static func tagManifest(_ files: [(path: String, sha256: String)]) -> [UInt8] {
        Listing.sha256sum(files)
    }
}

/// Listings in `sha256sum` format (`<hex>  <path>\n`, sorted bytewise by path): BagIt
/// manifests, code-snapshot tree digests and data-reference listings share it, so anyone can
/// check them with `sha256sum -c`.
enum Listing {
    static func sha256sum(_ entries: [(path: String, sha256: String)]) -> [UInt8] {
        var out = [UInt8]()
        for entry in entries.sorted(by: { Manifest.bytewise($0.path, $1.path) }) {
            out += Array(entry.sha256.utf8) + [0x20, 0x20] + Array(entry.path.utf8) + [0x0a]
        }
        return out
    }
}
