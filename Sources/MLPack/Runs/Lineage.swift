/// The runs that led to one output, found by content: the run that wrote it, the runs that
/// wrote its inputs, and so on back to inputs no run produced (spec/FORMAT.md §9.5).
public struct Lineage: Sendable {
    /// Oldest first; the last one produced `final`.
    public let runs: [RunRecord]
    public let final: RunRecord.FileRecord

    /// For every input of a lineage run: the run in the lineage that produced it, if any.
    public let producers: [String: String]

    /// The lineage of the file at `path`, looked up by its SHA-256 among the store's runs.
    public static func of(file path: String, in store: RunStore) throws -> Lineage {
        guard FileSystem.status(path, followLinks: true)?.isRegular == true else {
            throw MLPackError.io(path: path, reason: "no such file")
        }
        let sha256 = try FileHashing.hash(file: path).sha256
        return try of(sha256: sha256, named: path, among: try store.runs())
    }

    static func of(sha256: String, named path: String, among all: [RunRecord]) throws -> Lineage {
        // The newest successful run that wrote this content; a failed run's output is a last resort.
        let writers = all.filter { $0.outputs.contains { $0.sha256 == sha256 } }
        guard let last = writers.last(where: { $0.status == .succeeded }) ?? writers.last,
            let final = last.outputs.last(where: { $0.sha256 == sha256 })
        else {
            throw MLPackError.usage(
                "no recorded run wrote \(path) (sha256 \(sha256.prefix(16))…): record the training with `mlpack run -- …`"
            )
        }
        var chosen: [String: RunRecord] = [last.id: last]
        var producers: [String: String] = [:]
        var pending = [last]
        while let run = pending.popLast() {
            for input in run.inputs {
                guard let producer = producer(of: input, for: run, among: all) else { continue }
                producers[Self.key(run: run.id, input: input)] = producer.id
                if chosen.updateValue(producer, forKey: producer.id) == nil { pending.append(producer) }
            }
        }
        return Lineage(
            runs: chosen.values.sorted { $0.started < $1.started || ($0.started == $1.started && $0.id < $1.id) },
            final: final, producers: producers)
    }

    /// The run that wrote `input`: the one recorded at run time if it is still known, else
    /// the newest earlier run whose output has the same content.
    private static func producer(
        of input: RunRecord.FileRecord, for run: RunRecord, among all: [RunRecord]
    ) -> RunRecord? {
        if let id = input.producedBy, let recorded = all.first(where: { $0.id == id }) { return recorded }
        return all.last { $0.started < run.started && $0.outputs.contains { $0.sha256 == input.sha256 } }
    }

    static func key(run: String, input: RunRecord.FileRecord) -> String { run + "\u{0}" + input.path }

    public func producer(ofInput input: RunRecord.FileRecord, of run: RunRecord) -> String? {
        producers[Self.key(run: run.id, input: input)]
    }

    /// Outputs of lineage runs that a later lineage run read: the intermediate checkpoints.
    public var checkpoints: [(run: RunRecord, output: RunRecord.FileRecord)] {
        let consumed = Set(
            runs.flatMap { run in run.inputs.filter { producer(ofInput: $0, of: run) != nil }.map(\.sha256) })
        return runs.flatMap { run in
            run.outputs.filter { consumed.contains($0.sha256) && $0.sha256 != final.sha256 }.map { (run, $0) }
        }
    }

    /// Inputs no lineage run produced: data the pack names by reference.
    public var externalInputs: [(run: RunRecord, input: RunRecord.FileRecord)] {
        runs.flatMap { run in run.inputs.filter { producer(ofInput: $0, of: run) == nil }.map { (run, $0) } }
    }
}
