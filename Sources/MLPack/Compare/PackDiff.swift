import Foundation

/// What differs between two packs: their code, environment, data references, outputs and
/// cards (`mlpack diff A B`). Outputs whose bytes differ are compared by value, like
/// `verify --rebuild` does; nothing of either pack runs. Each pack is verified first, every
/// file hashed, and compared by the digests that verification vouched for: a seek index and
/// disclosures left in place around a changed file never pass for "the same".
public struct PackDiff: Codable, Sendable {
    public enum ChangeKind: String, Codable, Sendable { case added, removed, changed }

    /// One file or field present on one side only, or with other contents.
    public struct Change: Codable, Sendable, Equatable {
        public var name: String
        public var change: ChangeKind
        /// The SHA-256 (or data digest, or field value) on each side.
        public var a: String?
        public var b: String?
    }

    public struct Output: Codable, Sendable {
        public var path: String
        /// nil when the output is in both packs.
        public var change: ChangeKind?
        public var comparison: Comparison?
    }

    public var a: String
    public var b: String
    /// Code files by their path in the snapshot.
    public var code: [Change]
    public var codeFilesUnchanged: Int
    public var environment: EnvironmentDiff?
    /// Why the environments were not compared, when they were not.
    public var environmentNote: String?
    public var data: [Change]
    public var outputs: [Output]
    public var card: [Change]

    /// Nothing differs but the environment's minor fields.
    public var same: Bool {
        code.isEmpty && data.isEmpty && card.isEmpty && (environment?.majorCount ?? 0) == 0
            && outputs.allSatisfy { $0.change == nil && $0.comparison?.verdict == .identical }
    }

    public static func compare(
        _ a: String, _ b: String, tolerance: ComparisonTolerance = .exact, limits: ReaderLimits = .init()
    ) throws -> PackDiff {
        let first = try Side(path: a, limits: limits), second = try Side(path: b, limits: limits)
        let code = CodeSnapshot.compare(first.snapshots, second.snapshots)
        var diff = PackDiff(
            a: a, b: b, code: code.changes, codeFilesUnchanged: code.unchanged,
            data: changes(first.data, second.data), outputs: [], card: changes(first.cardFields, second.cardFields))
        do {
            diff.environment = EnvironmentDiff(
                try EnvironmentSource.fromPack(first.pack, id: nil).platform,
                try EnvironmentSource.fromPack(second.pack, id: nil).platform)
        } catch let error as MLPackError {
            diff.environmentNote = "not compared: \(error)"
        }
        diff.outputs = try compareOutputs(first, second, tolerance: tolerance)
        return diff
    }

    /// Added, removed and changed names between two name → value maps, sorted by name, each
    /// name after `prefix`.
    private static func changes(_ a: [String: String], _ b: [String: String], prefix: String = "") -> [Change] {
        Set(a.keys).union(b.keys).sortedBytewise().compactMap { key in
            let name = prefix + key
            return switch (a[key], b[key]) {
            case (nil, let value?): Change(name: name, change: .added, b: value)
            case (let value?, nil): Change(name: name, change: .removed, a: value)
            case (let x?, let y?) where x != y: Change(name: name, change: .changed, a: x, b: y)
            default: nil
            }
        }
    }

    /// One code snapshot of a pack: its files by their path inside it, and the runs that ran
    /// it (none in a pack made with `--code`).
    struct CodeSnapshot {
        var folder: String
        var files: [String: String]
        var runs: [(id: String, name: String?)] = []

        /// How the snapshot is named in a change: by its runs, else by its folder.
        var label: String {
            guard !runs.isEmpty else { return folder }
            return (runs.count == 1 ? "run " : "runs ") + runs.map { $0.name ?? $0.id }.joined(separator: ", ")
        }

