import Foundation

public struct RedactOptions: Sendable {
    public var output: String
    /// Withhold items whose path (below `data/`) matches one of these globs.
    public var drop: [String] = []
    public var dropRoles: [Role] = []
    /// Withhold these runs (unique id prefixes) and what only they used.
    public var dropRuns: [String] = []
    /// The publishing preset (see `RedactionPlan`).
    public var publish = false
    /// Signs the new manifest when content must be rewritten.
    public var signingKey: SecretKey?
    public var dryRun = false
    public var force = false
    public var limits = ReaderLimits()

    public init(output: String) { self.output = output }
}

public struct RedactReport: Sendable, Codable {
    public struct Change: Sendable, Codable {
        public var path: String
        public var role: Role
        public var reason: String
        /// The secrets a rewritten run record's command line no longer holds.
        public var secrets: [SecretReplacement]? = nil
    }

    public var input: String
    public var output: String
    public var kept: Int
    public var withheld: [Change]
    public var rewritten: [Change]
    /// "kept (the author's signature still verifies)" or "re-signed by key …".
    public var manifest: String
    public var dryRun: Bool
    /// With `publish`: the kept data references that have no URI and no copy inside, which
    /// the public's reviewers cannot fetch (see `DataReference.unfetchableWarning`).
    public var unfetchableReferences: [String] = []
}

