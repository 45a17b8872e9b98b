import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `mlpack run`'s default tracer: the LD_PRELOAD library of Sources/MLPackTracer, which this
/// binary carries (TracerLibrary, generated at build time) and writes, content-addressed, to
/// the cache on first use. Every process of the command maps one shared log file and
/// appends a record per file it opens; `events()` reads it after the command ended.
struct PreloadTrace {
    let library: String
    let log: String

    /// The log's record area: sparse, so only what is written takes space (about 100 bytes
    /// per file opened; 1 GiB is ten million opens).
    static let capacity: UInt64 = 1 << 30
    private static let magic = Array("MLPTRC1\0".utf8)
    private static let headerSize = 32

    /// The library in the cache and a new, empty log in `temporary`.
    static func prepare(cache: String = DataCache.defaultRoot, temporary: String) throws -> PreloadTrace {
        let library = try install(in: cache + "/tracer")
        let log = FileSystem.temporaryName(in: temporary, prefix: "mlpack-trace-")
        let file = try PosixFile(path: log, mode: .createExclusive, permissions: 0o600)
        var header = magic + [UInt8](repeating: 0, count: headerSize - magic.count)
        withUnsafeBytes(of: capacity.littleEndian) { header.replaceSubrange(16..<24, with: $0) }
        try file.write(header)
        guard ftruncate(file.fd, off_t(UInt64(headerSize) + capacity)) == 0 else {
            unlink(log)
            throw MLPackError.io(path: log, reason: PosixFile.lastError())
        }
        return PreloadTrace(library: library, log: log)
    }

    /// The library's bytes at `<folder>/<sha256>.so`, written once: a file there with other
    /// bytes (a damaged or planted cache) is replaced, never loaded into the command.
    static func install(in folder: String) throws -> String {
        guard let bytes = Data(base64Encoded: TracerLibrary.base64) else {
            throw MLPackError.io(path: "mlpack", reason: "the embedded read tracer is damaged")
        }
        let digest = SHA256Hasher.hex(Array(bytes))
        let path = folder + "/" + digest + ".so"
        if let existing = FileManager.default.contents(atPath: path), SHA256Hasher.hex(Array(existing)) == digest {
            return path
        }
        try FileSystem.makeDirectories(folder)
        let temporary = FileSystem.temporaryName(in: folder, prefix: ".tracer-")
        do {
            try PosixFile(path: temporary, mode: .createExclusive, permissions: 0o755).write(Array(bytes))
            try FileSystem.rename(temporary, path)
        } catch {
            unlink(temporary)
            throw error
        }
        return path
    }

    /// The command's environment with the tracer loaded first (before any library the user
    /// preloads) and the log named.
    func environment(_ base: [String: String]) -> [String: String] {
        var environment = base
        let theirs = base["LD_PRELOAD"].flatMap { $0.isEmpty ? nil : $0 }
        environment["LD_PRELOAD"] = theirs.map { library + ":" + $0 } ?? library
        environment["MLPACK_TRACE_LOG"] = log
        return environment
    }

    /// What the traced processes did, as absolute paths (not resolved: the recorder does).
    struct Events: Equatable {
        /// Files opened for reading only, each once, in the order first opened.
        var reads: [String] = []
        /// Files opened for writing, created, truncated or renamed into place, each once.
        var writes: [String] = []
        /// Programs a traced process started that never loaded the tracer (static binaries,
        /// or an environment that dropped it through a path the library does not see).
        var untraced: [String] = []
        /// Whether the top command itself loaded the tracer.
        var commandTraced = false
        /// The log filled up: later opens were not recorded.
        var overflowed = false
    }

    /// Reads and removes the log. `command` is the pid mlpack started.
    func events(command: pid_t) throws -> Events {
        defer { unlink(log) }
        let file = try PosixFile(path: log, mode: .read)
        let header = try file.read(at: 0, count: Self.headerSize)
        guard header.count == Self.headerSize, Array(header.prefix(8)) == Self.magic else {
            throw MLPackError.io(path: log, reason: "not a trace log")
        }
        func integer<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, as: T.Type) -> T {
            bytes.reversed().reduce(T(0)) { $0 << 8 | T($1) }
        }
        let used = min(integer(header[8..<16], as: UInt64.self), Self.capacity)
        var events = Events(overflowed: integer(header[24..<28], as: UInt32.self) != 0)
        let records = try file.read(at: UInt64(Self.headerSize), count: Int(used))
        events.parse(records, command: command)
        return events
    }
}

extension PreloadTrace.Events {
    /// Records: size (u32, a multiple of 8), pid (i32), kind (u8, 0 while unwritten), the
    /// path, NUL, padding (Sources/MLPackTracer/mlpack-trace.c).
    mutating func parse(_ records: [UInt8], command: pid_t) {
        var seenReads = Set<String>()
        var seenWrites = Set<String>()
        var execs: [Int32: [String]] = [:]
        var starts: [Int32: Int] = [:]
        var offset = 0
        while offset + 9 <= records.count {
            let size = records[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
            guard size >= 16, size % 8 == 0, offset + size <= records.count else { break }
            let pid = Int32(
                bitPattern: records[(offset + 4)..<(offset + 8)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            let kind = records[offset + 8]
            let body = records[(offset + 9)..<(offset + size)]
            let path = String(decoding: body.prefix { $0 != 0 }, as: UTF8.self)
            offset += size
            switch kind {
            case UInt8(ascii: "r"): if seenReads.insert(path).inserted { reads.append(path) }
            case UInt8(ascii: "w"): if seenWrites.insert(path).inserted { writes.append(path) }
            case UInt8(ascii: "s"): starts[pid, default: 0] += 1
            case UInt8(ascii: "x"): execs[pid, default: []].append(path)
            case UInt8(ascii: "f"): if let index = execs[pid]?.lastIndex(of: path) { execs[pid]!.remove(at: index) }
            default: continue  // a record whose writer died before finishing it
            }
        }
        commandTraced = starts[command] != nil
        // Each exec that succeeded starts a process image that records itself; the command's
        // first image records itself without an exec.
        for (pid, programs) in execs.sorted(by: { $0.key < $1.key }) {
            let started = (starts[pid] ?? 0) - (pid == command ? 1 : 0)
            if programs.count > started {
                untraced += programs.suffix(programs.count - max(started, 0)).filter { !untraced.contains($0) }
            }
        }
    }
}
