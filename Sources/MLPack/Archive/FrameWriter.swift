import Dispatch
import Foundation

/// Cuts the tar stream into zstd frames of at most `chunkSize` bytes and writes them to the
/// pack file in order. The caller ends frames where the seek index needs a boundary (before
/// a large entry's data) and picks each frame's coding. A sealed frame is compressed on any
/// core and written by a writer thread while the caller fills the next one, so reading,
/// hashing, compressing and writing overlap. Each frame is compressed alone, so the bytes are
/// the same on any machine.
final class FrameWriter: @unchecked Sendable {
    static let defaultChunkSize = 4 << 20

    let chunkSize: Int
    /// Coding of the frames sealed from now on.
    var coding = FrameCoding.compressed(level: CompressionLevel.normal)

    private let output: PosixFile
    private let slots: [Slot]
    private let freeSlots: DispatchSemaphore
    private var available: [Slot]  // guarded by `lock`
    private var failure: MLPackError?  // guarded by `lock`
    private let lock = NSLock()
    private var filling: Slot?
    private let writer = DispatchQueue(label: "mlpack.frames.write")
    private var writtenFrames: [SeekIndex.Frame] = []  // on `writer`
    private var compressedOffset: UInt64 = 0  // on `writer`
    /// Tar bytes received so far.
    private(set) var uncompressedOffset: UInt64 = 0

    /// At most `inFlight` frames are in memory at once: about `inFlight` × 2 × `chunkSize`.
    init(output: PosixFile, chunkSize: Int = defaultChunkSize, inFlight: Int = 6) {
        self.output = output
        self.chunkSize = chunkSize
        self.slots = (0..<inFlight).map { _ in Slot(capacity: chunkSize) }
        self.available = slots
        // Counted up from 0: libdispatch kills the process when a semaphore is freed below its
        // initial value, which is what a pack abandoned half-way (a file changed while it was
        // read) would do with a slot still being filled.
        self.freeSlots = DispatchSemaphore(value: 0)
        for _ in 0..<inFlight { freeSlots.signal() }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            let slot = try currentSlot()
            let n = min(rest.count, chunkSize - slot.count)
            let destination = slot.input.baseAddress! + slot.count
            // Bytes read straight into `freeSpace()` are already in place.
            if UnsafeRawPointer(destination) != rest.baseAddress! {
                destination.copyMemory(from: rest.baseAddress!, byteCount: n)
            }
            slot.count += n
            uncompressedOffset += UInt64(n)
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if slot.count == chunkSize { try seal() }
        }
    }

    /// The unfilled rest of the frame being filled, for a caller that reads straight into it
    /// and then appends those bytes (which costs no copy), and `busy`: enter it to keep using
    /// the bytes after appending them; the memory is reused only once it is left.
    func freeSpace() throws -> (space: UnsafeMutableRawBufferPointer, busy: DispatchGroup) {
        let slot = try currentSlot()
        return (UnsafeMutableRawBufferPointer(rebasing: slot.input[slot.count...]), slot.busy)
    }

    /// Ends the current frame, so the next byte starts a new one.
    func endFrame() throws {
        if let filling, filling.count > 0 { try seal() }
    }

    /// Flushes everything and appends raw bytes (the seek-index trailer) after the last frame.
    func finish(trailer: (_ frames: [SeekIndex.Frame], _ tarSize: UInt64) throws -> [UInt8]) throws {
        try endFrame()
        writer.sync {}
        try checkFailure()
        let bytes = try trailer(writtenFrames, uncompressedOffset)
        try output.write(bytes)
    }

    private func currentSlot() throws -> Slot {
        if let filling { return filling }
        try checkFailure()
        freeSlots.wait()
        let slot = lock.withLock { available.removeLast() }
        slot.count = 0
        slot.uncompressedStart = uncompressedOffset
        filling = slot
        return slot
    }

    /// Hands the frame being filled to a compressing core and, in order, to the writer.
    private func seal() throws {
        guard let slot = filling else { return }
        filling = nil
        slot.coding = coding
        let encoded = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            slot.encode()
            encoded.signal()
        }
        slot.busy.enter()
        writer.async { [self] in
            encoded.wait()
            write(slot)
            slot.busy.leave()
        }
        slot.busy.notify(queue: .global()) { [self] in
            lock.withLock { available.append(slot) }
            freeSlots.signal()
        }
        try checkFailure()
    }

    /// On the writer queue.
    private func write(_ slot: Slot) {
        guard lock.withLock({ failure == nil }) else { return }
        do {
            let size = try slot.writeFrame(to: output)
            writtenFrames.append(
                SeekIndex.Frame(compressedOffset: compressedOffset, uncompressedOffset: slot.uncompressedStart))
            compressedOffset += UInt64(size)
        } catch {
            let failure = error as? MLPackError ?? .io(path: output.path, reason: "\(error)")
            lock.withLock { self.failure = failure }
        }
    }

    private func checkFailure() throws {
        if let failure = lock.withLock({ failure }) { throw failure }
    }

    private final class Slot: @unchecked Sendable {
        let input: UnsafeMutableRawBufferPointer
        let output: UnsafeMutableRawBufferPointer
        let compressor = ZstdCompressor()
        /// Entered while anything still uses `input`.
        let busy = DispatchGroup()
        var count = 0
        var coding = FrameCoding.compressed(level: CompressionLevel.normal)
        var uncompressedStart: UInt64 = 0
        private var encoded: Result<Int, ZstdError> = .success(0)

        init(capacity: Int) {
            input = .allocate(byteCount: capacity, alignment: 64)
            output = .allocate(
                byteCount: max(Zstd.compressBound(capacity), StoredFrame.framingSize(capacity)), alignment: 64)
        }

        deinit {
            input.deallocate()
            output.deallocate()
        }

        private var content: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: input[..<count]) }

        /// Compresses the frame into `output`, or for a stored frame writes its framing there.
        func encode() {
            switch coding {
            case .compressed(let level):
                encoded = Result { () throws(ZstdError) in
                    try compressor.compressFrame(content, level: level, into: output)
                }
            case .stored:
                encoded = .success(StoredFrame.writeFraming(of: content, into: output))
            }
        }

        /// Writes the encoded frame; returns its size in the file.
        func writeFrame(to file: PosixFile) throws -> Int {
            let size: Int
            do { size = try encoded.get() } catch { throw MLPackError.io(path: file.path, reason: error.message) }
            let encodedBytes = UnsafeRawBufferPointer(rebasing: output[..<size])
            switch coding {
            case .compressed:
                try file.write(encodedBytes)
                return size
            case .stored:
                try file.write(pieces: StoredFrame.pieces(framing: encodedBytes, content: content))
                return size + count
            }
        }
    }
}

/// How a frame's bytes are written (spec/FORMAT.md §2.4).
enum FrameCoding: Equatable {
    case compressed(level: Int32)
    /// Raw blocks: for large entries that barely compress (float weights).
    case stored
}

/// zstd levels the writer uses (spec/FORMAT.md §2.4).
enum CompressionLevel {
    /// Code, text, metadata and compressible binaries.
    static let normal: Int32 = 3
    /// A sample compressed at level 1 must shrink below this fraction to be worth the time.
    static let worthwhileRatio = 0.9
}
