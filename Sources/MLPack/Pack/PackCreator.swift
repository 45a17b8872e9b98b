import Foundation

/// What `mlpack create` packs.
public struct CreateOptions: Sendable {
    public var output: String
    public var codeDirectory: String?
    public var includes: [String] = []
    public var excludes: [String] = []
    public var weights: [String] = []
    /// Free-form notes (role note: private, withheld by `redact --public`).
    public var notes: [String] = []
    /// Pack the lineage of this file: the recorded runs that produced it (`mlpack run`).
    public var outputOf: String?
    /// Also pack these recorded runs (id prefixes) as history: record, code, environment.
    /// `redact --public` withholds those outside the outputs' lineage.
    public var runs: [String] = []
    /// With `outputOf`: ship intermediate checkpoints (else a rebuild regenerates them).
    public var includeCheckpoints = true
    /// How closely a rebuild must reproduce the outputs (recorded in the card).
    public var tolerance: Card.Tolerance?
    /// The Python interpreter whose version and packages are recorded (default: python3).
    public var python: String?
    /// A saved capture to record instead of probing this machine: an `EnvironmentSource`
    /// (a `mlpack env --json` file, or a pack, `PACK#ID`; `current` is the default, a probe).
    /// Its lock files are this pack's.
    public var environment: String?
    /// Data named by reference (hashes and URIs), or stored inline.
    public var data: [DataInput] = []
    /// `--data-uri` for the data references a lineage makes of its runs' inputs, by the
    /// reference's name in the pack.
    public var referenceURIs: [String: [String]] = [:]
    public var name: String?
    public var title: String?
    public var created: Date
    /// Signs the manifest and derives the disclosure salts; nil writes an unsigned pack.
    public var signingKey: SecretKey?
    /// Replace an existing file at `output`.
    public var force = false

    public init(output: String, created: Date) {
        self.output = output
        self.created = created
    }

    /// Why a saved environment cannot go with the other options, if it cannot: the CLI asks
    /// before it prompts for a password, `PackCreator` before it reads anything.
    public static func environmentContradiction(environment: String?, outputOf: String?, python: String?) -> Message? {
        guard let environment, environment != EnvironmentSource.currentMachine else { return nil }
        if outputOf != nil {
            return
                "\(input: .environment) does not go with \(input: .outputOf): a lineage brings its runs' environments"
        }
        if python != nil {
            return
                "\(input: .environment) and \(input: .python) contradict each other: the saved capture names its Python"
        }
        return nil
    }
}

