import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What the project's files looked like, by `lstat` alone (no reading): taken before and
/// after a run, the files that are new or changed are the run's outputs, wherever it wrote
/// them, git-ignored folders such as `checkpoints/` included.
struct TreeSnapshot {
    struct Entry: Equatable {
        var device: UInt64
        var size: UInt64
        /// Modification time in nanoseconds since the epoch.
        var modified: Int64
        var inode: UInt64
        /// Catches a rewrite in place that keeps the size within one mtime tick.
        var changed: Int64
    }

    /// Regular files by path relative to the root.
    var files: [String: Entry]
    /// What `take` saw and did not record (skipped folders and files, links, other kinds,
    /// names that are not UTF-8), relative to the root: a folder with none below it is
    /// listed completely by `files`.
    var holes: [String] = []

    /// Walks `root`, never following links, skipping what is never an output (`isSkipped`).
    static func take(_ root: String) -> TreeSnapshot {
        var files: [String: Entry] = [:]
        var holes: [String] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let folder = relative.isEmpty ? root : root + "/" + relative
            guard let directory = opendir(folder) else { continue }
            defer { closedir(directory) }
            let descriptor = dirfd(directory)
            while let entry = readdir(directory) {
                let (name, isUTF8) = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    let bytes = raw.prefix(while: { $0 != 0 })
                    let name = String(decoding: bytes, as: UTF8.self)
                    return (name, name.utf8.count == bytes.count)
                }
                if name == "." || name == ".." { continue }
                let child = relative.isEmpty ? name : relative + "/" + name
                if !isUTF8 { holes.append(child) }
                var st = stat()
                // Relative to the open folder: the kernel does not walk the whole path again.
                guard fstatat(descriptor, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    if isSkippedDirectory(name: name, absolute: root + "/" + child) {
                        holes.append(child)
                    } else {
                        pending.append(child)
                    }
                case S_IFREG:
                    if isSkippedFile(name) {
                        holes.append(child)
                        continue
                    }
                    files[child] = Entry(
                        device: UInt64(st.st_dev),
                        size: UInt64(st.st_size),
                        modified: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
                        inode: UInt64(st.st_ino),
                        changed: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
                default:
                    holes.append(child)
                }
            }
        }
        return TreeSnapshot(files: files, holes: holes)
    }

    /// The files below `folder` (relative to the root) with their stamps, relative to it and
    /// sorted, when the snapshot saw all of them; nil when something below was not recorded.
    func listing(of folder: String) -> [(path: String, stamp: HashIndex.Stamp)]? {
        let prefix = folder + "/"
        guard !holes.contains(where: { $0.hasPrefix(prefix) }) else { return nil }
        let count = prefix.utf8.count
        return files.compactMap { path, entry in
            guard path.utf8.starts(with: prefix.utf8) else { return nil }
            let stamp = HashIndex.Stamp(
                device: entry.device, inode: entry.inode, size: entry.size, modified: entry.modified,
                changed: entry.changed)
            return (String(Substring(path.utf8.dropFirst(count))), stamp)
        }.sortedBytewise(by: \.path)
    }

    /// Whether `absolute` names one of the files, below `root`: a regular file reached
    /// without a link (the walk follows none), so its own canonical name.
    func holds(_ absolute: String, root: String) -> Bool {
        guard absolute.hasPrefix(root) else { return false }
        let rest = absolute.utf8.dropFirst(root.utf8.count)
        return rest.first == UInt8(ascii: "/") && files[String(Substring(rest.dropFirst()))] != nil
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
