import Foundation

public struct RebuildOptions: Sendable {
    /// Where the workspaces go (default: a new temporary folder).
    public var workdir: String?
    /// Keep the workspaces and logs afterwards (they are kept anyway when a run fails).
    public var keep = false
    public var allowNetwork = false
    public var unsafeNoSandbox = false
    public var limits = RebuildLimits()
    /// The reviewer's tolerances, overriding the card's.
    public var atol: Double?
    public var rtol: Double?
    public var metricTolerances: [String: Double] = [:]
    public var cache = DataCache()
    public var verify = VerifyOptions()
    /// Values for the placeholders of recorded command lines (`MLPACK_SECRET_API_KEY`), on
    /// top of the environment variables of those names.
    public var secrets: [String: String] = [:]
    /// Where the runs' Python comes from (`--python-env`, `--index-url`, …).
    public var python = PythonEnvironmentOptions()
    /// Start the replay at this run (an id, a prefix of one, or a name): the runs before it
    /// are not replayed, and what later runs read of theirs comes from the packed checkpoints.
    public var from: String?
    /// Gets each run's output as it runs (made safe for a terminal), besides its log.
    public var follow: (@Sendable ([UInt8]) -> Void)?
    /// All of the rebuild, or one part of it when a scheduler runs each run as a job.
    public var stage = RebuildStage.whole

    public init() {}
}

/// How much of a rebuild one process does. A batch scheduler (`--slurm`) runs each replayed
/// run as a job of its own (`run`), each in the shared `workdir`, where the runs before it
/// left their workspaces; then one process compares what they all wrote (`collect`).
public enum RebuildStage: Sendable, Equatable {
    case whole
    /// Replays this run (an id of the lineage) alone, and records its result in
    /// `<workdir>/results/<id>.json`.
    case run(String)
    /// Replays nothing: takes each run's workspace and result from `workdir`, and compares.
    case collect
}

/// What each replayed run may use. Hitting a bound stops the run (or fails what it tried)
/// and the report says which bound it was.
public struct RebuildLimits: Sendable, Codable {
    /// Seconds each run may take (`--timeout`).
    public var timeout: Double = 6 * 3600
    /// Bytes a run's workspace (project, home, /tmp, /dev/shm) may take on disk; no single
    /// file may grow larger either (`--max-workspace-size`).
    public var maxWorkspaceBytes: UInt64 = 32 << 30
    /// Processes and threads a run may have at once (`--max-processes`); needs a control group.
    public var maxProcesses = 4096
    /// Memory a run may use (`--max-memory`; default three quarters of this machine's);
    /// needs a control group.
    public var maxMemory: UInt64 = ProcessInfo.processInfo.physicalMemory / 4 * 3
    /// A bound a run ran into: which, and what happened.
    public struct LimitHit: Sendable, Codable, Equatable {
        public enum Limit: String, Sendable, Codable {
            case time
            case workspaceSize = "workspace size"
            case processes, memory
        }

        public var limit: Limit
        public var detail: String
    }

    /// Which bounds this machine could not enforce, and why.
    public var notEnforced: [String] = []

    public init() {}

    /// "6 h", "90 s".
    public var timeoutText: String {
        timeout >= 3600 && timeout.truncatingRemainder(dividingBy: 3600) == 0
            ? "\(Int(timeout) / 3600) h" : String(format: "%g s", timeout)
    }

    /// "6 h, 50 GiB of disk, 4096 processes, 8 GiB of memory": for reports.
    public var summary: String {
        "\(timeoutText), \(ByteCount.text(maxWorkspaceBytes)) of disk, \(maxProcesses) processes, \(ByteCount.text(maxMemory)) of memory"
    }
}

/// What `verify --rebuild` found: the verification, each replayed run, each output compared,
/// and the drift between the pack's platform and this machine.
public struct RebuildReport: Sendable, Codable {
    public enum Verdict: String, Sendable, Codable {
        case reproduced
        case notReproduced = "not reproduced"
    }

