#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// Something bytes are pulled from: a file, or an entry of another pack.
protocol ByteReader {
    /// Names the source in errors.
    var path: String { get }
    /// Reads up to `buffer.count` bytes; returns 0 only at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

extension ByteReader {
    /// Hands every remaining byte to `consumer`, a megabyte at a time.
    func stream(into consumer: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = try read(into: buffer)
            if n == 0 { break }
            try consumer(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
    }

    /// Fills `buffer` completely unless the source ends first; returns the bytes read.
    func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
            if n == 0 { break }
            total += n
        }
        return total
    }
}

/// The one place that touches POSIX file descriptors: an owned descriptor closed in `deinit`,
/// with reads and writes that retry on EINTR and short counts.
final class PosixFile: ByteReader, @unchecked Sendable {
    let fd: Int32
    let path: String
    private let owned: Bool

    enum Mode { case read, createExclusive, createTruncate }

    init(path: String, mode: Mode, permissions: mode_t = 0o644) throws {
        let flags: Int32
        switch mode {
        case .read: flags = O_RDONLY | O_CLOEXEC
        case .createExclusive: flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        case .createTruncate: flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        }
        let fd = open(path, flags, permissions)
        guard fd >= 0 else { throw MLPackError.io(path: path, reason: PosixFile.lastError()) }
        self.fd = fd
        self.path = path
        self.owned = true
    }

    /// Wraps a descriptor owned elsewhere (standard input).
    init(borrowing fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        self.owned = false
    }

    deinit { if owned { close(fd) } }

    /// Opens the regular file at `relative` below the folder `root`, one component at a time
    /// and never through a link: what a sandboxed run left behind may be a link anywhere on
    /// the host, at the end of the path or in the middle. Nil, with why, when the path holds a
    /// link, a non-directory where a folder should be, or ends at anything but a regular file.
    static func openBeneath(_ root: String, _ relative: String) -> (file: PosixFile?, problem: String?) {
        var directory = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return (nil, "\(root): \(lastError())") }
        let components = relative.split(separator: "/").map(String.init).filter { $0 != "." }
        guard let leaf = components.last, !components.contains("..") else { return (nil, "not a path below \(root)") }
        for component in components.dropLast() {
            let next = openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(directory)
            guard next >= 0 else {
                return (nil, errno == ENOENT ? "no such file" : "\(component) is a link or not a folder")
            }
            directory = next
        }
        // O_NONBLOCK: a FIFO left in the workspace must not hang the open.
        let fd = openat(directory, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        close(directory)
        guard fd >= 0 else { return (nil, errno == ENOENT ? "no such file" : "not a regular file (\(lastError()))") }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return (nil, "not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (PosixFile(owning: fd, path: root + "/" + relative), nil)
    }

    /// A private copy of everything `input` still holds (a pipe), in an unlinked temporary
    /// file: seekable, gone when closed, never visible to anyone else by name.
    static func spool(_ input: PosixFile) throws -> PosixFile {
        let base = Host.current.temporaryDirectory
        var template = FileSystem.temporaryTemplate(in: base, prefix: "mlpack-spool")
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw MLPackError.io(path: base, reason: "cannot make a temporary file: " + lastError()) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        unlink(template)
        let copy = PosixFile(owning: fd, path: input.path)
        try input.stream(into: copy.write)
        return copy
    }

    /// Both ends of a new pipe, named `path` in errors.
    static func pipe(path: String) throws -> (read: PosixFile, write: PosixFile) {
        var ends: [Int32] = [0, 0]
        guard Glibc.pipe(&ends) == 0 else { throw MLPackError.io(path: path, reason: lastError()) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (PosixFile(owning: ends[0], path: path), PosixFile(owning: ends[1], path: path))
    }

    private init(owning fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        self.owned = true
    }

    /// A path that names this very open file (not whatever its path names now), for readers
    /// that open by path.
    var openedPath: String { "/proc/self/fd/\(fd)" }

    static func lastError() -> String { String(cString: strerror(errno)).lowercased() }

    /// Reads up to `buffer.count` bytes; returns 0 only at end of file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw MLPackError.io(path: path, reason: PosixFile.lastError()) }
        }
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = pread(fd, buffer.baseAddress! + total, buffer.count - total, off_t(offset) + off_t(total))
            if n < 0 {
                if errno == EINTR { continue }
                throw MLPackError.io(path: path, reason: PosixFile.lastError())
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw MLPackError.io(path: path, reason: PosixFile.lastError())
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Writes `pieces` back to back with as few system calls as the kernel allows (writev).
    func write(pieces: [UnsafeRawBufferPointer]) throws {
        var vectors = pieces.filter { !$0.isEmpty }.map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        var next = 0
        while next < vectors.count {
            let count = min(vectors.count - next, 1024)  // Linux's IOV_MAX
            let n = vectors.withUnsafeBufferPointer { writev(fd, $0.baseAddress! + next, Int32(count)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MLPackError.io(path: path, reason: PosixFile.lastError())
            }
            // Skip what was written; a partial write leaves the rest of one vector.
            var written = n
            while written > 0 && written >= vectors[next].iov_len {
                written -= vectors[next].iov_len
                next += 1
            }
            if written > 0 {
                vectors[next].iov_base += written
                vectors[next].iov_len -= written
            }
        }
    }

    /// The file's size, or nil when it cannot seek (a pipe or a terminal).
    var seekableSize: UInt64? {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return UInt64(st.st_size)
    }
}

/// File-system facts the library needs, in one place.
enum FileSystem {
    struct Status {
        var isRegular: Bool
        var isDirectory: Bool
        var isSymlink: Bool
        var isExecutable: Bool
        var size: UInt64
        /// Bytes on disk (a sparse file's holes take none).
        var allocated: UInt64
        /// What the hash index knows this version of the file by.
        var stamp: HashIndex.Stamp

        init(_ st: stat) {
            let type = st.st_mode & S_IFMT
            isRegular = type == S_IFREG
            isDirectory = type == S_IFDIR
            isSymlink = type == S_IFLNK
            isExecutable = st.st_mode & 0o111 != 0
            size = UInt64(st.st_size)
            allocated = UInt64(max(st.st_blocks, 0)) * 512
            stamp = HashIndex.Stamp(st)
        }
    }

    static func status(_ path: String, followLinks: Bool = false) -> Status? {
        var st = stat()
        let rc = followLinks ? stat(path, &st) : lstat(path, &st)
        return rc == 0 ? Status(st) : nil
    }

    /// The entries of a directory with their `lstat`, in no particular order. Each entry is
    /// stat'ed relative to the open directory (one name to look up, not the whole path); an
    /// entry that vanished meanwhile is left out. Names that are not UTF-8 cannot be named in
    /// a pack: they come apart, shown with `?` for the bad bytes.
    static func listing(_ path: String) throws -> (entries: [(name: String, status: Status)], notUTF8: [String]) {
        guard let directory = opendir(path) else {
            throw MLPackError.io(path: path, reason: "cannot list directory: \(PosixFile.lastError())")
        }
        defer { closedir(directory) }
        let descriptor = dirfd(directory)
        var entries: [(name: String, status: Status)] = []
        var notUTF8: [String] = []
        while true {
            errno = 0  // readdir's NULL means the end only when errno is still 0
            guard let entry = readdir(directory) else {
                if errno != 0 {
                    throw MLPackError.io(path: path, reason: "cannot list directory: \(PosixFile.lastError())")
                }
                break
            }
            withUnsafePointer(to: &entry.pointee.d_name) { field in
                field.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: field.pointee)) { name in
                    if name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0)) { return }  // . and ..
                    var st = stat()
                    guard fstatat(descriptor, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
                    if let text = String(validatingCString: name) {
                        entries.append((text, Status(st)))
                    } else {
                        notUTF8.append(
                            String(String(cString: name).unicodeScalars.map { $0 == "\u{FFFD}" ? "?" : Character($0) }))
                    }
                }
            }
        }
        return (entries, notUTF8)
    }

