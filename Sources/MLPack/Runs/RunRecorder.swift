import Foundation

/// What `mlpack run` is asked to do.
public struct RunRequest: Sendable {
    /// The command and its arguments, as given after `--`.
    public var command: [String]
    /// `-i`: files or folders the command reads; hashed before it starts.
    public var inputs: [String]
    /// `-o`: files or folders the command writes (in addition to those found by scanning).
    public var outputs: [String]
    /// `--metrics`: a JSON object file the command writes.
    public var metrics: String?
    public var name: String?
    public var deterministic: Bool
    public var trace: TraceMode
    /// Where the command runs (mlpack's own working folder), and where the store is looked up.
    public var workingDirectory: String

    public init(
        command: [String], inputs: [String] = [], outputs: [String] = [], metrics: String? = nil, name: String? = nil,
        deterministic: Bool = false, trace: TraceMode = .preload,
        workingDirectory: String = Host.current.workingDirectory
    ) {
        self.command = command
        self.inputs = inputs
        self.outputs = outputs
        self.metrics = metrics
        self.name = name
        self.deterministic = deterministic
        self.trace = trace
        self.workingDirectory = workingDirectory
    }
}

/// How a recorded run went.
public struct RunOutcome: Sendable {
    public var store: RunStore
    public var termination: CommandTermination
    /// The saved record, or why it could not be saved: the command ran either way.
    public var record: Result<RunRecord, MLPackError>
}

