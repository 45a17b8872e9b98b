import Foundation

/// The code files `create --code DIR` packs (spec: README "What goes into a pack").
/// In a git work tree: the files git tracks, with their current content; elsewhere: every
/// file except VCS folders, caches, virtualenvs, notebook checkpoints, packs and files over
/// 10 MB. Then `--include` adds files, and `--exclude` and `.mlpackignore` remove them. Files
/// named like secrets (`.env`, `.netrc`, `*.pem`, `*.key`, `id_rsa`…) are left out unless
/// `--include` names them.
struct CodeSelection {
    struct File {
        var relativePath: String
        var absolutePath: String
        var size: UInt64
        var executable: Bool
    }

    var files: [File]
    var git: CodeSnapshotDescriptor.Git?
    var warnings: [String]

    static let ignoreFileName = ".mlpackignore"
    /// Folders never walked: version control, mlpack's own run store, caches, checkpoints.
    static let skippedDirectories: Set<String> = [
        ".git", ".hg", ".svn", ".mlpack", "__pycache__", ".ipynb_checkpoints", ".venv", "venv",
    ]
    static let defaultExcludes = PatternSet(["*.pyc", "*.pyo"])
    /// Outside git every file is a candidate, so what is never code is left out by name
    /// or size unless an include pattern names it: packs, and files too large to be code
    /// (data and weights belong in inputs, outputs and data references).
    static let packSuffix = ".mlpack"
    static let largestUntrackedFile: UInt64 = 10 << 20
    /// A snapshot beyond these is worth a warning: outside git it is often a data folder.
    static let largeSnapshotFiles = 1000
    static let largeSnapshotBytes: UInt64 = 50 << 20

    static func select(
        directory: String, includes: [String], excludes: [String], alsoSkip skipPaths: Set<String> = [],
        allowEmpty: Bool = false
    ) throws -> CodeSelection {
        guard FileSystem.status(directory, followLinks: true)?.isDirectory == true else {
            throw MLPackError.usage("\(input: .code) \(directory): not a directory")
        }
        let root = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath().path
        var warnings: [String] = []
        var ignore = PatternSet(excludes)
        if let text = try? String(contentsOfFile: root + "/" + ignoreFileName, encoding: .utf8) {
            ignore.patterns += PatternSet(ignoreFileContents: text).patterns
        }

        var candidates: [String]
        var gitState: CodeSnapshotDescriptor.Git?
        if let git = Git.workTree(at: root) {
            candidates = try git.trackedFiles()
            gitState = .init(commit: git.headCommit(), dirty: try git.hasUncommittedChanges())
        } else {
            candidates = try walk(
                root, skipDefaults: true, skipping: { warnings.append("\($0): left out (its name is not UTF-8)") }
            )
            .filter { !defaultExcludes.matches($0) }
        }
        let include = PatternSet(includes)
        if !includes.isEmpty {
            let known = Set(candidates)
            candidates += try walk(root, skipDefaults: false, skipping: { _ in })
                .filter { include.matches($0) && !known.contains($0) }
        }

        var files: [File] = []
        var links: [String] = []
        for relative in candidates where !ignore.matches(relative) {
            let absolute = root + "/" + relative
            if skipPaths.contains(absolute) { continue }
            // Tracked or not, a key or a credential store is not code: it would be public with
            // the pack, and no redaction can take a signed secret back.
            if SecretScrubber.isSecretFile(relative) && !include.matches(relative) {
                warnings.append(
                    "\(relative): left out (named like a secret: environment files, keys and credentials are packed only when an include pattern names them)"
                )
                continue
            }
            guard let status = FileSystem.status(absolute) else { continue }  // tracked but deleted
            if gitState == nil && status.isRegular && !include.matches(relative) {
                if relative.hasSuffix(packSuffix) {
                    warnings.append("\(relative): left out (a pack is not code)")
                    continue
                }
                if status.size > largestUntrackedFile {
                    warnings.append(
                        "\(relative): left out (\(ByteCount.text(status.size)), over \(ByteCount.text(largestUntrackedFile)): outside git a file this large is taken for data; name it with an include pattern to keep it)"
                    )
                    continue
                }
            }
            if status.isRegular {
                files.append(
                    File(
                        relativePath: relative, absolutePath: absolute, size: status.size,
                        executable: status.isExecutable))
            } else if status.isSymlink {
                links.append(relative)
            }
        }
        // A link is stored as a copy of its target only when the target is packed anyway:
        // following it anywhere else could leak what the author never meant to share.
        let selected = Dictionary(uniqueKeysWithValues: files.map { ($0.absolutePath, $0) })
        for relative in links {
            let target = URL(fileURLWithPath: root + "/" + relative).resolvingSymlinksInPath().path
            if let file = selected[target] {
                files.append(
                    File(relativePath: relative, absolutePath: target, size: file.size, executable: file.executable))
                warnings.append("\(relative): symbolic link stored as a copy of \(file.relativePath)")
            } else {
                warnings.append("\(relative): symbolic link skipped (it points to a file that is not packed)")
            }
        }
        // A run's snapshot may be empty (a fresh repository); a pack's code may not.
        guard !files.isEmpty || allowEmpty else {
            throw MLPackError.usage(
                gitState == nil
                    ? "\(input: .code) \(directory): no files to pack"
                    : "\(input: .code) \(directory): git tracks no files here (add them, or pick files with \(input: .include))"
            )
        }
        let total = files.reduce(0) { $0 + $1.size }
        if gitState == nil && (files.count > largeSnapshotFiles || total > largeSnapshotBytes) {
            warnings.append(
                "code snapshot: \(files.count) files, \(ByteCount.text(total)) (outside git every file counts as code: leave data out with \(ignoreFileName), or git init and track the code)"
            )
        }
        files = files.sortedBytewise(by: \.relativePath)
        return CodeSelection(files: files, git: gitState, warnings: warnings)
    }