    /// The bytes a tree takes on disk, links not followed, names taken as bytes (a hostile
    /// run's tree is measured too). Deeper than `maxDepth` folders, or a folder that cannot be
    /// opened, counts as `UInt64.max`: a tree no run needs, and one that would hide what it holds.
    static func diskUsage(_ path: String, maxDepth: Int = 256) -> UInt64 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return status(path)?.allocated ?? 0 }
        return diskUsage(directory: fd, depth: maxDepth)
    }

    /// Takes ownership of `fd`.
    private static func diskUsage(directory fd: Int32, depth: Int) -> UInt64 {
        guard depth > 0, let directory = fdopendir(fd) else {
            close(fd)
            return UInt64.max
        }
        defer { closedir(directory) }
        var st = stat()
        var total = fstat(fd, &st) == 0 ? Status(st).allocated : 0
        while let entry = readdir(directory) {
            let usage: UInt64 = withUnsafePointer(to: &entry.pointee.d_name) { field in
                field.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: field.pointee)) { name in
                    if name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0)) { return 0 }
                    guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return 0 }
                    guard st.st_mode & S_IFMT == S_IFDIR else { return Status(st).allocated }
                    // A folder that cannot be opened (mode 0300) could hide anything: over any limit.
                    let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    return child >= 0 ? diskUsage(directory: child, depth: depth - 1) : UInt64.max
                }
            }
            total = total.addingReportingOverflow(usage).overflow ? UInt64.max : total + usage
        }
        return total
    }

    /// Bytes free for an unprivileged writer on the file system holding `path`.
    static func freeBytes(_ path: String) -> UInt64? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
    }

    static func makeDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw MLPackError.io(path: path, reason: PosixFile.lastError())
        }
        guard status(path)?.isDirectory == true else {
            throw MLPackError.io(path: path, reason: "exists and is not a directory")
        }
    }

    static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            try makeDirectory(prefix)
            prefix += "/"
        }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw MLPackError.io(path: to, reason: PosixFile.lastError())
        }
    }

    /// A new private folder under $TMPDIR (or /tmp).
    /// `<base>/<prefix>.XXXXXX` as a C string, for mkstemp and mkdtemp to fill in.
    static func temporaryTemplate(in base: String, prefix: String) -> [CChar] {
        Array(((base.hasSuffix("/") ? base : base + "/") + prefix + ".XXXXXX").utf8CString)
    }

    static func makeTemporaryDirectory(prefix: String) throws -> String {
        let base = Host.current.temporaryDirectory
        var template = temporaryTemplate(in: base, prefix: prefix)
        guard mkdtemp(&template) != nil else {
            throw MLPackError.io(path: base, reason: "cannot make a temporary folder: " + PosixFile.lastError())
        }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func setPermissions(_ path: String, _ mode: mode_t) throws {
        guard chmod(path, mode) == 0 else { throw MLPackError.io(path: path, reason: PosixFile.lastError()) }
    }

    static func directoryEntries(_ path: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw MLPackError.io(path: path, reason: "cannot list directory")
        }
    }

    static func temporaryName(in directory: String, prefix: String) -> String {
        let suffix = (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max), radix: 36) }.joined()
        return directory + "/" + prefix + suffix
    }
}