/// `mlpack run -- CMD`: runs the command in the foreground and records the run in the
/// project's store (README "Runs").
///
/// Before the command starts: the code snapshot (stored by content), the `-i` inputs (hashed
/// now, as the command could change them) and a stat snapshot of the project. While it runs:
/// the environment capture, on its own thread. After it ended: the outputs (new or changed
/// files, `-o`, `--metrics`), the files it read (`--trace`), lineage by content, the record.
public enum RunRecorder {
    public static func run(_ request: RunRequest, warning: (Message) -> Void) throws -> RunOutcome {
        // For the helpers that speak plain text.
        func warn(_ text: String) { warning(Message(text)) }
        guard let program = request.command.first else {
            throw MLPackError.usage("no command to run: mlpack run [OPTIONS] -- CMD [ARGS...]")
        }
        if let name = request.name, name.isEmpty || name.contains(where: \.isNewline) {
            throw MLPackError.usage("\(input: .runName): one non-empty line")
        }
        let cwd = RunFiles.canonical(request.workingDirectory, cwd: Host.current.workingDirectory)
        let executable = try ChildProcess.resolve(program, in: cwd)
        let store = RunStore.locate(from: cwd)
        let root = store.projectRoot
        let inputPaths = try request.inputs.map { path in
            let absolute = RunFiles.canonical(path, cwd: cwd)
            guard FileSystem.status(absolute, followLinks: true) != nil else {
                throw MLPackError.io(
                    path: path, reason: "no such file or directory (an input must exist before the run)")
            }
            return absolute
        }
        try store.prepare()

        // Before any other thread spawns: the forwarder's pipe must not leak into a child.
        let forwarder = try SignalForwarder()
        defer { forwarder.restore() }
        var environment = Host.current.environment
        let setVariables = request.deterministic ? Determinism.apply(to: &environment) : [:]
        let python = interpreter(program: program, executable: executable)
        let pythonPath = Self.projectPythonPath(environment["PYTHONPATH"], cwd: cwd, projectRoot: root, warn: warn)
        let probe = BackgroundValue { EnvironmentProbe.collect(python: python) }

        let index = HashIndex(store: store)
        let (code, codeWarnings) = try CodeCapture.capture(projectRoot: root, store: store, index: index)
        codeWarnings.forEach(warn)
        var inputs = try inputPaths.compactMap {
            try RunFiles.record($0, projectRoot: root, store: store, index: index, warn: warn)
        }
        let (trace, traceProblem) = CommandTrace.prepare(request.trace)
        if let traceProblem { warning("\(input: .trace): \(traceProblem); recording without tracing") }
        let pythonPrefixes = trace.map { _ in BackgroundValue { ReadTrace.pythonPrefixes(python: python) } }
        let activity = try store.beginActivity()
        let before = TreeSnapshot.take(root)

        // Only a request for another folder changes it: the command keeps mlpack's own
        // working folder (as the shell named it, links and all) otherwise.
        let directory = RunFiles.canonical(Host.current.workingDirectory, cwd: "/") == cwd ? nil : cwd
        let started = Date()
        forwarder.install()
        forwarder.commandStarting()
        let pid: pid_t
        do {
            let launch =
                trace?.launch(executable: executable, arguments: request.command, environment: environment)
                ?? (executable: executable, arguments: request.command, environment: environment)
            pid = try ForegroundCommand.spawn(
                executable: launch.executable, arguments: launch.arguments, environment: launch.environment,
                directory: directory, closing: forwarder.descriptors)
        } catch {
            forwarder.stopForwarding()
            throw error
        }
        forwarder.forward(to: pid, isTracer: trace?.isParentOfCommand ?? false)
        let termination = ForegroundCommand.wait(pid)
        forwarder.stopForwarding()
        let ended = Date()
        let after = TreeSnapshot.take(root)
        let changed = after.changed(since: before)
        let overlapped = activity.end()
        let traced = trace?.finish(command: pid, cwd: cwd, known: { after.holds($0, root: root) })
        for program in traced?.unseen ?? [] {
            warning(
                "\(program) ran without the read tracer (a static binary, or its environment dropped it): its reads were not seen; name its inputs with \(input: .runInput), or trace with \(input: .trace)=ptrace"
            )
        }
        traced?.problems.forEach(warn)

        let record: Result<RunRecord, MLPackError>
        do {
            let written = traced.flatMap { $0.complete ? $0.files.written : nil }
            let (claimed, unclaimed) = claim(
                changed, written: written, overlapped: overlapped, root: root, warn: warning)
            var outputs = try findOutputs(
                request, cwd: cwd, store: store, changed: claimed, index: index, warn: warning)
            let metrics = readMetrics(request.metrics, cwd: cwd, outputs: &outputs, root: root, warn: warning)
            let earlier: [RunOutputs]
            do { earlier = try store.runOutputs() } catch {
                warn("lineage not linked: \(error)")
                earlier = []
            }
            var privateReads: [String] = []
            if let traced, let pythonPrefixes {
                let found = tracedInputs(
                    traced.files.read, root: root, pythonPrefixes: pythonPrefixes.value, code: code,
                    known: inputs, outputs: outputs, earlierOutputs: Set(earlier.flatMap { $0.outputs.map(\.path) }),
                    arguments: request.command, cwd: cwd, store: store, index: index, snapshot: after, warn: warn)
                inputs += found.inputs
                privateReads = found.privateReads
            }
            inputs = inputs.flatMap { Self.filesEarlierRunsWrote($0, runs: earlier, store: store) ?? [$0] }
            RunFiles.linkProducers(&inputs, runs: earlier)
            inputs.removeAll { $0.producedBy == nil && Self.isInSnapshot($0, code: code, store: store) }

            var raw = probe.value
            raw.codeFiles = code.files.map { ($0.path, $0.sha256) }
            raw.projectRoot = root
            raw.environment = environment  // what the command saw, --deterministic included
            let (platform, host) = raw.build()
            let environmentId = try store.storeEnvironment(platform, host: host)

            var id = RunClock.id(started: started)
            while FileSystem.status(store.runsDirectory + "/" + id + ".json") != nil {
                id = RunClock.id(started: started)
            }
            let (status, exitCode, signal): (RunRecord.Status, Int32?, Int32?) =
                switch termination {
                case .exited(0): (.succeeded, 0, nil)
                case .exited(let code): (.failed, code, nil)
                case .signaled(let signal): (.killed, nil, signal)
                }
            // The command ran with its secrets; the record keeps placeholders a rebuild fills.
            let argv = SecretScrubber.scrub(argv: request.command)
            argv.replacements.forEach { warn("command line: \($0.description); a rebuild asks for it") }
            var run = RunRecord(
                id: id, name: request.name, argv: argv.argv,
                workingDirectory: RunFiles.recordedPath(cwd, projectRoot: root),
                started: RunClock.timestamp(started), ended: RunClock.timestamp(ended), status: status,
                exitCode: exitCode,
                signal: signal, code: code, environment: environmentId, setVariables: setVariables, inputs: inputs,
                outputs: outputs, metrics: metrics)
            run.privateReads = privateReads.isEmpty ? nil : privateReads
            run.unclaimed = unclaimed.isEmpty ? nil : unclaimed
            run.tracer = trace?.mode.rawValue
            run.untraced = traced.flatMap { $0.unseen.isEmpty ? nil : $0.unseen }
            run.pythonPath = pythonPath.isEmpty ? nil : pythonPath
            if metrics != nil {
                run.metricsPath = request.metrics.map {
                    RunFiles.recordedPath(RunFiles.canonical($0, cwd: cwd), projectRoot: root)
                }
            }
            try store.save(run)
            do { try index.save() } catch { warn("the hash index was not saved (\(error)): the next run hashes again") }
            record = .success(run)
        } catch let error as MLPackError {
            record = .failure(error)
        } catch {
            record = .failure(.io(path: store.root, reason: "cannot record the run: \(error)"))
        }
        return RunOutcome(store: store, termination: termination, record: record)
    }

