import Dispatch

/// Cuts the tar stream into zstd frames of at most `chunkSize` bytes and writes them to the
/// pack file in order. The caller ends frames where the seek index needs a boundary (before
/// a large entry's data) and picks each frame's level. Sealed frames are compressed several
/// at a time on all cores; each frame is compressed alone, so the bytes are the same on any
/// machine.
final class FrameWriter {
    static let defaultChunkSize = 4 << 20

    let chunkSize: Int
    /// Level for the frame being filled; changes take effect from the next frame.
    var level: Int32 = CompressionLevel.normal

    private let output: PosixFile
    private var slots: [Slot]
    private var sealedCount = 0
    private(set) var frames: [SeekIndex.Frame] = []
    /// Tar bytes received so far.
    private(set) var uncompressedOffset: UInt64 = 0
    /// Pack bytes written so far.
    private(set) var compressedOffset: UInt64 = 0

    /// `batch` frames are compressed together; memory is about `batch` × 2 × `chunkSize`.
    init(output: PosixFile, chunkSize: Int = defaultChunkSize, batch: Int = 4) {
        self.output = output
        self.chunkSize = chunkSize
        self.slots = (0...batch).map { _ in Slot(capacity: chunkSize) }
    }

    /// Frames sealed and waiting to be compressed.
    var backlog: Int { sealedCount }
    var batchSize: Int { slots.count - 1 }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            let slot = slots[sealedCount]
            let n = min(rest.count, chunkSize - slot.count)
            (slot.input.baseAddress! + slot.count).copyMemory(from: rest.baseAddress!, byteCount: n)
            slot.count += n
            uncompressedOffset += UInt64(n)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if slot.count == chunkSize { try seal() }
        }
    }

    /// Ends the current frame, so the next byte starts a new one.
    func endFrame() throws {
        if slots[sealedCount].count > 0 { try seal() }
    }

    private func seal() throws {
        slots[sealedCount].level = level
        sealedCount += 1
        if sealedCount == slots.count {
            try flush()
        } else {
            slots[sealedCount].uncompressedStart = uncompressedOffset
        }
    }

    /// Compresses and writes every sealed frame, running `work` (the caller's hashing) on
    /// another core at the same time.
    func flush(alongside work: (@Sendable () -> Void)? = nil) throws {
        let count = sealedCount
        let jobs = count + (work == nil ? 0 : 1)
        if jobs > 0 {
            let slots = self.slots
            DispatchQueue.concurrentPerform(iterations: jobs) { job in
                if job == count { work?(); return }
                slots[job].compress()
            }
        }
        for slot in slots[0..<count] {
            guard let size = slot.compressedSize else {
                throw MLPackError.io(path: output.path, reason: slot.failure ?? "compression failed")
            }
            frames.append(SeekIndex.Frame(compressedOffset: compressedOffset, uncompressedOffset: slot.uncompressedStart))
            try output.write(UnsafeRawBufferPointer(rebasing: slot.output[..<size]))
            compressedOffset += UInt64(size)
            slot.count = 0
        }
        // The frame being filled (if any slot was left open) moves to the front.
        if count < slots.count { slots.swapAt(0, count) }
        sealedCount = 0
        slots[0].uncompressedStart = uncompressedOffset - UInt64(slots[0].count)
    }

    /// Flushes everything and appends raw bytes (the seek-index trailer) after the last frame.
    func finish(trailer: (_ frames: [SeekIndex.Frame], _ tarSize: UInt64) throws -> [UInt8]) throws {
        try endFrame()
        try flush()
        let bytes = try trailer(frames, uncompressedOffset)
        try output.write(bytes)
        compressedOffset += UInt64(bytes.count)
    }

    private final class Slot: @unchecked Sendable {
        let input: UnsafeMutableRawBufferPointer
        let output: UnsafeMutableRawBufferPointer
        let compressor = ZstdCompressor()
        var count = 0
        var level = CompressionLevel.normal
        var uncompressedStart: UInt64 = 0
        var compressedSize: Int?
        var failure: String?

        init(capacity: Int) {
            input = .allocate(byteCount: capacity, alignment: 64)
            output = .allocate(byteCount: Zstd.compressBound(capacity), alignment: 64)
        }

        deinit {
            input.deallocate()
            output.deallocate()
        }

        func compress() {
            do {
                compressedSize = try compressor.compressFrame(
                    UnsafeRawBufferPointer(rebasing: input[..<count]), level: level, into: output)
                failure = nil
            } catch {
                compressedSize = nil
                failure = error.message
            }
        }
    }
}

/// zstd levels the writer uses (spec/FORMAT.md §2.4).
enum CompressionLevel {
    /// Code, text, metadata and compressible binaries.
    static let normal: Int32 = 3
    /// Large entries a sample shows to be incompressible (float weights): nearly a copy.
    static let fast: Int32 = -1
    /// A sample compressed at level 1 must shrink below this fraction to be worth the time.
    static let worthwhileRatio = 0.9
}