        /// File by file when each pack holds one snapshot. With more (a lineage whose runs ran
        /// different code), snapshots are paired first — the same content, then a run in
        /// common (by id, then by name), then the most files in common — and each pair is
        /// compared file by file under its label; a snapshot left over is one added or
        /// removed change. Returns the changes and the count of files unchanged.
        static func compare(_ a: [CodeSnapshot], _ b: [CodeSnapshot]) -> (changes: [Change], unchanged: Int) {
            if a.count <= 1 && b.count <= 1 {
                let (x, y) = (a.first?.files ?? [:], b.first?.files ?? [:])
                return (changes(x, y), unchanged(x, y))
            }
            var pairs: [(Int, Int)] = []
            var freeA = Array(a.indices), freeB = Array(b.indices)
            func pair(where matches: (CodeSnapshot, CodeSnapshot) -> Bool) {
                for i in freeA {
                    guard let j = freeB.first(where: { matches(a[i], b[$0]) }) else { continue }
                    pairs.append((i, j))
                    freeA.removeAll { $0 == i }
                    freeB.removeAll { $0 == j }
                }
            }
            pair { $0.folder == $1.folder }
            pair { x, y in x.runs.contains { run in y.runs.contains { $0.id == run.id } } }
            pair { x, y in x.runs.contains { run in run.name != nil && y.runs.contains { $0.name == run.name } } }
            // The rest by likeness: the pair sharing the most files (same path and content,
            // then same path), while any pair shares a path at all.
            while true {
                let candidates = freeA.flatMap { i in freeB.map { j in (i, j) } }
                let scored = candidates.map { pair in (pair, likeness(a[pair.0].files, b[pair.1].files)) }
                guard let best = scored.max(by: { $0.1 < $1.1 }), best.1.paths > 0 else { break }
                pairs.append(best.0)
                freeA.removeAll { $0 == best.0.0 }
                freeB.removeAll { $0 == best.0.1 }
            }
            var found: [Change] = []
            var same = 0
            for (i, j) in pairs.sorted(by: { a[$0.0].folder < a[$1.0].folder }) {
                let label = a[i].runs.isEmpty ? b[j].label : a[i].label
                found += changes(a[i].files, b[j].files, prefix: label + ": ")
                same += unchanged(a[i].files, b[j].files)
            }
            found += freeA.map { Change(name: a[$0].label, change: .removed, a: a[$0].summary) }
            found += freeB.map { Change(name: b[$0].label, change: .added, b: b[$0].summary) }
            return (found, same)
        }

        private var summary: String { "\(folder) (\(files.count) files)" }

        private static func unchanged(_ a: [String: String], _ b: [String: String]) -> Int {
            a.filter { b[$0.key] == $0.value }.count
        }

        private struct Likeness: Comparable {
            var sameContent: Int
            var paths: Int
            static func < (x: Likeness, y: Likeness) -> Bool { (x.sameContent, x.paths) < (y.sameContent, y.paths) }
        }

        private static func likeness(_ a: [String: String], _ b: [String: String]) -> Likeness {
            Likeness(sameContent: unchanged(a, b), paths: a.keys.filter { b[$0] != nil }.count)
        }
    }

    private static func compareOutputs(_ a: Side, _ b: Side, tolerance: ComparisonTolerance) throws -> [Output] {
        var outputs: [Output] = []
        var scratch: String?
        defer { scratch.map(FileSystem.removeTree) }
        for path in Set(a.outputs.keys).union(b.outputs.keys).sortedBytewise() {
            guard let x = a.outputs[path], let y = b.outputs[path] else {
                outputs.append(Output(path: path, change: a.outputs[path] == nil ? .added : .removed))
                continue
            }
            if x.sha256 == y.sha256 {
                var comparison = Comparison(
                    verdict: .identical, kind: OutputComparison.kind(of: path), tolerance: tolerance)
                comparison.expectedSHA256 = x.sha256
                comparison.actualSHA256 = y.sha256
                outputs.append(Output(path: path, comparison: comparison))
                continue
            }
            if scratch == nil { scratch = try FileSystem.makeTemporaryDirectory(prefix: "mlpack-diff") }
            // Keep the extension: it says how to read the file.
            let name = (path as NSString).lastPathComponent
            let (first, second) = (scratch! + "/a-" + x.sha256 + "-" + name, scratch! + "/b-" + y.sha256 + "-" + name)
            if FileSystem.status(first) == nil { try PackItems.copy(x, from: a.pack, to: first) }
            if FileSystem.status(second) == nil { try PackItems.copy(y, from: b.pack, to: second) }
            outputs.append(
                Output(
                    path: path,
                    comparison: try OutputComparison.compare(
                        expected: first, actual: second, tolerance: tolerance, expectedSHA256: x.sha256)))
        }
        return outputs
    }