    /// A folder input whose every file an earlier run wrote (with that content), as those
    /// files: each is then linked to its run, as a traced read of it would be, instead of
    /// the folder becoming data no reviewer could fetch. Nil for any other input.
    static func filesEarlierRunsWrote(
        _ input: RunRecord.FileRecord, runs: [RunOutputs], store: RunStore
    ) -> [RunRecord.FileRecord]? {
        let prefix = input.path == "." ? "" : input.path + "/"
        // Most folders hold no earlier output: said without reading their listing.
        guard input.kind == .directory, !input.path.hasPrefix("/"),
            runs.contains(where: { $0.outputs.contains { $0.path.hasPrefix(prefix) } }),
            let bytes = try? store.object(input.sha256),
            let listing = try? ListingParser.parse(bytes, what: input.path), !listing.isEmpty
        else { return nil }
        let written = Set(runs.flatMap { $0.outputs.map { $0.path + "\u{0}" + $0.sha256 } })
        var files: [RunRecord.FileRecord] = []
        for file in listing {
            guard written.contains(prefix + file.relativePath + "\u{0}" + file.sha256),
                let size = FileSystem.status(store.projectRoot + "/" + prefix + file.relativePath)?.size
            else { return nil }
            files.append(
                RunRecord.FileRecord(path: prefix + file.relativePath, kind: .file, sha256: file.sha256, size: size))
        }
        return files
    }

