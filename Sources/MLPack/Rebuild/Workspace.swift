import Foundation

/// The fresh folder one replayed run works in: its project root holds the run's code
/// snapshot and its inputs at the paths the run read them from.
///
/// The work folder keeps what the runs may write apart from what mlpack itself keeps:
/// `runs/<id>/` is the one folder a run may write (bound into its sandbox), `logs/<id>.log`
/// and `expected/` (the pack's outputs to compare against) are mlpack's, out of every run's
/// reach. A record's id only ever becomes a checked leaf name below `runs/` and `logs/`.
final class Workspace {
    /// `<workdir>/runs/<run id>`: the only folder the sandbox lets the run write.
    let root: String
    /// `<workdir>/logs/<run id>.log`: the run's output, written by mlpack, not by the run.
    let log: String
    /// The project root inside it: `<root>/project`.
    var project: String { root + "/project" }
    /// The run's home, /tmp and /dev/shm: on the workspace's disk, counted in its size.
    var home: String { root + "/home" }
    var tmp: String { root + "/tmp" }
    var shm: String { root + "/shm" }

    /// mlpack's own folder for the outputs it compares against.
    static func expectedFolder(in workdir: String) -> String { workdir + "/expected" }

    /// Bytes mlpack may place before the run starts (its code and inputs), and how many it has:
    /// a record listing one item a million times must not fill the disk before anything runs.
    private let maxPlacedBytes: UInt64
    private var placed: UInt64 = 0

    convenience init(workdir: String, run: RunRecord, maxBytes: UInt64) throws {
        try self.init(workdir: workdir, id: run.id, maxBytes: maxBytes)
    }

    /// A workspace named `id` (a run's id, or mlpack's own for the interpreter probe).
    init(workdir: String, id: String, maxBytes: UInt64) throws {
        maxPlacedBytes = maxBytes
        // The record comes from a pack: its id names a folder, so it must be one plain name.
        guard PackPath.problem(with: id) == nil, !id.contains("/") else {
            throw MLPackError.integrity(entry: Layout.runRecord(id), problem: "the run id is not a plain name")
        }
        root = workdir + "/runs/" + id
        log = workdir + "/logs/" + id + ".log"
        guard FileSystem.status(root) == nil, FileSystem.status(log) == nil else {
            throw MLPackError.usage("\(root) exists already: give an empty \(input: .workdir)")
        }
        for folder in [project, home, tmp, shm, workdir + "/logs"] { try FileSystem.makeDirectories(folder) }
        try FileSystem.setPermissions(tmp, 0o1777)
        try FileSystem.setPermissions(shm, 0o1777)
    }

    /// The workspace an earlier process left for run `id` in `workdir` (a rebuild whose runs
    /// were replayed one per job), taken as it is.
    init(existing workdir: String, id: String) throws {
        maxPlacedBytes = 0
        guard PackPath.problem(with: id) == nil, !id.contains("/") else {
            throw MLPackError.integrity(entry: Layout.runRecord(id), problem: "the run id is not a plain name")
        }
        root = workdir + "/runs/" + id
        log = workdir + "/logs/" + id + ".log"
        guard FileSystem.status(root)?.isDirectory == true else {
            throw MLPackError.usage("\(root): run \(id) was not replayed in \(workdir)")
        }
    }

    /// The absolute path of a path the run recorded relative to its project root; nil when
    /// the recorded path could leave the project (`..`, absolute: a hostile record).
    func path(_ recorded: String) -> String? {
        if recorded == "." { return project }
        return PackPath.problem(with: recorded) == nil ? project + "/" + recorded : nil
    }

    /// Opens a file the run left at `recorded`, never through a link (see
    /// `PosixFile.openBeneath`): the only way mlpack reads what a run wrote.
    func open(_ recorded: String) -> (file: PosixFile?, problem: String?) {
        guard PackPath.problem(with: recorded) == nil else { return (nil, "not a path below the project") }
        return PosixFile.openBeneath(root, "project/" + recorded)
    }

    /// Writes one file at `relative` below the project (parents created; never through a
    /// link: the paths come from a pack, checked against the path rules first).
    /// `outside` puts it below the workspace root instead (inputs named by absolute path,
    /// which the sandbox binds where the run expects them).
    /// `size` is what `write` will write, counted against the workspace size limit first;
    /// `mode` keeps only the permission bits (never setuid or setgid, never writable by others).
    func place(
        _ relative: String, outside: Bool = false, size: UInt64, mode: UInt32, write: (PosixFile) throws -> Void
    ) throws {
        if let problem = PackPath.problem(with: relative) {
            throw MLPackError.integrity(entry: relative, problem: "cannot be placed in a workspace: \(problem)")
        }
        placed += size
        guard placed <= maxPlacedBytes else {
            throw MLPackError.usage(
                "\(root): the run's code and inputs take more than the workspace size limit (\(ByteCount.text(maxPlacedBytes)); \(input: .maxWorkspaceSize))"
            )
        }
        let target = (outside ? root : project) + "/" + relative
        try FileSystem.makeDirectories((target as NSString).deletingLastPathComponent)
        if FileSystem.status(target) != nil { try FileManager.default.removeItem(atPath: target) }
        let file = try PosixFile(path: target, mode: .createExclusive, permissions: 0o600)
        try write(file)
        try FileSystem.setPermissions(target, mode_t(mode & 0o755))
    }

    /// Copies an open file (a cached blob, an earlier run's output) to `relative`.
    func copy(_ input: PosixFile, to relative: String, outside: Bool = false, mode: UInt32 = 0o644) throws {
        try place(relative, outside: outside, size: input.seekableSize ?? 0, mode: mode) {
            try input.stream(into: $0.write)
        }
    }
}