    /// What one verified pack holds.
    private struct Side {
        let pack: PackFile
        var snapshots: [CodeSnapshot] = []
        var data: [String: String] = [:]
        var outputs: [String: Item] = [:]
        var cardFields: [String: String] = [:]

        init(path: String, limits: ReaderLimits) throws {
            // A pipe is spooled: its small items are read again after the verifying scan.
            pack = try PackFile(path: path, limits: limits, randomAccess: true)
            var options = VerifyOptions()
            options.limits = limits
            let read: PackItems.Result
            do {
                let verified = try PackVerifier.verify(pack, options: options).contents
                read = try PackItems.read(pack, trusted: verified) {
                    $0 == Layout.card || (($0.hasPrefix("refs/") || $0.hasPrefix("runs/")) && $0.hasSuffix(".json"))
                }
            } catch let error as MLPackError where error.category == .invalid {
                throw Self.naming(path, error)
            }
            let items = read.contents.items
            // Code by its path inside its snapshot (`code/<hex>/<path>`), so that two
            // snapshots line up file by file.
            var byFolder: [String: CodeSnapshot] = [:]
            for item in items where item.role == .code {
                let parts = item.path.split(separator: "/", maxSplits: 2).map(String.init)
                let (folder, path) = parts.count == 3 ? (parts[0] + "/" + parts[1], parts[2]) : ("", item.path)
                byFolder[folder, default: CodeSnapshot(folder: folder, files: [:])].files[path] = item.sha256
            }
            for loaded in read.items where loaded.item.role == .run {
                guard let run = try? JSONText.decode(RunRecord.self, from: loaded.bytes) else { continue }
                byFolder[Layout.codeSnapshot(treeDigest: run.code.treeDigest)]?.runs.append((run.id, run.name))
            }
            snapshots = byFolder.values.sorted { $0.folder < $1.folder }
            for loaded in read.items where loaded.item.role == .dataRef {
                guard let reference = try? JSONText.decode(DataReference.self, from: loaded.bytes) else { continue }
                data[reference.name] = reference.digest
            }
            for item in items where item.role.isOutput { outputs[item.path] = item }
            if let card = try read.contents.card(bytes: read.bytes(Layout.card)) {
                cardFields["name"] = card.name
                cardFields["title"] = card.title
                for output in card.outputs {
                    cardFields["output \(output.path)"] =
                        output.role.rawValue + (output.tolerance.map { " tolerance \(Self.describe($0))" } ?? "")
                }
            }
        }

        /// An integrity failure of one side, with the pack it concerns.
        private static func naming(_ pack: String, _ error: MLPackError) -> MLPackError {
            switch error {
            case .integrity(let entry, let problem): .integrity(entry: "\(pack): \(entry)", problem: problem)
            case .unsafeEntry(let entry, let rule): .unsafeEntry(entry: "\(pack): \(entry)", rule: rule)
            case .limitExceeded(let limit, let detail): .limitExceeded(limit: limit, detail: "\(pack): \(detail)")
            default: error
            }
        }

        private static func describe(_ tolerance: Card.Tolerance) -> String {
            var parts = [tolerance.atol.map { "atol \($0)" }, tolerance.rtol.map { "rtol \($0)" }].compactMap { $0 }
            parts += (tolerance.metrics ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            return parts.joined(separator: ", ")
        }
    }
}
