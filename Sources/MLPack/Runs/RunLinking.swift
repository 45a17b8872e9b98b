/// `mlpack runs link ID -i PATH`: an input a recorded run read that its record lacks (an
/// untraced run, a read no tracer saw), added afterwards by its content now, and linked to
/// the earlier run that wrote that content, as a recorded input would be.
public enum RunLinking {
    /// The run (an id or a prefix naming one) with `paths` added to its inputs; returns the
    /// saved record and the inputs added. A path must exist, must not be an output of the
    /// run itself, and must not already be an input with other content.
    public static func link(
        _ id: String, inputs paths: [String], cwd: String = Host.current.workingDirectory, warn: (String) -> Void
    ) throws -> (run: RunRecord, added: [RunRecord.FileRecord]) {
        let store = RunStore.locate(from: cwd)
        var run = try store.run(id)
        let index = HashIndex(store: store)
        let earlier = try store.runOutputs().filter {
            $0.id != run.id && ($0.started < run.started || ($0.started == run.started && $0.id < run.id))
        }
        var added: [RunRecord.FileRecord] = []
        for path in paths {
            let absolute = RunFiles.canonical(path, cwd: cwd)
            guard
                let record = try RunFiles.record(
                    absolute, projectRoot: store.projectRoot, store: store, index: index, warn: warn)
            else {
                throw MLPackError.io(path: path, reason: "no such file or directory")
            }
            if run.outputs.contains(where: { $0.path == record.path }) {
                throw MLPackError.usage("\(input: .runInput) \(path): an output of run \(run.id), not an input of it")
            }
            var files = RunRecorder.filesEarlierRunsWrote(record, runs: earlier, store: store) ?? [record]
            files.removeAll { RunRecorder.isInSnapshot($0, code: run.code, store: store) }
            RunFiles.linkProducers(&files, runs: earlier)
            for file in files {
                if let known = (run.inputs + added).first(where: { $0.path == file.path }) {
                    guard known.sha256 == file.sha256 else {
                        throw MLPackError.usage(
                            "\(input: .runInput) \(path): \(file.path) is an input of run \(run.id) already, with other content (it changed since the run)"
                        )
                    }
                    continue
                }
                added.append(file)
            }
        }
        run.inputs += added
        try store.save(run)
        do { try index.save() } catch { warn("the hash index was not saved (\(error)): the next run hashes again") }
        return (run, added)
    }
}
