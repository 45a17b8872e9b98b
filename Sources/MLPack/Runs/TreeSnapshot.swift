import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the project's files looked like, by `lstat` alone (no reading): taken before and
/// after a run, the files that are new or changed are the run's outputs, wherever it wrote
/// them, git-ignored folders such as `checkpoints/` included.
struct TreeSnapshot {
    struct Entry: Equatable {
        var size: UInt64
        /// Modification time in nanoseconds since the epoch.
        var modified: Int64
        var inode: UInt64
        /// Catches a rewrite in place that keeps the size within one mtime tick.
        var changed: Int64
    }

    /// Regular files by path relative to the root.
    var files: [String: Entry]

    /// Walks `root`, never following links, skipping what is never an output (`isSkipped`).
    static func take(_ root: String) -> TreeSnapshot {
        var files: [String: Entry] = [:]
        var pending = [""]
        while let relative = pending.popLast() {
            let folder = relative.isEmpty ? root : root + "/" + relative
            guard let directory = opendir(folder) else { continue }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                let child = relative.isEmpty ? name : relative + "/" + name
                let absolute = root + "/" + child
                var st = stat()
                guard lstat(absolute, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    if !isSkippedDirectory(name: name, absolute: absolute) { pending.append(child) }
                case S_IFREG:
                    if isSkippedFile(name) { continue }
                    files[child] = Entry(
                        size: UInt64(st.st_size),
                        modified: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                        inode: UInt64(st.st_ino),
                        changed: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
                default:
                    continue
                }
            }
        }
        return TreeSnapshot(files: files)
    }

    /// Whether `absolute` names one of the files, below `root`: a regular file reached
    /// without a link (the walk follows none), so its own canonical name.
    func holds(_ absolute: String, root: String) -> Bool {
        absolute.hasPrefix(root + "/") && files[String(absolute.dropFirst(root.count + 1))] != nil
    }

    /// Files new in `self` or different from `before`, sorted.
    func changed(since before: TreeSnapshot) -> [String] {
        files.filter { path, entry in before.files[path] != entry }.keys.sortedBytewise()
    }

    /// Version control, mlpack's store, caches, notebook checkpoints and Python
    /// environments: what the interpreter or tools write on the side, never a result.
    static func isSkippedDirectory(name: String, absolute: String) -> Bool {
        CodeSelection.skippedDirectories.contains(name) || CodeSelection.isEnvironment(absolute)
    }

    static func isSkippedFile(_ name: String) -> Bool { name.hasSuffix(".pyc") || name.hasSuffix(".pyo") }

    /// Whether a path relative to the project lies where `take` does not look.
    static func isSkipped(relative: String, root: String) -> Bool {
        let components = relative.split(separator: "/")
        guard let last = components.last, !isSkippedFile(String(last)) else { return true }
        var folder = root
        for component in components.dropLast() {
            folder += "/" + component
            if isSkippedDirectory(name: String(component), absolute: folder) { return true }
        }
        return false
    }
}
