/// Writes a pack's tar stream entry by entry, in the caller's order: each file is read once,
/// hashed while it is compressed, and followed by nothing but its own bytes; the seek index
/// goes last. Memory stays bounded whatever the file sizes.
final class PackWriter {
    enum Source {
        case bytes([UInt8])
        /// A file and the size it had when it was planned; a change is an error.
        case file(path: String, size: UInt64)
        /// Bytes pulled from a reader (another pack's entry, say) that yields exactly `size`.
        case reader(any ByteReader, size: UInt64)

        var size: UInt64 {
            switch self {
            case .bytes(let bytes): UInt64(bytes.count)
            case .file(_, let size), .reader(_, let size): size
            }
        }
    }

    struct Written {
        var size: UInt64
        var sha256: [UInt8]
    }

    /// Entries at least this large start at a frame boundary and get their own level.
    static let largeEntryThreshold: UInt64 = 1 << 20

    private let frames: FrameWriter
    private var tar: TarWriter!
    private let topDirectory: String
    private let mtime: Int64
    private var indexEntries: [SeekIndex.Entry] = []
    private let readBuffers: [UnsafeMutableRawBufferPointer]
    private let progress: ProgressCounter?

    init(output: PosixFile, topDirectory: String, mtime: Int64, progress: ProgressCounter?) throws {
        let frames = FrameWriter(output: output)
        self.frames = frames
        self.topDirectory = topDirectory
        self.mtime = mtime
        self.progress = progress
        self.readBuffers = (0..<frames.batchSize).map { _ in .allocate(byteCount: frames.chunkSize, alignment: 64) }
        self.tar = try TarWriter { try frames.append($0) }
    }

    deinit { readBuffers.forEach { $0.deallocate() } }

    @discardableResult
    func add(path: String, source: Source, mode: UInt32) throws -> Written {
        let archivePath = topDirectory + "/" + path
        switch source {
        case .bytes(let bytes):
            let headerOffset = frames.uncompressedOffset
            try tar.writeHeader(path: archivePath, size: UInt64(bytes.count), mode: mode, mtime: mtime)
            indexEntries.append(.init(path: archivePath, headerOffset: headerOffset, dataOffset: frames.uncompressedOffset, size: UInt64(bytes.count)))
            try bytes.withUnsafeBytes { try tar.writeData($0) }
            try tar.finishEntry()
            return Written(size: UInt64(bytes.count), sha256: SHA256Hasher.digest(bytes))
        case .file(let filePath, let size):
            return try addStream(archivePath: archivePath, reader: try PosixFile(path: filePath, mode: .read), size: size, mode: mode)
        case .reader(let reader, let size):
            return try addStream(archivePath: archivePath, reader: reader, size: size, mode: mode)
        }
    }

    func addHardlink(path: String, target: String, mode: UInt32) throws {
        let archivePath = topDirectory + "/" + path
        let targetPath = topDirectory + "/" + target
        let headerOffset = frames.uncompressedOffset
        try tar.writeHeader(path: archivePath, size: 0, mode: mode, mtime: mtime, hardlinkTarget: targetPath)
        guard let data = indexEntries.last(where: { $0.path == targetPath }) else {
            preconditionFailure("hard link to an entry not written yet: \(target)")
        }
        indexEntries.append(.init(
            path: archivePath, headerOffset: headerOffset, dataOffset: data.dataOffset, size: data.size,
            hardlinkTarget: targetPath))
        try tar.finishEntry()
    }

    private func addStream(archivePath: String, reader file: any ByteReader, size: UInt64, mode: UInt32) throws -> Written {
        let chunkSize = UInt64(frames.chunkSize)
        let large = size >= Self.largeEntryThreshold
        var remaining = size
        // The first chunk is read before the header so its sample can choose the level.
        var first = try readChunk(file, into: 0, count: Int(min(remaining, chunkSize)))
        let level = large ? Self.level(forSample: UnsafeRawBufferPointer(rebasing: readBuffers[0][..<first])) : CompressionLevel.normal

        let headerOffset = frames.uncompressedOffset
        try tar.writeHeader(path: archivePath, size: size, mode: mode, mtime: mtime)
        indexEntries.append(.init(path: archivePath, headerOffset: headerOffset, dataOffset: frames.uncompressedOffset, size: size))
        if large {
            try frames.endFrame()
            frames.level = level
        }
        let hashing = HashJob()
        var buffer = 0
        while true {
            let count = buffer == 0 && first > 0 ? first : try readChunk(file, into: buffer, count: Int(min(remaining, chunkSize)))
            first = 0
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: readBuffers[buffer][..<count])
            try tar.writeData(chunk)
            hashing.chunks.append(chunk)
            remaining -= UInt64(count)
            progress?.advance(by: count)
            buffer += 1
            if buffer == readBuffers.count || frames.backlog >= frames.batchSize {
                try frames.flush(alongside: { hashing.run() })
                buffer = 0
            }
        }
        hashing.run()
        var probe: UInt8 = 0
        if try withUnsafeMutableBytes(of: &probe, { try file.read(into: $0) }) > 0 {
            throw MLPackError.io(path: file.path, reason: "file grew while it was being packed")
        }
        if large {
            try frames.endFrame()
            frames.level = CompressionLevel.normal
        }
        try tar.finishEntry()
        return Written(size: size, sha256: hashing.hasher.finalize())
    }

    private func readChunk(_ file: any ByteReader, into buffer: Int, count: Int) throws -> Int {
        let n = try file.readFully(into: UnsafeMutableRawBufferPointer(rebasing: readBuffers[buffer][..<count]))
        guard n == count else {
            throw MLPackError.io(path: file.path, reason: "file shrank while it was being packed")
        }
        return n
    }

    /// Compresses up to 256 KiB of the entry's start at level 1: weights that barely shrink
    /// are stored at the fast level, so packing them costs little more than hashing them.
    private static func level(forSample sample: UnsafeRawBufferPointer) -> Int32 {
        let probe = UnsafeRawBufferPointer(rebasing: sample.prefix(256 << 10))
        guard probe.count > 0 else { return CompressionLevel.normal }
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: Zstd.compressBound(probe.count), alignment: 16)
        defer { out.deallocate() }
        guard let size = try? ZstdCompressor().compressFrame(probe, level: 1, into: out) else { return CompressionLevel.normal }
        return Double(size) < Double(probe.count) * CompressionLevel.worthwhileRatio ? CompressionLevel.normal : CompressionLevel.fast
    }

    /// Ends the tar stream and appends the seek index.
    func finish() throws {
        try tar.close()
        let entries = indexEntries
        try frames.finish { frames, tarSize in
            try SeekIndex(tarSize: tarSize, frames: frames, entries: entries).encodedTrailer()
        }
    }
}

/// The hashing half of a batch: runs on one core while the frames compress on the others.
private final class HashJob: @unchecked Sendable {
    var hasher = SHA256Hasher()
    var chunks: [UnsafeRawBufferPointer] = []

    func run() {
        for chunk in chunks { hasher.update(chunk) }
        chunks.removeAll(keepingCapacity: true)
    }
}
