import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The digests of files already hashed, kept under `.mlpack/` between runs: a file whose
/// (device, inode, size, modification and change time in ns) are those it had when it was
/// hashed is not read again (git's index and DVC's state database do the same). A changed
/// file is hashed again alone. The index is a cache: a missing or damaged one only costs time.
final class HashIndex: @unchecked Sendable {
    /// What identifies one version of a file without reading it.
    struct Stamp: Hashable {
        var device: UInt64
        var inode: UInt64
        var size: UInt64
        var modified: Int64
        var changed: Int64
    }

    /// A folder recorded whole: its digest, total size and file count.
    struct Folder: Equatable {
        var sha256: String
        var size: UInt64
        var fileCount: Int
    }

    let path: String
    private let lock = NSLock()
    private var entries: [String: (stamp: Stamp, sha256: String)] = [:]
    /// Folders by path, with the fingerprint of their files' names and stamps when recorded:
    /// a folder whose fingerprint is the same costs no lookup per file.
    private var folders: [String: (fingerprint: String, folder: Folder)] = [:]
    private var changed = false

    /// Loads `path` if it is there and readable; lines that do not parse are dropped.
    init(path: String) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { return }
        // Parsed by hand: the index of a large dataset holds a line per file, read every run.
        entries.reserveCapacity(data.count / 100)  // a line is ~100 bytes: no rehashing while loading
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var start = 0
            while start < bytes.count {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                let line = bytes[start..<end]
                if line.starts(with: Self.folderTag) {
                    if let (folder, entry) = Self.folderEntry(line) { folders[folder] = entry }
                } else if let (file, entry) = Self.entry(line) {
                    entries[file] = entry
                }
                start = end + 1
            }
        }
    }

    /// One line: device, inode, size, mtime, ctime, SHA-256 and the path, tab-separated.
    private static func entry(_ line: Slice<UnsafeRawBufferPointer>) -> (String, (stamp: Stamp, sha256: String))? {
        var position = line.startIndex
        func number() -> UInt64? {
            var value: UInt64 = 0
            var digits = 0
            while position < line.endIndex, line[position] != UInt8(ascii: "\t") {
                let digit = line[position] &- UInt8(ascii: "0")
                guard digit < 10, digits < 19 else { return nil }
                value = value * 10 + UInt64(digit)
                digits += 1
                position += 1
            }
            guard digits > 0, position < line.endIndex else { return nil }
            position += 1
            return value
        }
        guard let device = number(), let inode = number(), let size = number(), let modified = number(),
            let changed = number(), let modified = Int64(exactly: modified), let changed = Int64(exactly: changed),
            line.endIndex - position > 65, line[position + 64] == UInt8(ascii: "\t"),
            let file = String(validating: line[(position + 65)...], as: UTF8.self)
        else { return nil }
        let sha256 = String(decoding: line[position..<(position + 64)], as: UTF8.self)
        let stamp = Stamp(
            device: device, inode: inode, size: size, modified: modified, changed: changed)
        return (file, (stamp, sha256))
    }

    private static let folderTag = Array("folder\t".utf8)

    /// A folder's line: `folder`, fingerprint, SHA-256, size, file count and the path, tab-separated.
    private static func folderEntry(
        _ line: Slice<UnsafeRawBufferPointer>
    ) -> (String, (fingerprint: String, folder: Folder))? {
        let fields = line.dropFirst(folderTag.count).split(
            separator: UInt8(ascii: "\t"), maxSplits: 4, omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].count == 64, fields[1].count == 64,
            let size = UInt64(String(decoding: fields[2], as: UTF8.self)),
            let count = Int(String(decoding: fields[3], as: UTF8.self)),
            let folder = String(validating: fields[4], as: UTF8.self)
        else { return nil }
        let entry = Folder(sha256: String(decoding: fields[1], as: UTF8.self), size: size, fileCount: count)
        return (folder, (String(decoding: fields[0], as: UTF8.self), entry))
    }

    /// The run store's index.
    convenience init(store: RunStore) { self.init(path: store.root + "/hash-index") }

    func digest(of file: String, stamp: Stamp) -> String? {
        lock.withLock { entries[file].flatMap { $0.stamp == stamp ? $0.sha256 : nil } }
    }

    func remember(_ file: String, stamp: Stamp, sha256: String) {
        // A name the line format cannot hold is simply not remembered.
        guard !file.contains("\t"), !file.contains("\n") else { return }
        lock.withLock {
            if entries[file]?.stamp != stamp || entries[file]?.sha256 != sha256 {
                entries[file] = (stamp, sha256)
                changed = true
            }
        }
    }

    /// The record of `folder` when its files' names and stamps are those it had (`fingerprint`).
    func folder(_ folder: String, fingerprint: String) -> Folder? {
        lock.withLock { folders[folder].flatMap { $0.fingerprint == fingerprint ? $0.folder : nil } }
    }

    func remember(folder path: String, fingerprint: String, _ folder: Folder) {
        guard !path.contains("\t"), !path.contains("\n") else { return }
        lock.withLock {
            if folders[path]?.fingerprint != fingerprint || folders[path]?.folder != folder {
                folders[path] = (fingerprint, folder)
                changed = true
            }
        }
    }

    /// What identifies a folder's files without reading them: SHA-256 over each file's name
    /// and stamp, in the order given (sorted by the caller).
    static func fingerprint(_ files: [(path: String, stamp: Stamp)]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(files.count * 80)
        for (path, stamp) in files {
            bytes += path.utf8
            bytes.append(0)
            for value in [
                stamp.device, stamp.inode, stamp.size, UInt64(bitPattern: stamp.modified),
                UInt64(bitPattern: stamp.changed),
            ] {
                withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
            }
        }
        return SHA256Hasher.hex(bytes)
    }

    /// Writes the index (a new file renamed into place) when something was learnt; entries
    /// of files and folders that are gone are dropped then.
    func save() throws {
        let lines: [String] = lock.withLock {
            guard changed else { return [] }
            let files = entries.filter { FileSystem.status($0.key) != nil }.sorted { $0.key < $1.key }.map {
                file, entry in
                let stamp = entry.stamp
                return
                    "\(stamp.device)\t\(stamp.inode)\t\(stamp.size)\t\(stamp.modified)\t\(stamp.changed)\t\(entry.sha256)\t\(file)\n"
            }
            let folders = folders.filter { FileSystem.status($0.key) != nil }.sorted { $0.key < $1.key }.map {
                path, entry in
                let folder = entry.folder
                return "folder\t\(entry.fingerprint)\t\(folder.sha256)\t\(folder.size)\t\(folder.fileCount)\t\(path)\n"
            }
            return files + folders
        }
        guard !lines.isEmpty else { return }
        let folder = (path as NSString).deletingLastPathComponent
        try FileSystem.makeDirectories(folder)
        let temporary = FileSystem.temporaryName(in: folder, prefix: ".hash-index-")
        do {
            try PosixFile(path: temporary, mode: .createExclusive, permissions: 0o644).write(Array(lines.joined().utf8))
            try FileSystem.rename(temporary, path)
        } catch {
            unlink(temporary)
            throw error
        }
    }
}

extension HashIndex.Stamp {
    init(_ st: stat) {
        self.init(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: UInt64(st.st_size),
            modified: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
            changed: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec))
    }
}

extension PosixFile {
    /// The open file's stamp, nil when fstat fails.
    var stamp: HashIndex.Stamp? {
        var st = stat()
        return fstat(fd, &st) == 0 ? HashIndex.Stamp(st) : nil
    }
}
