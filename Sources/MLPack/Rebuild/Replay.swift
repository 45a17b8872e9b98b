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
    let timeout: Double?
    /// The numerics variables each environment capture recorded, by environment id.
    var recordedVariables: [String: [String: String]] = [:]

    private var workspaces: [String: Workspace] = [:]
    /// Recorded output digest → the rebuilt file standing for it.
    private var rebuilt: [String: String] = [:]

    init(pack: PackFile, contents: PackContents, data: DataSources, sandbox: Sandbox, workdir: String, timeout: Double?) {
        self.pack = pack
        self.contents = contents
        self.data = data
        self.sandbox = sandbox
        self.workdir = workdir
        self.timeout = timeout
    }

    mutating func run(_ run: RunRecord) throws -> RebuildReport.Run {
        let workspace = try Workspace(workdir: workdir, run: run)
        workspaces[run.id] = workspace
        let snapshot = Layout.codeDirectory + "/" + run.code.treeDigest.prefix(12)
        for file in run.code.files {
            guard let item = contents.item(snapshot + "/" + file.path), item.sha256 == file.sha256 else {
                throw MLPackError.integrity(entry: Layout.payloadPath(snapshot + "/" + file.path), problem: "the code run \(run.id) used is not in the pack")
            }
            try workspace.place(file.path, mode: file.mode) { try extract(item, into: $0) }
        }
        var readOnly: [(source: String, target: String)] = []
        for input in run.inputs {
            let outside = input.path.hasPrefix("/")
            try provide(input, for: run, at: outside ? "inputs/" + input.sha256 : input.path, outside: outside, in: workspace)
            if outside {
                // Named by absolute path in the argv: bound there, read-only.
                readOnly.append((workspace.root + "/inputs/" + input.sha256, input.path))
            }
        }

        var environment = recordedVariables[run.environment] ?? [:]
        environment.merge(run.setVariables) { $1 }
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        environment["HOME"] = workspace.home
        environment["TMPDIR"] = "/tmp"
        if environment["LANG"] == nil { environment["LANG"] = "C.UTF-8" }
        guard let directory = workspace.path(run.workingDirectory) else {
            throw MLPackError.integrity(entry: "runs/\(run.id).json", problem: "working directory \(run.workingDirectory) leaves the project")
        }
        try FileSystem.makeDirectories(directory)
        let command = sandbox.command(run.argv, workspace: workspace.root, directory: directory, readOnly: readOnly)
        let outcome = try LoggedCommand.run(command, log: workspace.log, environment: environment, timeout: timeout)

        for output in run.outputs where output.kind == .file && !output.path.hasPrefix("/") {
            guard let path = workspace.path(output.path) else { continue }
            if FileSystem.status(path)?.isRegular == true, rebuilt[output.sha256] == nil { rebuilt[output.sha256] = path }
        }
        let status: String
        var exitCode: Int32?
        var signal: Int32?
        switch outcome.termination {
        case .exited(let code): exitCode = code
        case .signaled(let number): signal = number
        }
        if outcome.timedOut { status = "timed out" } else if exitCode == 0 { status = "ok" } else { status = "failed" }
        let log = (try? String(contentsOfFile: workspace.log, encoding: .utf8)) ?? ""
        return RebuildReport.Run(
            id: run.id, name: run.name, command: run.argv, status: status, exitCode: exitCode, signal: signal,
            seconds: outcome.seconds, log: workspace.log,
            logTail: status == "ok" ? [] : Array(log.split(separator: "\n", omittingEmptySubsequences: false).suffix(20).map(String.init)),
            sandboxRefusals: status == "ok" ? [] : Self.refusals(in: log, sandbox: sandbox))
    }

    /// The file that stands for a recorded output after the rebuild, if the run wrote it.
    func rebuiltPath(run: RunRecord, output: RunRecord.FileRecord) -> String? {
        guard !output.path.hasPrefix("/"), let workspace = workspaces[run.id] else { return nil }
        return workspace.path(output.path)
    }

    /// Puts one input in place: an earlier run's rebuilt output, a data reference's files
    /// from the cache (or the pack, when inline), or an item of the pack with that content.
    private func provide(_ input: RunRecord.FileRecord, for run: RunRecord, at relative: String, outside: Bool, in workspace: Workspace) throws {
        if input.kind == .file, let path = rebuilt[input.sha256] {
            return try workspace.copy(path, to: relative, outside: outside)
        }
        if let loaded = data.reference(forDigest: input.sha256) {
            let reference = loaded.reference
            for file in loaded.files {
                let target = file.relativePath.isEmpty ? relative : relative + "/" + file.relativePath
                if let inline = reference.inline {
                    let itemPath = file.relativePath.isEmpty
                        ? contents.items.first { $0.path.hasPrefix(inline + "/") && $0.sha256 == file.sha256 }?.path
                        : inline + "/" + file.relativePath
                    guard let itemPath, let item = contents.item(itemPath) else {
                        throw MLPackError.integrity(entry: "data reference \(reference.name)", problem: "its inline copy is missing")
                    }
                    try workspace.place(target, outside: outside, mode: 0o644) { try extract(item, into: $0) }
                } else {
                    guard data.cache.contains(file.sha256) else {
                        throw MLPackError.io(path: "data reference \(reference.name)", reason: "\(file.relativePath.isEmpty ? "its file" : file.relativePath) is not in the cache \(data.cache.root)")
                    }
                    try workspace.copy(data.cache.blobPath(file.sha256), to: target, outside: outside)
                }
            }
            return
        }
        if input.kind == .file, let item = contents.items.first(where: { $0.sha256 == input.sha256 }) {
            return try workspace.place(relative, outside: outside, mode: 0o644) { try extract(item, into: $0) }
        }
        throw MLPackError.io(
            path: "run \(run.id)",
            reason: "missing input \(input.path) (sha256 \(input.sha256.prefix(16))…): no earlier run, data reference or item of the pack provides it")
    }

    private func extract(_ item: Item, into file: PosixFile) throws { try PackItems.copy(item, from: pack, into: file) }

    /// What the log says the sandbox refused: the first lines that show a blocked network or
    /// a write outside the workspace.
    static func refusals(in log: String, sandbox: Sandbox) -> [String] {
        var found: [String] = []
        // Loopback is all a sandbox without network has, and nothing listens there.
        let network = ["Network is unreachable", "Connection refused", "Temporary failure in name resolution", "Name or service not known", "No address associated with hostname", "Could not resolve host"]
        let filesystem = ["Read-only file system", "Permission denied"]
        for line in log.split(separator: "\n").map(String.init) {
            if sandbox.bubblewrap != nil && !sandbox.allowNetwork, network.contains(where: line.contains) {
                found.append("network refused (the sandbox has no network; --allow-network allows it): \(line)")
            } else if sandbox.bubblewrap != nil, filesystem.contains(where: line.contains) {
                found.append("write outside the workspace refused: \(line)")
            }
            if found.count == 3 { break }
        }
        return found
    }
}
