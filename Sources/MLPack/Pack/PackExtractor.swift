import Foundation

public struct ExtractOptions: Sendable {
    public var destination: String
    /// Globs over item paths (`code/*`, `*.safetensors`); empty extracts every item.
    public var only: [String] = []
    /// Extract into a folder that is not empty, replacing files of the same name.
    public var force = false
    public var trusted = TrustedKeys()
    public var limits = ReaderLimits()

    public init(destination: String) { self.destination = destination }
}

public struct ExtractResult: Sendable, Codable {
    public var pack: String
    public var destination: String
    public var files: Int
    public var bytes: UInt64
    public var withheld: Int
    public var signature: String
    public var trusted: Bool
    public var readThrough: String
    public var warnings: [String]
}

/// Extracts a pack's checked payload: every byte goes into a staging folder inside the
/// destination and is moved into place only after every check passed, so a bad pack leaves
/// nothing behind.
public enum PackExtractor {
    public static func extract(
        _ path: String, options: ExtractOptions, progress: ProgressHandler? = nil
    ) throws -> ExtractResult {
        let destination = URL(fileURLWithPath: options.destination).standardizedFileURL.path
        let staging = FileSystem.temporaryName(in: destination, prefix: stagingPrefix)
        // Registered first: a signal while a pipe is spooled ends mlpack as cleanly.
        InterruptCleanup.register(staging)
        defer { InterruptCleanup.unregister(staging) }
        // Checked whole before a byte is staged, then read again: a pipe is spooled for that.
        let pack = try PackFile(path: path, limits: options.limits, randomAccess: true)
        let createdDestination = try prepare(destination, force: options.force)
        var lock = try makeStaging(staging)
        defer {
            close(lock)
            FileSystem.removeTree(staging)
        }
        do {
            let only = PatternSet(options.only)
            var staged: Staged?
            if !only.isEmpty, pack.size != nil {
                do {
                    staged = try stageThroughIndex(
                        pack, only: only, trusting: options.trusted, staging: staging, progress: progress)
                } catch is IndexUnusable {
                    close(lock)
                    FileSystem.removeTree(staging)
                    lock = try makeStaging(staging)
                }
            }
            let (contents, signature, warnings, readThrough) =
                try staged
                ?? stageSequentially(pack, trusting: options.trusted, staging: staging, progress: progress)
            let selected = contents.items.filter { only.isEmpty || only.matches($0.path) }
            if !only.isEmpty && selected.isEmpty {
                throw MLPackError.usage(
                    "\(input: .only) \(options.only.joined(separator: " ")): matches no item of the pack")
            }
            for item in selected { try place(item, from: staging, into: destination) }
            return ExtractResult(
                pack: path, destination: options.destination, files: selected.count,
                bytes: selected.reduce(0) { $0 + $1.size }, withheld: contents.withheld,
                signature: signature.description,
                trusted: signature.isTrusted, readThrough: readThrough, warnings: warnings)
        } catch {
            FileSystem.removeTree(staging)
            if createdDestination { rmdir(destination) }
            throw error
        }
    }

    /// Returns true when it created the folder. A staging folder an extraction killed on
    /// the way left (SIGKILL, a crash) is removed first: it does not make the folder busy.
    private static func prepare(_ destination: String, force: Bool) throws -> Bool {
        guard let status = FileSystem.status(destination, followLinks: true) else {
            try FileSystem.makeDirectories(destination)
            return true
        }
        guard status.isDirectory else {
            throw MLPackError.usage("\(input: .destination) \(destination): not a directory")
        }
        let entries = try FileSystem.directoryEntries(destination).filter {
            !removeAbandonedStaging(destination + "/" + $0)
        }
        if !force, !entries.isEmpty {
            throw MLPackError.usage(
                "\(input: .destination) \(destination): folder is not empty (use \(input: .force) to extract into it anyway)"
            )
        }
        return false
    }

    private static let stagingPrefix = ".mlpack-extract-"