    public struct Run: Sendable, Codable {
        public var id: String
        public var name: String?
        public var command: [String]
        /// "ok", "failed", "timed out" or "not run".
        public var status: String
        public var exitCode: Int32?
        public var signal: Int32?
        public var seconds: Double?
        public var log: String?
        /// The end of the log, when the run failed.
        public var logTail: [String]
        /// What the sandbox refused, as far as the log tells (network, writes outside the workspace).
        public var sandboxRefusals: [String]
        /// Variables the pack set that did not reach the run: all but numerics settings.
        public var ignoredVariables: [String]
        /// The bounds the run ran into.
        public var limitsHit: [RebuildLimits.LimitHit]
    }

    public struct Output: Sendable, Codable {
        public var run: String
        public var path: String
        /// The pack item compared against, when the pack holds the output.
        public var item: String?
        public var verdict: ComparisonVerdict
        /// True when the output decides the verdict (the card's outputs, shipped
        /// checkpoints, recorded metrics); other outputs are listed for information.
        public var decisive: Bool
        public var comparison: Comparison?
        public var note: String?
    }

    public var pack: String
    public var verification: VerifyReport
    public var sandbox: String
    public var limits: RebuildLimits
    public var runs: [Run]
    /// The card's tolerance with the reviewer's --atol/--rtol on top.
    public var tolerance: ComparisonTolerance
    public var outputs: [Output]
    /// The Python environment of each environment capture the runs use.
    public var pythonEnvironments: [PythonEnvironmentReport]
    /// The pack's platform against what the last run gets here (its Python as asked in the sandbox).
    public var drift: EnvironmentDiff?
    public var verdict: Verdict
    public var workdir: String?
    /// The pack's runs as `inspect` shows them (the report's lineage graph), oldest first.
    public var lineage: [LineageView.Step]
    /// The items the card names as the pack's results.
    public var cardOutputs: [String]
}