    /// Every regular file and symlink below `root`, as relative paths; never follows links.
    static func walk(_ root: String, skipDefaults: Bool, skipping notUTF8: ((String) -> Void)? = nil) throws -> [String]
    {
        try walkWithStatus(root, skipDefaults: skipDefaults, skipping: notUTF8).map(\.path)
    }

    /// `walk`, with each file's `lstat` (a caller that needs the sizes need not ask again).
    /// The tree is listed a level at a time, the level's folders on all cores. A name that
    /// is not UTF-8 cannot be named in a pack: with `skipping`, it is handed there (a relative
    /// path, `?` for the bad bytes) and left out; without, it is an error.
    static func walkWithStatus(
        _ root: String, skipDefaults: Bool, skipping notUTF8: ((String) -> Void)? = nil
    ) throws -> [(path: String, status: FileSystem.Status)] {
        var out: [(path: String, status: FileSystem.Status)] = []
        var level = [""]
        while !level.isEmpty {
            let folders = level.map { $0.isEmpty ? root : root + "/" + $0 }
            let listings = try concurrentMap(count: folders.count) { i in
                Result { try FileSystem.listing(folders[i]) }
            }.map { try $0.get() }
            var next: [String] = []
            for ((relative, folder), listing) in zip(zip(level, folders), listings) {
                func path(_ name: String) -> String { relative.isEmpty ? name : relative + "/" + name }
                for name in listing.notUTF8 {
                    guard let notUTF8 else {
                        throw MLPackError.io(
                            path: folder, reason: "holds a file name that is not UTF-8 (\(name)): rename it")
                    }
                    notUTF8(path(name))
                }
                for (name, status) in listing.entries {
                    let child = path(name)
                    if status.isDirectory {
                        if name == ".git" || name == ".mlpack" { continue }
                        if skipDefaults && (skippedDirectories.contains(name) || isEnvironment(root + "/" + child)) {
                            continue
                        }
                        next.append(child)
                    } else if status.isRegular || status.isSymlink {
                        out.append((child, status))
                    }
                }
            }
            level = next
        }
        return out
    }

    /// Virtualenvs and conda environments, whatever their folder is called.
    static func isEnvironment(_ directory: String) -> Bool {
        FileSystem.status(directory + "/pyvenv.cfg") != nil
            || FileSystem.status(directory + "/conda-meta")?.isDirectory == true
    }
}
