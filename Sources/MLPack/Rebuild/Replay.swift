import Foundation

/// Replays runs one after the other, each in a fresh workspace holding its code snapshot and
/// its inputs: data references from the cache, earlier runs' rebuilt outputs, items of the
/// pack. Keeps track of what each run rebuilt, for the runs after it and the comparison.
struct Replay {
    let pack: PackFile
    let contents: PackContents
    let data: DataSources
    let sandbox: Sandbox
    let workdir: String
    let limits: RebuildLimits
    /// The numerics variables each environment capture recorded, by environment id.
    var recordedVariables: [String: [String: String]] = [:]
    /// What the placeholders in the recorded command lines stand for (all are given).
    var secrets: [String: String] = [:]
    /// Where the runs' Python comes from, and (pack source) the environment built for each
    /// environment capture, by id.
    var pythonSource: PythonEnvironmentOptions.Source = .pack
    var pythonEnvironments: [String: PythonEnvironment] = [:]
    /// The Python version each capture recorded, by id.
    var recordedPython: [String: String] = [:]
    /// Whether the runs got a control group (processes and memory bounded); nil before the first.
    private(set) var controlGroups: Bool?

    private var workspaces: [String: Workspace] = [:]
    /// Recorded output digest → where in which workspace the rebuilt file standing for it is.
    private var rebuilt: [String: (workspace: Workspace, path: String)] = [:]
    /// Outputs of runs not replayed (`--from`), by digest: the checkpoint item standing for
    /// each (a folder's: the prefix of its files' items).
    var fromPack: [String: String] = [:]
    /// Gets each run's log as it is written (`verify --rebuild --follow`).
    var follow: (([UInt8]) -> Void)?
    /// The same for recorded folder outputs, by tree digest.
    private var rebuiltFolders: [String: (workspace: Workspace, path: String)] = [:]

    init(
        pack: PackFile, contents: PackContents, data: DataSources, sandbox: Sandbox, workdir: String,
        limits: RebuildLimits
    ) {
        self.pack = pack
        self.contents = contents
        self.data = data
        self.sandbox = sandbox
        self.workdir = workdir
        self.limits = limits
    }