/// Replays a pack's lineage in a sandbox and compares what comes out with what the pack
/// records (spec: README "Verify by rebuild").
public enum Rebuilder {
    public static func rebuild(
        _ path: String, options: RebuildOptions, progress: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> RebuildReport {
        // 1. Signature and integrity first: nothing of a pack runs before it checked out. The
        // pack is opened once: every later read goes through this descriptor and is checked
        // against the contents the signature vouched for, so swapping the file changes nothing
        // (and a piped pack is copied once, then read from the copy).
        let pack = try PackFile(path: path, limits: options.verify.limits, randomAccess: true)
        let (verification, trusted) = try PackVerifier.verify(pack, options: options.verify)
        guard verification.verdict == .verified else {
            throw MLPackError.untrusted(
                "\(path): \(verification.signature): not rebuilding code nobody you trust vouches for")
        }
        let sandbox = try Sandbox.make(allowNetwork: options.allowNetwork, unsafeNoSandbox: options.unsafeNoSandbox)
        let read = try PackItems.read(pack, trusted: trusted) { item in
            item == Layout.card || (item.hasPrefix("runs/") || item.hasPrefix("refs/")) && item.hasSuffix(".json")
                || (item.hasPrefix("env/") && item.hasSuffix("/platform.json"))
        }
        let contents = read.contents
        guard let card = try contents.card(bytes: read.bytes(Layout.card)) else {
            throw MLPackError.integrity(entry: Layout.payloadPath(Layout.card), problem: "missing")
        }
        let runs = try read.items.filter { $0.item.role == .run }.map {
            try JSONText.decode(RunRecord.self, from: $0.bytes)
        }
        guard !runs.isEmpty else {
            throw MLPackError.usage(
                "\(path) holds no recorded runs: nothing to rebuild (`create \(input: .outputOf)` makes packs that can be rebuilt)"
            )
        }
        let whole = try replayOrder(card: card, contents: contents, runs: runs)
        let (skipped, fromPack) = try Self.start(at: options.from, of: whole, contents: contents)
        let lineage = Array(whole.dropFirst(skipped.count))
        if options.stage != .whole && options.workdir == nil {
            throw MLPackError.usage("a rebuild in parts needs \(input: .workdir) DIR, shared by every part")
        }
        if case .run(let id) = options.stage, !lineage.contains(where: { $0.id == id }) {
            throw MLPackError.usage(
                "\(path): no run \(id) to replay (its runs: \(lineage.map(\.id).joined(separator: ", ")))")
        }
        // Secrets the author's command lines held were replaced when recorded: the
        // reviewer gives their own, and nothing runs while one is missing.
        let secrets = Host.current.environment.filter { $0.key.hasPrefix("MLPACK_SECRET_") }.merging(
            options.secrets
        ) { $1 }
        var missing: [String] = []
        for name in lineage.flatMap({ SecretScrubber.fill($0.argv, from: secrets).missing })
        where !missing.contains(name) {
            missing.append(name)
        }
        guard missing.isEmpty else {
            throw MLPackError.usage(
                "\(path): the recorded command line needs the secret\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) (the author's was replaced when recorded): give \(input: .secret) NAME=VALUE, or set the environment variable of that name"
            )
        }

        // 2. The data, fetched (or found in the cache) before anything runs.
        let data = try dataSources(pack, trusted: trusted, options: options, progress: progress)

        // 3. The work folder: one fresh workspace per run.
        // Absolute and real: the sandbox binds it at the same path, and binds follow links.
        let workdir = try RunFiles.canonical(
            options.workdir ?? FileSystem.makeTemporaryDirectory(prefix: "mlpack-rebuild"),
            cwd: Host.current.workingDirectory)
        try FileSystem.makeDirectories(workdir)
        var replay = Replay(
            pack: pack, contents: contents, data: data, sandbox: sandbox, workdir: workdir, limits: options.limits)
        replay.secrets = secrets
        replay.fromPack = fromPack
        var captures: [String: EnvironmentCapture] = [:]
        for loaded in read.items
        where loaded.item.path.hasPrefix("env/") && loaded.item.path.hasSuffix("/platform.json") {
            guard let capture = try? EnvironmentCapture.decode(loaded.bytes) else { continue }
            // By folder: a published pack's platform record may have lost a variable since
            // its id, the digest of the author's, was taken.
            let id = String(loaded.item.path.split(separator: "/")[1])
            captures[id] = capture
            replay.recordedVariables[id] = capture.environment
            replay.recordedPython[id] = capture.python?.version
        }

        // 4. The Python of each environment capture the runs use, built before anything runs
        // and outside the sandbox: the only step that may use the network.
        replay.pythonSource = options.python.source
        replay.follow = options.follow
        var pythonReports: [PythonEnvironmentReport] = []
        var probes: [String: String] = [:]
        var seen = Set<String>()
        let needed = lineage.filter { run in
            if case .run(let id) = options.stage { return run.id == id }
            return true
        }
        for run in needed where seen.insert(run.environment).inserted {
            guard let capture = captures[run.environment], capture.python != nil else { continue }
            var report: PythonEnvironmentReport
            if options.python.source == .pack {
                let files = lineage.filter { $0.environment == run.environment }.flatMap { $0.code.files.map(\.path) }
                let built: PythonEnvironment
                do {
                    (built, report) = try PythonEnvironmentBuilder.build(
                        capture, id: run.environment, projectFiles: files, options: options.python,
                        target: .cache(root: options.cache.root, scratch: workdir), progress: progress)
                } catch {
                    if options.workdir == nil { FileSystem.removeTree(workdir) }
                    throw error
                }
                replay.pythonEnvironments[run.environment] = built
                if built.hasProject && sandbox.bubblewrap == nil {
                    // The project's import root is a bind of the sandbox, which there is none of.
                    report.notes.append(
                        "without the sandbox the project's editable install points nowhere: imports of it fail")
                }
                progress(
                    "Python environment of \(run.environment): \(report.reused ? "reused from the cache" : "built") in \(String(format: "%.1f s", report.seconds ?? 0))"
                )
                report.notInstalled.forEach {
                    progress(
                        "Python environment of \(run.environment): not installed: \($0.name) \($0.version): \($0.reason)"
                    )
                }
            } else {
                report = PythonEnvironmentReport(
                    environment: run.environment, source: .host, recorded: capture.python?.version)
                // A venv below /tmp, or gone: said, never silently swapped.
                if let program = run.argv.first, RunRecorder.isPython(program),
                    let used = Replay.hostInterpreter(run.argv, recorded: replay.recordedPython[run.environment]).first,
                    used != program
                {
                    report.notes.append(
                        "\(program), which the run was recorded with, is not visible in the sandbox: \(used) stands for it (the drift below is this one's)"
                    )
                }
            }
            // Asked inside the sandbox, as the runs will run it.
            let probe = replay.probePython(like: run)
            probes[run.environment] = probe
            if let probe, let found = PythonParsers.probe(probe) {
                report.used = found.python.version
                if let recorded = report.recorded, recorded != found.python.version {
                    report.notes.append("Python \(found.python.version) stands for the recorded \(recorded)")
                }
                if options.python.source == .host { report.interpreter = found.executable }
            } else {
                report.used = nil
                report.notes.append("no Python answered inside the sandbox")
            }
            pythonReports.append(report)
        }
        // 5. Replay, in lineage order.
        var reportRuns: [RebuildReport.Run] = skipped.map {
            .init(
                id: $0.id, name: $0.name, command: $0.argv, status: "from the pack",
                logTail: [], sandboxRefusals: [], ignoredVariables: [], limitsHit: [])
        }
        var failed = false
        let results = workdir + "/results"
        for (number, run) in lineage.enumerated() {
            let label = "run \(number + 1)/\(lineage.count) \(run.name.map { "\"\($0)\" " } ?? "")\(run.id)"
            switch options.stage {
            case .whole: break
            case .run(let id):
                guard run.id == id else {
                    // The runs before it left their workspaces in the shared folder.
                    try replay.adopt(run)
                    continue
                }
                progress("\(label): \(run.argv.joined(separator: " "))")
                let result = try replay.run(run)
                progress("\(label): \(result.status)\(result.seconds.map { String(format: " in %.1f s", $0) } ?? "")")
                try FileSystem.makeDirectories(results)
                try Data(JSONText.encode(result)).write(
                    to: URL(fileURLWithPath: results + "/" + run.id + ".json"), options: .atomic)
                reportRuns.append(result)
                failed = result.status != "ok"
                return RebuildReport(
                    pack: path, verification: verification, sandbox: sandbox.description, limits: options.limits,
                    runs: reportRuns, tolerance: .init(), outputs: [], pythonEnvironments: pythonReports, drift: nil,
                    verdict: failed ? .notReproduced : .reproduced, workdir: workdir, lineage: [], cardOutputs: [])
            case .collect:
                guard !failed,
                    let bytes = FileManager.default.contents(atPath: results + "/" + run.id + ".json"),
                    let result = try? JSONDecoder().decode(RebuildReport.Run.self, from: bytes), result.id == run.id
                else {
                    reportRuns.append(
                        .init(
                            id: run.id, name: run.name, command: run.argv, status: "not run", logTail: [],
                            sandboxRefusals: [], ignoredVariables: [], limitsHit: []))
                    failed = true
                    continue
                }
                try replay.adopt(run)
                reportRuns.append(result)
                failed = result.status != "ok"
                continue
            }
            guard !failed else {
                reportRuns.append(
                    .init(
                        id: run.id, name: run.name, command: run.argv, status: "not run", logTail: [],
                        sandboxRefusals: [], ignoredVariables: [], limitsHit: []))
                continue
            }
            progress("\(label): \(run.argv.joined(separator: " "))")
            let result = try replay.run(run)
            result.ignoredVariables.forEach { progress("\(label): ignored variable \($0) from the pack") }
            progress("\(label): \(result.status)\(result.seconds.map { String(format: " in %.1f s", $0) } ?? "")")
            failed = result.status != "ok"
            reportRuns.append(result)
        }

