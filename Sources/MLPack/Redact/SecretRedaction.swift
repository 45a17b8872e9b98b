import Foundation

/// What a publishing redaction takes out as secrets (spec/FORMAT.md §10.1), by the rules
/// capture applies (`SecretScrubber`): a pack recorded by an older version, or with secret
/// files included on purpose, is published as if recorded now.
enum SecretRedaction {
    /// Code files named like secrets (`.env`, `*.key`, `id_rsa`…): withheld.
    static func isSecret(_ item: Item) -> Bool { item.role == .code && SecretScrubber.isSecretFile(item.path) }

    static let withheldReason = "named like a secret (an environment file, a key or credentials)"

    /// The rewrites of the items kept: run records (secrets in the command line, secret
    /// files in the code listing and among the inputs and outputs, then `paths`' private
    /// paths), data references (credentials in their URIs), platform records (variables
    /// the capture would drop now; the folder keeps its id) and the descriptors of code
    /// snapshots that lost files.
    static func rewrites(
        kept: [Item], withheld: [Item], paths: PrivateText, bytes: (String) throws -> [UInt8]
    ) throws -> [RedactionPlan.Rewrite] {
        var rewrites: [RedactionPlan.Rewrite] = []
        let withheldCode = withheld.filter(isSecret)
        for item in kept {
            let original = try bytes(item.path)
            var reasons: [String] = []
            var replaced: [SecretReplacement] = []
            let clean: [UInt8]
            switch item.role {
            case .run:
                let record = try JSONText.decode(RunRecord.self, from: original)
                var run = record
                let argv = SecretScrubber.scrub(argv: run.argv)
                run.argv = argv.argv
                replaced = argv.replacements
                if !replaced.isEmpty { reasons.append("secrets in the command line replaced") }
                let files = run.code.files.count
                run.code.files.removeAll { SecretScrubber.isSecretFile($0.path) }
                // A secret file's digest is as good as the secret for a guesser: path only.
                let secretFiles = (run.inputs + run.outputs).map(\.path).filter(SecretScrubber.isSecretFile)
                run.inputs.removeAll { SecretScrubber.isSecretFile($0.path) }
                run.outputs.removeAll { SecretScrubber.isSecretFile($0.path) }
                if !secretFiles.isEmpty { run.privateReads = (run.privateReads ?? []) + secretFiles }
                if files != run.code.files.count || !secretFiles.isEmpty {
                    reasons.append("files named like secrets listed by path only")
                }
                let scrubbed = paths.scrub(run)
                if scrubbed != run { reasons.append("absolute paths and home folders replaced") }
                clean = try JSONText.encode(scrubbed)
            case .dataRef where item.path.hasSuffix(".json"):
                guard var reference = try? JSONText.decode(DataReference.self, from: original) else { continue }
                let uris = reference.uris.map { SecretScrubber.withoutCredentials($0) ?? $0 }
                guard uris != reference.uris else { continue }
                reference.uris = uris
                reasons.append("credentials taken out of its URIs")
                clean = try JSONText.encode(reference)
            case .env where item.path.hasSuffix("/platform.json"):
                guard var capture = try? EnvironmentCapture.decode(original) else { continue }
                // Home folders are checked apart (the host records are withheld): none is known here.
                let variables = EnvironmentVariables.filter(capture.environment, home: "")
                guard variables != capture.environment else { continue }
                let dropped = capture.environment.keys.filter { variables[$0] == nil }.sorted()
                reasons.append("variables that look like secrets dropped: \(dropped.joined(separator: ", "))")
                capture.environment = variables
                clean = capture.platformJSON()
            case .codeSnapshot:
                let folder = String(item.path.dropLast(".json".count)) + "/"
                let lost = withheldCode.filter { $0.path.hasPrefix(folder) }
                guard !lost.isEmpty, var descriptor = try? JSONText.decode(CodeSnapshotDescriptor.self, from: original)
                else { continue }
                descriptor.fileCount -= lost.count
                descriptor.size -= min(descriptor.size, lost.reduce(0) { $0 + $1.size })
                reasons.append("counts without the files named like secrets")
                clean = try JSONText.encode(descriptor)
            default:
                continue
            }
            guard clean != original, !reasons.isEmpty else { continue }
            rewrites.append(
                .init(
                    change: .init(
                        path: item.path, role: item.role, reason: reasons.joined(separator: "; "),
                        secrets: replaced.isEmpty ? nil : replaced),
                    bytes: clean))
        }
        return rewrites
    }
}