    mutating func run(_ run: RunRecord) throws -> RebuildReport.Run {
        try Self.check(run)
        let workspace = try Workspace(workdir: workdir, run: run, maxBytes: limits.maxWorkspaceBytes)
        workspaces[run.id] = workspace
        let snapshot = Layout.codeSnapshot(treeDigest: run.code.treeDigest)
        for file in run.code.files {
            guard let item = contents.item(snapshot + "/" + file.path), item.sha256 == file.sha256 else {
                throw MLPackError.integrity(
                    entry: Layout.payloadPath(snapshot + "/" + file.path),
                    problem: "the code run \(run.id) used is not in the pack")
            }
            try workspace.place(file.path, size: item.size, mode: file.mode) { try extract(item, into: $0) }
        }
        var readOnly: [(source: String, target: String)] = []
        for input in run.inputs {
            let outside = input.path.hasPrefix("/")
            try provide(
                input, for: run, at: outside ? "inputs/" + input.sha256 : input.path, outside: outside, in: workspace)
            if outside {
                // Named by absolute path in the argv: bound there, read-only.
                readOnly.append((workspace.root + "/inputs/" + input.sha256, input.path))
            }
        }

        // What the pack asks for, filtered as capture filters: numerics settings only.
        let offered = (recordedVariables[run.environment] ?? [:]).merging(run.setVariables) { $1 }
        var environment = EnvironmentVariables.filter(offered, home: "").filter {
            !$0.value.unicodeScalars.contains { $0.value < 0x20 }
        }
        let ignored = offered.keys.filter { environment[$0] == nil }.sorted()
        guard let directory = workspace.path(run.workingDirectory) else {
            throw MLPackError.integrity(
                entry: Layout.runRecord(run.id), problem: "working directory \(run.workingDirectory) leaves the project"
            )
        }
        try FileSystem.makeDirectories(directory)
        if let entries = run.pythonPath {
            environment["PYTHONPATH"] = try entries.map { entry in
                guard let path = workspace.path(entry) else {
                    throw MLPackError.integrity(
                        entry: Layout.runRecord(run.id), problem: "PYTHONPATH entry \(entry) leaves the project")
                }
                return path
            }.joined(separator: ":")
        }
        let setup = python(
            for: run, argv: SecretScrubber.fill(run.argv, from: secrets).argv, directory: directory,
            workspace: workspace)
        readOnly += setup.readOnly
        environment["PATH"] = setup.path
        environment["HOME"] = workspace.home
        environment["TMPDIR"] = "/tmp"
        if environment["LANG"] == nil { environment["LANG"] = "C.UTF-8" }

        let group = ControlGroup.make(
            name: "mlpack-rebuild-\(getpid())-\(workspaces.count)", maxProcesses: limits.maxProcesses,
            maxMemory: limits.maxMemory)
        controlGroups = (controlGroups ?? true) && group != nil
        let command = sandbox.command(
            setup.argv, workspace: workspace, directory: directory, readOnly: readOnly, writable: setup.writable,
            environment: environment, group: group, maxFileBytes: limits.maxWorkspaceBytes)
        let maxBytes = limits.maxWorkspaceBytes
        let outcome: LoggedCommand.Outcome
        do {
            outcome = try LoggedCommand.run(
                command, log: workspace.log, environment: Sandbox.hostEnvironment, timeout: limits.timeout,
                check: {
                    if FileSystem.diskUsage(workspace.root) > maxBytes {
                        return "workspace size limit reached (\(ByteCount.text(maxBytes)))"
                    }
                    // What no walk sees (files deleted while open) still takes the disk.
                    if let free = FileSystem.freeBytes(workspace.root), free < Self.diskReserve {
                        return
                            "the disk holding the workspace is nearly full (less than \(ByteCount.text(Self.diskReserve)) free)"
                    }
                    return nil
                }, follow: follow)
        } catch {
            group?.destroy()
            throw error
        }
        // Nothing of the run may outlive it: whatever is left in its group is killed first.
        var limitsHit = group?.limitsHit() ?? []
        group?.destroy()

        register(run, in: workspace)
        var exitCode: Int32?
        var signal: Int32?
        switch outcome.termination {
        case .exited(let code): exitCode = code
        case .signaled(let number): signal = number
        }
        if outcome.timedOut {
            limitsHit.insert(.init(limit: .time, detail: "time limit reached (\(limits.timeoutText))"), at: 0)
        }
        if let stopped = outcome.stopped { limitsHit.insert(.init(limit: .workspaceSize, detail: stopped), at: 0) }
        if signal == SIGXFSZ {
            let detail = "a file grew past the workspace size limit (\(ByteCount.text(maxBytes)))"
            limitsHit.append(.init(limit: .workspaceSize, detail: detail))
        }
        let status =
            outcome.timedOut ? "timed out" : outcome.stopped != nil ? "stopped" : exitCode == 0 ? "ok" : "failed"
        let log = Self.tail(of: workspace.log)
        return RebuildReport.Run(
            id: run.id, name: run.name, command: run.argv, status: status, exitCode: exitCode, signal: signal,
            seconds: outcome.seconds, log: workspace.log,
            logTail: status == "ok"
                ? [] : Array(log.split(separator: "\n", omittingEmptySubsequences: false).suffix(20).map(String.init)),
            sandboxRefusals: status == "ok" ? [] : Self.refusals(in: log, sandbox: sandbox),
            ignoredVariables: ignored, limitsHit: limitsHit)
    }

    /// Takes the workspace another process replayed `run` in as if this one had: later runs
    /// read its outputs, and the comparison finds them.
    mutating func adopt(_ run: RunRecord) throws {
        let workspace = try Workspace(existing: workdir, id: run.id)
        workspaces[run.id] = workspace
        register(run, in: workspace)
    }

