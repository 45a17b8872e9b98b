import Foundation

/// The run store, `.mlpack/` at the project root (the git root, else the folder `mlpack run`
/// started in). It ignores itself for git, and keeps:
///
///     .mlpack/runs/<run-id>.json          run records
///     .mlpack/objects/sha256/<hex>        file contents: code seen by runs, folder listings
///     .mlpack/env/<env-id>/…              environment captures (platform, packages, host)
///     .mlpack/active/run-<random>         runs in progress (and `….overlapped` flags)
public struct RunStore: Sendable {
    public static let directoryName = ".mlpack"

    /// The project root.
    public let projectRoot: String
    public var root: String { projectRoot + "/" + Self.directoryName }

    public init(projectRoot: String) {
        self.projectRoot = projectRoot
    }

    /// The store of the project `directory` belongs to: its git work tree's root, else the
    /// nearest folder up that already has a store, else `directory` itself.
    public static func locate(from directory: String) -> RunStore {
        let absolute = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        if let output = try? Git.run(["rev-parse", "--show-toplevel"], in: absolute) {
            let top = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !top.isEmpty { return RunStore(projectRoot: top) }
        }
        var candidate = absolute
        while candidate != "/" && !candidate.isEmpty {
            if FileSystem.status(candidate + "/" + directoryName)?.isDirectory == true {
                return RunStore(projectRoot: candidate)
            }
            candidate = (candidate as NSString).deletingLastPathComponent
        }
        return RunStore(projectRoot: absolute)
    }

    var runsDirectory: String { root + "/runs" }
    var objectsDirectory: String { root + "/objects/sha256" }
    var environmentsDirectory: String { root + "/env" }

    /// Creates the store's folders and its `.gitignore` (`*`: the store is never committed).
    func prepare() throws {
        for folder in [runsDirectory, objectsDirectory, environmentsDirectory] {
            try FileSystem.makeDirectories(folder)
        }
        let ignore = root + "/.gitignore"
        if FileSystem.status(ignore) == nil {
            do { try "*\n".write(toFile: ignore, atomically: true, encoding: .utf8) } catch {
                throw MLPackError.io(path: ignore, reason: "cannot write")
            }
        }
    }

    // MARK: Runs

    public func save(_ run: RunRecord) throws {
        try prepare()
        let path = runsDirectory + "/" + run.id + ".json"
        do { try Data(try JSONText.encode(run)).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw MLPackError.io(path: path, reason: "cannot write the run record")
        }
    }

    /// Every recorded run, oldest first.
    public func runs() throws -> [RunRecord] { try records(RunRecord.self) }

    /// Each run's id and what it wrote (path and digest), oldest first: what lineage links
    /// by, read without decoding whole records (a traced run's inputs can number thousands).
    func runOutputs() throws -> [RunOutputs] { try records(RunOutputs.self) }

    private func records<Record: Decodable & RunOrder>(_ type: Record.Type) throws -> [Record] {
        guard FileSystem.status(runsDirectory)?.isDirectory == true else { return [] }
        return try FileSystem.directoryEntries(runsDirectory).filter { $0.hasSuffix(".json") }.map { name in
            let path = runsDirectory + "/" + name
            guard let bytes = FileManager.default.contents(atPath: path),
                let run = try? JSONText.decode(Record.self, from: Array(bytes))
            else {
                throw MLPackError.io(path: path, reason: "not a valid run record")
            }
            return run
        }.sorted { ($0.started, $0.id) < ($1.started, $1.id) }
    }

    /// The run whose id is `id` or starts with it (unambiguously).
    public func run(_ id: String) throws -> RunRecord {
        let matches = try runs().filter { $0.id == id || $0.id.hasPrefix(id) }
        if let exact = matches.first(where: { $0.id == id }) { return exact }
        guard matches.count == 1 else {
            throw MLPackError.usage(
                matches.isEmpty
                    ? "no run \(id) in \(root)"
                    : "run id \(id) is ambiguous: \(matches.map(\.id).joined(separator: ", "))")
        }
        return matches[0]
    }

    // MARK: Runs in progress

    var activeDirectory: String { root + "/active" }

    /// One run in progress, marked in the store from before its command started until after
    /// its outputs were looked for, so that runs of the project overlapping in time know of
    /// each other: a file one of them wrote is a changed file to the others. The marker is
    /// locked (flock) while the run's mlpack lives, so one it left when killed is told apart.
    struct Activity: Sendable {
        let store: RunStore
        let marker: String
        let lock: Int32
        /// Another run was in progress when this one began.
        let began: Bool

        /// Ends the run's activity: whether another run of the project was in progress at any
        /// moment since `beginActivity`. The runs still in progress are flagged, for them to
        /// know of this one when they end.
        func end() -> Bool {
            let others = store.otherActivities(than: marker)
            for other in others {
                close(open(store.activeDirectory + "/" + other + ".overlapped", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644))
            }
            let flagged = FileSystem.status(store.activeDirectory + "/" + marker + ".overlapped") != nil
            unlink(store.activeDirectory + "/" + marker)
            unlink(store.activeDirectory + "/" + marker + ".overlapped")
            close(lock)
            return began || flagged || !others.isEmpty
        }
    }

