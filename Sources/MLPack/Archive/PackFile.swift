import Foundation

/// An opened pack file: the descriptor, its seek index when it has a usable one, and
/// random-access reads of single entries through that index.
final class PackFile {
    let path: String
    let file: PosixFile
    /// The file's size; nil when it cannot seek (a pipe), which forces a sequential scan.
    let size: UInt64?
    let limits: ReaderLimits
    private(set) lazy var index: Result<(index: SeekIndex, offset: UInt64), SeekIndex.LoadProblem> = {
        guard let size else { return .failure(.absent) }
        return Result { () throws(SeekIndex.LoadProblem) in try SeekIndex.load(from: file, fileSize: size, limits: limits) }
    }()

    /// Opens `path` (`-` is standard input) and checks that it starts with a zstd frame.
    init(path: String, limits: ReaderLimits) throws {
        self.path = path
        self.limits = limits
        if path == "-" {
            file = PosixFile(borrowing: 0, path: "standard input")
        } else {
            guard let status = FileSystem.status(path, followLinks: true) else {
                throw MLPackError.io(path: path, reason: "no such file")
            }
            guard !status.isDirectory else { throw MLPackError.notAPack(path: path, reason: "it is a directory") }
            file = try PosixFile(path: path, mode: .read)
        }
        size = file.seekableSize
        if size != nil {
            let magic = try file.read(at: 0, count: 4)
            guard magic.count == 4, magic.littleEndianUInt32(at: 0) == Zstd.frameMagic else {
                throw MLPackError.notAPack(path: path, reason: "it does not start with a zstd frame")
            }
        }
    }

    /// The index entry for an archive path, if the index is usable and lists it.
    func indexEntry(_ archivePath: String) -> SeekIndex.Entry? {
        guard case .success(let loaded) = index else { return nil }
        return loaded.index.entries.first { $0.path == archivePath }
    }

    /// Streams one entry's bytes through the index, decompressing only the frames it spans.
    func stream(_ entry: SeekIndex.Entry, into consumer: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard case .success(let loaded) = index else { throw IndexUnusable(reason: "no seek index") }
        let frame = loaded.index.frame(containing: entry.dataOffset)
        let reader = FrameReader(
            file: file, compressedOffset: frame.compressedOffset, uncompressedOffset: frame.uncompressedOffset,
            limits: limits)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var skip = entry.dataOffset - frame.uncompressedOffset
        var remaining = entry.size
        while remaining > 0 {
            let n: Int
            do { n = try reader.read(into: buffer) } catch {
                throw IndexUnusable(reason: "reading \(entry.path) through the index failed")
            }
            guard n > 0 else { throw IndexUnusable(reason: "index points past the end of the data") }
            var chunk = UnsafeRawBufferPointer(rebasing: buffer[..<n])
            if skip > 0 {
                let dropped = Int(min(skip, UInt64(n)))
                skip -= UInt64(dropped)
                chunk = UnsafeRawBufferPointer(rebasing: chunk[dropped...])
            }
            let take = Int(min(remaining, UInt64(chunk.count)))
            if take > 0 { try consumer(UnsafeRawBufferPointer(rebasing: chunk[..<take])) }
            remaining -= UInt64(take)
        }
    }

    /// Reads a small entry (metadata) through the index.
    func read(_ entry: SeekIndex.Entry) throws -> [UInt8] {
        guard entry.size <= UInt64(limits.maxMetadataBytes) else {
            throw MLPackError.limitExceeded(limit: "metadata-size", detail: "\(entry.path) is \(entry.size) bytes")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(entry.size))
        try stream(entry) { bytes += $0 }
        return bytes
    }
}

/// Reading through the seek index failed or disagreed with the signed data: readers fall
/// back to a sequential scan.
struct IndexUnusable: Error, CustomStringConvertible {
    let reason: String
    var description: String { "seek index unusable: \(reason)" }
}
