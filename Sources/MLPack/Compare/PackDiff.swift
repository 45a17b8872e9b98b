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
        var diff = PackDiff(
            a: a, b: b, code: changes(first.code, second.code), codeFilesUnchanged: 0,
            data: changes(first.data, second.data), outputs: [], card: changes(first.cardFields, second.cardFields))
        diff.codeFilesUnchanged =
            Set(first.code.keys).intersection(second.code.keys).filter { first.code[$0] == second.code[$0] }.count
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

    /// Added, removed and changed names between two name → value maps, sorted by name.
    private static func changes(_ a: [String: String], _ b: [String: String]) -> [Change] {
        Set(a.keys).union(b.keys).sortedBytewise().compactMap { name in
            switch (a[name], b[name]) {
            case (nil, let value?): Change(name: name, change: .added, b: value)
            case (let value?, nil): Change(name: name, change: .removed, a: value)
            case (let x?, let y?) where x != y: Change(name: name, change: .changed, a: x, b: y)
            default: nil
            }
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
        var code: [String: String] = [:]
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
                    $0 == Layout.card || ($0.hasPrefix("refs/") && $0.hasSuffix(".json"))
                }
            } catch let error as MLPackError where error.category == .invalid {
                throw Self.naming(path, error)
            }
            let items = read.contents.items
            // Code by its path inside the snapshot, so two snapshots line up file by file.
            let snapshots = Set(
                items.filter { $0.role == .code }.map { $0.path.split(separator: "/").prefix(2).joined(separator: "/") }
            )
            for item in items where item.role == .code {
                let parts = item.path.split(separator: "/", maxSplits: 2)
                code[snapshots.count == 1 && parts.count == 3 ? String(parts[2]) : item.path] = item.sha256
            }
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