/// Publishes a pack without private history (spec/FORMAT.md §10.1). Withholding items keeps
/// the manifest and the author's signature byte for byte; rewriting content (private paths
/// in run records) makes a new manifest, signed by the redactor, that keeps the author's
/// manifest and signature inside. Items are copied stream to stream, never to disk.
public enum Redactor {
    public static func redact(
        _ input: String, options: RedactOptions, progress: ProgressHandler? = nil
    ) throws -> RedactReport {
        let pack = try PackFile(path: input, limits: options.limits)
        guard pack.size != nil else { throw MLPackError.usage("redact needs a pack file, not standard input") }
        // Everything is checked before anything is copied.
        let (scanned, contents, _, _) = try PackVerifier.scanAndCheck(pack, trusting: TrustedKeys(), progress: progress)
        guard case .success = pack.index else {
            throw MLPackError.usage("\(input): its seek index is unusable; extract it and create it again")
        }
        let top = scanned.topDirectory
        func bytes(_ itemPath: String) throws -> [UInt8] {
            if let kept = scanned.metadata[Layout.payloadPath(itemPath)] { return kept }
            guard let entry = pack.indexEntry(top + "/" + Layout.payloadPath(itemPath)) else {
                throw MLPackError.integrity(entry: Layout.payloadPath(itemPath), problem: "missing from the seek index")
            }
            let read = try pack.read(entry)
            guard SHA256Hasher.hex(read) == contents.item(itemPath)?.sha256 else {
                throw MLPackError.integrity(entry: Layout.payloadPath(itemPath), problem: "differs from its disclosure")
            }
            return read
        }

        let plan = try RedactionPlan.make(contents: contents, options: options, bytes: bytes)
        let rewriting = !plan.rewritten.isEmpty
        if rewriting && options.signingKey == nil && !options.dryRun {
            throw MLPackError.usage(
                "\(plan.rewritten.count) item(s) must be rewritten (\(plan.rewritten.map { $0.change.path }.joined(separator: ", "))): give \(input: .key) to sign the redacted pack"
            )
        }
        var report = RedactReport(
            input: input, output: options.output, kept: plan.kept.count,
            withheld: plan.withheld, rewritten: plan.rewritten.map(\.change),
            manifest: rewriting
                ? "re-signed by key \(options.signingKey?.publicKey.id ?? "(none)")"
                : "kept (the author's signature still verifies)",
            dryRun: options.dryRun)
        if options.publish {
            report.unfetchableReferences = try plan.kept.filter {
                $0.role == .dataRef && $0.path.hasPrefix("refs/") && $0.path.hasSuffix(".json")
                    && !$0.path.hasSuffix(".local.json")
            }.compactMap { item in
                let read = try bytes(item.path)
                return (try? JSONText.decode(DataReference.self, from: read)).flatMap {
                    $0.isUnfetchable ? $0.name : nil
                }
            }.sorted()
        }
        guard !options.dryRun else { return report }

        let outputPath = URL(fileURLWithPath: options.output).standardizedFileURL.path
        if FileSystem.status(outputPath) != nil && !options.force {
            throw MLPackError.usage("\(options.output) already exists (use \(input: .force) to replace it)")
        }
        guard outputPath != URL(fileURLWithPath: input).standardizedFileURL.path else {
            throw MLPackError.usage("\(input: .output) must differ from the input pack")
        }
        let directory = (outputPath as NSString).deletingLastPathComponent
        let temporary = FileSystem.temporaryName(in: directory, prefix: ".mlpack-redact-")
        InterruptCleanup.register(temporary)
        defer { InterruptCleanup.unregister(temporary) }
        let file = try PosixFile(path: temporary, mode: .createExclusive)
        do {
            let manifest = contents.manifest
            let counter = ProgressCounter(progress, phase: "redacting", total: plan.kept.reduce(0) { $0 + $1.size })
            let writer = try PackWriter(
                output: file, topDirectory: top, mtime: Timestamp.unixSeconds(Timestamp.parse(manifest.created)!),
                progress: counter)
            var items: [Item] = []
            var firstWithContent: [String: String] = [:]
            let entries = EntriesInOrder(pack: pack)
            let rewrites = Dictionary(uniqueKeysWithValues: plan.rewritten.map { ($0.change.path, $0.bytes) })
            for original in plan.kept {
                let payloadPath = Layout.payloadPath(original.path)
                if let newBytes = rewrites[original.path] {
                    let written = try writer.add(path: payloadPath, source: .bytes(newBytes), mode: original.mode)
                    items.append(
                        Item(
                            path: original.path, role: original.role, size: written.size,
                            sha256: Hex.encode(written.sha256), mode: original.mode))
                    continue
                }
                // Identical content and mode is stored once, as before (its target may be gone).
                let key = "\(original.sha256) \(original.mode)"
                if original.size > 0, let target = firstWithContent[key] {
                    try writer.addHardlink(path: payloadPath, target: Layout.payloadPath(target), mode: original.mode)
                } else {
                    guard let entry = pack.indexEntry(top + "/" + payloadPath) else {
                        throw MLPackError.integrity(entry: payloadPath, problem: "missing from the seek index")
                    }
                    let written = try writer.add(
                        path: payloadPath,
                        source: .reader(try entries.open(entry), size: original.size),
                        mode: original.mode)
                    guard Hex.encode(written.sha256) == original.sha256 else {
                        throw MLPackError.integrity(
                            entry: payloadPath, problem: "copied bytes differ from the disclosure")
                    }
                    if original.size > 0 { firstWithContent[key] = original.path }
                }
                items.append(original)
            }
            let sourceBytes: (String) -> [UInt8]? = { path in rewrites[path] ?? (try? bytes(path)) }
            if rewriting, let key = options.signingKey {
                // The author's manifest stays inside: it still vouches for every item kept unchanged.
                let original = PackSealer.OriginalPack(
                    manifest: contents.provenance == nil
                        ? contents.manifestBytes : try originalBytes(scanned, Layout.originalManifest),
                    signature: contents.provenance == nil
                        ? scanned.metadata[Layout.signature] : scanned.metadata[Layout.originalSignature],
                    disclosures: try authorDisclosures(contents, scanned, keeping: items))
                _ = try PackSealer.seal(
                    writer, items: items, name: top, created: manifest.created,
                    manifesting: .new(key: key, original: original), itemBytes: sourceBytes)
            } else {
                let kept = Set(items.map(\.path))
                _ = try PackSealer.seal(
                    writer, items: items, name: top, created: manifest.created,
                    manifesting: .kept(
                        manifest: contents.manifestBytes, signature: scanned.metadata[Layout.signature],
                        disclosures: contents.disclosures.filter { kept.contains($0.item.path) }.map(\.encoded)),
                    itemBytes: sourceBytes)
            }
            try FileSystem.rename(temporary, outputPath)
        } catch {
            unlink(temporary)
            throw error
        }
        report.kept = plan.kept.count
        return report
    }

    private static func originalBytes(_ scanned: ScannedPack, _ path: String) throws -> [UInt8] {
        guard let bytes = scanned.metadata[path] else { throw MLPackError.integrity(entry: path, problem: "missing") }
        return bytes
    }

    /// The author's disclosures of the items kept unchanged: from the pack itself, or from
    /// its own original/ when it was re-signed already.
    private static func authorDisclosures(
        _ contents: PackContents, _ scanned: ScannedPack, keeping items: [Item]
    ) throws -> [String] {
        let kept = Dictionary(uniqueKeysWithValues: items.map { ($0.path, $0) })
        let candidates: [Disclosure]
        if contents.provenance != nil {
            let file = try JSONText.decode(
                DisclosureFile.self, from: try originalBytes(scanned, Layout.originalDisclosures))
            candidates = try file.disclosures.map { try Disclosure(decoding: $0) }
        } else {
            candidates = contents.disclosures
        }
        return candidates.filter { kept[$0.item.path] == $0.item }.map(\.encoded).sorted()
    }
}
