/// Writes a pack's tar stream entry by entry, in the caller's order: each file is read once,
/// hashed while it is encoded and written, and followed by nothing but its own bytes; the
/// seek index goes last. Memory stays bounded whatever the file sizes.
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

    /// Entries at least this large start at a frame boundary and get their own coding.
    static let largeEntryThreshold: UInt64 = 1 << 20

    private let frames: FrameWriter
    private var tar: TarWriter!
    private let topDirectory: String
    private let mtime: Int64
    private var indexEntries: [SeekIndex.Entry] = []
    /// Small entries are read whole into this before they are written.
    private let smallBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(largeEntryThreshold), alignment: 64)
    private let progress: ProgressCounter?

    init(output: PosixFile, topDirectory: String, mtime: Int64, progress: ProgressCounter?) throws {
        let frames = FrameWriter(output: output)
        self.frames = frames
        self.topDirectory = topDirectory
        self.mtime = mtime
        self.progress = progress
        self.tar = try TarWriter { try frames.append($0) }
    }

    deinit { smallBuffer.deallocate() }

    @discardableResult
    func add(path: String, source: Source, mode: UInt32) throws -> Written {
        let archivePath = topDirectory + "/" + path
        switch source {
        case .bytes(let bytes):
            let headerOffset = frames.uncompressedOffset
            try tar.writeHeader(path: archivePath, size: UInt64(bytes.count), mode: mode, mtime: mtime)
            indexEntries.append(
                .init(
                    path: archivePath, headerOffset: headerOffset, dataOffset: frames.uncompressedOffset,
                    size: UInt64(bytes.count)))
            try bytes.withUnsafeBytes { try tar.writeData($0) }
            try tar.finishEntry()
            return Written(size: UInt64(bytes.count), sha256: SHA256Hasher.digest(bytes))
        case .file(let filePath, let size):
            return try addStream(
                archivePath: archivePath, reader: try PosixFile(path: filePath, mode: .read), size: size, mode: mode)
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
        indexEntries.append(
            .init(
                path: archivePath, headerOffset: headerOffset, dataOffset: data.dataOffset, size: data.size,
                hardlinkTarget: targetPath))
        try tar.finishEntry()
    }

    private func addStream(
        archivePath: String, reader file: any ByteReader, size: UInt64, mode: UInt32
    ) throws -> Written {
        let headerOffset = frames.uncompressedOffset
        try tar.writeHeader(path: archivePath, size: size, mode: mode, mtime: mtime)
        indexEntries.append(
            .init(path: archivePath, headerOffset: headerOffset, dataOffset: frames.uncompressedOffset, size: size))
        let sha256: [UInt8]
        if size < Self.largeEntryThreshold {
            let chunk = try readChunk(file, into: UnsafeMutableRawBufferPointer(rebasing: smallBuffer[..<Int(size)]))
            try tar.writeData(chunk)
            progress?.advance(by: chunk.count)
            sha256 = SHA256Hasher.digest(chunk)
        } else {
            sha256 = try addLargeData(file, size: size)
        }
        var probe: UInt8 = 0
        if try withUnsafeMutableBytes(of: &probe, { try file.read(into: $0) }) > 0 {
            throw MLPackError.io(path: file.path, reason: "file grew while it was being packed")
        }
        try tar.finishEntry()
        return Written(size: size, sha256: sha256)
    }

    /// A large entry's data gets frames of its own, read straight into them, with a coding
    /// its first chunk chooses; it is hashed on another core while the frames are encoded
    /// and written.
    private func addLargeData(_ file: any ByteReader, size: UInt64) throws -> [UInt8] {
        try frames.endFrame()
        let hasher = BackgroundHasher()
        do {
            var remaining = size
            while remaining > 0 {
                let (space, busy) = try frames.freeSpace()
                let chunk = try readChunk(
                    file,
                    into: UnsafeMutableRawBufferPointer(rebasing: space[..<Int(min(remaining, UInt64(space.count)))]))
                if remaining == size { frames.coding = Self.coding(forSample: chunk) }
                hasher.update(chunk, busy: busy)
                try tar.writeData(chunk)
                remaining -= UInt64(chunk.count)
                progress?.advance(by: chunk.count)
            }
            try frames.endFrame()
        } catch {
            _ = hasher.finalize()  // the chunks it still reads belong to frames being torn down
            throw error
        }
        frames.coding = .compressed(level: CompressionLevel.normal)
        return hasher.finalize()
    }

    private func readChunk(
        _ file: any ByteReader, into buffer: UnsafeMutableRawBufferPointer
    ) throws -> UnsafeRawBufferPointer {
        let n = try file.readFully(into: buffer)
        guard n == buffer.count else {
            throw MLPackError.io(path: file.path, reason: "file shrank while it was being packed")
        }
        return UnsafeRawBufferPointer(buffer)
    }

    /// Compresses up to 256 KiB of the entry's start at level 1: weights that barely shrink
    /// are stored, so packing them costs little more than hashing them.
    private static func coding(forSample sample: UnsafeRawBufferPointer) -> FrameCoding {
        let normal = FrameCoding.compressed(level: CompressionLevel.normal)
        let probe = UnsafeRawBufferPointer(rebasing: sample.prefix(256 << 10))
        guard probe.count > 0 else { return normal }
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: Zstd.compressBound(probe.count), alignment: 16)
        defer { out.deallocate() }
        guard let size = try? ZstdCompressor().compressFrame(probe, level: 1, into: out) else { return normal }
        return Double(size) < Double(probe.count) * CompressionLevel.worthwhileRatio ? normal : .stored
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
