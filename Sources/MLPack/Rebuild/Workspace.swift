import Foundation

/// The fresh folder one replayed run works in: its project root holds the run's code
/// snapshot and its inputs at the paths the run read them from.
struct Workspace {
    /// `<workdir>/<run id>`: the only folder the sandbox lets the run write.
    let root: String
    /// The project root inside it: `<root>/project`.
    var project: String { root + "/project" }
    /// Where the run's own files (log, home) go, outside the project.
    var log: String { root + "/run.log" }
    var home: String { root + "/home" }

    init(workdir: String, run: RunRecord) throws {
        // The record comes from a pack: its id names a folder, so it must be one plain name.
        guard PackPath.problem(with: run.id) == nil, !run.id.contains("/") else {
            throw MLPackError.integrity(entry: "runs/\(run.id).json", problem: "the run id is not a plain name")
        }
        root = workdir + "/" + run.id
        guard FileSystem.status(root) == nil else {
            throw MLPackError.usage("\(root) exists already: give an empty --workdir")
        }
        try FileSystem.makeDirectories(root + "/project")
        try FileSystem.makeDirectories(root + "/home")
    }

    /// The absolute path of a path the run recorded relative to its project root; nil when
    /// the recorded path could leave the project (`..`, absolute: a hostile record).
    func path(_ recorded: String) -> String? {
        if recorded == "." { return project }
        return PackPath.problem(with: recorded) == nil ? project + "/" + recorded : nil
    }

    /// Writes one file at `relative` below the project (parents created; never through a
    /// link: the paths come from a pack, checked against the path rules first).
    /// `outside` puts it below the workspace root instead (inputs named by absolute path,
    /// which the sandbox binds where the run expects them).
    func place(_ relative: String, outside: Bool = false, mode: UInt32, write: (PosixFile) throws -> Void) throws {
        if let problem = PackPath.problem(with: relative) {
            throw MLPackError.integrity(entry: relative, problem: "cannot be placed in a workspace: \(problem)")
        }
        let target = (outside ? root : project) + "/" + relative
        try FileSystem.makeDirectories((target as NSString).deletingLastPathComponent)
        if FileSystem.status(target) != nil { try FileManager.default.removeItem(atPath: target) }
        let file = try PosixFile(path: target, mode: .createExclusive, permissions: 0o600)
        try write(file)
        try FileSystem.setPermissions(target, mode_t(mode))
    }

    /// Copies a local file (a cached blob, an earlier run's output) to `relative`.
    func copy(_ source: String, to relative: String, outside: Bool = false, mode: UInt32 = 0o644) throws {
        try place(relative, outside: outside, mode: mode) { file in
            let input = try PosixFile(path: source, mode: .read)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
            defer { buffer.deallocate() }
            while true {
                let n = try input.read(into: buffer)
                if n == 0 { break }
                try file.write(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            }
        }
    }
}
