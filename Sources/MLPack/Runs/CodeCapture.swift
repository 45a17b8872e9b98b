/// The exact code a run starts on: the project's code files (in git: every tracked file,
/// with its current content, uncommitted edits included; outside git: `CodeSelection`'s
/// rules), each kept by content in the run store's objects, so that a later edit, checkout
/// or reset cannot lose what ran.
enum CodeCapture {
    static func capture(
        projectRoot: String, store: RunStore, index: HashIndex? = nil
    ) throws -> (code: RunRecord.Code, warnings: [String]) {
        let selection = try CodeSelection.select(directory: projectRoot, includes: [], excludes: [], allowEmpty: true)
        let hashes = try FileHashing.hash(files: selection.files.map(\.absolutePath), index: index)
        var files: [RunRecord.Code.File] = []
        for (file, hash) in zip(selection.files, hashes) {
            // Copied only when the store lacks the content (a second run of the same code
            // copies nothing). The copy is hashed as it is written: if the file changed since
            // it was hashed, the record names what was actually kept.
            let stored = try store.storeObject(copying: file.absolutePath, expected: hash.sha256)
            let size =
                stored == hash.sha256 ? hash.size : FileSystem.status(store.objectPath(stored))?.size ?? hash.size
            files.append(
                RunRecord.Code.File(
                    path: file.relativePath, sha256: stored, size: size, mode: file.executable ? 0o755 : 0o644))
        }
        // The same listing and digest as a pack's code snapshot of these files.
        let listing = Listing.sha256sum(files.map { ($0.path, $0.sha256) })
        let code = RunRecord.Code(treeDigest: SHA256Hasher.hex(listing), files: files, git: selection.git)
        return (code, selection.warnings)
    }
}
