/// Streams files through SHA-256 with a fixed buffer; many files are hashed on all cores.
enum FileHashing {
    struct Result: Sendable {
        var size: UInt64
        var sha256: String
    }

    static func hash(file path: String) throws -> Result {
        try hash(file: path, buffer: ReadBuffer())
    }

    /// Hashes `paths` in parallel; results are in the order of `paths`. `progress` counts
    /// the bytes of the files finished so far.
    static func hash(files paths: [String], progress: ProgressCounter? = nil) throws -> [Result] {
        try hashEach(files: paths, progress: progress).map { try $0.get() }
    }

    /// Hashes `paths` in parallel, each result on its own: one file failing (it vanished, it
    /// cannot be read) does not lose the others.
    static func hashEach(files paths: [String], progress: ProgressCounter? = nil) -> [Swift.Result<Result, any Error>] {
        concurrentMap(count: paths.count, scratch: { ReadBuffer() }) { i, buffer in
            Swift.Result {
                let result = try hash(file: paths[i], buffer: buffer)
                progress?.advance(by: Int(result.size))
                return result
            }
        }
    }

    private static func hash(file path: String, buffer: ReadBuffer) throws -> Result {
        let file = try PosixFile(path: path, mode: .read)
        var hasher = SHA256Hasher()
        var size: UInt64 = 0
        while true {
            let n = try file.read(into: buffer.bytes)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer.bytes[..<n]))
            size += UInt64(n)
        }
        return Result(size: size, sha256: Hex.encode(hasher.finalize()))
    }

    /// 1 MiB to read into, reused for every file a thread hashes (10,000 small files paid a
    /// visible share of their time allocating and faulting in a fresh buffer each).
    private final class ReadBuffer {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        deinit { bytes.deallocate() }
    }
}
