/// Reads the uncompressed tar stream of a pack from its zstd frames: sequentially from the
/// start (a pipe works), or from any frame the seek index names. It records where frames
/// start, skips skippable frames (the seek index), and enforces the decompression limits as
/// bytes come out, so a small hostile file cannot inflate without bound.
final class FrameReader {
    enum Problem: Error {
        case notZstd(offset: UInt64)
        case truncated(offset: UInt64)
        case corrupt(offset: UInt64, reason: String)
        case limit(name: String, detail: String)
        /// A frame or skippable frame where the container (spec/FORMAT.md §2.1) forbids it.
        case layout(offset: UInt64, rule: String)
        /// Reading a remote pack failed (the network, the server, a changed object).
        case source(MLPackError)
    }

    private let file: any PackSource
    private let seekable: Bool
    private let decompressor: ZstdDecompressor
    private let limits: ReaderLimits
    private let input: UnsafeMutableRawBufferPointer
    private var inputStart = 0
    private var inputEnd = 0
    /// Offset in the file of the next byte to be read into `input`.
    private var filePosition: UInt64
    private let startOffset: UInt64
    private let startUncompressedOffset: UInt64
    private var atFrameBoundary = true
    private var endOfFile = false

    private(set) var uncompressedOffset: UInt64
    /// Frames seen so far, in order; only recorded when asked (sequential scans).
    private(set) var frameStarts: [SeekIndex.Frame] = []
    /// Compressed offsets of skippable frames seen so far.
    private(set) var skippableFrameOffsets: [UInt64] = []
    private let recordFrames: Bool

    /// Offset in the file of the next compressed byte not yet consumed by the decoder.
    var compressedOffset: UInt64 { filePosition - UInt64(inputEnd - inputStart) }

    init(
        file: any PackSource, compressedOffset: UInt64 = 0, uncompressedOffset: UInt64 = 0,
        limits: ReaderLimits, recordFrames: Bool = false
    ) {
        self.file = file
        self.seekable = file.seekableSize != nil
        self.decompressor = ZstdDecompressor(windowLogMax: limits.zstdWindowLogMax)
        self.limits = limits
        self.input = .allocate(byteCount: 128 * 1024, alignment: 16)
        self.filePosition = compressedOffset
        self.startOffset = compressedOffset
        self.startUncompressedOffset = uncompressedOffset
        self.uncompressedOffset = uncompressedOffset
        self.recordFrames = recordFrames
    }

    deinit { input.deallocate() }

    /// Fills `output` with the next uncompressed bytes; returns 0 only at the clean end of the
    /// stream (the end of the file, at a frame boundary).
    func read(into output: UnsafeMutableRawBufferPointer) throws(Problem) -> Int {
        while true {
            if atFrameBoundary {
                try refill(atLeast: 8)
                let available = inputEnd - inputStart
                if available == 0 { return 0 }
                // The only skippable frame, the seek index, is the last thing in the file.
                if let skipped = skippableFrameOffsets.last {
                    throw .layout(offset: skipped, rule: "a skippable frame before the end of the pack")
                }
                guard available >= 5 else { throw .truncated(offset: compressedOffset) }
                let magic = littleEndianUInt32(at: inputStart)
                if Zstd.isSkippableMagic(magic) {
                    if compressedOffset == 0 { throw .notZstd(offset: 0) }
                    try skipSkippableFrame()
                    continue
                }
                guard magic == Zstd.frameMagic else { throw .notZstd(offset: compressedOffset) }
                // Frame_Header_Descriptor bit 2: without a checksum, damage goes unseen until
                // the tar or a digest disagrees, and may be misattributed.
                guard input[inputStart + 4] & 0x04 != 0 else {
                    throw .layout(offset: compressedOffset, rule: "a zstd frame without a content checksum")
                }
                if recordFrames {
                    frameStarts.append(
                        SeekIndex.Frame(compressedOffset: compressedOffset, uncompressedOffset: uncompressedOffset))
                }
                atFrameBoundary = false
            }
            if inputStart == inputEnd {
                try refill(atLeast: 1)
                if inputStart == inputEnd { throw .truncated(offset: compressedOffset) }
            }
            let step: ZstdDecompressor.Step
            do {
                step = try decompressor.decompress(
                    UnsafeRawBufferPointer(rebasing: input[inputStart..<inputEnd]), into: output)
            } catch {
                throw .corrupt(offset: compressedOffset, reason: error.message)
            }
            inputStart += step.consumed
            uncompressedOffset += UInt64(step.produced)
            if step.frameEnded { atFrameBoundary = true }
            try checkLimits()
            if step.produced > 0 { return step.produced }
        }
    }

    private func checkLimits() throws(Problem) {
        if uncompressedOffset > limits.maxTotalBytes {
            throw .limit(
                name: "total-size",
                detail: "the pack expands past \(limits.maxTotalBytes) bytes")
        }
        let compressed = max(compressedOffset - startOffset, 1)
        let produced = uncompressedOffset - startUncompressedOffset
        if produced > limits.expansionGrace && produced / compressed > limits.maxExpansionRatio {
            throw .limit(
                name: "expansion-ratio",
                detail: "the pack inflates more than \(limits.maxExpansionRatio)x (a decompression bomb?)")
        }
    }

    private func skipSkippableFrame() throws(Problem) {
        let frameOffset = compressedOffset
        guard inputEnd - inputStart >= 8 else { throw .truncated(offset: frameOffset) }
        var remaining = UInt64(littleEndianUInt32(at: inputStart + 4)) + 8
        skippableFrameOffsets.append(frameOffset)
        while remaining > 0 {
            if inputStart == inputEnd {
                try refill(atLeast: 1)
                if inputStart == inputEnd { throw .truncated(offset: frameOffset) }
            }
            let n = Int(min(remaining, UInt64(inputEnd - inputStart)))
            inputStart += n
            remaining -= UInt64(n)
        }
    }

    /// Makes at least `count` bytes available unless the file ends first.
    private func refill(atLeast count: Int) throws(Problem) {
        guard inputEnd - inputStart < count, !endOfFile else { return }
        if inputStart > 0 {
            let pending = inputEnd - inputStart
            input.baseAddress!.copyMemory(from: input.baseAddress! + inputStart, byteCount: pending)
            inputStart = 0
            inputEnd = pending
        }
        while inputEnd < count && !endOfFile {
            let target = UnsafeMutableRawBufferPointer(rebasing: input[inputEnd...])
            let n: Int
            do {
                n = seekable ? try file.read(at: filePosition, into: target) : try file.read(into: target)
            } catch let error as MLPackError where file is RemotePack {
                // The network, not the pack: a remote source's failure keeps its own words.
                throw .source(error)
            } catch {
                throw .corrupt(offset: filePosition, reason: "\(error)")
            }
            if n == 0 { endOfFile = true }
            inputEnd += n
            filePosition += UInt64(n)
        }
    }

    private func littleEndianUInt32(at index: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(input[index + $1]) << (8 * UInt32($1)) }
    }
}
