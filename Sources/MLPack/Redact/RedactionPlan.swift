import Foundation

/// What a redaction withholds and rewrites, decided from the pack's items and records
/// before anything is written (and all that `--dry-run` shows).
struct RedactionPlan {
    struct Rewrite {
        var change: RedactReport.Change
        var bytes: [UInt8]
    }

    /// Sorted by path.
    var kept: [Item]
    var withheld: [RedactReport.Change]
    var rewritten: [Rewrite]

    /// Roles the publishing preset always withholds: notes and host records (host names,
    /// user names, home folders, where the data lay locally).
    static let privateRoles: Set<Role> = [.note, .host]

    static func make(
        contents: PackContents, options: RedactOptions, bytes: (String) throws -> [UInt8]
    ) throws -> RedactionPlan {
        let items = contents.items
        var reasons: [String: String] = [:]
        func withhold(_ path: String, _ reason: String) { if reasons[path] == nil { reasons[path] = reason } }

        let patterns = options.drop.map(PathPattern.init)
        for item in items {
            if let pattern = patterns.first(where: { $0.matches(item.path) }) {
                withhold(item.path, "matches --drop \(pattern)")
            }
            if options.dropRoles.contains(item.role) { withhold(item.path, "role \(item.role.rawValue)") }
            if options.publish && privateRoles.contains(item.role) {
                withhold(item.path, "private (\(item.role.rawValue))")
            }
            if options.publish && SecretRedaction.isSecret(item) { withhold(item.path, SecretRedaction.withheldReason) }
        }

        // Runs: the ones named, and with --public every run outside the outputs' lineage.
        let runs = try items.filter { $0.role == .run }.map { item -> RunRecord in
            do { return try JSONText.decode(RunRecord.self, from: try bytes(item.path)) } catch let error as MLPackError
            { throw error } catch {
                throw MLPackError.integrity(entry: Layout.payloadPath(item.path), problem: "not a valid run record")
            }
        }
        var dropped: [String: String] = [:]
        for prefix in options.dropRuns {
            let matches = runs.filter { $0.id == prefix || $0.id.hasPrefix(prefix) }
            guard matches.count == 1 else {
                throw MLPackError.usage(
                    "\(input: .dropRun) \(prefix): \(matches.isEmpty ? "no such run in the pack" : "ambiguous")")
            }
            dropped[matches[0].id] = "--drop-run"
        }
        let card = try JSONText.decode(Card.self, from: try bytes(Layout.card))
        if options.publish {
            let lineage = try lineageOfOutputs(card: card, contents: contents, runs: runs)
            for run in runs where !lineage.contains(run.id) {
                dropped[run.id] = dropped[run.id] ?? "not in the lineage of the pack's outputs"
            }
        }
        let keptRuns = runs.filter { dropped[$0.id] == nil }
        for run in runs where dropped[run.id] != nil {
            withhold(Layout.runRecord(run.id), "run \(dropped[run.id]!)")
        }
        var referenceDigests: [String: String] = [:]
        for item in items where item.role == .dataRef && item.path.hasSuffix(".json") {
            if let reference = try? JSONText.decode(DataReference.self, from: try bytes(item.path)) {
                referenceDigests[reference.name] = reference.digest
            }
        }
        try withholdWhatOnlyDroppedRunsUsed(
            contents: contents, runs: runs, kept: keptRuns, card: card, dropped: dropped, references: referenceDigests,
            withhold: withhold)

        if reasons[Layout.card] != nil {
            throw MLPackError.usage("the card (data/pack.json) cannot be withheld: every pack has one")
        }
        let kept = items.filter { reasons[$0.path] == nil }
        var rewritten: [Rewrite] = []
        if options.publish {
            rewritten = try SecretRedaction.rewrites(
                kept: kept, withheld: items.filter { reasons[$0.path] != nil },
                paths: try PrivateText(contents: contents, bytes: bytes), bytes: bytes)
        }
        let withheld = items.filter { reasons[$0.path] != nil }.map {
            RedactReport.Change(path: $0.path, role: $0.role, reason: reasons[$0.path]!)
        }
        return RedactionPlan(kept: kept, withheld: withheld, rewritten: rewritten)
    }

    /// The runs that produced the card's outputs, by content.
    private static func lineageOfOutputs(card: Card, contents: PackContents, runs: [RunRecord]) throws -> Set<String> {
        var ids = Set<String>()
        for output in card.outputs {
            guard let item = contents.item(output.path) else { continue }
            guard runs.contains(where: { $0.outputs.contains { $0.sha256 == item.sha256 } }) else { continue }
            let lineage = try Lineage.of(
                sha256: item.sha256, named: output.path, among: runs.sorted { $0.started < $1.started })
            ids.formUnion(lineage.runs.map(\.id))
        }
        return ids
    }

    /// A dropped run's code snapshot, environment, artifacts and data references go too,
    /// unless a kept run or the card still needs them.
    private static func withholdWhatOnlyDroppedRunsUsed(
        contents: PackContents, runs: [RunRecord], kept: [RunRecord], card: Card, dropped: [String: String],
        references referenceDigests: [String: String], withhold: (String, String) -> Void
    ) throws {
        guard !dropped.isEmpty else { return }
        let keptSnapshots = Set(kept.map { Layout.codeSnapshot(treeDigest: $0.code.treeDigest) })
        let keptEnvironments = Set(kept.map(\.environment))
        let keptContent = Set(kept.flatMap { $0.inputs.map(\.sha256) + $0.outputs.map(\.sha256) })
        let cardOutputs = Set(card.outputs.compactMap { contents.item($0.path)?.sha256 })
        // What each dropped run used, by the first such run (in the pack's order): it names
        // the reason, as it would if the items were searched run by run, but in one pass.
        var snapshots: [String: Int] = [:], environments: [String: Int] = [:]
        var written: [String: Int] = [:], read: [String: Int] = [:]
        for (number, run) in runs.enumerated() where dropped[run.id] != nil {
            let snapshot = Layout.codeSnapshot(treeDigest: run.code.treeDigest)
            if !keptSnapshots.contains(snapshot) && snapshots[snapshot] == nil { snapshots[snapshot] = number }
            if !keptEnvironments.contains(run.environment) && environments["env/" + run.environment] == nil {
                environments["env/" + run.environment] = number
            }
            for sha256 in run.outputs.map(\.sha256) where !keptContent.contains(sha256) && !cardOutputs.contains(sha256)
            {
                if written[sha256] == nil { written[sha256] = number }
            }
            for sha256 in run.inputs.map(\.sha256) where !keptContent.contains(sha256) {
                if read[sha256] == nil { read[sha256] = number }
            }
        }
        // A reference is known by its digest; its listing and local record follow it.
        var references: [String: Int] = [:]
        for (name, digest) in referenceDigests {
            guard let number = read[digest] else { continue }
            for path in [DataReference.itemPath(name), DataReference.listingPath(name), DataReference.localPath(name)] {
                references[path] = min(references[path] ?? number, number)
            }
        }
        for item in contents.items {
            var users: [Int?] = [references[item.path], item.role.isOutput ? written[item.sha256] : nil]
            if item.path.hasSuffix(".json") { users.append(snapshots[String(item.path.dropLast(5))]) }
            for slash in item.path.utf8.indices where item.path.utf8[slash] == UInt8(ascii: "/") {
                let folder = String(item.path[..<slash])
                users += [snapshots[folder], environments[folder]]
            }
            if let first = users.compactMap({ $0 }).min() {
                withhold(item.path, "used only by withheld run \(runs[first].id)")
            }
        }
    }
}
