/// What `mlpack verify` found. Integrity failures are thrown, not reported: a pack either
/// checks out or is rejected with the first problem found.
public struct VerifyReport: Sendable, Codable {
    public enum Verdict: String, Sendable, Codable {
        /// Every check passed and the signature is by a trusted key (or unsigned was allowed).
        case verified
        /// Intact, but no trusted signature: unsigned, or signed by a key not trusted.
        case untrusted
    }

    public var pack: String
    public var name: String
    public var packId: String
    public var created: String
    public var title: String?
    public var items: Int
    public var withheld: Int
    public var payloadBytes: UInt64
    public var signature: String
    /// Key id of the signer, when the pack is signed.
    public var signer: String?
    /// The signer's public-key line, to check with its owner before trusting it.
    public var signerPublicKey: String?
    public var seekIndex: String
    /// For a pack a redaction re-signed: who vouches for each item.
    public var provenance: Provenance?

    public struct Provenance: Sendable, Codable {
        /// SHA-256 of the author's manifest, kept in `mlpack/original/`.
        public var derivedFrom: String
        /// Key id of the author's signature (which verified), or "unsigned".
        public var author: String
        /// Key id of the redactor's signature over the new manifest, or "unsigned".
        public var redactor: String
        /// Items the author's signature covers unchanged.
        public var authorItems: [String]
        /// Items only the redactor's signature covers (rewritten, or new).
        public var redactorItems: [String]
        /// Items of the author's pack that this pack does not hold as the author made them.
        public var withheldFromOriginal: Int
    }

    /// Data references: "not checked" unless verify fetched and re-hashed them.
    public var data: [DataReport.Reference]
    public var warnings: [String]
    public var verdict: Verdict
}

public struct VerifyOptions: Sendable {
    public var allowUnsigned = false
    public var trusted = TrustedKeys()
    /// Fetch (when missing) and re-hash every data reference through this cache.
    public var dataCache: DataCache?
    public var limits = ReaderLimits()
    public init() {}
}

/// Recomputes every digest of a pack and checks the disclosures, the manifest, the BagIt view
/// and the seek index (spec/FORMAT.md §6).
public enum PackVerifier {
    public static func verify(
        _ path: String, options: VerifyOptions = .init(), progress: ProgressHandler? = nil
    ) throws -> VerifyReport {
        // Data references are read again after the scan: a pipe is spooled for that.
        try verify(
            PackFile(path: path, limits: options.limits, randomAccess: options.dataCache != nil), options: options,
            progress: progress
        ).report
    }

    /// Verifies an opened pack, and gives the contents its signature vouches for: whoever
    /// goes on to use the pack reads it through the same descriptor and checks each item
    /// against these, never against whatever the path holds by then.
    static func verify(
        _ pack: PackFile, options: VerifyOptions, progress: ProgressHandler? = nil
    ) throws -> (report: VerifyReport, contents: PackContents) {
        let path = pack.path
        let (scanned, contents, signature, warnings) = try scanAndCheck(
            pack, trusting: options.trusted, progress: progress)
        let card = try contents.card(bytes: scanned.metadata[Layout.payloadPath(Layout.card)])
        let data: [DataReport.Reference]
        if let cache = options.dataCache {
            data = try DataFetcher.fetch(
                DataFetcher.references(in: pack, trusted: contents), of: path, cache: cache, recheck: true,
                progress: progress
            ).references
        } else {
            data =
                contents.items.contains { $0.role == .dataRef }
                ? try DataFetcher.unchecked(DataFetcher.references(in: pack, trusted: contents)) : []
        }
        let verdict: VerifyReport.Verdict =
            signature.isTrusted || (signature == .unsigned && options.allowUnsigned) ? .verified : .untrusted
        return (
            VerifyReport(
                pack: path, name: contents.manifest.name, packId: contents.manifest.packId,
                created: contents.manifest.created,
                title: card?.title, items: contents.disclosures.count, withheld: contents.withheld,
                payloadBytes: contents.items.reduce(0) { $0 + $1.size }, signature: signature.description,
                signer: signature.keyId, signerPublicKey: contents.manifest.signer?.publicKey,
                seekIndex: indexStatus(pack, scanned),
                provenance: contents.provenance.map { original in
                    VerifyReport.Provenance(
                        derivedFrom: contents.manifest.derivedFrom ?? "", author: original.signer?.id ?? "unsigned",
                        redactor: contents.signer?.id ?? "unsigned",
                        authorItems: contents.items.map(\.path).filter { original.authorItems.contains($0) },
                        redactorItems: contents.items.map(\.path).filter { !original.authorItems.contains($0) },
                        withheldFromOriginal: original.withheld)
                },
                data: data, warnings: warnings, verdict: verdict), contents
        )
    }

    /// The full check shared by `verify` and `extract`: a sequential scan (with the
    /// disclosures read ahead through the index when it is usable), the signature over the
    /// manifest, then every cross-check against the manifest it vouches for.
    static func scanAndCheck(
        _ pack: PackFile, trusting trusted: TrustedKeys, progress: ProgressHandler?,
        sinkFor: ((ScannedEntry) throws -> PackScanner.DataSink?)? = nil
    ) throws -> (ScannedPack, PackContents, SignatureStatus, [String]) {
        var warnings: [String] = []
        var scanner = PackScanner(pack: pack)
        if pack.size != nil {
            do {
                let ahead = try PackContents.loadThroughIndex(pack)
                scanner.expected = Dictionary(uniqueKeysWithValues: ahead.items.map { ($0.path, $0) })
            } catch let error as IndexUnusable {
                warnings.append("\(error.description); reading the whole pack")
            } catch {
                warnings.append("seek index unusable (\(error)); reading the whole pack")
            }
        }
        scanner.progress = progress
        let scanned = try scanner.scan(sinkFor: sinkFor)
        let contents = try PackContents.load { scanned.metadata[$0] }
        let signature = try contents.signature(trusting: trusted)
        try contents.check(scanned)
        return (scanned, contents, signature, trusted.warnings + warnings)
    }

    /// Compares the seek index with what the scan saw; a disagreement is reported, not fatal,
    /// because nothing is ever trusted through the index.
    static func indexStatus(_ pack: PackFile, _ scanned: ScannedPack) -> String {
        guard pack.size != nil else { return "not read (input is not seekable)" }
        switch pack.index {
        case .failure(.absent): return "absent"
        case .failure(let problem): return problem.description
        case .success(let loaded):
            let index = loaded.index
            let top = scanned.topDirectory + "/"
            let expected = scanned.entries.map {
                SeekIndex.Entry(
                    path: top + $0.path, headerOffset: $0.headerOffset, dataOffset: $0.dataOffset, size: $0.size,
                    hardlinkTarget: $0.hardlinkTarget.map { top + $0 })
            }
            if index.entries != expected { return "damaged: entries disagree with the archive" }
            if index.frames != scanned.frames { return "damaged: frames disagree with the archive" }
            if index.tarSize != scanned.tarSize || scanned.skippableFrameOffsets != [loaded.offset] {
                return "damaged: trailer disagrees with the archive"
            }
            return "valid"
        }
    }
}
