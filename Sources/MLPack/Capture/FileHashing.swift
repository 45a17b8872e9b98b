import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Streams files through SHA-256 with a fixed buffer; many files are hashed on all cores.
/// With an index, a file unchanged since it was last hashed is not read again.
enum FileHashing {
    struct Result: Sendable {
        var size: UInt64
        var sha256: String
    }

    static func hash(file path: String, index: HashIndex? = nil) throws -> Result {
        try hash(file: path, stamp: nil, buffer: ReadBuffer(), index: index)
    }

    /// Hashes `paths` in parallel; results are in the order of `paths`. `progress` counts
    /// the bytes of the files finished so far. `stamps` (parallel to `paths`, nil where not
    /// known) are the files' stamps from a listing just made: the index is asked without
    /// another stat.
    static func hash(
        files paths: [String], stamps: [HashIndex.Stamp?]? = nil, progress: ProgressCounter? = nil,
        index: HashIndex? = nil
    ) throws
        -> [Result]
    {
        try hashEach(files: paths, stamps: stamps, progress: progress, index: index).map { try $0.get() }
    }

    /// Hashes `paths` in parallel, each result on its own: one file failing (it vanished, it
    /// cannot be read) does not lose the others.
    static func hashEach(
        files paths: [String], stamps: [HashIndex.Stamp?]? = nil, progress: ProgressCounter? = nil,
        index: HashIndex? = nil
    ) -> [Swift.Result<Result, any Error>] {
        concurrentMap(count: paths.count, scratch: { ReadBuffer() }) { i, buffer in
            Swift.Result {
                let result = try hash(file: paths[i], stamp: stamps?[i], buffer: buffer, index: index)
                progress?.advance(by: Int(result.size))
                return result
            }
        }
    }

    private static func hash(
        file path: String, stamp listed: HashIndex.Stamp?, buffer: ReadBuffer, index: HashIndex?
    ) throws -> Result {
        // A known file costs one stat, or none when listed: a dataset's tens of thousands add up.
        var st = stat()
        if let index, let stamp = listed ?? (stat(path, &st) == 0 ? HashIndex.Stamp(st) : nil),
            let known = index.digest(of: path, stamp: stamp)
        {
            return Result(size: stamp.size, sha256: known)
        }
        let file = try PosixFile(path: path, mode: .read)
        // The stamp of the descriptor being read, before and after: a file written while it
        // was hashed is not remembered.
        let before = index.flatMap { _ in file.stamp }
        var hasher = SHA256Hasher()
        var size: UInt64 = 0
        while true {
            let n = try file.read(into: buffer.bytes)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer.bytes[..<n]))
            size += UInt64(n)
        }
        let result = Result(size: size, sha256: Hex.encode(hasher.finalize()))
        if let index, let before, file.stamp == before, before.size == size {
            index.remember(path, stamp: before, sha256: result.sha256)
        }
        return result
    }

    /// 1 MiB to read into, reused for every file a thread hashes (10,000 small files paid a
    /// visible share of their time allocating and faulting in a fresh buffer each).
    private final class ReadBuffer {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        deinit { bytes.deallocate() }
    }
}
