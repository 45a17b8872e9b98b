/// The BagIt (RFC 8493) view of a pack: derived from the items and the manifest, never signed
/// (redaction changes it), and regenerated and compared byte for byte by `verify`.
enum BagIt {
    static let declaration = Array("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".utf8)

    /// A file below `data/`: an item, or a derived view such as the RO-Crate metadata.
    struct PayloadFile {
        /// Path below the top-level directory, `data/…`.
        var path: String
        var sha256: String
        var size: UInt64

        init(path: String, sha256: String, size: UInt64) {
            self.path = path
            self.sha256 = sha256
            self.size = size
        }

        init(_ item: Item) { self.init(path: Layout.payloadPath(item.path), sha256: item.sha256, size: item.size) }
    }

    /// `manifest-sha256.txt`: every payload file present.
    static func payloadManifest(_ files: [PayloadFile]) -> [UInt8] {
        Listing.sha256sum(files.map { ($0.path, $0.sha256) })
    }

    static func bagInfo(manifest: Manifest, payload files: [PayloadFile]) -> [UInt8] {
        let octets = files.reduce(UInt64(0)) { $0 + $1.size }
        return Array(
            """
            Bag-Software-Agent: mlpack (format \(manifest.formatVersion))
            Bagging-Date: \(manifest.created.prefix(10))
            External-Identifier: \(manifest.packId)
            Payload-Oxum: \(octets).\(files.count)

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
        for entry in entries.sortedBytewise(by: \.path) {
            out += Array(entry.sha256.utf8) + [0x20, 0x20] + Array(entry.path.utf8) + [0x0a]
        }
        return out
    }
}
