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

    let path: String
    private let lock = NSLock()
    private var entries: [String: (stamp: Stamp, sha256: String)] = [:]
    private var changed = false

    /// Loads `path` if it is there and readable; lines that do not parse are dropped.
    init(path: String) {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { return }
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: "\t"), maxSplits: 6, omittingEmptySubsequences: false)
            guard fields.count == 7 else { continue }
            let numbers = fields.prefix(5).map { String(decoding: $0, as: UTF8.self) }
            guard let device = UInt64(numbers[0]), let inode = UInt64(numbers[1]), let size = UInt64(numbers[2]),
                let modified = Int64(numbers[3]), let changedTime = Int64(numbers[4]), fields[5].count == 64,
                let file = String(validating: fields[6], as: UTF8.self)
            else { continue }
            entries[file] = (
                Stamp(device: device, inode: inode, size: size, modified: modified, changed: changedTime),
                String(decoding: fields[5], as: UTF8.self)
            )
        }
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

    /// Writes the index (a new file renamed into place) when something was learnt; entries
    /// of files that are gone are dropped then.
    func save() throws {
        let lines: [String] = lock.withLock {
            guard changed else { return [] }
            return entries.filter { FileSystem.status($0.key) != nil }.sorted { $0.key < $1.key }.map { file, entry in
                let stamp = entry.stamp
                return
                    "\(stamp.device)\t\(stamp.inode)\t\(stamp.size)\t\(stamp.modified)\t\(stamp.changed)\t\(entry.sha256)\t\(file)\n"
            }
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