    /// Notes where the outputs `run` wrote are, for the runs after it and the comparison.
    private mutating func register(_ run: RunRecord, in workspace: Workspace) {
        for output in run.outputs where !output.path.hasPrefix("/") {
            switch output.kind {
            case .file:
                if rebuilt[output.sha256] == nil, workspace.open(output.path).file != nil {
                    rebuilt[output.sha256] = (workspace, output.path)
                }
            case .directory:
                if rebuiltFolders[output.sha256] == nil, let folder = workspace.path(output.path),
                    FileSystem.status(folder)?.isDirectory == true
                {
                    rebuiltFolders[output.sha256] = (workspace, output.path)
                }
            }
        }
    }

    /// What gives a run its Python: with a built environment, the recorded interpreter (its
    /// path, `python`, `python3`, `python3.X`, or a script whose `#!` names one) becomes the
    /// environment's, whose `bin/` goes first on PATH, and the environment and the
    /// installation it comes from are bound read-only; an editable project is the run's own
    /// project bound where the environment's `.pth` points. With the host's Python, an
    /// interpreter the sandbox cannot see (a path below /tmp, a venv not here) becomes the
    /// recorded `python3.X` on PATH, else `python3`.
    func python(
        for run: RunRecord, argv: [String], directory: String, workspace: Workspace
    ) -> (
        argv: [String], path: String, readOnly: [(source: String, target: String)],
        writable: [(source: String, target: String)]
    ) {
        let hostPath = Host.current.path ?? "/usr/local/bin:/usr/bin:/bin"
        guard let environment = pythonEnvironments[run.environment] else {
            guard pythonSource == .host else { return (argv, hostPath, [], []) }
            return (Self.hostInterpreter(argv, recorded: recordedPython[run.environment]), hostPath, [], [])
        }
        var readOnly = [(source: environment.folder, target: environment.folder)]
        if let base = environment.basePrefix, !["/usr", "/bin", "/lib"].contains(where: { base.hasPrefix($0) }) {
            readOnly.append((base, base))
        }
        let writable =
            environment.hasProject ? [(source: workspace.project, target: PythonEnvironment.projectMount)] : []
        return (
            Self.mapInterpreter(argv, to: environment.python, directory: directory),
            environment.bin + ":" + hostPath, readOnly, writable
        )
    }

    /// `argv` with its Python interpreter replaced by `python`.
    static func mapInterpreter(_ argv: [String], to python: String, directory: String) -> [String] {
        guard let program = argv.first else { return argv }
        if RunRecorder.isPython(program) { return [python] + argv.dropFirst() }
        // A script run by its #! line: `#!/usr/bin/env python3`, `#!/home/a/venv/bin/python -u`.
        guard program.contains("/"), let line = firstLine(program.hasPrefix("/") ? program : directory + "/" + program),
            line.hasPrefix("#!")
        else { return argv }
        var words = line.dropFirst(2).split(separator: " ").map(String.init)
        if let first = words.first, (first as NSString).lastPathComponent == "env" {
            words.removeFirst()
            if words.first == "-S" { words.removeFirst() }
        }
        guard let interpreter = words.first, RunRecorder.isPython(interpreter) else { return argv }
        return [python] + words.dropFirst() + argv
    }

    static func hostInterpreter(_ argv: [String], recorded: String?) -> [String] {
        guard let program = argv.first, RunRecorder.isPython(program) else { return argv }
        let visible =
            program.contains("/")
            ? program.hasPrefix("/") && !["/tmp/", "/dev/shm/"].contains(where: program.hasPrefix)
                && FileSystem.status(program, followLinks: true) != nil
            : ChildProcess.locate(program) != nil
        if visible { return argv }
        let majorMinor = recorded.map { $0.split(separator: ".").prefix(2).joined(separator: ".") }
        let names = (majorMinor.map { ["python" + $0] } ?? []) + ["python3"]
        guard let name = names.first(where: { ChildProcess.locate($0) != nil }) else { return argv }
        return [name] + argv.dropFirst()
    }