    /// Marks a run as in progress (see `Activity`).
    func beginActivity() throws -> Activity {
        try prepare()
        try FileSystem.makeDirectories(activeDirectory)
        // Locked before it is given its name: no other run may take it for a dead run's.
        let incoming = FileSystem.temporaryName(in: activeDirectory, prefix: ".incoming-")
        let fd = open(incoming, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else {
            throw MLPackError.io(path: incoming, reason: PosixFile.lastError())
        }
        let marker = FileSystem.temporaryName(in: activeDirectory, prefix: "run-")
        try FileSystem.rename(incoming, marker)
        let name = (marker as NSString).lastPathComponent
        return Activity(store: self, marker: name, lock: fd, began: !otherActivities(than: name).isEmpty)
    }

    /// The markers of the other runs in progress; those no mlpack holds any more (killed
    /// before it could clean up) are removed, and so are flags whose run has ended.
    private func otherActivities(than marker: String) -> [String] {
        let names = (try? FileSystem.directoryEntries(activeDirectory)) ?? []
        return names.filter { name in
            let path = activeDirectory + "/" + name
            if name.hasSuffix(".overlapped") {
                if !names.contains(String(name.dropLast(".overlapped".count))) { unlink(path) }
                return false
            }
            guard name != marker, name.hasPrefix("run-") else { return false }
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return true }
            unlink(path)
            unlink(path + ".overlapped")
            return false
        }
    }

    // MARK: Objects

    public func objectPath(_ sha256: String) -> String { objectsDirectory + "/" + sha256 }

    func hasObject(_ sha256: String) -> Bool { FileSystem.status(objectPath(sha256))?.isRegular == true }

    /// Copies a file into the objects, unless its content is there already; returns its
    /// digest. The copy is hashed as it is written, so a file edited meanwhile cannot slip in
    /// under another file's digest.
    @discardableResult
    func storeObject(copying path: String, expected sha256: String? = nil) throws -> String {
        if let sha256, hasObject(sha256) { return sha256 }
        try prepare()
        let temporary = FileSystem.temporaryName(in: objectsDirectory, prefix: ".incoming-")
        let copy = try Downloader.fetch(
            URL(fileURLWithPath: path).absoluteString, to: temporary, maxBytes: .max, progress: nil)
        if hasObject(copy.sha256) {
            unlink(temporary)
        } else {
            try FileSystem.setPermissions(temporary, 0o444)
            try FileSystem.rename(temporary, objectPath(copy.sha256))
        }
        return copy.sha256
    }

    @discardableResult
    func storeObject(bytes: [UInt8]) throws -> String {
        let sha256 = SHA256Hasher.hex(bytes)
        guard !hasObject(sha256) else { return sha256 }
        try prepare()
        let temporary = FileSystem.temporaryName(in: objectsDirectory, prefix: ".incoming-")
        do { try Data(bytes).write(to: URL(fileURLWithPath: temporary)) } catch {
            throw MLPackError.io(path: temporary, reason: "cannot write")
        }
        try FileSystem.setPermissions(temporary, 0o444)
        try FileSystem.rename(temporary, objectPath(sha256))
        return sha256
    }

    func object(_ sha256: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: objectPath(sha256)) else {
            throw MLPackError.io(path: objectPath(sha256), reason: "object missing from the run store")
        }
        return Array(data)
    }

    // MARK: Environments

    /// Keeps an environment capture once per id; returns the id.
    @discardableResult
    func storeEnvironment(_ platform: EnvironmentCapture, host: HostRecord) throws -> String {
        let folder = environmentsDirectory + "/" + platform.id
        if FileSystem.status(folder + "/platform.json") == nil {
            try FileSystem.makeDirectories(folder)
            for file in platform.packFiles(host: host) {
                do {
                    try Data(file.bytes).write(to: URL(fileURLWithPath: folder + "/" + file.name), options: .atomic)
                } catch {
                    throw MLPackError.io(path: folder + "/" + file.name, reason: "cannot write")
                }
            }
        }
        return platform.id
    }

    /// The files of a stored capture, with their roles (as in a pack's `env/<id>/`).
    func environmentFiles(_ id: String) throws -> [(name: String, role: Role, bytes: [UInt8])] {
        let folder = environmentsDirectory + "/" + id
        let files: [(String, Role)] = [("platform.json", .env), ("python-packages.txt", .env), ("host.json", .host)]
        return files.compactMap { name, role in
            FileManager.default.contents(atPath: folder + "/" + name).map { (name, role, Array($0)) }
        }
    }
}

/// The part of a run record lineage needs.
struct RunOutputs: Decodable, RunOrder {
    struct Output: Decodable {
        var path: String
        var sha256: String
    }
    var id: String
    var started: String
    var outputs: [Output]
}

/// How run records are ordered: by start, then id.
protocol RunOrder {
    var id: String { get }
    var started: String { get }
}

extension RunRecord: RunOrder {}