/// One `--data NAME=PATH`, with its `--data-uri`, `--data-mount` and `--inline-data`.
public struct DataInput: Sendable {
    public var name: String
    public var path: String
    public var uris: [String] = []
    public var mountPath: String?
    public var inline = false

    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

public struct CreateResult: Sendable, Codable {
    public var output: String
    public var name: String
    public var packId: String
    public var created: String
    public var items: Int
    public var payloadBytes: UInt64
    public var packBytes: UInt64
    /// Key id of the signer; nil for an unsigned pack.
    public var signer: String?
    public var warnings: [String]
    /// Data references with no URI and no copy inside (see `DataReference.unfetchableWarning`).
    public var unfetchableReferences: [String] = []
}

/// Builds a pack: plans the items, streams them into the container once, then writes the
/// disclosures, the manifest and the BagIt view (spec/FORMAT.md §5).
public enum PackCreator {
    public static func create(_ options: CreateOptions, progress: ProgressHandler? = nil) throws -> CreateResult {
        let outputPath = URL(fileURLWithPath: options.output).standardizedFileURL.path
        if FileSystem.status(outputPath) != nil && !options.force {
            throw MLPackError.usage("\(options.output) already exists (use \(input: .force) to replace it)")
        }
        let name = PackPath.sanitizedName(options.name ?? defaultName(for: outputPath))
        let created = Timestamp.format(options.created)
        var plan = Plan()

        guard
            options.codeDirectory != nil || !options.weights.isEmpty || !options.data.isEmpty || options.outputOf != nil
                || !options.runs.isEmpty
        else {
            throw MLPackError.usage(
                "nothing to pack: give \(input: .outputOf), \(input: .code), \(input: .weights) and/or \(input: .data)")
        }
        let platform = try platformCapture(options)
        var warnings: [String] = []
        var runs: [String]?
        if let outputOf = options.outputOf {
            let store = RunStore.locate(
                from: (URL(fileURLWithPath: outputOf).standardizedFileURL.path as NSString).deletingLastPathComponent)
            let lineage = try Lineage.of(file: outputOf, in: store)
            plan.referenceURIs = options.referenceURIs
            try plan.addLineage(lineage, from: store, checkpoints: options.includeCheckpoints)
            runs = lineage.runs.map(\.id)
        }
        if !options.runs.isEmpty {
            let store = RunStore.locate(
                from: options.outputOf.map { ($0 as NSString).deletingLastPathComponent }
                    ?? Host.current.workingDirectory)
            for id in options.runs { try plan.addRunHistory(try store.run(id), from: store) }
        }
        let weightPaths = try options.weights.map { try plan.addWeights($0) }
        let notePaths = try options.notes.map { try plan.addNote($0) }
        let dataPaths = try options.data.map { input in
            let added = try plan.addData(input, progress: progress)
            warnings += added.warnings
            return added.paths
        }
        warnings += plan.uriWarnings
        let unknown = Set(options.referenceURIs.keys).subtracting(plan.dataReferences)
        if let name = unknown.sorted().first {
            throw MLPackError.usage(
                "\(input: .dataURI) \(name)=…: the pack has no data reference \(name) (\(plan.dataReferences.isEmpty ? "it has none" : "it has: " + plan.dataReferences.sorted().joined(separator: ", ")))"
            )
        }
        var codeFiles: [(path: String, sha256: String)] = []
        if let codeDirectory = options.codeDirectory {
            let selection = try CodeSelection.select(
                directory: codeDirectory, includes: options.includes, excludes: options.excludes,
                alsoSkip: Set(weightPaths.flatMap { $0 } + dataPaths.flatMap { $0 } + notePaths + [outputPath]))
            warnings += selection.warnings
            codeFiles = try plan.addCode(selection, progress: progress)
        }
        // The capture is added when the writer reaches env/: everything that sorts before it
        // (the weights, the code) is written while the probe finishes.
        let environment = platform.map { platform in
            { [codeFiles] (plan: inout Plan) throws in
                let (record, host) = platform(codeFiles)
                try plan.addEnvironment(id: record.id, files: record.packFiles(host: host))
                try plan.checkPaths()
            }
        }
        let card = Card(
            name: name, title: options.title, created: created, codeSnapshots: plan.codeSnapshots,
            outputs: plan.items.filter { $0.role == .weights }.map {
                .init(path: $0.path, role: $0.role, tolerance: options.tolerance)
            },
            dataReferences: plan.dataReferences.isEmpty ? nil : plan.dataReferences.sorted(), runs: runs)
        plan.add(path: Layout.card, role: .card, source: .bytes(try JSONText.encode(card)))
        try plan.checkPaths()

        let directory = (outputPath as NSString).deletingLastPathComponent
        guard FileSystem.status(directory, followLinks: true)?.isDirectory == true else {
            throw MLPackError.io(path: options.output, reason: "its folder does not exist")
        }
        let temporary = FileSystem.temporaryName(in: directory, prefix: ".mlpack-create-")
        InterruptCleanup.register(temporary)
        defer { InterruptCleanup.unregister(temporary) }
        let file: PosixFile
        do { file = try PosixFile(path: temporary, mode: .createExclusive) } catch let MLPackError.io(_, reason) {
            throw MLPackError.io(path: options.output, reason: reason)
        }
        do {
            let result = try write(
                &plan, environment: environment, name: name, created: created,
                mtime: Timestamp.unixSeconds(options.created), key: options.signingKey,
                to: file, progress: progress)
            try FileSystem.rename(temporary, outputPath)
            return CreateResult(
                output: options.output, name: name, packId: result.packId, created: created, items: plan.items.count,
                payloadBytes: result.payloadBytes, packBytes: FileSystem.status(outputPath)?.size ?? 0,
                signer: options.signingKey?.publicKey.id,
                warnings: warnings, unfetchableReferences: plan.unfetchable.sorted())
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// The platform record this pack stores, given the code snapshot's files (for its lock
    /// files); nil for a lineage, which brings its runs' own platforms. By default this
    /// machine, probed while the files are hashed (the probe mostly waits on child
    /// processes); with `environment`, a saved capture, without a host record.
    private static func platformCapture(
        _ options: CreateOptions
    ) throws -> (([(path: String, sha256: String)]) -> (EnvironmentCapture, HostRecord?))? {
        if let contradiction = CreateOptions.environmentContradiction(
            environment: options.environment, outputOf: options.outputOf, python: options.python)
        {
            throw MLPackError.usage(contradiction)
        }
        if let source = options.environment, source != EnvironmentSource.currentMachine {
            let (platform, host) = try EnvironmentSource.loadWithHost(source)
            let saved = try platform.packable(
                source: source, homes: [Host.current.home, host?.home].compactMap { $0 })
            return { codeFiles in
                var record = saved
                record.lockFiles = LockFiles.find(in: codeFiles)
                return (record, nil)
            }
        }
        guard options.outputOf == nil else { return nil }
        let python = options.python
        let probe = BackgroundValue { EnvironmentProbe.collect(python: python) }
        return { codeFiles in
            var raw = probe.value
            raw.codeFiles = codeFiles
            let (record, host) = raw.build()
            return (record, host)
        }
    }

    private static func defaultName(for output: String) -> String {
        let base = (output as NSString).lastPathComponent
        return base.hasSuffix(".mlpack") ? String(base.dropLast(7)) : base
    }

    /// Writes the plan's items in order; `environment` completes the plan (with items under
    /// env/ only) when the writer gets there.
    private static func write(
        _ plan: inout Plan, environment: ((inout Plan) throws -> Void)?, name: String, created: String, mtime: Int64,
        key: SecretKey?, to file: PosixFile, progress: ProgressHandler?
    ) throws -> (packId: String, payloadBytes: UInt64) {
        let counter = ProgressCounter(progress, phase: "packing", total: plan.totalBytes)
        let writer = try PackWriter(output: file, topDirectory: name, mtime: mtime, progress: counter)
        var items: [Item] = []
        var written: [String: String] = [:]
        var environment = environment
        var next = 0
        while next < plan.items.count || environment != nil {
            if let complete = environment,
                next == plan.items.count || !Manifest.bytewise(plan.items[next].path, Layout.environmentDirectory + "/")
            {
                environment = nil
                try complete(&plan)
                continue
            }
            let planned = plan.items[next]
            next += 1
            let payloadPath = Layout.payloadPath(planned.path)
            let item: Item
            if let target = planned.hardlinkTarget {
                try writer.addHardlink(path: payloadPath, target: Layout.payloadPath(target), mode: planned.mode)
                item = Item(
                    path: planned.path, role: planned.role, size: planned.size, sha256: written[target]!,
                    mode: planned.mode)
            } else {
                let result = try writer.add(path: payloadPath, source: planned.source, mode: planned.mode)
                let sha256 = Hex.encode(result.sha256)
                if let expected = planned.sha256, expected != sha256, case .file(let source, _) = planned.source {
                    throw MLPackError.io(
                        path: source,
                        reason:
                            "not the content recorded for it (its SHA-256 differs: it changed since it was recorded, or while it was being packed)"
                    )
                }
                item = Item(
                    path: planned.path, role: planned.role, size: result.size, sha256: sha256, mode: planned.mode)
            }
            written[planned.path] = item.sha256
            items.append(item)
        }
        let plan = plan
        let manifest = try PackSealer.seal(
            writer, items: items, name: name, created: created, manifesting: .new(key: key)
        ) { path in
            guard let planned = plan.items.first(where: { $0.path == path }), case .bytes(let bytes) = planned.source
            else { return nil }
            return bytes
        }
        return (manifest.packId, items.reduce(0) { $0 + $1.size })
    }
}

/// The items of a pack before it is written, sorted by path at the end.
private struct Plan {
    struct Planned {
        var path: String
        var role: Role
        var mode: UInt32
        var size: UInt64
        var source: PackWriter.Source
        /// Known before writing for pre-hashed files; checked again while writing.
        var sha256: String?
        /// Identical content stored once: this item is a hard link to `hardlinkTarget`.
        var hardlinkTarget: String?
    }

    private(set) var items: [Planned] = []
    private(set) var codeSnapshots: [String] = []
    private(set) var dataReferences: [String] = []
    /// Names of the references no reviewer can fetch.
    private(set) var unfetchable: [String] = []
    var referenceURIs: [String: [String]] = [:]
    private(set) var uriWarnings: [String] = []
    private var firstWithContent: [String: String] = [:]

    var totalBytes: UInt64 {
        items.reduce(0) { total, item in
            guard item.hardlinkTarget == nil, case .file(_, let size) = item.source else { return total }
            return total + size
        }
    }

    mutating func add(path: String, role: Role, source: PackWriter.Source, mode: UInt32 = 0o644, sha256: String? = nil)
    {
        items.append(Planned(path: path, role: role, mode: mode, size: source.size, source: source, sha256: sha256))
    }

    /// Adds a weights file, or every file below a weights folder; returns the absolute paths.
    mutating func addWeights(_ path: String) throws -> [String] {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let status = FileSystem.status(absolute, followLinks: true) else {
            throw MLPackError.io(path: path, reason: "no such file or directory")
        }
        let base = (absolute as NSString).lastPathComponent
        if status.isRegular {
            add(
                path: Layout.artifactsDirectory + "/" + base, role: .weights,
                source: .file(path: absolute, size: status.size), mode: Self.mode(status))
            return [absolute]
        }
        guard status.isDirectory else { throw MLPackError.usage("\(input: .weights) \(path): not a file or directory") }
        var added: [String] = []
        for (relative, fileStatus) in try CodeSelection.walkWithStatus(absolute, skipDefaults: false).sortedBytewise(
            by: \.path)
        where fileStatus.isRegular {
            let file = absolute + "/" + relative
            add(
                path: Layout.artifactsDirectory + "/" + base + "/" + relative, role: .weights,
                source: .file(path: file, size: fileStatus.size), mode: Self.mode(fileStatus))
            added.append(file)
        }
        return added
    }

    /// Adds a note file as `notes/<name>`; returns its absolute path.
    mutating func addNote(_ path: String) throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let status = FileSystem.status(absolute, followLinks: true), status.isRegular else {
            throw MLPackError.io(path: path, reason: "no such file (a note is one file)")
        }
        add(
            path: "notes/" + (absolute as NSString).lastPathComponent, role: .note,
            source: .file(path: absolute, size: status.size))
        return absolute
    }

    /// Adds a data reference: its description, its listing (for a folder), its private
    /// local location, and with `inline` the files themselves. Returns the files' paths, and
    /// what was taken out of the URIs.
    mutating func addData(
        _ input: DataInput, progress: ProgressHandler?
    ) throws -> (paths: [String], warnings: [String]) {
        var captured = try DataReferenceCapture.capture(
            name: input.name, path: input.path, uris: input.uris, mount: input.mountPath, progress: progress)
        let name = input.name
        guard !dataReferences.contains(name) else {
            throw MLPackError.usage("\(input: .data) \(name): a data reference of that name exists already")
        }
        dataReferences.append(name)
        if input.inline {
            let directory = DataReference.inlineDirectory(name)
            captured.reference.inline = directory
            for file in captured.files {
                let status = FileSystem.status(file.absolute)
                add(
                    path: directory + "/" + file.relative, role: .data,
                    source: .file(path: file.absolute, size: file.size),
                    mode: status.map(Self.mode) ?? 0o644)
            }
        }
        if captured.reference.isUnfetchable { unfetchable.append(name) }
        add(path: DataReference.itemPath(name), role: .dataRef, source: .bytes(try JSONText.encode(captured.reference)))
        if let listing = captured.listing {
            add(path: DataReference.listingPath(name), role: .dataRef, source: .bytes(listing))
        }
        add(path: DataReference.localPath(name), role: .host, source: .bytes(try JSONText.encode(captured.local)))
        return (captured.files.map(\.absolute), captured.warnings)
    }

    /// Adds a code snapshot of the files in `selection` (see `addSnapshot`); returns them as
    /// (path relative to the snapshot, sha256), for the environment's lock files.
    @discardableResult
    mutating func addCode(
        _ selection: CodeSelection, progress: ProgressHandler?
    ) throws -> [(path: String, sha256: String)] {
        let counter = ProgressCounter(
            progress, phase: "hashing code", total: selection.files.reduce(0) { $0 + $1.size })
        let hashes = try FileHashing.hash(files: selection.files.map(\.absolutePath), progress: counter)
        let files = zip(selection.files, hashes).map { file, hash in
            SnapshotFile(
                path: file.relativePath, sha256: hash.sha256, size: hash.size, mode: file.executable ? 0o755 : 0o644,
                source: file.absolutePath)
        }
        try addSnapshot(files, git: selection.git)
        return files.map { ($0.path, $0.sha256) }
    }

    struct SnapshotFile {
        var path: String
        var sha256: String
        var size: UInt64
        var mode: UInt32
        /// Where the bytes are read from: the working tree, or the run store's objects.
        var source: String
    }

    /// Adds a code snapshot under `code/<first 12 hex digits of its tree digest>/`, with its
    /// descriptor, once per tree digest. Identical files (same content and mode: extracted, a
    /// hard link shares its target's mode) are stored once, across snapshots too.
    mutating func addSnapshot(_ files: [SnapshotFile], git: CodeSnapshotDescriptor.Git?) throws {
        let listing = Listing.sha256sum(files.map { ($0.path, $0.sha256) })
        let treeDigest = SHA256Hasher.hex(listing)
        let snapshot = Layout.codeSnapshot(treeDigest: treeDigest)
        guard !codeSnapshots.contains(snapshot) else { return }
        codeSnapshots.append(snapshot)
        for file in files {
            let path = snapshot + "/" + file.path
            var planned = Planned(
                path: path, role: .code, mode: file.mode, size: file.size,
                source: .file(path: file.source, size: file.size),
                sha256: file.sha256)
            if file.size > 0 {
                let key = "\(file.sha256) \(file.mode)"
                if let first = firstWithContent[key] {
                    planned.hardlinkTarget = first
                } else {
                    firstWithContent[key] = path
                }
            }
            items.append(planned)
        }
        let descriptor = CodeSnapshotDescriptor(
            treeDigest: treeDigest, fileCount: files.count, size: files.reduce(0) { $0 + $1.size }, git: git)
        add(path: snapshot + ".json", role: .codeSnapshot, source: .bytes(try JSONText.encode(descriptor)))
    }

    /// Adds an environment capture's files under `env/<id>/`, once per id.
    mutating func addEnvironment(id: String, files: [(name: String, role: Role, bytes: [UInt8])]) throws {
        let directory = Layout.environmentDirectory + "/" + id + "/"
        guard !items.contains(where: { $0.path.hasPrefix(directory) }) else { return }
        for file in files { add(path: directory + file.name, role: file.role, source: .bytes(file.bytes)) }
    }

    /// Adds everything a lineage needs to be rebuilt: each run's record, code snapshot and
    /// environment; the final output as weights; the checkpoints later runs read (unless a
    /// rebuild is to regenerate them); and every input no run produced, as a data reference.
    mutating func addLineage(_ lineage: Lineage, from store: RunStore, checkpoints: Bool) throws {
        for run in lineage.runs { try addRunHistory(run, from: store) }
        func file(_ record: RunRecord.FileRecord) throws -> PackWriter.Source {
            let path = record.path.hasPrefix("/") ? record.path : store.projectRoot + "/" + record.path
            guard let status = FileSystem.status(path, followLinks: true), status.isRegular, status.size == record.size
            else {
                throw MLPackError.usage(
                    "\(path): the file a recorded run wrote is gone or changed (use \(input: .noCheckpoints) to leave checkpoints to a rebuild)"
                )
            }
            return .file(path: path, size: record.size)
        }
        let finalName = (lineage.final.path as NSString).lastPathComponent
        add(
            path: "\(Layout.artifactsDirectory)/\(finalName)", role: .weights, source: try file(lineage.final),
            sha256: lineage.final.sha256)
        if checkpoints {
            var seen = Set<String>()
            for (run, output) in lineage.checkpoints where seen.insert(output.sha256).inserted {
                let path = Layout.checkpoint(run: run.id, output: output.path)
                guard output.kind == .directory else {
                    add(path: path, role: .checkpoint, source: try file(output), sha256: output.sha256)
                    continue
                }
                // A folder: each file of its recorded listing, below the folder's name.
                let listing = try ListingParser.parse(
                    try store.object(output.sha256), what: "the listing of \(output.path)")
                for entry in listing {
                    let record = RunRecord.FileRecord(
                        path: output.path + "/" + entry.relativePath, kind: .file, sha256: entry.sha256,
                        size: FileSystem.status(
                            (output.path.hasPrefix("/") ? "" : store.projectRoot + "/") + output.path + "/"
                                + entry.relativePath)?.size ?? 0)
                    add(
                        path: path + "/" + entry.relativePath, role: .checkpoint, source: try file(record),
                        sha256: entry.sha256)
                }
            }
        }
        var named = Set<String>()
        for (_, input) in lineage.externalInputs where named.insert(input.sha256).inserted {
            try addReference(to: input, from: store)
        }
    }

    /// A run's record, code snapshot and environment, once per run.
    mutating func addRunHistory(_ run: RunRecord, from store: RunStore) throws {
        let path = Layout.runRecord(run.id)
        guard !items.contains(where: { $0.path == path }) else { return }
        add(path: path, role: .run, source: .bytes(try JSONText.encode(run)))
        try addSnapshot(
            run.code.files.map {
                SnapshotFile(
                    path: $0.path, sha256: $0.sha256, size: $0.size, mode: $0.mode, source: store.objectPath($0.sha256))
            }, git: run.code.git)
        try addEnvironment(id: run.environment, files: store.environmentFiles(run.environment))
    }

    /// A data reference for a run's input, from what the run recorded (the data itself
    /// need not be here any more).
    private mutating func addReference(to input: RunRecord.FileRecord, from store: RunStore) throws {
        var name = PackPath.sanitizedName((input.path as NSString).lastPathComponent)
        var suffix = 2
        while dataReferences.contains(name) {
            name = PackPath.sanitizedName((input.path as NSString).lastPathComponent) + "-\(suffix)"
            suffix += 1
        }
        dataReferences.append(name)
        let inside = !input.path.hasPrefix("/")
        let absolute = inside ? store.projectRoot + "/" + input.path : input.path
        var reference = DataReference(
            name: name, kind: input.kind, size: input.size, fileCount: input.fileCount ?? 1, uris: [],
            mountPath: inside ? input.path : (input.path as NSString).lastPathComponent)
        let given = try DataReference.publicURIs(referenceURIs[name] ?? [], name: name)
        reference.uris = given.uris
        uriWarnings += given.warnings
        if reference.isUnfetchable { unfetchable.append(name) }
        if input.kind == .directory {
            reference.treeDigest = input.sha256
            add(path: DataReference.listingPath(name), role: .dataRef, source: .bytes(try store.object(input.sha256)))
        } else {
            reference.sha256 = input.sha256
        }
        add(path: DataReference.itemPath(name), role: .dataRef, source: .bytes(try JSONText.encode(reference)))
        let local = LocalDataLocation(uris: [URL(fileURLWithPath: absolute).absoluteString])
        add(path: DataReference.localPath(name), role: .host, source: .bytes(try JSONText.encode(local)))
    }

    /// Sorts the items and checks every path against the pack rules, before anything is written.
    mutating func checkPaths() throws {
        items = items.sortedBytewise(by: \.path)
        var folded: [String: String] = [:]
        for item in items {
            if let problem = PackPath.problem(with: item.path) {
                throw MLPackError.usage(
                    "cannot pack \(item.path): \(problem) (rename it, or leave it out with \(input: .exclude))")
            }
            if let other = folded.updateValue(item.path, forKey: PackPath.caseFoldKey(item.path)) {
                throw MLPackError.usage(
                    other == item.path
                        ? "cannot pack \(item.path) twice (two \(input: .weights) with the same name?)"
                        : "cannot pack both \(other) and \(item.path): names differ only by case")
            }
        }
        // A hard link must come after its target; sorting could reorder equal content.
        var seen = Set<String>()
        for index in items.indices {
            if let target = items[index].hardlinkTarget, !seen.contains(target) {
                items[index].hardlinkTarget = nil
            }
            seen.insert(items[index].path)
        }
    }

    private static func mode(_ status: FileSystem.Status) -> UInt32 { status.isExecutable ? 0o755 : 0o644 }
}