        // 6. Compare every recorded output with the rebuilt one.
        let tolerance = ComparisonTolerance(
            card: card.outputs.first?.tolerance, atol: options.atol, rtol: options.rtol,
            metrics: options.metricTolerances)
        let outputs = try compareOutputs(
            lineage, card: card, contents: contents, replay: replay, tolerance: tolerance, workdir: workdir)

        // 7. The platform the pack was made on against what its last run got here.
        let drift = try? platformDrift(read, run: lineage.last!, probe: probes[lineage.last!.environment])

        var limits = options.limits
        if replay.controlGroups == false {
            limits.notEnforced.append(
                "processes and memory: no control group could be made here (cgroup v2 delegation or v1 pids and memory hierarchies)"
            )
        }
        if sandbox.prlimit == nil {
            limits.notEnforced.append("file size: prlimit (util-linux) is not installed")
        }

        let reproduced =
            !failed
            && outputs.filter(\.decisive).allSatisfy {
                [.identical, .equivalent, .withinTolerance].contains($0.verdict)
            }
        let keep = options.keep || !reproduced || options.workdir != nil
        if !keep { FileSystem.removeTree(workdir) }
        return RebuildReport(
            pack: path, verification: verification, sandbox: sandbox.description, limits: limits,
            runs: reportRuns.map {
                var run = $0; if !keep { run.log = nil }; return run
            },
            tolerance: tolerance, outputs: outputs, pythonEnvironments: pythonReports, drift: drift,
            verdict: reproduced ? .reproduced : .notReproduced,
            workdir: keep ? workdir : nil, lineage: try LineageView.steps(read), cardOutputs: card.outputs.map(\.path))
    }

    /// With `from`: the runs before it, and the pack items that stand for what later runs read
    /// of theirs (output digest → a checkpoint's item path, or a folder checkpoint's prefix).
    /// Every such output must be packed: one left to be rebuilt needs its run replayed.
    static func start(
        at from: String?, of lineage: [RunRecord], contents: PackContents
    ) throws -> (skipped: [RunRecord], fromPack: [String: String]) {
        guard let from else { return ([], [:]) }
        let matches = lineage.indices.filter { lineage[$0].id == from || lineage[$0].name == from }
        let byPrefix = lineage.indices.filter { lineage[$0].id.hasPrefix(from) }
        guard let start = matches.first ?? (byPrefix.count == 1 ? byPrefix.first : nil) else {
            throw MLPackError.usage(
                "--from \(from): no single run of the lineage is named so (its runs: \(lineage.map { run in run.name.map { "\($0) (\(run.id))" } ?? run.id }.joined(separator: ", ")))"
            )
        }
        let skipped = Array(lineage[..<start])
        var fromPack: [String: String] = [:]
        for run in lineage[start...] {
            for input in run.inputs {
                guard
                    let (producer, output) = skipped.lazy.compactMap({ earlier in
                        earlier.outputs.first { $0.sha256 == input.sha256 }.map { (earlier, $0) }
                    }).last
                else { continue }
                let path = Layout.checkpoint(run: producer.id, output: output.path)
                let packed =
                    output.kind == .file
                    ? contents.item(path)?.sha256 == output.sha256
                    : contents.items.contains { $0.role == .checkpoint && $0.path.hasPrefix(path + "/") }
                guard packed else {
                    throw MLPackError.usage(
                        "--from \(from): \(output.path), which run \(producer.id) wrote and run \(run.id) reads, is not in the pack (left to be rebuilt): start from an earlier run"
                    )
                }
                fromPack[input.sha256] = path
            }
        }
        return (skipped, fromPack)
    }

    /// The runs that produced the card's outputs, oldest first.
    private static func replayOrder(card: Card, contents: PackContents, runs: [RunRecord]) throws -> [RunRecord] {
        let sorted = runs.sorted { ($0.started, $0.id) < ($1.started, $1.id) }
        var ids = Set<String>()
        for output in card.outputs {
            guard let item = contents.item(output.path) else { continue }
            guard sorted.contains(where: { $0.outputs.contains { $0.sha256 == item.sha256 } }) else { continue }
            ids.formUnion(try Lineage.of(sha256: item.sha256, named: output.path, among: sorted).runs.map(\.id))
        }
        guard !ids.isEmpty else {
            throw MLPackError.usage(
                "no recorded run of the pack wrote its outputs (\(card.outputs.map(\.path).joined(separator: ", ")))")
        }
        return sorted.filter { ids.contains($0.id) }
    }

    /// Every data reference's files, by content: fetched into the cache first. What cannot be
    /// fetched is one clear error naming the reference and where it was looked for.
    private static func dataSources(
        _ pack: PackFile, trusted: PackContents, options: RebuildOptions, progress: @Sendable (String) -> Void
    ) throws -> DataSources {
        let references = try DataFetcher.references(in: pack, trusted: trusted)
        if references.contains(where: { $0.reference.inline == nil }) {
            progress("fetching data references into \(options.cache.root)")
            do { _ = try DataFetcher.fetch(references, of: pack.path, cache: options.cache) } catch let error
                as MLPackError where error.category == .usage
            {
                throw MLPackError.usage("cannot rebuild \(pack.path): \(error)")
            }
        }
        return DataSources(references: references, cache: options.cache)
    }

    private static func compareOutputs(
        _ lineage: [RunRecord], card: Card, contents: PackContents, replay: Replay, tolerance: ComparisonTolerance,
        workdir: String
    ) throws -> [RebuildReport.Output] {
        let cardOutputs = Set(card.outputs.compactMap { contents.item($0.path)?.sha256 })
        let shipped = Dictionary(
            contents.items.filter(\.role.isOutput).map { ($0.sha256, $0) },
            uniquingKeysWith: { first, _ in first })
        let expectedFolder = Workspace.expectedFolder(in: workdir)
        var results: [RebuildReport.Output] = []
        for run in lineage {
            // What the run was given (its code, its inputs) is no evidence that it makes it.
            let given = Set(run.inputs.map(\.sha256)).union(run.code.files.map(\.sha256))
            for output in Self.filesToCompare(run, contents: contents) {
                let item = shipped[output.sha256]
                var result = RebuildReport.Output(
                    run: run.id, path: output.path, item: item?.path, verdict: .missing,
                    decisive: cardOutputs.contains(output.sha256) || item != nil || output.path == run.metricsPath,
                    comparison: nil, note: nil)
                if given.contains(output.sha256) {
                    result.note =
                        "the run is given these bytes as code or an input: a rebuild must make them, not copy them"
                    results.append(result)
                    continue
                }
                let (opened, problem) = replay.rebuiltOutput(run: run, output: output)
                guard let opened else {
                    result.note =
                        problem == "no such file" || problem == "not replayed"
                        ? "the rebuild did not write it"
                        : "\(problem ?? "unreadable"): not a regular file in the workspace, not read"
                    results.append(result)
                    continue
                }
                // Read through the descriptor opened without following links, never by path again.
                let rebuilt = opened.openedPath
                if let item {
                    try FileSystem.makeDirectories(expectedFolder)
                    // Named by digest (never by a name from the record) and like the output:
                    // the extension says how to compare it.
                    let expected = expectedFolder + "/" + item.sha256 + "-" + Self.plainName(output.path)
                    if FileSystem.status(expected) == nil { try PackItems.copy(item, from: replay.pack, to: expected) }
                    var comparison = try OutputComparison.compare(
                        expected: expected, actual: rebuilt, tolerance: tolerance, expectedSHA256: item.sha256)
                    comparison.actualUnreadable = comparison.actualUnreadable?.replacingOccurrences(
                        of: rebuilt, with: output.path)
                    result.comparison = comparison
                    result.verdict = comparison.verdict
                } else if output.path == run.metricsPath, let metrics = run.metrics {
                    let comparison = OutputComparison.compareMetrics(
                        expected: metrics, actual: (try? MetricsJSON.read(rebuilt)) ?? .null, tolerance: tolerance)
                    result.comparison = comparison
                    result.verdict = comparison.verdict
                } else {
                    // Not in the pack: only its digest is known, and it does not decide the verdict.
                    let sha256 = try FileHashing.hash(file: rebuilt).sha256
                    result.verdict = sha256 == output.sha256 ? .identical : .different
                    result.note = "not in the pack: compared by SHA-256 only, for information"
                }
                results.append(result)
            }
        }
        // Every card output decides the verdict, written by a replayed run or not.
        for output in card.outputs {
            guard let item = contents.item(output.path),
                !results.contains(where: { $0.decisive && $0.item.flatMap(contents.item)?.sha256 == item.sha256 })
            else { continue }
            results.append(
                RebuildReport.Output(
                    run: "", path: output.path, item: item.path, verdict: .missing, decisive: true, comparison: nil,
                    note: "no replayed run records writing it"))
        }
        return results
    }

    /// A run's file outputs, and the files of its folder outputs that the pack ships as a
    /// checkpoint (an untraced run records the folder only).
    private static func filesToCompare(_ run: RunRecord, contents: PackContents) -> [RunRecord.FileRecord] {
        var files = run.outputs.filter { $0.kind == .file }
        let paths = Set(files.map(\.path))
        for folder in run.outputs where folder.kind == .directory {
            let packed = Layout.checkpoint(run: run.id, output: folder.path) + "/"
            for item in contents.items where item.role == .checkpoint && item.path.hasPrefix(packed) {
                let path = folder.path + "/" + item.path.dropFirst(packed.count)
                guard !paths.contains(path) else { continue }
                files.append(RunRecord.FileRecord(path: path, kind: .file, sha256: item.sha256, size: item.size))
            }
        }
        return files
    }

    /// The last component of a recorded path, reduced to characters safe in a file name.
    private static func plainName(_ path: String) -> String {
        let name = (path as NSString).lastPathComponent
        let safe = String(
            name.unicodeScalars.map {
                $0.isASCII
                    && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0))
                    ? Character($0) : "_"
            })
        return String(safe.suffix(64))
    }

    private static func platformDrift(
        _ read: PackItems.Result, run: RunRecord, probe: String?
    ) throws -> EnvironmentDiff? {
        guard let bytes = read.bytes("env/\(run.environment)/platform.json") else { return nil }
        let recorded = try EnvironmentCapture.decode(bytes)
        // This machine, with the Python the sandbox gave the run (not one outside it).
        var raw = EnvironmentProbe.collect(python: nil, askPython: false)
        raw.pythonProbe = probe
        let current = raw.build().platform
        var drift = EnvironmentDiff(recorded, current)
        // Lock files belong to the code snapshot, which this machine's capture has not seen.
        drift.entries.removeAll { $0.field.hasPrefix("lockfile") }
        return drift
    }
}

/// Where each data reference's files are, by the digest runs recorded for their inputs.
struct DataSources {
    let references: [DataFetcher.Loaded]
    let cache: DataCache

    func reference(forDigest digest: String) -> DataFetcher.Loaded? {
        references.first { $0.reference.digest == digest }
    }
}