    /// The first line of a file, when it starts with `#!`.
    private static func firstLine(_ path: String) -> String? {
        guard let file = try? PosixFile(path: path, mode: .read), let bytes = try? file.read(at: 0, count: 256),
            bytes.starts(with: Array("#!".utf8))
        else { return nil }
        return String(decoding: bytes.prefix { $0 != 0x0A && $0 != 0x0D }, as: UTF8.self)
    }

    /// What the probe script says from inside the sandbox, run as runs of `run`'s environment
    /// run it: the interpreter the drift and the report are about is the one the runs get,
    /// not one outside the sandbox (a venv below /tmp, which the sandbox replaces).
    func probePython(like run: RunRecord) -> String? {
        guard
            let workspace = try? Workspace(
                workdir: workdir, id: "python-probe-" + run.environment, maxBytes: limits.maxWorkspaceBytes)
        else { return nil }
        defer { FileSystem.removeTree(workspace.root) }
        let program = run.argv.first.flatMap { RunRecorder.isPython($0) ? $0 : nil } ?? "python3"
        let setup = python(
            for: run, argv: [program, "-c", PythonParsers.probeScript], directory: workspace.project,
            workspace: workspace)
        let command = sandbox.command(
            setup.argv, workspace: workspace, directory: workspace.project, readOnly: setup.readOnly,
            writable: setup.writable,
            environment: ["PATH": setup.path, "HOME": workspace.home, "TMPDIR": "/tmp", "LANG": "C.UTF-8"],
            group: nil, maxFileBytes: limits.maxWorkspaceBytes)
        return ChildProcess.run(command, timeout: 120, environment: Sandbox.hostEnvironment)
    }

    /// Free disk a run must leave on the file system of its workspace.
    static let diskReserve: UInt64 = 512 << 20

    /// The file the rebuild left for a recorded output, opened without following links; nil
    /// and why when the run did not leave a regular file there.
    func rebuiltOutput(run: RunRecord, output: RunRecord.FileRecord) -> (file: PosixFile?, problem: String?) {
        guard !output.path.hasPrefix("/"), let workspace = workspaces[run.id] else { return (nil, "not replayed") }
        return workspace.open(output.path)
    }

    /// The record's fields that name things on this machine, checked before any is used: a
    /// command to run, digests that become file names, absolute inputs that become mount points.
    private static func check(_ run: RunRecord) throws {
        let entry = Layout.runRecord(run.id)
        guard let program = run.argv.first, !program.isEmpty else {
            throw MLPackError.integrity(entry: entry, problem: "the run has no command")
        }
        guard !run.argv.contains(where: { $0.utf8.contains(0) }) else {
            throw MLPackError.integrity(entry: entry, problem: "a NUL in the command")
        }
        for file in run.inputs + run.outputs {
            guard Hex.isSHA256(file.sha256) else {
                throw MLPackError.integrity(entry: entry, problem: "\(file.path): not a sha256 digest")
            }
        }
        for input in run.inputs
        where input.path.hasPrefix("/") && PackPath.problem(with: String(input.path.dropFirst())) != nil {
            throw MLPackError.integrity(entry: entry, problem: "input \(input.path) is not a plain absolute path")
        }
    }

    /// The end of a log, however much the run printed.
    private static func tail(of log: String, bytes: UInt64 = 64 << 10) -> String {
        guard let file = try? PosixFile(path: log, mode: .read), let size = file.seekableSize else { return "" }
        let start = size > bytes ? size - bytes : 0
        return String(decoding: (try? file.read(at: start, count: Int(size - start))) ?? [], as: UTF8.self)
    }