    /// Whether a declared input is code: a git-tracked config, or a folder of such files,
    /// with the content the snapshot holds. It travels in the snapshot; as a data input it
    /// would become a data reference that no reviewer could fetch.
    static func isInSnapshot(_ input: RunRecord.FileRecord, code: RunRecord.Code, store: RunStore) -> Bool {
        let files = Dictionary(code.files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        switch input.kind {
        case .file:
            return files[input.path] == input.sha256
        case .directory:
            let prefix = input.path == "." ? "" : input.path + "/"
            // A folder of git-ignored data holds no code: said without reading its listing.
            guard !input.path.hasPrefix("/"), code.files.contains(where: { $0.path.hasPrefix(prefix) }),
                let bytes = try? store.object(input.sha256),
                let listing = try? ListingParser.parse(bytes, what: input.path), !listing.isEmpty
            else { return false }
            return listing.allSatisfy { files[prefix + $0.relativePath] == $0.sha256 }
        }
    }

    /// The entries of `PYTHONPATH` (as the command sees it, relative to `cwd`) that lie in
    /// the project, relative to its root: imports a rebuild must find in its workspace. An
    /// entry outside the project is the author's machine, not the code: said, not recorded.
    static func projectPythonPath(
        _ value: String?, cwd: String, projectRoot root: String, warn: (String) -> Void
    ) -> [String] {
        guard let value, !value.isEmpty else { return [] }
        var entries: [String] = []
        for entry in value.split(separator: ":", omittingEmptySubsequences: false).map(String.init) {
            // An empty entry is the working folder, as Python reads it.
            let recorded = RunFiles.recordedPath(
                RunFiles.canonical(entry.isEmpty ? "." : entry, cwd: cwd), projectRoot: root)
            if recorded.hasPrefix("/") {
                warn("PYTHONPATH: \(entry) is outside the project: not recorded, so a rebuild does not import from it")
            } else if !entries.contains(recorded) {
                entries.append(recorded)
            }
        }
        return entries
    }

    /// The interpreter whose packages the environment records: the command's own when it
    /// is a Python (`python`, `python3.12`, `.venv/bin/python`), else python3 on PATH.
    static func interpreter(program: String, executable: String) -> String? {
        isPython(program) ? executable : nil
    }

    /// `python`, `python3.12`, `.venv/bin/python`: a program named as a Python interpreter.
    static func isPython(_ program: String) -> Bool {
        let name = (program as NSString).lastPathComponent
        return name.hasPrefix("python") && name.dropFirst("python".count).allSatisfy { $0.isNumber || $0 == "." }
    }

    /// Which of the files that changed during the run (paths below the project root) it
    /// wrote, and which not. Alone, the run wrote whatever changed. While another run of the
    /// project was active, traced, those its processes were seen writing (`written`,
    /// absolute); untraced, which run wrote a file is unknown, and none is claimed. (The trace
    /// is not asked when alone: a runtime that makes system calls itself, as Rust's tempfile
    /// does for the rename that saves a safetensors file, writes files it does not see.)
    static func claim(
        _ changed: [String], written: [String]?, overlapped: Bool, root: String, warn: (Message) -> Void
    ) -> (claimed: [String], unclaimed: [String]) {
        guard overlapped, !changed.isEmpty else { return (changed, []) }
        func list(_ files: [String]) -> String {
            files.prefix(3).joined(separator: ", ") + (files.count > 3 ? ", …" : "")
        }
        if let written {
            let wrote = Set(written.map { RunFiles.recordedPath($0, projectRoot: root) })
            let unclaimed = changed.filter { !wrote.contains($0) }
            if !unclaimed.isEmpty {
                warn(
                    "ambiguous: another run of this project was active; \(unclaimed.count) files changed during the run that its processes were not seen writing (\(list(unclaimed))): not claimed as outputs (name them with \(input: .runOutput))"
                )
            }
            return (changed.filter { wrote.contains($0) }, unclaimed)
        }
        warn(
            "ambiguous: another run of this project was active; the \(changed.count) files that changed (\(list(changed))) are not claimed as outputs (name them with \(input: .runOutput), or record with tracing)"
        )
        return ([], changed)
    }

    /// The `claimed` changed files under the project, then `-o` paths (a folder as one
    /// record with its listing), each once, sorted by path.
    static func findOutputs(
        _ request: RunRequest, cwd: String, store: RunStore, changed: [String], index: HashIndex? = nil,
        warn: (Message) -> Void
    ) throws -> [RunRecord.FileRecord] {
        let root = store.projectRoot
        var files = changed.map { (absolute: root + "/" + $0, recorded: $0) }
        var seen = Set(changed)
        var folders: [RunRecord.FileRecord] = []
        for path in request.outputs {
            let absolute = RunFiles.canonical(path, cwd: cwd)
            let recorded = RunFiles.recordedPath(absolute, projectRoot: root)
            guard let status = FileSystem.status(absolute, followLinks: true) else {
                warn("\(input: .runOutput) \(path): does not exist after the run")
                continue
            }
            if status.isDirectory {
                do {
                    folders.append(
                        try RunFiles.directoryRecord(
                            absolute, recorded: recorded, store: store, index: index, warn: { warn(Message($0)) }))
                } catch {
                    warn("\(input: .runOutput) \(path): not recorded (\(error))")
                }
            } else if status.isRegular {
                if seen.insert(recorded).inserted { files.append((absolute, recorded)) }
            } else {
                warn("\(input: .runOutput) \(path): not a file or directory")
            }
        }
        let records = RunFiles.fileRecords(
            absolute: files.map(\.absolute), recorded: files.map(\.recorded), index: index, warn: { warn(Message($0)) })
        return (records + folders).sortedBytewise(by: \.path)
    }

    /// The `--metrics` file's JSON object; the file is an output too.
    static func readMetrics(
        _ path: String?, cwd: String, outputs: inout [RunRecord.FileRecord], root: String, warn: (Message) -> Void
    ) -> JSONValue? {
        guard let path else { return nil }
        let absolute = RunFiles.canonical(path, cwd: cwd)
        let recorded = RunFiles.recordedPath(absolute, projectRoot: root)
        guard let data = FileManager.default.contents(atPath: absolute) else {
            warn("\(input: .metrics) \(path): no such file after the run")
            return nil
        }
        if !outputs.contains(where: { $0.path == recorded }) {
            // Inside the project the scan knows whether the run wrote it; outside it cannot.
            if !recorded.hasPrefix("/") {
                warn("\(input: .metrics) \(path): not written by this run (recorded as it is)")
            }
            outputs += RunFiles.fileRecords(absolute: [absolute], recorded: [recorded], warn: { warn(Message($0)) })
            outputs = outputs.sortedBytewise(by: \.path)
        }
        guard let value = MetricsJSON.parse(data), case .object = value else {
            warn("\(input: .metrics) \(path): not a JSON object; metrics not recorded")
            return nil
        }
        return value
    }

    /// The traced files that are data: not the system's or the Python installation's, not
    /// code of the snapshot, not the run's outputs, not already an input (or inside one),
    /// not where the output scan never looks (.git, .mlpack, caches, environments). Private
    /// reads (`ReadTrace.pathOnly`) come apart, by path only. Files read outside the project
    /// are grouped by dataset (`datasetRoots`): a folder of them becomes one folder input.
    static func tracedInputs(
        _ files: [String], root: String, pythonPrefixes: [String], code: RunRecord.Code, known: [RunRecord.FileRecord],
        outputs: [RunRecord.FileRecord], earlierOutputs: Set<String> = [], arguments: [String] = [], cwd: String = "/",
        store: RunStore? = nil,
        index: HashIndex? = nil, snapshot: TreeSnapshot? = nil, home: String = Host.current.home,
        warn: (String) -> Void
    ) -> (inputs: [RunRecord.FileRecord], privateReads: [String]) {
        let excluded = Set(code.files.map(\.path)).union(outputs.map(\.path)).union(known.map(\.path))
        let folders = known.filter { $0.kind == .directory }.map { $0.path == "." ? "" : $0.path + "/" }
        var absolute: [String] = []
        var recorded: [String] = []
        var outside: [String] = []
        var privateReads: [String] = []
        for file in files {
            if pythonPrefixes.contains(where: { file.hasPrefix($0) }) { continue }
            let name = RunFiles.recordedPath(file, projectRoot: root)
            if name.hasPrefix("/") {
                if ReadTrace.isSystemFile(file) { continue }
            } else if snapshot?.files[name] == nil && TreeSnapshot.isSkipped(relative: name, root: root) {
                continue
            }
            if excluded.contains(name) || folders.contains(where: { name.hasPrefix($0) }) { continue }
            if let path = ReadTrace.pathOnly(file, recorded: name, home: home) {
                privateReads.append(path)
                continue
            }
            if name.hasPrefix("/") && store != nil {
                outside.append(file)
            } else {
                absolute.append(file)
                recorded.append(name)
            }
        }
        var records: [RunRecord.FileRecord] = []
        for dataset in datasetRoots(outside, arguments: arguments, cwd: cwd) {
            guard let store, dataset.files.count > 1 else {
                absolute += dataset.files
                recorded += dataset.files
                continue
            }
            do {
                records.append(
                    try RunFiles.directoryRecord(
                        dataset.root, recorded: dataset.root, store: store, index: index, warn: warn))
            } catch {
                warn("\(dataset.root): not recorded as a dataset (\(error)); its files read are recorded one by one")
                absolute += dataset.files
                recorded += dataset.files
            }
        }
        if let store {
            var grouped = Set<String>()
            let folders = dataFolders(recorded, code: code, earlierOutputs: earlierOutputs).filter { folder, _ in
                // A folder input would list a private file's digest.
                !privateReads.contains { $0.hasPrefix(folder + "/") }
            }
            for (folder, files) in folders {
                do {
                    records.append(
                        try RunFiles.directoryRecord(
                            root + "/" + folder, recorded: folder, store: store, index: index,
                            listed: snapshot?.listing(of: folder), warn: warn))
                    grouped.formUnion(files)
                } catch {
                    warn("\(folder): not recorded as a folder (\(error)); its files read are recorded one by one")
                }
            }
            let kept = recorded.indices.filter { !grouped.contains(recorded[$0]) }
            absolute = kept.map { absolute[$0] }
            recorded = kept.map { recorded[$0] }
        }
        records += RunFiles.fileRecords(absolute: absolute, recorded: recorded, index: index, warn: warn)
        return (records, privateReads)
    }

    /// A folder of the project that a run read at least this many data files of is one
    /// folder input, as a dataset outside is: a data loader's files, not thousands of inputs.
    static let folderInputMinimum = 100

    /// Among data files read under the project (`recorded`, relative paths), those that make
    /// folder inputs: grouped by top-level folder, the deepest folder common to a group of at
    /// least `folderInputMinimum` files, unless it holds code. A file an earlier run wrote is
    /// left out of the groups: it stays an input of its own, which lineage links by content.
    static func dataFolders(
        _ recorded: [String], code: RunRecord.Code, earlierOutputs: Set<String>
    ) -> [(folder: String, files: [String])] {
        var groups: [Substring: [String]] = [:]
        for file in recorded where !earlierOutputs.contains(file) {
            let components = file.split(separator: "/")
            guard components.count > 1 else { continue }
            groups[components[0], default: []].append(file)
        }
        return groups.sorted { $0.key < $1.key }.compactMap { _, files in
            guard files.count >= folderInputMinimum else { return nil }
            let folder = commonFolder(files)
            guard !code.files.contains(where: { $0.path.hasPrefix(folder + "/") }) else { return nil }
            return (folder, files)
        }
    }

    /// Files read outside the project, grouped by the dataset they belong to: below a folder
    /// the command line names (the deepest that holds them), else the deepest folder common
    /// to the files read under one top-level folder (two levels for shared ones: /tmp/x,
    /// /home/user, /mnt/disk), so that a data loader's thousands of files are one dataset.
    static func datasetRoots(_ files: [String], arguments: [String], cwd: String) -> [(root: String, files: [String])] {
        let named = arguments.dropFirst().compactMap { argument -> String? in
            let value = argument.split(separator: "=", maxSplits: 1).last.map(String.init) ?? argument
            guard !value.isEmpty, !value.hasPrefix("-") || value.hasPrefix("/") else { return nil }
            let folder = RunFiles.canonical(value, cwd: cwd)
            return FileSystem.status(folder, followLinks: true)?.isDirectory == true && folder != "/" ? folder : nil
        }
        let shared: Set<Substring> = ["tmp", "home", "mnt", "media", "srv", "scratch", "data", "datasets"]
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for file in files {
            let key: String
            if let folder = named.filter({ file.hasPrefix($0 + "/") }).max(by: { $0.count < $1.count }) {
                key = "named:" + folder
            } else {
                let components = file.split(separator: "/")
                let depth = components.first.map { shared.contains($0) } == true ? 2 : 1
                key = "/" + components.prefix(depth).joined(separator: "/")
            }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(file)
        }
        return order.map { key in
            let files = groups[key]!
            if key.hasPrefix("named:") { return (String(key.dropFirst("named:".count)), files) }
            return ("/" + commonFolder(files), files)
        }
    }

    /// The deepest folder that holds all of `files` (not empty), without leading `/`.
    static func commonFolder(_ files: [String]) -> String {
        var common = files[0].split(separator: "/").dropLast()
        for file in files.dropFirst() {
            let parts = file.split(separator: "/").dropLast()
            common = common.prefix(zip(common, parts).prefix { $0 == $1 }.count)
        }
        return common.joined(separator: "/")
    }
}
