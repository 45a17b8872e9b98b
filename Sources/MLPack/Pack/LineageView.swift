/// The lineage of a pack as `inspect` shows it: each run with its command, code snapshot and
/// environment, and where each of its inputs and outputs is in the pack.
public enum LineageView {
    public struct Step: Sendable, Codable {
        public var run: String
        public var name: String?
        public var command: [String]
        public var workingDirectory: String
        public var status: RunRecord.Status
        public var exitCode: Int32?
        public var started: String
        public var ended: String
        /// Item folder of the code snapshot, e.g. `code/3f2a9c1b0e4d`.
        public var codeSnapshot: String
        public var environment: String
        public var inputs: [File]
        public var outputs: [File]
    }

    public struct File: Sendable, Codable {
        public var path: String
        public var sha256: String
        /// The run (in this pack) that wrote it.
        public var producedBy: String?
        /// The item holding it (`artifacts/…`), when the pack ships it.
        public var item: String?
        /// The data reference naming it, when it is data.
        public var reference: String?
    }

    static func steps(_ read: PackItems.Result) throws -> [Step] {
        let runs = try read.items.filter { $0.item.role == .run }.map { loaded in
            do { return try JSONText.decode(RunRecord.self, from: loaded.bytes) } catch {
                throw MLPackError.integrity(
                    entry: Layout.payloadPath(loaded.item.path), problem: "not a valid run record")
            }
        }.sorted { $0.started < $1.started }
        guard !runs.isEmpty else { return [] }
        let shipped = Dictionary(
            read.contents.items.filter { [.weights, .checkpoint, .output, .data].contains($0.role) }
                .map { ($0.sha256, $0.path) }, uniquingKeysWith: { first, _ in first })
        let references = Dictionary(
            read.items.filter { $0.item.role == .dataRef }.compactMap { loaded in
                (try? JSONText.decode(DataReference.self, from: loaded.bytes)).map { ($0.digest, $0.name) }
            }, uniquingKeysWith: { first, _ in first })
        let ids = Set(runs.map(\.id))
        return runs.map { run in
            func file(_ record: RunRecord.FileRecord, input: Bool) -> File {
                let producer =
                    input
                    ? (record.producedBy.flatMap { ids.contains($0) ? $0 : nil }
                        ?? runs.last { $0.started < run.started && $0.outputs.contains { $0.sha256 == record.sha256 } }?
                        .id)
                    : nil
                return File(
                    path: record.path, sha256: record.sha256, producedBy: producer, item: shipped[record.sha256],
                    reference: references[record.sha256])
            }
            return Step(
                run: run.id, name: run.name, command: run.argv, workingDirectory: run.workingDirectory,
                status: run.status,
                exitCode: run.exitCode, started: run.started, ended: run.ended,
                codeSnapshot: Layout.codeSnapshot(treeDigest: run.code.treeDigest), environment: run.environment,
                inputs: run.inputs.map { file($0, input: true) }, outputs: run.outputs.map { file($0, input: false) })
        }
    }
}
