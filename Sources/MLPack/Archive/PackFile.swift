import Foundation

/// An opened pack file: the descriptor, its seek index when it has a usable one, and
/// random-access reads of single entries through that index.
final class PackFile {
    let path: String
    let file: any PackSource
    /// The file's size; nil when it cannot seek (a pipe), which forces a sequential scan.
    let size: UInt64?
    let limits: ReaderLimits
    private(set) lazy var index: Result<(index: SeekIndex, offset: UInt64), SeekIndex.LoadProblem> = {
        guard let size else { return .failure(.absent) }
        return Result { () throws(SeekIndex.LoadProblem) in
            try SeekIndex.load(from: file, fileSize: size, limits: limits)
        }
    }()

    /// Opens `path` (`-` is standard input; an `https://` or `s3://` URI a remote pack) and
    /// checks that it starts with a zstd frame. With `randomAccess`, a source that cannot seek
    /// (a pipe; a server that ignores Range) is copied once into a private temporary file
    /// first, and every read comes from that copy.
    init(path: String, limits: ReaderLimits, randomAccess: Bool = false) throws {
        self.path = path
        self.limits = limits
        if path == "-" || RemotePack.isRemote(path) {
            let source = path == "-" ? PosixFile(borrowing: 0, path: "standard input") : try RemotePack.open(path)
            if randomAccess, source.seekableSize == nil, let stream = source as? PosixFile {
                file = try PosixFile.spool(stream)
            } else {
                file = source
            }
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
        guard case .success(let loaded) = index, let position = indexPositions[archivePath] else { return nil }
        return loaded.index.entries[position]
    }

    /// Where each archive path lies in the index's entries (the first, should one repeat).
    private lazy var indexPositions: [String: Int] = {
        guard case .success(let loaded) = index else { return [:] }
        return Dictionary(
            loaded.index.entries.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { first, _ in first })
    }()

    /// Streams one entry's bytes through the index, decompressing only the frames it spans.
    func stream(_ entry: SeekIndex.Entry, into consumer: (UnsafeRawBufferPointer) throws -> Void) throws {
        try EntryReader(pack: self, entry: entry).stream(into: consumer)
    }

    /// Reads a small entry (metadata) through the index.
    func read(_ entry: SeekIndex.Entry) throws -> [UInt8] {
        guard entry.size <= UInt64(limits.maxMetadataBytes) else {
            throw MLPackError.limitExceeded(limit: "metadata-size", detail: "\(entry.path) is \(entry.size) bytes")
        }
        guard case .success(let loaded) = index else { throw IndexUnusable(reason: "no seek index") }
        // Metadata files sit side by side in shared frames: decompressing each file's frame
        // from its start again would cost more than everything else `inspect` does.
        let (frame, end) = loaded.index.frameBounds(containing: entry.dataOffset)
        guard entry.dataOffset + entry.size <= end, end - frame.uncompressedOffset <= Self.cachedFrameLimit else {
            return try collect(entry)
        }
        if cachedFrame?.start != frame.uncompressedOffset {
            cachedFrame = nil
            let whole = SeekIndex.Entry(
                path: entry.path, headerOffset: frame.uncompressedOffset, dataOffset: frame.uncompressedOffset,
                size: end - frame.uncompressedOffset)
            cachedFrame = (frame.uncompressedOffset, try collect(whole))
        }
        let start = Int(entry.dataOffset - frame.uncompressedOffset)
        return Array(cachedFrame!.bytes[start..<start + Int(entry.size)])
    }

    private func collect(_ entry: SeekIndex.Entry) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(entry.size))
        try stream(entry) { bytes += $0 }
        return bytes
    }

    /// The frame `read` decompressed last, whole (frames of at most this size).
    private var cachedFrame: (start: UInt64, bytes: [UInt8])?
    private static let cachedFrameLimit: UInt64 = 8 << 20
}

/// Reading through the seek index failed or disagreed with the signed data: readers fall
/// back to a sequential scan.
struct IndexUnusable: Error, CustomStringConvertible {
    let reason: String
    var description: String { "seek index unusable: \(reason)" }
}

/// One entry's bytes, pulled through the seek index: decompresses from the frame holding the
/// entry's first byte and stops after its last. What it yields must still be checked against
/// the entry's disclosure; any inconsistency throws `IndexUnusable`.
final class EntryReader: ByteReader {
    let path: String
    fileprivate let reader: FrameReader
    private var skip: UInt64
    private var remaining: UInt64
    private let scratch: UnsafeMutableRawBufferPointer

    convenience init(pack: PackFile, entry: SeekIndex.Entry) throws {
        guard case .success(let loaded) = pack.index else { throw IndexUnusable(reason: "no seek index") }
        let frame = loaded.index.frame(containing: entry.dataOffset)
        self.init(
            FrameReader(
                file: pack.file, compressedOffset: frame.compressedOffset, uncompressedOffset: frame.uncompressedOffset,
                limits: pack.limits), entry: entry)
    }

    /// Reads `entry` from a stream already at or before its data.
    fileprivate init(_ reader: FrameReader, entry: SeekIndex.Entry) {
        path = entry.path
        self.reader = reader
        skip = entry.dataOffset - reader.uncompressedOffset
        remaining = entry.size
        scratch = .allocate(byteCount: 1 << 16, alignment: 16)
    }

    deinit { scratch.deallocate() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while skip > 0 {
            let n = try next(
                into: UnsafeMutableRawBufferPointer(rebasing: scratch[..<Int(min(skip, UInt64(scratch.count)))]))
            skip -= UInt64(n)
        }
        guard remaining > 0, buffer.count > 0 else { return 0 }
        let n = try next(
            into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(remaining, UInt64(buffer.count)))]))
        remaining -= UInt64(n)
        return n
    }

    private func next(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n: Int
        do { n = try reader.read(into: buffer) } catch {
            // A remote pack that cannot be read is not an index to fall back from.
            if case .source(let failure) = error { throw failure }
            throw IndexUnusable(reason: "reading \(path) through the index failed")
        }
        guard n > 0 else { throw IndexUnusable(reason: "index points past the end of the data") }
        return n
    }
}

/// Entries read one after the other in the tar's order: each continues the stream the
/// previous one left, where that is nearer than the start of its frame. Small entries
/// share frames, and decompressing each one's frame from its start again would make
/// copying a pack's items quadratic.
final class EntriesInOrder {
    private let pack: PackFile
    private var last: FrameReader?

    init(pack: PackFile) { self.pack = pack }

    func open(_ entry: SeekIndex.Entry) throws -> EntryReader {
        guard case .success(let loaded) = pack.index else { throw IndexUnusable(reason: "no seek index") }
        if let last, last.uncompressedOffset <= entry.dataOffset,
            loaded.index.frame(containing: entry.dataOffset).uncompressedOffset <= last.uncompressedOffset
        {
            return EntryReader(last, entry: entry)
        }
        let reader = try EntryReader(pack: pack, entry: entry)
        last = reader.reader
        return reader
    }
}
