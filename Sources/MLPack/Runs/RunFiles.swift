import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A run's inputs and outputs as records: named relative to the project when inside it
/// (absolute otherwise), identified by content (a file's SHA-256, a folder's tree digest).
enum RunFiles {
    /// `path` (relative to `cwd`) made absolute, with symbolic links resolved as far as the
    /// path exists, so that the same file always gets the same name.
    static func canonical(_ path: String, cwd: String) -> String {
        let absolute = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true))
            .standardizedFileURL.path
        if let resolved = realPath(absolute) { return resolved }
        let parent = (absolute as NSString).deletingLastPathComponent
        guard let resolvedParent = realPath(parent) else { return absolute }
        return (resolvedParent == "/" ? "" : resolvedParent) + "/" + (absolute as NSString).lastPathComponent
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// How a record names `absolute`: relative to the project root when inside it.
    static func recordedPath(_ absolute: String, projectRoot: String) -> String {
        if absolute == projectRoot { return "." }
        let prefix = projectRoot == "/" ? "/" : projectRoot + "/"
        return absolute.hasPrefix(prefix) ? String(absolute.dropFirst(prefix.count)) : absolute
    }

    /// Hashes regular files in parallel; a file that vanished or cannot be read meanwhile is
    /// left out with a warning. `absolute` and `recorded` are parallel arrays.
    static func fileRecords(
        absolute: [String], recorded: [String], index: HashIndex? = nil, warn: (String) -> Void
    ) -> [RunRecord.FileRecord] {
        let results = FileHashing.hashEach(files: absolute, index: index)
        var records: [RunRecord.FileRecord] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let hash):
                records.append(
                    RunRecord.FileRecord(path: recorded[index], kind: .file, sha256: hash.sha256, size: hash.size))
            case .failure(let error):
                warn("\(recorded[index]): not recorded (\(error))")
            }
        }
        return records
    }

    /// A folder as a record: its `sha256sum` listing (paths relative to the folder, links to
    /// files followed) is kept in the store's objects, and its digest is the record's.
    /// `listed` is the folder's files with their stamps when a snapshot just saw all of them
    /// (no walk then). With an index, a folder whose files' names and stamps are unchanged
    /// since it was recorded is not hashed again, file by file or as a listing.
    static func directoryRecord(
        _ absolute: String, recorded: String, store: RunStore, index: HashIndex? = nil,
        listed: [(path: String, stamp: HashIndex.Stamp)]? = nil, warn: (String) -> Void
    ) throws -> RunRecord.FileRecord {
        var relatives: [String] = []
        var stamps: [HashIndex.Stamp?] = []
        if let listed {
            relatives = listed.map(\.path)
            stamps = listed.map(\.stamp)
        } else {
            var notUTF8: [String] = []
            let walked = try CodeSelection.walkWithStatus(
                absolute, skipDefaults: false, skipping: { notUTF8.append($0) }
            ).sortedBytewise(by: \.path)
            for name in notUTF8 { warn("\(recorded)/\(name): left out (its name is not UTF-8)") }
            for (relative, status) in walked {
                guard
                    status.isRegular
                        || FileSystem.status(absolute + "/" + relative, followLinks: true)?.isRegular == true
                else {
                    warn("\(recorded)/\(relative): left out (a link to something other than a file)")
                    continue
                }
                relatives.append(relative)
                stamps.append(status.isRegular ? status.stamp : nil)  // a link's is its target's
            }
        }
        for relative in relatives {
            if let problem = PackPath.problem(with: relative) {
                throw MLPackError.usage("\(recorded)/\(relative): cannot be named in a listing: \(problem)")
            }
        }
        // Only files reached without a link have their own stamp in the listing.
        let known = stamps.compactMap { $0 }
        let fingerprint =
            index != nil && known.count == relatives.count
            ? HashIndex.fingerprint(Array(zip(relatives, known))) : nil
        func record(_ folder: HashIndex.Folder) -> RunRecord.FileRecord {
            RunRecord.FileRecord(
                path: recorded, kind: .directory, sha256: folder.sha256, size: folder.size, fileCount: folder.fileCount)
        }
        if let index, let fingerprint, let folder = index.folder(absolute, fingerprint: fingerprint),
            store.hasObject(folder.sha256)
        {
            return record(folder)
        }
        let hashes = try FileHashing.hash(
            files: relatives.map { absolute + "/" + $0 }, stamps: stamps, index: index)
        let listing = Listing.sha256sum(zip(relatives, hashes).map { ($0, $1.sha256) })
        let folder = HashIndex.Folder(
            sha256: try store.storeObject(bytes: listing), size: hashes.reduce(0) { $0 + $1.size },
            fileCount: relatives.count)
        if let index, let fingerprint { index.remember(folder: absolute, fingerprint: fingerprint, folder) }
        return record(folder)
    }

    /// A file or folder named on the command line (`-i`, `-o`).
    static func record(
        _ absolute: String, projectRoot: String, store: RunStore, index: HashIndex? = nil, warn: (String) -> Void
    ) throws -> RunRecord.FileRecord? {
        let recorded = recordedPath(absolute, projectRoot: projectRoot)
        guard let status = FileSystem.status(absolute, followLinks: true) else { return nil }
        if status.isDirectory {
            return try directoryRecord(absolute, recorded: recorded, store: store, index: index, warn: warn)
        }
        guard status.isRegular else { throw MLPackError.usage("\(recorded): not a file or directory") }
        let hash = try FileHashing.hash(file: absolute, index: index)
        return RunRecord.FileRecord(path: recorded, kind: .file, sha256: hash.sha256, size: hash.size)
    }

    /// Lineage by content: each input whose digest an earlier run wrote gets that run (the
    /// newest such) as `producedBy`.
    static func linkProducers(_ inputs: inout [RunRecord.FileRecord], runs: [RunOutputs]) {
        var producer: [String: String] = [:]
        for run in runs {  // oldest first: a newer writer overrides an older one
            for output in run.outputs { producer[output.sha256] = run.id }
        }
        for index in inputs.indices { inputs[index].producedBy = producer[inputs[index].sha256] }
    }
}