    /// Makes the staging folder and locks it (flock) for as long as the returned descriptor
    /// is open: a staging folder no one holds is one a dead extraction left.
    private static func makeStaging(_ path: String) throws -> Int32 {
        guard mkdir(path, 0o700) == 0 else { throw MLPackError.io(path: path, reason: PosixFile.lastError()) }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = PosixFile.lastError()
            if fd >= 0 { close(fd) }
            FileSystem.removeTree(path)
            throw MLPackError.io(path: path, reason: reason)
        }
        return fd
    }

    /// Removes `path` when it is a staging folder, named as `makeStaging`'s are, that no
    /// running extraction holds; true when it did.
    private static func removeAbandonedStaging(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        guard name.hasPrefix(stagingPrefix),
            (4...28).contains(name.count - stagingPrefix.count),
            name.dropFirst(stagingPrefix.count).allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber) }),
            FileSystem.status(path)?.isDirectory == true
        else { return false }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        FileSystem.removeTree(path)
        return FileSystem.status(path) == nil
    }

    private typealias Staged = (
        contents: PackContents, signature: SignatureStatus, warnings: [String], readThrough: String
    )

    /// The full check of `verify` first, so a pack that fails it costs what `verify` costs and
    /// stages nothing; then a second scan stages every item, each checked against the
    /// verified disclosures, since the file may have changed in between.
    private static func stageSequentially(
        _ pack: PackFile, trusting trusted: TrustedKeys, staging: String, progress: ProgressHandler?
    ) throws -> Staged {
        let (_, contents, signature, warnings) = try PackVerifier.scanAndCheck(
            pack, trusting: trusted, progress: progress)
        var scanner = PackScanner(pack: pack)
        scanner.expected = Dictionary(uniqueKeysWithValues: contents.items.map { ($0.path, $0) })
        scanner.progress = progress
        scanner.phase = "extracting"
        var links: [(path: String, target: String)] = []
        let scanned = try scanner.scan { entry in
            guard let itemPath = Layout.itemPath(entry.path) else { return nil }
            if let target = entry.hardlinkTarget.flatMap(Layout.itemPath) {
                links.append((itemPath, target))
                return nil
            }
            let file = try createStaged(itemPath, in: staging)
            return { try file.write($0) }
        }
        for item in contents.items where scanned.entry(Layout.payloadPath(item.path))?.sha256 != item.sha256 {
            throw MLPackError.integrity(
                entry: Layout.payloadPath(item.path), problem: "changed after it was verified (read it again)")
        }
        for link in links {
            let path = staging + "/" + link.path
            try FileSystem.makeDirectories((path as NSString).deletingLastPathComponent)
            do { try FileManager.default.copyItem(atPath: staging + "/" + link.target, toPath: path) } catch {
                throw MLPackError.io(path: path, reason: "cannot copy data/\(link.target)")
            }
        }
        return (contents, signature, warnings, "sequential scan")
    }

    /// Reads only the selected items through the seek index, each checked against its
    /// disclosure. Any disagreement throws `IndexUnusable` and the caller scans instead.
    private static func stageThroughIndex(
        _ pack: PackFile, only: PatternSet, trusting trusted: TrustedKeys, staging: String, progress: ProgressHandler?
    ) throws -> Staged {
        let contents = try PackContents.loadThroughIndex(pack)
        // The disclosures are used only once the signature over their manifest checked out.
        let signature = try contents.signature(trusting: trusted)
        let top = try PackContents.topDirectory(of: pack.index.get().index)
        let selected = contents.items.filter { only.matches($0.path) }
        let counter = ProgressCounter(progress, phase: "extracting", total: selected.reduce(0) { $0 + $1.size })
        for item in selected {
            guard let entry = pack.indexEntry(top + "/" + Layout.payloadPath(item.path)), entry.size == item.size else {
                throw IndexUnusable(reason: "index does not list data/\(item.path) with its disclosed size")
            }
            let file = try createStaged(item.path, in: staging)
            var hasher = SHA256Hasher()
            try pack.stream(entry) { chunk in
                hasher.update(chunk)
                try file.write(chunk)
                counter.advance(by: chunk.count)
            }
            guard Hex.encode(hasher.finalize()) == item.sha256 else {
                throw IndexUnusable(reason: "data/\(item.path) read through the index does not match its disclosure")
            }
        }
        return (contents, signature, trusted.warnings, "seek index")
    }

    private static func createStaged(_ itemPath: String, in staging: String) throws -> PosixFile {
        let path = staging + "/" + itemPath
        try FileSystem.makeDirectories((path as NSString).deletingLastPathComponent)
        return try PosixFile(path: path, mode: .createExclusive, permissions: 0o600)
    }

    /// Moves one checked file into the destination, never through a symbolic link.
    private static func place(_ item: Item, from staging: String, into destination: String) throws {
        var directory = destination
        for component in item.path.split(separator: "/").dropLast() {
            directory += "/" + component
            if let status = FileSystem.status(directory) {
                guard status.isDirectory else {
                    throw MLPackError.io(
                        path: directory, reason: "is in the way of data/\(item.path) (not a directory)")
                }
            } else {
                try FileSystem.makeDirectory(directory)
            }
        }
        let target = destination + "/" + item.path
        if FileSystem.status(target)?.isDirectory == true {
            throw MLPackError.io(path: target, reason: "a directory is in the way")
        }
        let source = staging + "/" + item.path
        try FileSystem.setPermissions(source, mode_t(item.mode))
        try FileSystem.rename(source, target)
    }
}