    /// Puts one input in place: an earlier run's rebuilt output, a data reference's files
    /// from the cache (or the pack, when inline), or an item of the pack with that content
    /// that is not one of its outputs.
    private func provide(
        _ input: RunRecord.FileRecord, for run: RunRecord, at relative: String, outside: Bool, in workspace: Workspace
    ) throws {
        if input.kind == .file, let earlier = rebuilt[input.sha256],
            let file = earlier.workspace.open(earlier.path).file
        {
            return try workspace.copy(file, to: relative, outside: outside)
        }
        // A folder an earlier run wrote: the regular files its rebuild left there, each
        // opened without following links (the earlier run's code is a stranger's too).
        if input.kind == .directory, let earlier = rebuiltFolders[input.sha256],
            let folder = earlier.workspace.path(earlier.path)
        {
            for (below, status) in try CodeSelection.walkWithStatus(folder, skipDefaults: false) where status.isRegular
            {
                guard let file = earlier.workspace.open(earlier.path + "/" + below).file else { continue }
                try workspace.copy(file, to: relative + "/" + below, outside: outside)
            }
            return
        }
        if let loaded = data.reference(forDigest: input.sha256) {
            let reference = loaded.reference
            for file in loaded.files {
                let target = file.relativePath.isEmpty ? relative : relative + "/" + file.relativePath
                if let inline = reference.inline {
                    let itemPath =
                        file.relativePath.isEmpty
                        ? contents.items.first { $0.path.hasPrefix(inline + "/") && $0.sha256 == file.sha256 }?.path
                        : inline + "/" + file.relativePath
                    guard let itemPath, let item = contents.item(itemPath) else {
                        throw MLPackError.integrity(
                            entry: "data reference \(reference.name)", problem: "its inline copy is missing")
                    }
                    try workspace.place(target, outside: outside, size: item.size, mode: 0o644) {
                        try extract(item, into: $0)
                    }
                } else {
                    guard data.cache.contains(file.sha256) else {
                        throw MLPackError.io(
                            path: "data reference \(reference.name)",
                            reason:
                                "\(file.relativePath.isEmpty ? "its file" : file.relativePath) is not in the cache \(data.cache.root)"
                        )
                    }
                    try workspace.copy(
                        PosixFile(path: data.cache.blobPath(file.sha256), mode: .read), to: target, outside: outside)
                }
            }
            return
        }
        // A checkpoint of a run not replayed: what the author's run wrote, by her word.
        if let packed = fromPack[input.sha256] {
            let items =
                input.kind == .file
                ? contents.item(packed).map { [("", $0)] } ?? []
                : contents.items.filter { $0.role == .checkpoint && $0.path.hasPrefix(packed + "/") }.map {
                    ("/" + $0.path.dropFirst(packed.count + 1), $0)
                }
            for (below, item) in items {
                try workspace.place(relative + below, outside: outside, size: item.size, mode: 0o644) {
                    try extract(item, into: $0)
                }
            }
            return
        }
        // Never an output the pack ships (weights, checkpoints, metrics): the run would be handed
        // what it is to be compared against.
        if input.kind == .file,
            let item = contents.items.first(where: { $0.sha256 == input.sha256 && !$0.role.isOutput })
        {
            return try workspace.place(relative, outside: outside, size: item.size, mode: 0o644) {
                try extract(item, into: $0)
            }
        }
        throw MLPackError.io(
            path: "run \(run.id)",
            reason:
                "missing input \(input.path) (sha256 \(input.sha256.prefix(16))…): no earlier run, data reference or item of the pack provides it"
        )
    }

    private func extract(_ item: Item, into file: PosixFile) throws { try PackItems.copy(item, from: pack, into: file) }

    /// What the log says the sandbox refused: the first lines that show a blocked network or
    /// a write outside the workspace.
    static func refusals(in log: String, sandbox: Sandbox) -> [String] {
        var found: [String] = []
        // Loopback is all a sandbox without network has, and nothing listens there.
        let network = [
            "Network is unreachable", "Connection refused", "Temporary failure in name resolution",
            "Name or service not known", "No address associated with hostname", "Could not resolve host",
        ]
        let filesystem = ["Read-only file system", "Permission denied"]
        for line in log.split(separator: "\n").map(String.init) {
            if sandbox.bubblewrap != nil && !sandbox.allowNetwork, network.contains(where: line.contains) {
                found.append("network refused (the sandbox has no network): \(line)")
            } else if sandbox.bubblewrap != nil, filesystem.contains(where: line.contains) {
                found.append("write outside the workspace refused: \(line)")
            }
            if found.count == 3 { break }
        }
        return found
    }
}
